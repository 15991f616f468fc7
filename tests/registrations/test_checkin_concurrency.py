"""The same badge at several gates at the same instant: exactly one `ok` (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from registrations.badge_tokens import issue_badge_token
from registrations.models import CheckIn, Scan
from sessions.models import Event
from tests.factories import EventFactory, RegistrationFactory, staff_token

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GATES = 8


def _concurrent_posts(event, bodies: list[dict], tokens: list[str]) -> list[tuple[int, dict]]:
    """POST every body at once, one thread (and one database connection) per body."""
    barrier = threading.Barrier(len(bodies))

    def post(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token " + tokens[index % len(tokens)])
        try:
            barrier.wait(timeout=30)
            response = client.post(f"/api/v1/events/{event.slug}/checkins/", bodies[index], format="json")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, range(len(bodies))))


def test_same_badge_at_many_gates_at_once_gives_one_ok():
    event = EventFactory()
    tokens = [staff_token(event=event, role="checkin") for _ in range(GATES)]
    person = RegistrationFactory(event=event)
    code = issue_badge_token(event_id=event.id, registration_id=person.id, counter=1)
    bodies = [{"code": code, "gate": f"Gate {i}", "nonce": f"gate-{i}"} for i in range(GATES)]

    answers = _concurrent_posts(event, bodies, tokens)

    results = sorted(body["result"] for _, body in answers)
    assert results == ["already_checked_in"] * (GATES - 1) + ["ok"]
    (winner,) = [body for status, body in answers if status == 201]
    assert {body["gate"] for status, body in answers if status == 409} == {winner["gate"]}
    assert CheckIn.objects.count() == 1
    assert Scan.objects.count() == GATES


def test_reentry_concurrent_entries_give_one_ok():
    event = EventFactory(checkin_policy=Event.CheckinPolicy.REENTRY)
    tokens = [staff_token(event=event, role="checkin") for _ in range(GATES)]
    person = RegistrationFactory(event=event)
    code = issue_badge_token(event_id=event.id, registration_id=person.id, counter=1)
    bodies = [{"code": code, "gate": f"Gate {i}", "direction": "in"} for i in range(GATES)]

    answers = _concurrent_posts(event, bodies, tokens)

    assert sorted(body["result"] for _, body in answers) == ["already_checked_in"] * (GATES - 1) + ["ok"]
    assert CheckIn.objects.count() == 1


def test_reentry_concurrent_exits_give_one_ok():
    event = EventFactory(checkin_policy=Event.CheckinPolicy.REENTRY)
    tokens = [staff_token(event=event, role="checkin") for _ in range(GATES)]
    person = RegistrationFactory(event=event)
    code = issue_badge_token(event_id=event.id, registration_id=person.id, counter=1)
    _concurrent_posts(event, [{"code": code, "gate": "In"}], tokens)
    bodies = [{"code": code, "gate": f"Exit {i}", "direction": "out"} for i in range(GATES)]

    answers = _concurrent_posts(event, bodies, tokens)

    assert sorted(body["result"] for _, body in answers) == ["not_checked_in"] * (GATES - 1) + ["ok"]
    assert list(CheckIn.objects.order_by("id").values_list("direction", "is_open")) == [
        ("in", False),
        ("out", False),
    ]


def test_same_nonce_replayed_concurrently_is_one_scan():
    event = EventFactory()
    tokens = [staff_token(event=event, role="checkin")]
    person = RegistrationFactory(event=event)
    code = issue_badge_token(event_id=event.id, registration_id=person.id, counter=1)
    bodies = [{"code": code, "gate": "Visitors' entrance", "nonce": "offline-42"} for _ in range(6)]

    answers = _concurrent_posts(event, bodies, tokens)

    assert {status for status, _ in answers} == {201}
    assert all(body == answers[0][1] for _, body in answers)
    assert Scan.objects.count() == 1
    assert CheckIn.objects.count() == 1


def test_many_badges_at_once_all_ok():
    event = EventFactory()
    tokens = [staff_token(event=event, role="checkin") for _ in range(4)]
    people = RegistrationFactory.create_batch(GATES, event=event)
    bodies = [
        {"code": issue_badge_token(event_id=event.id, registration_id=p.id, counter=1), "gate": "G"}
        for p in people
    ]

    answers = _concurrent_posts(event, bodies, tokens)

    assert [body["result"] for _, body in answers] == ["ok"] * GATES
    assert CheckIn.objects.count() == GATES
