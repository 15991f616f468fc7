"""Organiser endpoints: who may call them, local-time input across DST, bad input → problem details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registrations.models import EventRole
from sessions.models import Event, Session
from tests.factories import EventFactory, RoomFactory, SpeakerFactory, staff_token
from tests.sessions.conftest import client_with_token

pytestmark = pytest.mark.django_db


def _minutes(session: Session) -> float:
    return (session.ends_at - session.starts_at).total_seconds() / 60


# --- DST in New York -------------------------------------------------------------------------


@pytest.fixture
def spring_forward(organiser_for):
    """An event over New York's 2024 spring-forward night: 02:00 EST jumps to 03:00 EDT."""
    event = EventFactory(
        starts_at=datetime(2024, 3, 10, 5, 0, tzinfo=UTC),  # 00:00 EST
        ends_at=datetime(2024, 3, 10, 10, 0, tzinfo=UTC),  # 06:00 EDT
    )
    return event, organiser_for(event)


@pytest.fixture
def fall_back(organiser_for):
    """An event over New York's 2024 fall-back night: 02:00 EDT falls back to 01:00 EST."""
    event = EventFactory(
        starts_at=datetime(2024, 11, 3, 4, 0, tzinfo=UTC),  # 00:00 EDT
        ends_at=datetime(2024, 11, 3, 9, 0, tzinfo=UTC),  # 04:00 EST
    )
    return event, organiser_for(event)


def _post_session(client, event, starts_at: str, ends_at: str, **extra):
    return client.post(
        f"/api/v1/events/{event.slug}/sessions/",
        {"title": "Night session", "starts_at": starts_at, "ends_at": ends_at, **extra},
        format="json",
    )


def test_nonexistent_local_time_in_the_spring_gap_is_refused(spring_forward):
    event, client = spring_forward

    response = _post_session(client, event, "2024-03-10T02:30:00", "2024-03-10T04:00:00")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "nonexistent_local_time"
    assert body["field"] == "starts_at"
    assert Session.objects.filter(event=event).count() == 0


def test_a_session_across_spring_forward_lasts_one_hour_not_two(spring_forward):
    event, client = spring_forward

    response = _post_session(client, event, "2024-03-10T01:30:00", "2024-03-10T03:30:00")

    assert response.status_code == 201, response.json()
    session = Session.objects.get(pk=response.json()["id"])
    assert session.starts_at == datetime(2024, 3, 10, 6, 30, tzinfo=UTC)  # 01:30 EST = UTC-5
    assert session.ends_at == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)  # 03:30 EDT = UTC-4
    assert _minutes(session) == 60
    assert response.json()["starts_at"] == "2024-03-10T01:30:00-05:00"
    assert response.json()["ends_at"] == "2024-03-10T03:30:00-04:00"


def test_ambiguous_local_time_in_the_fold_is_refused_naming_both_instants(fall_back):
    event, client = fall_back

    response = _post_session(client, event, "2024-11-03T01:30:00", "2024-11-03T03:00:00")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "ambiguous_local_time"
    assert body["candidates"] == ["2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00"]
    assert "2024-11-03T01:30:00-04:00" in body["detail"]
    assert "2024-11-03T01:30:00-05:00" in body["detail"]


@pytest.mark.parametrize(
    ("offset", "utc_hour"),
    [("-04:00", 5), ("-05:00", 6)],
)
def test_an_offset_chooses_which_0130_of_the_fold(fall_back, offset, utc_hour):
    event, client = fall_back

    response = _post_session(client, event, f"2024-11-03T01:30:00{offset}", "2024-11-03T03:00:00")

    assert response.status_code == 201, response.json()
    session = Session.objects.get(pk=response.json()["id"])
    assert session.starts_at == datetime(2024, 11, 3, utc_hour, 30, tzinfo=UTC)
    assert response.json()["starts_at"] == f"2024-11-03T01:30:00{offset}"


def test_a_session_across_fall_back_lasts_three_hours_not_two(fall_back):
    event, client = fall_back

    response = _post_session(client, event, "2024-11-03T00:30:00", "2024-11-03T02:30:00")

    assert response.status_code == 201, response.json()
    session = Session.objects.get(pk=response.json()["id"])
    assert session.starts_at == datetime(2024, 11, 3, 4, 30, tzinfo=UTC)  # 00:30 EDT
    assert session.ends_at == datetime(2024, 11, 3, 7, 30, tzinfo=UTC)  # 02:30 EST
    assert _minutes(session) == 180


# --- who may do what -------------------------------------------------------------------------


def _clients(event: Event) -> dict[str, APIClient]:
    other = EventFactory()
    return {
        "anonymous": APIClient(),
        "checkin": client_with_token(staff_token(event=event, role=EventRole.Role.CHECKIN)),
        "other_organiser": client_with_token(staff_token(event=other, role=EventRole.Role.ORGANISER)),
        "organiser": client_with_token(staff_token(event=event, role=EventRole.Role.ORGANISER)),
    }


