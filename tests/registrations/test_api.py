"""The public registration API: sign-up, validation, manage token self-service, throttling."""

from __future__ import annotations

import json

import pytest

from notifications.models import Notification
from registrations import manage_tokens
from registrations.models import EventRole, Registration
from sessions.models import AgendaVersion
from tests.factories import EventFactory, staff_token
from tests.registrations.conftest import signup_payload

pytestmark = pytest.mark.django_db


def post_signup(client, event, payload, **extra):
    return client.post(
        f"/api/v1/events/{event.slug}/registrations/",
        data=json.dumps(payload),
        content_type="application/json",
        **extra,
    )


def token_of(registration_id: int) -> str:
    return manage_tokens.token_for_salt(Registration.objects.get(id=registration_id).manage_token_salt)


def test_signup_returns_status_and_no_token(client):
    event = EventFactory(capacity=1)

    first = post_signup(client, event, signup_payload())
    second = post_signup(client, event, signup_payload(email="other@example.org"))

    assert first.status_code == 201, first.content
    assert first.json() == {"id": first.json()["id"], "status": "confirmed", "waitlist_position": None}
    assert second.json()["status"] == "waitlisted"
    assert second.json()["waitlist_position"] == 1
    token = token_of(first.json()["id"])
    assert token not in first.content.decode()


