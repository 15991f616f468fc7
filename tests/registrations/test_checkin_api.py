"""The scan API: order of checks, every outcome recorded, nonce replays, re-entry, undo, roles."""

from __future__ import annotations

import random

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registrations.badge_tokens import b45decode, b45encode, issue_badge_token, new_key_line
from registrations.models import CheckIn, EventRole, Registration, Scan
from sessions.models import Event
from tests.factories import EventFactory, RegistrationFactory, UserFactory, staff_token

pytestmark = pytest.mark.django_db


def badge(registration: Registration) -> str:
    return issue_badge_token(
        event_id=registration.event_id, registration_id=registration.id, counter=registration.badge_counter
    )


@pytest.fixture
def event():
    return EventFactory()


@pytest.fixture
def staff(api_client, event):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + staff_token(event=event, role="checkin"))
    return api_client


@pytest.fixture
def organiser(event):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + staff_token(event=event, role="organiser"))
    return client


def scan(client, event, code, **extra):
    return client.post(
        f"/api/v1/events/{event.slug}/checkins/",
        {"code": code, "gate": "Visitors' entrance", **extra},
        format="json",
    )


def test_scan_valid_badge_checks_in(staff, event):
    person = RegistrationFactory(event=event, full_name="Amina Diallo", organisation="Ministry of Planning")

    response = scan(staff, event, badge(person), nonce="n-1", scanned_at="2026-09-12T09:58:00-04:00")

    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "ok"
    assert body["registration"] == {
        "id": person.id,
        "full_name": "Amina Diallo",
        "organisation": "Ministry of Planning",
        "category": "member_state",
        "attendance": "in_person",
    }
    assert body["gate"] == "Visitors' entrance"
    checkin = CheckIn.objects.get()
    assert body["checkin_id"] == checkin.id
    (row,) = Scan.objects.all()
    assert (row.result, row.registration_id, row.checkin_id, row.gate, row.nonce) == (
        "ok",
        person.id,
        checkin.id,
        "Visitors' entrance",
        "n-1",
    )
    assert row.scanned_at.isoformat() == "2026-09-12T13:58:00+00:00"
    assert row.scanned_by.event_roles.get().role == "checkin"


def _tampered(token: str) -> str:
    raw = bytearray(b45decode(token))
    raw[20] ^= 0x04
    return b45encode(bytes(raw))


def _foreign_key_token(settings, registration) -> str:
    current = settings.BADGE_SIGNING_KEY
    settings.BADGE_SIGNING_KEY = new_key_line(77)
    token = badge(registration)
    settings.BADGE_SIGNING_KEY = current
    return token


@pytest.mark.parametrize(
    "make_code",
    [
        pytest.param(lambda token, s, r: _tampered(token), id="one-bit-flipped"),
        pytest.param(lambda token, s, r: token[:-6], id="truncated"),
        pytest.param(lambda token, s, r: b45encode(random.Random(1).randbytes(72)), id="random-bytes"),
        pytest.param(lambda token, s, r: _foreign_key_token(s, r), id="unknown-key"),
        pytest.param(lambda token, s, r: "", id="empty"),
        pytest.param(lambda token, s, r: "A" * 10_240, id="10kB"),
        pytest.param(lambda token, s, r: "https://evil.example/?q=1", id="url"),
    ],
)
def test_scan_bad_code_is_invalid_and_recorded(staff, event, settings, make_code):
    settings.BADGE_SIGNING_KEY = settings.BADGE_SIGNING_KEY or new_key_line(1)
    person = RegistrationFactory(event=event)
    code = make_code(badge(person), settings, person)

    response = scan(staff, event, code)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["result"], body["code"], body["status"], body["registration"]) == (
        "invalid",
        "invalid",
        400,
        None,
    )
    assert CheckIn.objects.count() == 0
    assert list(Scan.objects.values_list("result", "registration_id")) == [("invalid", None)]


def test_scan_invalid_token_reads_no_registration(staff, event, django_assert_max_num_queries):
    person = RegistrationFactory(event=event)
    code = _tampered(badge(person))
    with CaptureQueriesContext(connection) as queries:
        response = scan(staff, event, code)
    assert response.json()["result"] == "invalid"
    assert not any("registrations_registration" in q["sql"] for q in queries.captured_queries)


