"""The agenda cache is an optimisation: with the cache down the agenda is still served, fresh."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from config.problems import ApplicationError
from sessions import cache as agenda_cache
from sessions import services
from sessions.models import Session
from tests.factories import EventFactory, RoomFactory
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_cache(settings):
    """The default cache pointed at a Redis port nobody listens on."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        }
    }


def test_agenda_and_feed_are_served_when_the_cache_is_down(demo_event, api_client, dead_cache):
    agenda = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda/?tz=UTC")
    feed = api_client.get(f"/api/v1/events/{demo_event.slug}/agenda.ics")

    assert agenda.status_code == 200
    assert agenda.json()["sessions"][0]["starts_at"] == "2024-09-12T14:00:00+00:00"
    assert feed.status_code == 200
    assert feed.content.startswith(b"BEGIN:VCALENDAR\r\n")


def test_publish_succeeds_when_the_cache_is_down(demo_event, dead_cache):
    from tests.sessions.conftest import publish

    version = publish(event=demo_event, comment="cache down")
    assert version.number == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_room_let_exactly_one_through():
    """Two organisers book the same room for overlapping times at the same moment: the event
    row lock serialises the overlap checks, so one gets room_conflict."""
    start = datetime(2030, 9, 12, 14, tzinfo=UTC)
    event = EventFactory(starts_at=start, ends_at=start + timedelta(hours=3))
    room = RoomFactory(event=event)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def book(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            services.session_create(
                event=event,
                title=f"Booking {n}",
                room=room,
                starts_at=start + timedelta(minutes=n),
                ends_at=start + timedelta(minutes=60 + n),
            )
            results.append("ok")
        except ApplicationError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["ok"] + ["room_conflict"] * 7
    assert Session.objects.filter(event=event, room=room).count() == 1


def test_a_publish_by_another_process_is_seen_through_the_shared_cache(demo_event, api_client, settings):
    """Another web process publishes: this one only learns it from the shared generation key
    (its own memo is disabled here, so no waiting is needed)."""
    from django.core.cache import cache

    settings.AGENDA_LOCAL_CACHE_SECONDS = 0
    url = f"/api/v1/events/{demo_event.slug}/agenda/"
    before = api_client.get(url).json()
    session = Session.objects.get(event=demo_event, kind="closing")
    services.session_update(session=session, data={"title": "Renamed elsewhere"})
    services.agenda_publish(event=demo_event)  # on_commit hooks do not run here: no local invalidation

    assert api_client.get(url).json()["version"] == before["version"]  # still the cached rendering
    cache.set(agenda_cache._generation_key(demo_event.slug), "from-another-process", None)
    after = api_client.get(url).json()

    assert after["version"] == before["version"] + 1
    assert after["sessions"][-1]["title"] == "Renamed elsewhere"


def test_cached_fast_path_answers_head_and_304(demo_event, api_client):
    url = f"/api/v1/events/{demo_event.slug}/agenda.ics"
    first = api_client.get(url)  # renders and caches

    head = api_client.head(url)
    not_modified = api_client.get(url, HTTP_IF_NONE_MATCH=f'W/{first["ETag"]}, "other"')

    assert head.status_code == 200
    assert head["ETag"] == first["ETag"]
    assert head["Content-Type"] == "text/calendar; charset=utf-8"
    assert not_modified.status_code == 304


def test_the_configured_shared_cache_serves_the_agenda_without_the_database(
    real_cache, api_client, settings, django_assert_num_queries
):
    """With REDIS_URL set this is Redis (the embedded default: the file cache): the rendering
    round-trips through the shared backend, not only through this process's memo."""
    from sessions.models import AgendaVersion

    settings.AGENDA_LOCAL_CACHE_SECONDS = 0
    event = EventFactory(slug=f"cache-{uuid.uuid4().hex[:12]}")
    Session.objects.create(
        event=event, title="Only", starts_at=event.starts_at, ends_at=event.starts_at + timedelta(hours=1)
    )
    services.agenda_publish(event=event)
    url = f"/api/v1/events/{event.slug}/agenda/?tz=Asia/Kathmandu"
    first = api_client.get(url)

    with django_assert_num_queries(0):
        second = api_client.get(url)

    assert AgendaVersion.objects.filter(event=event).count() == 1
    assert second.status_code == 200
    assert second.content == first.content
    assert second.json()["sessions"][0]["utc_offset"] == "UTC+05:45"
    agenda_cache.invalidate(event.slug)  # leave nothing behind that a later run could mistake
