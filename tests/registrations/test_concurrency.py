"""Seats never oversell under real concurrency (PostgreSQL row locks, one connection per thread)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from notifications.models import Notification
from registrations import services
from registrations.models import Registration
from tests.factories import EventFactory
from tests.registrations.conftest import signup_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = Registration.Status
# The machine's PostgreSQL is shared: enough connections for real contention, not all of them.
WORKERS = 24


def run_concurrently(calls) -> list:
    """Run the callables on WORKERS threads released together; returns results or exceptions."""
    barrier = threading.Barrier(min(WORKERS, len(calls)))
    started = threading.local()

    def run(call):
        if not getattr(started, "done", False):
            started.done = True
            barrier.wait(timeout=30)
        try:
            return call()
        except Exception as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, calls))


def test_200_concurrent_signups_for_50_seats_confirm_exactly_50():
    event = EventFactory(capacity=50)

    def signup(n):
        return lambda: services.registration_create(
            event=event, **signup_payload(email=f"p{n}@example.org", full_name=f"P {n}")
        )

    results = run_concurrently([signup(n) for n in range(200)])

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    rows = Registration.objects.filter(event=event)
    assert rows.filter(status=S.CONFIRMED).count() == 50
    waiting = list(rows.filter(status=S.WAITLISTED).order_by("waitlist_position"))
    assert [r.waitlist_position for r in waiting] == list(range(1, 151))
    # Positions follow commit order, which is sign-up order: ids grow with positions.
    assert rows.count() == 200
    assert Notification.objects.filter(event=event, kind="confirmation").count() == 50
    assert Notification.objects.filter(event=event, kind="waitlisted").count() == 150


def test_same_email_twice_concurrently_gives_one_registration():
    event = EventFactory(capacity=10)

    def signup(variant):
        return lambda: services.registration_create(event=event, **signup_payload(email=variant))

    variants = ["amina@example.org", "AMINA@example.org", " Amina@Example.org ", "amina@EXAMPLE.ORG"] * 4
    results = run_concurrently([signup(v) for v in variants])

    created = [r for r in results if isinstance(r, Registration)]
    refused = [r for r in results if isinstance(r, services.AlreadyRegistered)]
    assert (len(created), len(refused)) == (1, len(variants) - 1)
    assert Registration.objects.filter(event=event).count() == 1
    # One re-sent link for the lot (rate limit + outbox uniqueness), whatever the interleaving.
    assert Notification.objects.filter(event=event, kind="already_registered").count() == 1


def test_concurrent_cancellations_and_signups_never_oversell_and_keep_the_waitlist_dense():
    event = EventFactory(capacity=20)
    seated = [
        services.registration_create(event=event, **signup_payload(email=f"s{n}@example.org"))
        for n in range(20)
    ]
    [
        services.registration_create(event=event, **signup_payload(email=f"w{n}@example.org"))
        for n in range(30)
    ]

    calls = [lambda r=r: services.registration_cancel(registration=r) for r in seated[:10]]
    calls += [
        lambda n=n: services.registration_create(event=event, **signup_payload(email=f"n{n}@example.org"))
        for n in range(30)
    ]
    calls += [lambda: services.registration_capacity_change(event=event, capacity=25)]
    results = run_concurrently(calls)

    assert [r for r in results if isinstance(r, Exception)] == []
    rows = Registration.objects.filter(event=event)
    assert rows.filter(status=S.CONFIRMED, attendance="in_person").count() == 25
    positions = sorted(rows.filter(status=S.WAITLISTED).values_list("waitlist_position", flat=True))
    assert positions == list(range(1, 50 + 30 - 10 - 25 + 1))


def test_concurrent_http_signups_against_a_live_server_never_5xx_and_never_oversell(tmp_path):
    import json
    import urllib.error
    import urllib.request

    from tests.support.processes import start_web_server

    event = EventFactory(capacity=10)
    # gunicorn, as in production: Django's test server has a listen backlog of 10 and resets
    # connections beyond it, which would test the test server instead of Convene.
    server, port = start_web_server(
        tmp_path,
        workers=2,
        THROTTLE_SIGNUP_IP="100000/min",
        THROTTLE_SIGNUP_EMAIL="100000/min",
        THROTTLE_MANAGE="100000/min",
    )
    request_addr = f"http://127.0.0.1:{port}/api/v1/events/{event.slug}/registrations/"

    def post(n):
        def call():
            body = json.dumps(signup_payload(email=f"h{n % 50}@example.org", full_name=f"H {n}")).encode()
            request = urllib.request.Request(
                request_addr, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        return call

    # 60 requests for 50 addresses: 10 of them are duplicates of a concurrent request.
    try:
        results = run_concurrently([post(n) for n in range(60)])
    finally:
        server.stop()

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 50 + [409] * 10
    assert {body["code"] for status, body in results if status == 409} == {"already_registered"}
    created = [body for status, body in results if status == 201]
    assert sum(body["status"] == "confirmed" for body in created) == 10
    positions = sorted(body["waitlist_position"] for body in created if body["status"] == "waitlisted")
    assert positions == list(range(1, 41))
    assert Registration.objects.filter(event=event, status=S.CONFIRMED).count() == 10