def test_scan_other_events_badge_is_wrong_event(staff, event):
    other = RegistrationFactory()  # another event

    response = scan(staff, event, badge(other))

    assert response.status_code == 403
    body = response.json()
    assert (body["result"], body["registration"]) == ("wrong_event", None)
    assert Scan.objects.get().result == "wrong_event"


@pytest.mark.parametrize(
    ("changes", "expected_result", "status"),
    [
        ({"status": Registration.Status.CANCELLED}, "revoked", 403),
        ({"status": Registration.Status.REJECTED}, "revoked", 403),
        ({"status": Registration.Status.PENDING_APPROVAL}, "not_confirmed", 403),
        ({"status": Registration.Status.WAITLISTED}, "not_confirmed", 403),
        ({"attendance": Registration.Attendance.ONLINE}, "online_only", 403),
        # revoked is decided before online_only, as the order of checks says.
        ({"status": Registration.Status.CANCELLED, "attendance": "online"}, "revoked", 403),
    ],
)
def test_scan_refuses_registrations_that_may_not_enter(staff, event, changes, expected_result, status):
    person = RegistrationFactory(event=event, **changes)

    response = scan(staff, event, badge(person))

    assert response.status_code == status
    body = response.json()
    assert body["result"] == expected_result
    assert body["registration"]["id"] == person.id
    assert CheckIn.objects.count() == 0
    assert Scan.objects.get().result == expected_result


def test_scan_after_cancellation_is_revoked(staff, event):
    from registrations.services import registration_cancel

    person = RegistrationFactory(event=event)
    code = badge(person)
    assert scan(staff, event, code).json()["result"] == "ok"

    registration_cancel(registration=person, by="attendee")  # the real cancellation service
    response = scan(staff, event, code)

    assert (response.status_code, response.json()["result"]) == (403, "revoked")
    bundle = staff.get(f"/api/v1/events/{event.slug}/checkins/bundle/").json()
    assert bundle["revoked_registration_ids"] == [person.id]


def test_scan_reissued_badge_old_counter_is_revoked(staff, event):
    person = RegistrationFactory(event=event)
    old_code = badge(person)
    Registration.objects.filter(id=person.id).update(badge_counter=2)
    person.refresh_from_db()

    assert scan(staff, event, old_code).json()["result"] == "revoked"
    assert scan(staff, event, badge(person)).json()["result"] == "ok"