EXPECTED = {"anonymous": 401, "checkin": 403, "other_organiser": 403}


@pytest.mark.parametrize(
    ("method", "path", "payload", "ok"),
    [
        ("get", "sessions/", None, 200),
        ("post", "sessions/", {"title": "T", "starts_at": "+0", "ends_at": "+30"}, 201),
        ("patch", "sessions/{session}/", {"title": "Renamed"}, 200),
        ("delete", "sessions/{session}/", None, 204),
        ("get", "speakers/", None, 200),
        ("post", "speakers/", {"name": "New speaker", "timezone": "Asia/Kathmandu"}, 201),
        ("patch", "speakers/{speaker}/", {"organisation": "UNDP"}, 200),
        ("delete", "speakers/{speaker}/", None, 204),
        ("post", "rooms/", {"name": "Trusteeship Council"}, 201),
        ("patch", "", {"venue": "UNHQ, Conference Room 1"}, 200),
        ("post", "agenda/publish/", {"comment": "v2"}, 201),
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "checkin", "other_organiser", "organiser"])
def test_organiser_endpoints_auth(who, method, path, payload, ok):
    event = EventFactory()
    session = Session.objects.create(
        event=event,
        title="S",
        starts_at=event.starts_at + timedelta(hours=1),
        ends_at=event.starts_at + timedelta(hours=2),
    )
    speaker = SpeakerFactory(event=event)
    client = _clients(event)[who]
    if payload and "starts_at" in payload:
        payload = {
            **payload,
            "starts_at": event.starts_at.isoformat(),
            "ends_at": (event.starts_at + timedelta(minutes=30)).isoformat(),
        }
    url = f"/api/v1/events/{event.slug}/" + path.format(session=session.id, speaker=speaker.id)

    response = getattr(client, method)(url, payload, format="json")

    assert response.status_code == EXPECTED.get(who, ok), response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] in {"not_authenticated", "permission_denied"}


def test_public_reads_need_no_token_even_with_a_bad_one(demo_event):
    client = client_with_token("not-a-real-token")
    for path in ("", "agenda/", "agenda.ics", "agenda/versions/"):
        assert client.get(f"/api/v1/events/{demo_event.slug}/{path}").status_code == 200, path


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("nobody", 403), ("checkin", 403), ("organiser", 201), ("staff", 201)],
)
def test_event_create_is_for_staff_and_existing_organisers(who, expected):
    existing = EventFactory()
    user = get_user_model().objects.create(username=f"{who}@example.org", is_staff=(who == "staff"))
    if who in ("checkin", "organiser"):
        EventRole.objects.create(user=user, event=existing, role=who)
    client = APIClient()
    if who != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = client.post(
        "/api/v1/events/",
        {
            "slug": "dakar-forum",
            "title": "Dakar forum",
            "timezone": "Africa/Dakar",
            "starts_at": "2025-05-20T09:00:00",
            "ends_at": "2025-05-20T17:00:00",
            "capacity": 50,
        },
        format="json",
    )

    assert response.status_code == expected, response.content
    if expected == 201:
        event = Event.objects.get(slug="dakar-forum")
        assert event.starts_at == datetime(2025, 5, 20, 9, 0, tzinfo=UTC)  # Dakar is UTC+0
        assert EventRole.objects.filter(user=user, event=event, role="organiser").exists()
        assert response.json()["starts_at"] == "2025-05-20T09:00:00+00:00"


def test_event_create_reads_naive_times_in_the_payload_zone(organiser_for):
    client = organiser_for(EventFactory())
    response = client.post(
        "/api/v1/events/",
        {
            "slug": "kathmandu",
            "title": "Kathmandu dialogue",
            "timezone": "Asia/Kathmandu",
            "starts_at": "2024-09-12T19:45:00",
            "ends_at": "2024-09-12T22:45:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Event.objects.get(slug="kathmandu").starts_at == datetime(2024, 9, 12, 14, 0, tzinfo=UTC)


def test_event_patch_changes_zone_without_moving_instants(demo_event, organiser_for):
    client = organiser_for(demo_event)

    response = client.patch(f"/api/v1/events/{demo_event.slug}/", {"timezone": "Asia/Tokyo"}, format="json")

    assert response.status_code == 200
    assert response.json()["timezone"] == "Asia/Tokyo"
    assert response.json()["starts_at"] == "2024-09-12T23:00:00+09:00"  # 14:00 UTC + 9 h
    demo_event.refresh_from_db()
    assert demo_event.starts_at == datetime(2024, 9, 12, 14, 0, tzinfo=UTC)


# --- bad input -------------------------------------------------------------------------------


@pytest.fixture
def event_and_client(organiser_for):
    event = EventFactory(
        starts_at=datetime(2024, 9, 12, 14, tzinfo=UTC), ends_at=datetime(2024, 9, 12, 17, tzinfo=UTC)
    )
    return event, organiser_for(event)


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"starts_at": "yesterday"}, "validation_error", "starts_at"),
        ({"starts_at": 12}, "validation_error", "starts_at"),
        ({"kind": "karaoke"}, "validation_error", "kind"),
        ({"room": 999999}, "validation_error", "room"),
        ({"speakers": [{"id": 999999}]}, "invalid_reference", None),
        ({"speakers": [{"id": "x"}]}, "validation_error", "speakers.0.id"),
        ({"online_url": "not a url"}, "validation_error", "online_url"),
        ({"title": ""}, "validation_error", "title"),
        ({"ends_at": "2024-09-12T10:00:00"}, "invalid_schedule", None),  # before the start
        ({"starts_at": "2024-09-12T09:00:00"}, "invalid_schedule", None),  # before the event
    ],
)
def test_session_bad_input_is_400_problem_details(event_and_client, payload, code, field):
    event, client = event_and_client
    body = {"title": "Panel", "starts_at": "2024-09-12T10:30:00", "ends_at": "2024-09-12T11:00:00", **payload}

    response = client.post(f"/api/v1/events/{event.slug}/sessions/", body, format="json")

    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == code
    assert {"type", "title", "status", "detail"} <= set(problem)
    if field:
        assert field in problem["errors"]
    assert Session.objects.filter(event=event).count() == 0


