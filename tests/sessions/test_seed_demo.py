from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from registrations.models import EventRole
from sessions.models import AgendaVersion, Event, Session, SessionSpeaker, Speaker

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Event, Session, Speaker, SessionSpeaker, AgendaVersion, EventRole, get_user_model())
    }


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", "--date", "2024-09-12", "--quiet-tokens")
    first = _row_counts()
    first_event = Event.objects.values().get()

    call_command("seed_demo", "--date", "2024-09-12", "--quiet-tokens")

    assert _row_counts() == first
    assert Event.objects.values().get() == first_event
    assert first == {
        "Event": 1,
        "Session": 5,
        "Speaker": 7,
        "SessionSpeaker": 11,
        "AgendaVersion": 1,
        "EventRole": 2,
        "User": 2,
    }


def test_seed_demo_2024_times_are_10_to_13_new_york_and_14_to_17_utc():
    call_command("seed_demo", "--date", "2024-09-12", "--quiet-tokens")
    event = Event.objects.get()
    new_york = ZoneInfo("America/New_York")

    assert event.starts_at.astimezone(new_york).replace(tzinfo=None) == datetime(2024, 9, 12, 10, 0)
    assert event.ends_at.astimezone(new_york).replace(tzinfo=None) == datetime(2024, 9, 12, 13, 0)
    assert event.starts_at == datetime(2024, 9, 12, 14, 0, tzinfo=ZoneInfo("UTC"))
    assert event.ends_at == datetime(2024, 9, 12, 17, 0, tzinfo=ZoneInfo("UTC"))

    version = AgendaVersion.objects.get(event=event)
    assert version.number == 1
    kinds = [entry["kind"] for entry in version.sessions]
    assert kinds == ["opening", "keynote", "panel", "dialogue", "closing"]
    assert version.sessions[0]["starts_at"] == "2024-09-12T14:00:00+00:00"
    assert version.sessions[-1]["ends_at"] == "2024-09-12T17:00:00+00:00"
    # Back to back: every session starts when the previous one ends.
    for previous, following in zip(version.sessions, version.sessions[1:], strict=False):
        assert previous["ends_at"] == following["starts_at"]


def test_seed_demo_defaults_to_the_next_12_september():
    call_command("seed_demo", "--quiet-tokens")
    event = Event.objects.get()
    local = event.starts_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.month, local.day, local.hour) == (9, 12, 10)
    assert event.starts_at > datetime.now(tz=ZoneInfo("UTC"))
