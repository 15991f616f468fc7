"""The .ics feeds, read by two parsers that share no code with the writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from sessions.models import Session, Speaker
from sessions.services import session_delete, session_update
from tests.sessions.conftest import publish
from tests.sessions.ical_parsers import (
    defined_tzids,
    parse_with_icaljs,
    parse_with_libical,
    parse_with_vobject,
    referenced_tzids,
    unfold,
)

pytestmark = pytest.mark.django_db

DEMO_UTC_STARTS = [
    datetime(2024, 9, 12, 14, 0, tzinfo=UTC),
    datetime(2024, 9, 12, 14, 15, tzinfo=UTC),
    datetime(2024, 9, 12, 14, 45, tzinfo=UTC),
    datetime(2024, 9, 12, 15, 45, tzinfo=UTC),
    datetime(2024, 9, 12, 16, 45, tzinfo=UTC),
]


def _feed(api_client, event, **headers):
    return api_client.get(f"/api/v1/events/{event.slug}/agenda.ics", **headers)


def test_agenda_feed_is_text_calendar_with_crlf_and_vtimezone(api_client, demo_event):
    response = _feed(api_client, demo_event)
    data = response.content

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    assert "METHOD:PUBLISH" in unfold(data)
    assert referenced_tzids(data) == {"America/New_York"}
    assert defined_tzids(data) == {"America/New_York"}


@pytest.mark.parametrize(
    "parse",
    [parse_with_vobject, parse_with_icaljs, parse_with_libical],
    ids=["vobject", "ical.js", "libical"],
)
def test_agenda_feed_parsers_agree_on_utc_instants_and_uids(api_client, demo_event, parse):
    parsed = parse(_feed(api_client, demo_event).content)

    sessions = list(Session.objects.filter(event=demo_event).order_by("starts_at"))
    assert parsed["method"] == "PUBLISH"
    assert parsed["timezones"] == ["America/New_York"]
    assert [e["start_utc"] for e in parsed["events"]] == [int(t.timestamp()) for t in DEMO_UTC_STARTS]
    assert parsed["events"][-1]["end_utc"] == int(datetime(2024, 9, 12, 17, tzinfo=UTC).timestamp())
    assert [e["uid"] for e in parsed["events"]] == [
        f"session-{s.uid}@{settings.PUBLIC_HOST}" for s in sessions
    ]
    assert [e["sequence"] for e in parsed["events"]] == [0, 0, 0, 0, 0]


def test_agenda_feed_vevent_has_description_location_url(api_client, demo_event):
    parsed = parse_with_vobject(_feed(api_client, demo_event).content)
    opening = parsed["events"][0]

    assert opening["summary"] == "Opening of the high-level panel"
    assert opening["location"] == "Conference Room 4, United Nations Headquarters, New York"
    assert "President of the General Assembly" in opening["description"]
    assert "Chair: Director, UN Office for South-South Cooperation" in opening["description"]
    assert "Watch online: https://webtv.un.org/" in opening["description"]
    lines = unfold(_feed(api_client, demo_event).content)
    session = Session.objects.filter(event=demo_event).order_by("starts_at").first()
    assert (
        f"URL:{settings.PUBLIC_BASE_URL}/api/v1/events/{demo_event.slug}/agenda/#session-{session.id}"
        in lines
    )
    assert "DTSTART;TZID=America/New_York:20240912T100000" in lines


def test_republish_keeps_uids_and_bumps_sequence_only_for_changed_sessions(api_client, demo_event):
    before = parse_with_icaljs(_feed(api_client, demo_event).content)["events"]
    keynote = Session.objects.get(event=demo_event, kind="keynote")
    closing = Session.objects.get(event=demo_event, kind="closing")
    session_update(session=keynote, data={"title": "Keynote address"})
    session_update(session=closing, data={"starts_at": closing.starts_at + timedelta(minutes=5)})

    publish(event=demo_event)
    after = parse_with_icaljs(_feed(api_client, demo_event).content)["events"]

    assert [e["uid"] for e in after] == [e["uid"] for e in before]
    assert [e["sequence"] for e in after] == [0, 1, 0, 0, 1]
    assert after[-1]["start_utc"] == before[-1]["start_utc"] + 300
    assert parse_with_vobject(_feed(api_client, demo_event).content)["events"][1]["sequence"] == 1


def test_feed_conditional_get_and_invalidation_on_publish(api_client, demo_event):
    first = _feed(api_client, demo_event)

    assert _feed(api_client, demo_event, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert _feed(api_client, demo_event, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    # A publish (here: the closing removed) must reach a client that holds the old ETag.
    session_delete(session=Session.objects.get(event=demo_event, kind="closing"))
    publish(event=demo_event)
    after = _feed(api_client, demo_event, HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert len(parse_with_vobject(after.content)["events"]) == 4


def test_session_feed_has_that_session_only(api_client, demo_event):
    panel = Session.objects.get(event=demo_event, kind="panel")

    response = api_client.get(f"/api/v1/events/{demo_event.slug}/sessions/{panel.id}.ics")

    assert response.status_code == 200
    (event,) = parse_with_icaljs(response.content)["events"]
    assert event["uid"] == f"session-{panel.uid}@{settings.PUBLIC_HOST}"
    assert (event["start_utc"], event["end_utc"]) == (
        int(datetime(2024, 9, 12, 14, 45, tzinfo=UTC).timestamp()),
        int(datetime(2024, 9, 12, 15, 45, tzinfo=UTC).timestamp()),
    )
    assert "ETag" in response


def test_session_feed_of_an_unpublished_session_is_404(api_client, demo_event):
    response = api_client.get(f"/api/v1/events/{demo_event.slug}/sessions/999999.ics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_speaker_feed_has_the_speakers_own_sessions(api_client, demo_event):
    private = Speaker.objects.get(event=demo_event, organisation="Private sector")
    unossc = Speaker.objects.get(event=demo_event, name__startswith="Director, UN Office")

    own = parse_with_vobject(
        api_client.get(f"/api/v1/events/{demo_event.slug}/speakers/{private.id}/agenda.ics").content
    )
    moderator = parse_with_icaljs(
        api_client.get(f"/api/v1/events/{demo_event.slug}/speakers/{unossc.id}/agenda.ics").content
    )

    assert [e["summary"][:12] for e in own["events"]] == ["Taking stock", "Interactive "]
    assert len(moderator["events"]) == 4  # chair, moderator twice, closing speaker
    assert api_client.get(f"/api/v1/events/{demo_event.slug}/speakers/999999/agenda.ics").status_code == 404