def test_second_scan_is_already_checked_in_with_first_time_and_gate(staff, event):
    person = RegistrationFactory(event=event)
    first = scan(staff, event, badge(person)).json()

    response = staff.post(
        f"/api/v1/events/{event.slug}/checkins/", {"code": badge(person), "gate": "North gate"}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["result"] == "already_checked_in"
    assert body["first_checked_in_at"] == first["checked_in_at"]
    assert body["gate"] == "Visitors' entrance"
    assert body["checkin_id"] == first["checkin_id"]
    assert body["registration"]["full_name"] == person.full_name
    assert CheckIn.objects.count() == 1
    assert list(Scan.objects.values_list("result", "gate")) == [
        ("ok", "Visitors' entrance"),
        ("already_checked_in", "North gate"),
    ]


def test_nonce_replay_returns_the_original_answer_and_one_row(staff, event):
    person = RegistrationFactory(event=event)
    code = badge(person)

    first = scan(staff, event, code, nonce="3f1c0b5e-offline-1")
    again = scan(staff, event, code, nonce="3f1c0b5e-offline-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Scan.objects.count() == 1
    assert CheckIn.objects.count() == 1
    # A new nonce is a new scan: the person is inside now.
    assert scan(staff, event, code, nonce="another").json()["result"] == "already_checked_in"
    assert Scan.objects.count() == 2


def test_nonce_replay_of_a_refusal_is_one_row(staff, event):
    for _ in range(3):
        response = scan(staff, event, "garbage", nonce="n-garbage")
        assert response.json()["result"] == "invalid"
    assert Scan.objects.count() == 1


def test_nonce_is_per_event(staff, event, organiser):
    other_event = EventFactory()
    EventRole.objects.create(
        user=EventRole.objects.filter(event=event, role="checkin").get().user,
        event=other_event,
        role="checkin",
    )
    here = RegistrationFactory(event=event)
    there = RegistrationFactory(event=other_event)

    assert scan(staff, event, badge(here), nonce="same").status_code == 201
    assert scan(staff, other_event, badge(there), nonce="same").status_code == 201


def test_single_entry_event_refuses_exits(staff, event):
    person = RegistrationFactory(event=event)

    response = scan(staff, event, badge(person), direction="out")

    assert response.status_code == 400
    assert response.json()["code"] == "exit_not_allowed"
    assert Scan.objects.count() == 0


def test_reentry_policy_alternates_entries_and_exits(staff, event):
    Event.objects.filter(id=event.id).update(checkin_policy=Event.CheckinPolicy.REENTRY)
    person = RegistrationFactory(event=event)
    code = badge(person)

    results = [
        scan(staff, event, code, direction=direction).json()["result"]
        for direction in ["out", "in", "in", "out", "out", "in"]
    ]

    assert results == ["not_checked_in", "ok", "already_checked_in", "ok", "not_checked_in", "ok"]
    assert list(CheckIn.objects.values_list("direction", flat=True)) == ["in", "out", "in"]


def test_undo_lets_the_person_check_in_again(staff, organiser, event):
    person = RegistrationFactory(event=event)
    checkin_id = scan(staff, event, badge(person)).json()["checkin_id"]

    response = organiser.delete(f"/api/v1/events/{event.slug}/checkins/{checkin_id}/")

    assert response.status_code == 204
    undone = CheckIn.objects.get(id=checkin_id)
    assert undone.undone_at is not None
    assert undone.undone_by.event_roles.get().role == "organiser"
    assert scan(staff, event, badge(person)).json()["result"] == "ok"
    again = organiser.delete(f"/api/v1/events/{event.slug}/checkins/{checkin_id}/")
    assert (again.status_code, again.json()["code"]) == (409, "already_undone")
    missing = organiser.delete(f"/api/v1/events/{event.slug}/checkins/999999/")
    assert (missing.status_code, missing.json()["code"]) == (404, "checkin_not_found")


def test_reentry_undo_of_an_exit_reopens_the_entry(staff, organiser, event):
    Event.objects.filter(id=event.id).update(checkin_policy=Event.CheckinPolicy.REENTRY)
    event.refresh_from_db()
    person = RegistrationFactory(event=event)
    code = badge(person)
    entry = scan(staff, event, code).json()
    exit_ = scan(staff, event, code, direction="out").json()

    undone = organiser.delete(f"/api/v1/events/{event.slug}/checkins/{exit_['checkin_id']}/")
    again = scan(staff, event, code).json()

    assert undone.status_code == 204
    assert (again["result"], again["checkin_id"]) == ("already_checked_in", entry["checkin_id"])


def test_undo_is_for_organisers_only(staff, event):
    person = RegistrationFactory(event=event)
    checkin_id = scan(staff, event, badge(person)).json()["checkin_id"]

    response = staff.delete(f"/api/v1/events/{event.slug}/checkins/{checkin_id}/")

    assert response.status_code == 403
    assert CheckIn.objects.get(id=checkin_id).undone_at is None


def test_undo_of_another_events_checkin_is_not_found(organiser, event):
    other = RegistrationFactory()
    checkin = CheckIn.objects.create(event=other.event, registration=other, created_at=other.created_at)

    response = organiser.delete(f"/api/v1/events/{event.slug}/checkins/{checkin.id}/")

    assert response.status_code == 404


def test_scan_needs_a_role_on_this_event(api_client, event):
    person = RegistrationFactory(event=event)
    anonymous = scan(api_client, event, badge(person))
    api_client.credentials(HTTP_AUTHORIZATION="Token " + staff_token(event=EventFactory(), role="organiser"))
    elsewhere = scan(api_client, event, badge(person))

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "permission_denied")
    assert Scan.objects.count() == 0


def test_scan_token_auth_refuses_unknown_tokens_and_inactive_users(api_client, event):
    from rest_framework.authtoken.models import Token

    person = RegistrationFactory(event=event)
    key = staff_token(event=event, role="checkin")
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    unknown = scan(api_client, event, badge(person))
    user = Token.objects.get(key=key).user
    user.is_active = False
    user.save()
    api_client.credentials(HTTP_AUTHORIZATION="Token " + key)
    inactive = scan(api_client, event, badge(person))

    assert (unknown.status_code, unknown.json()["code"]) == (401, "authentication_failed")
    assert unknown["WWW-Authenticate"] == "Token"
    assert (inactive.status_code, inactive.json()["detail"]) == (401, "User inactive or deleted.")
    assert Scan.objects.count() == 0


def test_scan_with_a_session_needs_the_csrf_token(event):
    from django.test import Client

    person = RegistrationFactory(event=event)
    user = EventRole.objects.create(user=UserFactory(), event=event, role="checkin").user
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/checkin/")
    csrf = page.context["csrf_token"]
    path = f"/api/v1/events/{event.slug}/checkins/"
    body = {"code": badge(person), "gate": "Desk"}

    without = browser.post(path, body, content_type="application/json")
    with_token = browser.post(path, body, content_type="application/json", HTTP_X_CSRFTOKEN=str(csrf))

    assert (without.status_code, without.json()["code"]) == (403, "permission_denied")
    assert (with_token.status_code, with_token.json()["result"]) == (201, "ok")
    assert Scan.objects.get().scanned_by == user


def test_scan_bad_input_is_a_validation_problem(staff, event):
    response = staff.post(
        f"/api/v1/events/{event.slug}/checkins/",
        {"code": 12, "gate": "x" * 500, "scanned_at": "yesterday"},
        format="json",
    )
    missing = staff.post(f"/api/v1/events/{event.slug}/checkins/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"gate", "scanned_at"}
    assert (missing.status_code, set(missing.json()["errors"])) == (400, {"code"})
    assert Scan.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"code": "\ud800garbage"},
        {"code": "A\u0000B"},
        {"code": "\u00e9" * 50, "gate": "\ud83d"},
        {"code": "x", "nonce": "\u0000"},
        {"code": ["a list"]},
        {"code": {"nested": 1}},
    ],
)
def test_scan_odd_input_never_fails_the_server(staff, event, body):
    import json

    raw = json.dumps(body)  # keeps lone surrogates as JSON escapes, as a client could send them

    response = staff.post(f"/api/v1/events/{event.slug}/checkins/", raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] in ("invalid", "validation_error")