def test_room_and_speaker_conflicts_through_the_api(event_and_client):
    event, client = event_and_client
    room = RoomFactory(event=event)
    speaker = SpeakerFactory(event=event)
    first = _post_session(
        client,
        event,
        "2024-09-12T10:00:00",
        "2024-09-12T11:00:00",
        room=room.id,
        speakers=[{"id": speaker.id}],
    )
    assert first.status_code == 201

    same_room = _post_session(client, event, "2024-09-12T10:30:00", "2024-09-12T11:30:00", room=room.id)
    same_speaker = _post_session(
        client,
        event,
        "2024-09-12T10:30:00",
        "2024-09-12T11:30:00",
        speakers=[{"id": speaker.id, "role": "chair"}],
    )

    assert (same_room.status_code, same_room.json()["code"]) == (400, "room_conflict")
    assert (same_speaker.status_code, same_speaker.json()["code"]) == (400, "speaker_conflict")
    assert Session.objects.filter(event=event).count() == 1


def test_malformed_json_is_400(event_and_client):
    event, client = event_and_client
    response = client.post(
        f"/api/v1/events/{event.slug}/sessions/", b"{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_event_patch_bad_zone_and_bad_window(event_and_client):
    event, client = event_and_client
    url = f"/api/v1/events/{event.slug}/"

    zone = client.patch(url, {"timezone": "Atlantis/Capital"}, format="json")
    window = client.patch(url, {"ends_at": "2024-09-12T09:00:00-04:00"}, format="json")
    capacity = client.patch(url, {"capacity": -1}, format="json")

    assert (zone.status_code, zone.json()["code"]) == (400, "invalid_timezone")
    assert (window.status_code, window.json()["code"]) == (400, "invalid_schedule")
    assert (capacity.status_code, capacity.json()["code"]) == (400, "validation_error")
    event.refresh_from_db()
    assert event.timezone == "America/New_York"


def test_session_crud_roundtrip(event_and_client):
    event, client = event_and_client
    speaker = SpeakerFactory(event=event)
    base = f"/api/v1/events/{event.slug}/sessions/"

    created = _post_session(
        client,
        event,
        "2024-09-12T10:00:00",
        "2024-09-12T10:30:00",
        speakers=[{"id": speaker.id, "role": "moderator"}],
    ).json()
    patched = client.patch(
        f"{base}{created['id']}/", {"ends_at": "2024-09-12T10:45:00"}, format="json"
    ).json()
    listed = client.get(base).json()
    deleted = client.delete(f"{base}{created['id']}/")

    assert created["speakers"] == [{"id": speaker.id, "name": speaker.name, "role": "moderator"}]
    assert patched["ends_at"] == "2024-09-12T10:45:00-04:00"
    assert [s["id"] for s in listed] == [created["id"]]
    assert deleted.status_code == 204
    assert client.get(f"{base}{created['id']}/").status_code == 404


def test_publish_returns_the_diff(demo_event, organiser_for):
    client = organiser_for(demo_event)
    closing = Session.objects.get(event=demo_event, kind="closing")
    client.patch(
        f"/api/v1/events/{demo_event.slug}/sessions/{closing.id}/", {"title": "Closing"}, format="json"
    )

    response = client.post(
        f"/api/v1/events/{demo_event.slug}/agenda/publish/", {"comment": "Shorter title"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["number"] == 2
    assert body["comment"] == "Shorter title"
    assert body["diff"]["retitled"] == [str(closing.uid)]
    assert body["diff"]["moved"] == []