def test_signup_by_an_organiser_returns_the_manage_url(client):
    event = EventFactory()
    key = staff_token(event=event, role=EventRole.Role.ORGANISER)

    response = post_signup(client, event, signup_payload(), HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 201
    token = token_of(response.json()["id"])
    assert response.json()["manage_url"] == manage_tokens.manage_url(token)


def test_signup_by_organiser_of_another_event_gets_no_manage_url(client):
    event = EventFactory()
    key = staff_token(event=EventFactory(), role=EventRole.Role.ORGANISER)

    response = post_signup(client, event, signup_payload(), HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 201
    assert "manage_url" not in response.json()


def test_duplicate_signup_is_409_already_registered(client):
    event = EventFactory()
    post_signup(client, event, signup_payload(email="amina@example.org"))

    response = post_signup(client, event, signup_payload(email="  AMINA@Example.org"))

    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "already_registered"
    assert Notification.objects.filter(kind="already_registered").count() == 1


def test_signup_when_closed_is_409_registration_closed(client):
    from datetime import timedelta

    from django.utils import timezone

    event = EventFactory(registration_closes_at=timezone.now() - timedelta(hours=1))

    response = post_signup(client, event, signup_payload())

    assert response.status_code == 409
    assert response.json()["code"] == "registration_closed"


def test_signup_for_unknown_event_is_404(client):
    response = client.post(
        "/api/v1/events/nope/registrations/",
        data=json.dumps(signup_payload()),
        content_type="application/json",
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "field, value",
    [
        ("country", "XX"),
        ("country", "Senegal"),
        ("country", 12),
        ("timezone", "Mars/Olympus_Mons"),
        ("timezone", "EST5EDT "),
        ("language", "de"),
        ("category", "royalty"),
        ("attendance", "telepathy"),
        ("email", "amina@"),
        ("email", "amina@example.org\r\nBcc: victim@example.org"),
        ("email", "a b@example.org"),
        ("consent", False),
        ("full_name", ""),
        ("full_name", "x" * 201),
        ("full_name", "Amina\r\nBcc: victim@example.org"),
        ("full_name", "Amina\x00"),
        ("full_name", "Amina\u2028Diallo"),
        ("organisation", "Ministry\nof Planning"),
    ],
)
def test_invalid_field_is_400_naming_the_field(client, field, value):
    event = EventFactory()

    response = post_signup(client, event, signup_payload(**{field: value}))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["errors"]) == [field]
    assert Registration.objects.count() == 0


def test_missing_fields_are_each_named(client):
    event = EventFactory()

    response = post_signup(client, event, {})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {
        "full_name",
        "email",
        "country",
        "category",
        "attendance",
        "consent",
    }


def test_online_signup_when_not_offered_is_400_on_attendance(client):
    event = EventFactory(online_enabled=False)

    response = post_signup(client, event, signup_payload(attendance="online"))

    assert response.status_code == 400
    assert response.json()["errors"] == {"attendance": ["This event has no online attendance."]}


@pytest.mark.parametrize(
    "name",
    [
        "أمينة ديالو",  # Arabic
        "李小龙",  # Chinese
        "देवनागरी नाम",  # Devanagari
        "Nguyễn Thị Minh Khai",  # Vietnamese, precomposed
        "Zoe\u0308 Ndiaye",  # combining diaeresis: not normalised to NFC
        "میرزا\u200cمحمد",  # Persian with a zero-width non-joiner
        "Владимир Ὀδυσσεύς 🌍",
    ],
)
def test_unicode_names_round_trip_exactly(client, name):
    event = EventFactory()

    created = post_signup(client, event, signup_payload(full_name=name, organisation=name))
    token = token_of(created.json()["id"])
    shown = client.get(f"/api/v1/registrations/{token}/")

    assert created.status_code == 201, created.content
    assert Registration.objects.get().full_name == name
    assert shown.json()["full_name"] == name
    assert shown.json()["organisation"] == name


def test_manage_view_shows_registration_and_agenda_in_attendee_zone(client):
    event = EventFactory(timezone="America/New_York")
    AgendaVersion.objects.create(
        event=event,
        number=1,
        published_at=event.starts_at,
        sessions=[
            {
                "id": 1,
                "uid": "0b1c",
                "sequence": 0,
                "title": "Opening",
                "description": "",
                "kind": "opening",
                "room": "Conference Room 4",
                "starts_at": "2026-09-12T14:00:00+00:00",
                "ends_at": "2026-09-12T14:30:00+00:00",
                "online_url": "",
                "speakers": [
                    {"id": 3, "name": "Dima", "title": "Director", "organisation": "UNOSSC", "role": "chair"}
                ],
            }
        ],
    )
    created = post_signup(client, event, signup_payload(timezone="Asia/Tokyo"))
    token = token_of(created.json()["id"])

    response = client.get(f"/api/v1/registrations/{token}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "confirmed"
    assert body["agenda"]["timezone"] == "Asia/Tokyo"
    session = body["agenda"]["sessions"][0]
    assert session["starts_at"] == "2026-09-12T23:00:00+09:00"
    assert session["starts_at_utc"] == "2026-09-12T14:00:00+00:00"
    assert session["speakers"] == [{"id": 3, "name": "Dima", "title": "Director", "organisation": "UNOSSC"}]


def test_manage_with_unknown_token_is_404(client):
    response = client.get("/api/v1/registrations/" + "A" * 43 + "/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_manage_patch_changes_timezone_language_and_attendance(client):
    event = EventFactory(capacity=1)
    post_signup(client, event, signup_payload(email="seated@example.org"))
    created = post_signup(client, event, signup_payload(attendance="online"))
    token = token_of(created.json()["id"])

    response = client.patch(
        f"/api/v1/registrations/{token}/",
        data=json.dumps({"timezone": "Asia/Kolkata", "language": "ar", "attendance": "in_person"}),
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["language"], body["attendance"]) == ("Asia/Kolkata", "ar", "in_person")
    assert (body["status"], body["waitlist_position"]) == ("waitlisted", 1)


def test_manage_patch_rejects_unknown_timezone(client):
    event = EventFactory()
    token = token_of(post_signup(client, event, signup_payload()).json()["id"])

    response = client.patch(
        f"/api/v1/registrations/{token}/",
        data=json.dumps({"timezone": "Nowhere/Land"}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["timezone"]


def test_manage_cancel_promotes_and_cannot_be_revived(client):
    event = EventFactory(capacity=1)
    seated = post_signup(client, event, signup_payload(email="seated@example.org")).json()
    waiting = post_signup(client, event, signup_payload(email="waiting@example.org")).json()
    token = token_of(seated["id"])

    cancelled = client.post(f"/api/v1/registrations/{token}/cancel/")
    again = client.post(f"/api/v1/registrations/{token}/cancel/")
    revive = client.patch(
        f"/api/v1/registrations/{token}/",
        data=json.dumps({"attendance": "in_person"}),
        content_type="application/json",
    )

    assert cancelled.status_code == 200
    assert cancelled.json() == {"id": seated["id"], "status": "cancelled"}
    assert Registration.objects.get(id=waiting["id"]).status == "confirmed"
    assert again.status_code == 409
    assert again.json()["code"] == "already_cancelled"
    assert revive.status_code == 409
    assert revive.json()["code"] == "registration_inactive"
    assert client.get(f"/api/v1/registrations/{token}/").json()["status"] == "cancelled"


def test_signup_throttle_per_email_answers_429_with_retry_after(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "signup_email": "2/min",
        },
    }
    event = EventFactory()

    statuses = [
        post_signup(client, event, signup_payload(email="Same@example.org")).status_code for _ in range(3)
    ]
    throttled = post_signup(client, event, signup_payload(email=" same@EXAMPLE.org"))
    other = post_signup(client, event, signup_payload(email="different@example.org"))

    assert statuses == [201, 409, 429]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert other.status_code == 201


def test_signup_throttle_per_ip(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "signup_ip": "3/min"},
    }
    event = EventFactory()

    statuses = [
        post_signup(client, event, signup_payload(email=f"p{n}@example.org")).status_code for n in range(4)
    ]
    elsewhere = post_signup(client, event, signup_payload(email="p9@example.org"), REMOTE_ADDR="192.0.2.7")

    assert statuses == [201, 201, 201, 429]
    assert elsewhere.status_code == 201


def test_manage_token_throttle(client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "manage_token": "2/min",
        },
    }

    statuses = [client.get("/api/v1/registrations/" + "B" * 43 + "/").status_code for _ in range(3)]

    assert statuses == [404, 404, 429]


def test_manage_token_never_appears_in_logs(client, caplog):
    event = EventFactory()
    created = post_signup(client, event, signup_payload())
    token = token_of(created.json()["id"])

    with caplog.at_level("DEBUG"):
        client.get(f"/api/v1/registrations/{token}/")
        client.get(f"/api/v1/registrations/{token}x/")
        client.post(f"/api/v1/registrations/{token}/cancel/")

    assert token not in caplog.text


def test_signup_still_works_when_the_throttle_cache_is_down(client, settings):
    from django.core.cache import caches

    from tests.support.processes import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "signup_ip": "1/min"},
    }
    with pytest.raises(Exception):  # the premise: this cache does not answer
        caches["default"].get("probe")
    event = EventFactory()

    first = post_signup(client, event, signup_payload(email="one@example.org"))
    second = post_signup(client, event, signup_payload(email="two@example.org"))

    assert (first.status_code, second.status_code) == (201, 201)