def test_search_and_manual_odd_input_never_fail_the_server(staff, event):
    search = staff.get(f"/api/v1/events/{event.slug}/checkins/search/?q=Am%00ina%ED%B0%80")
    huge = staff.post(
        f"/api/v1/events/{event.slug}/checkins/manual/", {"registration_id": 2**80}, format="json"
    )

    assert (search.status_code, search.json()) == (200, [])
    assert (huge.status_code, huge.json()["code"]) == (400, "validation_error")


def test_checkin_staff_cannot_reach_organiser_endpoints(staff, event):
    """Check-in staff scan, search and see stats; lists, exports, undo are for organisers."""
    person = RegistrationFactory(event=event)
    for path in [
        f"/api/v1/events/{event.slug}/registrations/",
        f"/api/v1/events/{event.slug}/registrations/export.csv",
        f"/api/v1/events/{event.slug}/registrations/{person.id}/",
        f"/api/v1/events/{event.slug}/notifications/",
    ]:
        response = staff.get(path)
        assert (path, response.status_code) == (path, 403)
    for path in ["stats/", "bundle/", "search/?q=Attendee"]:
        assert staff.get(f"/api/v1/events/{event.slug}/checkins/{path}").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_scan_ok_costs_few_queries(django_assert_max_num_queries):
    event = EventFactory()
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + staff_token(event=event, role="checkin"))
    people = RegistrationFactory.create_batch(2, event=event)
    codes = [badge(p) for p in people]

    if connection.vendor == "postgresql":
        # The door-rush path: an entry is one statement (token, role, event, registration +
        # open entry read, check-in and scan written); a rescan too (its scan row written); a
        # refusal reads the same way, then writes its scan row.
        with django_assert_max_num_queries(1) as ok_queries:
            assert scan(client, event, codes[0], nonce="q-1").status_code == 201
        with django_assert_max_num_queries(1) as rescan_queries:
            assert scan(client, event, codes[0], nonce="q-2").status_code == 409
        people[1].status = Registration.Status.WAITLISTED
        people[1].save()
        with django_assert_max_num_queries(2) as refusal_queries:
            assert scan(client, event, codes[1], nonce="q-4").status_code == 403
        assert [q["sql"].split()[0] for q in ok_queries.captured_queries] == ["WITH"]
        assert [q["sql"].split()[0] for q in rescan_queries.captured_queries] == ["WITH"]
        assert [q["sql"].split()[0] for q in refusal_queries.captured_queries] == ["WITH", "INSERT"]
    else:
        # token + user, event with the role check, BEGIN, registration (+ open entry),
        # INSERT check-in, INSERT scan, COMMIT.
        with django_assert_max_num_queries(7) as ok_queries:
            assert scan(client, event, codes[0], nonce="q-1").status_code == 201
        with django_assert_max_num_queries(6):
            assert scan(client, event, codes[0], nonce="q-2").status_code == 409
        statements = [q["sql"].split()[0] for q in ok_queries.captured_queries]
        assert [s for s in statements if s not in ("BEGIN", "COMMIT")] == [
            "SELECT",
            "SELECT",
            "SELECT",
            "INSERT",
            "INSERT",
        ]
    with django_assert_max_num_queries(5) as invalid_queries:
        assert scan(client, event, "garbage", nonce="q-3").status_code == 400
    assert not any("registrations_registration" in q["sql"] for q in invalid_queries.captured_queries)


# --- manual check-in by name ----------------------------------------------------------------


# An Accept header that DRF serves but the door-rush path leaves to DRF.
GENERAL_PATH = {"HTTP_ACCEPT": "application/json; q=1"}


def _comparable_answer(response) -> tuple:
    body = dict(response.json())
    for key in ("checkin_id", "checked_in_at", "first_checked_in_at"):
        body.pop(key, None)
    if body.get("registration"):
        body["registration"] = {k: v for k, v in body["registration"].items() if k != "id"}
    headers = {name: response.get(name) for name in ("Content-Type", "Allow", "Vary", "Idempotent-Replayed")}
    return response.status_code, body, headers


def _comparable_scans(registration) -> list[tuple]:
    rows = (
        Scan.objects.filter(registration=registration)
        .order_by("id")
        .values_list(
            "result", "direction", "manual", "gate", "scanned_by", "scanned_at", "checkin__registration"
        )
    )
    # The check-in a scan points at: none, or this person's own (ids differ between the two).
    return [(*row[:-1], None if row[-1] is None else row[-1] == registration.id) for row in rows]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": Registration.Status.CANCELLED},
        {"status": Registration.Status.WAITLISTED},
        {"attendance": Registration.Attendance.ONLINE},
        {"status": Registration.Status.REJECTED},
        {"status": Registration.Status.PENDING_APPROVAL},
        {"badge_counter": 2},  # the badge scanned is the older one: reissued since
    ],
)
def test_token_scans_answer_and_record_exactly_as_the_general_path(staff, event, changes):
    # The same person twice, once per path: the answers and the rows must not tell them apart.
    fast_person, general_person = (
        RegistrationFactory(event=event, full_name="Nguyễn Thị Hồng", **changes) for _ in range(2)
    )

    def scanned_badge(person):
        if "badge_counter" not in changes:
            return badge(person)
        return issue_badge_token(
            event_id=event.id, registration_id=person.id, counter=person.badge_counter - 1
        )

    for nonce in ("first", "second"):  # an entry (or a refusal), then the rescan
        fast = scan(staff, event, scanned_badge(fast_person), nonce=f"fast-{nonce}", gate=" Visitors ")
        general = staff.post(
            f"/api/v1/events/{event.slug}/checkins/",
            {"code": scanned_badge(general_person), "gate": " Visitors ", "nonce": f"general-{nonce}"},
            format="json",
            **GENERAL_PATH,
        )
        assert _comparable_answer(fast) == _comparable_answer(general)
    if not changes:
        assert fast.json()["first_checked_in_at"] is not None
        assert fast.json()["result"] == "already_checked_in"
    assert _comparable_scans(fast_person) == _comparable_scans(general_person)
    assert (
        CheckIn.objects.filter(registration=fast_person).count()
        == CheckIn.objects.filter(registration=general_person).count()
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"scanned_at": "2026-09-12T09:58:00-04:00"},  # an offline upload
        {"direction": "out"},  # exits have their own rules
        {"gate": "x" * 101},  # too long: the general path names the field
        {"nonce": None, "unknown": 1},
    ],
)
def test_token_scans_the_fast_path_does_not_answer_get_the_general_rules(staff, event, extra):
    person = RegistrationFactory(event=event, full_name="Ama Mensah")
    response = scan(staff, event, badge(person), **extra)
    general = RegistrationFactory(event=event, full_name="Ama Mensah")
    expected = staff.post(
        f"/api/v1/events/{event.slug}/checkins/",
        {"code": badge(general), "gate": "Visitors' entrance", **extra},
        format="json",
        **GENERAL_PATH,
    )
    assert _comparable_answer(response) == _comparable_answer(expected)
    assert _comparable_scans(person) == _comparable_scans(general)  # e.g. the client time is kept
    assert response.status_code in (201, 400)