def test_event_detail_seats_left_counts_confirmed_and_pending_in_person(client):
    event = EventFactory(capacity=3, approval_required=True)
    post_signup(client, event, signup_payload(email="a@example.org"))
    post_signup(client, event, signup_payload(email="b@example.org", attendance="online"))

    response = client.get(f"/api/v1/events/{event.slug}/")

    assert response.json()["seats_left"] == 2


def test_event_list_counts_seats_in_one_query_for_every_event(client, django_assert_num_queries):
    events = [EventFactory(capacity=5) for _ in range(3)]
    for n, event in enumerate(events):
        for i in range(n):
            post_signup(client, event, signup_payload(email=f"e{n}-{i}@example.org"))

    with django_assert_num_queries(1):
        response = client.get("/api/v1/events/")

    assert {e["slug"]: e["seats_left"] for e in response.json()} == {
        events[0].slug: 5,
        events[1].slug: 4,
        events[2].slug: 3,
    }


def test_signup_path_stays_cheap(client, django_assert_max_num_queries):
    event = EventFactory(capacity=1)
    post_signup(client, event, signup_payload(email="first@example.org"))

    # Event read, lock, one aggregate, two inserts (+ savepoints of the test's transaction).
    with django_assert_max_num_queries(9):
        response = post_signup(client, event, signup_payload())

    assert response.status_code == 201