def test_search_then_check_in_by_id(staff, event):
    amina = RegistrationFactory(event=event, full_name="Amina Diallo", organisation="Ministry of Planning")
    RegistrationFactory(event=event, full_name="Li Wei", organisation="Tsinghua University")
    RegistrationFactory(full_name="Amina Elsewhere")  # another event: never listed

    found = staff.get(f"/api/v1/events/{event.slug}/checkins/search/", {"q": "amina"}).json()
    checked = staff.post(
        f"/api/v1/events/{event.slug}/checkins/manual/",
        {"registration_id": found[0]["id"], "gate": "Desk", "nonce": "m-1"},
        format="json",
    )
    found_after = staff.get(f"/api/v1/events/{event.slug}/checkins/search/", {"q": "Planning"}).json()
    second = staff.post(
        f"/api/v1/events/{event.slug}/checkins/manual/", {"registration_id": amina.id}, format="json"
    )

    assert [(p["id"], p["full_name"], p["checked_in"]) for p in found] == [(amina.id, "Amina Diallo", False)]
    assert "email" not in found[0]
    assert (checked.status_code, checked.json()["result"]) == (201, "ok")
    assert Scan.objects.get(nonce="m-1").manual is True
    assert [p["checked_in"] for p in found_after] == [True]
    assert second.json()["result"] == "already_checked_in"


def test_manual_check_in_applies_the_same_rules(staff, event):
    cancelled = RegistrationFactory(event=event, status=Registration.Status.CANCELLED)
    other = RegistrationFactory()

    refused = staff.post(
        f"/api/v1/events/{event.slug}/checkins/manual/", {"registration_id": cancelled.id}, format="json"
    )
    missing = staff.post(
        f"/api/v1/events/{event.slug}/checkins/manual/", {"registration_id": other.id}, format="json"
    )

    assert refused.json()["result"] == "revoked"
    assert (missing.status_code, missing.json()["code"]) == (404, "registration_not_found")
    assert Scan.objects.filter(registration=other).count() == 0


def test_search_needs_two_characters(staff, event):
    RegistrationFactory(event=event, full_name="A B")
    assert staff.get(f"/api/v1/events/{event.slug}/checkins/search/", {"q": "A"}).json() == []


# --- stats and bundle -----------------------------------------------------------------------


def test_stats_count_expected_and_checked_in(staff, organiser, event):
    cache.clear()
    media = RegistrationFactory.create_batch(2, event=event, category="media")
    academic = RegistrationFactory(event=event, category="academia")
    RegistrationFactory(event=event, category="academia", attendance="online")
    RegistrationFactory(event=event, category="media", status=Registration.Status.CANCELLED)
    for person in [media[0], media[1], academic]:
        scan(staff, event, badge(person))
    organiser.delete(f"/api/v1/events/{event.slug}/checkins/{CheckIn.objects.get(registration=media[1]).id}/")
    cache.clear()

    with CaptureQueriesContext(connection) as queries:
        body = staff.get(f"/api/v1/events/{event.slug}/checkins/stats/").json()

    assert (body["expected"], body["checked_in"]) == (4, 2)
    by_category = {row["category"]: (row["expected"], row["checked_in"]) for row in body["by_category"]}
    assert by_category["media"] == (2, 1)
    assert by_category["academia"] == (2, 1)
    assert by_category["other"] == (0, 0)
    by_attendance = {row["attendance"]: (row["expected"], row["checked_in"]) for row in body["by_attendance"]}
    assert by_attendance == {"in_person": (3, 2), "online": (1, 0)}
    assert sum(bucket["count"] for bucket in body["arrivals"]) == 2
    (bucket,) = body["arrivals"]
    assert bucket["starts_at"].endswith(("0:00Z", "5:00Z"))
    # token + user, event/role, two aggregates.
    assert len(queries.captured_queries) == 4


def test_stats_are_cached_briefly(staff, event):
    cache.clear()
    staff.get(f"/api/v1/events/{event.slug}/checkins/stats/")
    with CaptureQueriesContext(connection) as queries:
        staff.get(f"/api/v1/events/{event.slug}/checkins/stats/")
    assert len(queries.captured_queries) == 2  # auth and role only


def test_bundle_lists_keys_and_revoked_registrations(staff, event):
    from registrations.badge_tokens import public_keys

    ok = RegistrationFactory(event=event)
    cancelled = RegistrationFactory(event=event, status=Registration.Status.CANCELLED)
    rejected = RegistrationFactory(event=event, status=Registration.Status.REJECTED)
    reissued = RegistrationFactory(event=event, badge_counter=3)
    RegistrationFactory(status=Registration.Status.CANCELLED)  # another event

    body = staff.get(f"/api/v1/events/{event.slug}/checkins/bundle/").json()

    assert body["event"] == {"id": event.id, "slug": event.slug}
    assert body["keys"] == public_keys()
    assert body["revoked_registration_ids"] == sorted([cancelled.id, rejected.id])
    assert body["badge_counters"] == [{"registration_id": reissued.id, "counter": 3}]
    assert ok.id not in body["revoked_registration_ids"]


def test_stats_arrivals_per_five_minutes(staff, event):
    from datetime import UTC, datetime

    cache.clear()
    people = RegistrationFactory.create_batch(5, event=event)
    at = lambda hh, mm: datetime(2026, 9, 12, hh, mm, 30, tzinfo=UTC)  # noqa: E731
    for person, moment in zip(people, [at(14, 1), at(14, 4), at(14, 5), at(14, 14)], strict=False):
        CheckIn.objects.create(event=event, registration=person, created_at=moment, is_open=True)
    CheckIn.objects.create(event=event, registration=people[4], created_at=at(14, 2), undone_at=at(14, 3))
    CheckIn.objects.create(
        event=event, registration=people[0], direction="out", created_at=at(14, 20), is_open=False
    )

    arrivals = staff.get(f"/api/v1/events/{event.slug}/checkins/stats/").json()["arrivals"]

    assert arrivals == [
        {"starts_at": "2026-09-12T14:00:00Z", "ends_at": "2026-09-12T14:05:00Z", "count": 2},
        {"starts_at": "2026-09-12T14:05:00Z", "ends_at": "2026-09-12T14:10:00Z", "count": 1},
        {"starts_at": "2026-09-12T14:10:00Z", "ends_at": "2026-09-12T14:15:00Z", "count": 1},
    ]
