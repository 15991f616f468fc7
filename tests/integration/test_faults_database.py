"""PostgreSQL connections dropped under a running gunicorn (`pg_terminate_backend`).

Requests whose backend is terminated while they wait on the database answer 503 problem
details (retryable, nothing half-written); the requests after them succeed on the same server
processes, with nothing restarted. Idle persistent connections killed between requests are
replaced transparently (health checks), so the next request does not even see a 503.
"""

from __future__ import annotations

import http.client
import json
import threading

import psycopg
import pytest
from django.db import connection

from registrations.models import Registration
from tests.factories import EventFactory
from tests.support import processes
from tests.support.processes import start_web_server, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    data = json.loads(raw) if raw and "json" in (response.getheader("Content-Type") or "") else {}
    return response.status, dict(response.getheaders()), data


def signup(i: int) -> dict:
    return {
        "full_name": f"Fault {i}",
        "email": f"fault{i}@example.org",
        "organisation": "Ministry of Planning",
        "country": "SN",
        "category": "member_state",
        "attendance": "in_person",
        "timezone": "Africa/Dakar",
        "language": "en",
        "consent": True,
    }


def own_backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backends(admin: psycopg.Connection, dbname: str, *, waiting: bool) -> list[int]:
    """The web workers' backends: not this test's own connections."""
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s"
        + (" AND wait_event_type = 'Lock'" if waiting else " AND state = 'idle'"),
        [dbname, own_backend()],
    ).fetchall()
    return [pid for (pid,) in rows]


@pytest.fixture
def web(tmp_path):
    # Throttles off: this test is one client sending a burst on purpose.
    server, port = start_web_server(
        tmp_path, workers=2, THROTTLE_SIGNUP_IP="100000/min", THROTTLE_SIGNUP_EMAIL="100000/min"
    )
    yield server, port
    server.stop()


def test_requests_in_flight_get_503_and_the_next_ones_succeed(web):
    server, port = web
    event = EventFactory(slug="fault-db", capacity=100)
    detail = f"/api/v1/events/{event.slug}/"
    signups = f"/api/v1/events/{event.slug}/registrations/"
    assert request(port, "GET", detail)[0] == 200  # both workers have warm connections now
    assert request(port, "GET", detail)[0] == 200
    dbname = psycopg.conninfo.conninfo_to_dict(processes.test_database_url())["dbname"]
    booted = server.log().count("Booting worker")

    results: dict[str, tuple[int, dict, dict]] = {}

    def send(name: str, method: str, path: str, body=None) -> None:
        results[name] = request(port, method, path, body)

    with psycopg.connect(processes.test_database_url(), autocommit=True) as admin:
        locker = psycopg.connect(processes.test_database_url())
        try:
            # Hold the event table: both workers' next queries wait on it, i.e. are in flight.
            locker.execute("LOCK TABLE agenda_event IN ACCESS EXCLUSIVE MODE")
            threads = [
                threading.Thread(target=send, args=("read", "GET", detail)),
                threading.Thread(target=send, args=("write", "POST", signups, signup(1))),
            ]
            for thread in threads:
                thread.start()
            wait_for(
                lambda: len(backends(admin, dbname, waiting=True)) >= 2,
                timeout=30,
                what="both requests waiting on the database",
            )
            victims = backends(admin, dbname, waiting=True)
            for pid in victims:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            locker.rollback()
            locker.close()
        for thread in threads:
            thread.join(60)

    assert len(victims) == 2
    for name in ("read", "write"):
        status, headers, body = results[name]
        assert status == 503, (name, status, body)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert body["code"] == "database_unavailable"
        assert headers.get("Retry-After")
    # The refused sign-up left nothing behind.
    assert Registration.objects.filter(event=event).count() == 0

    # Same server, same workers: the next requests reconnect and succeed.
    after = [request(port, "GET", detail)[0] for _ in range(4)]
    created = [request(port, "POST", signups, signup(i))[0] for i in range(2, 6)]
    assert after == [200] * 4
    assert created == [201] * 4
    assert Registration.objects.filter(event=event).count() == 4
    assert server.alive()
    assert server.log().count("Booting worker") == booted


def test_idle_connections_killed_between_requests_are_replaced(web):
    server, port = web
    event = EventFactory(slug="fault-idle", capacity=100)
    detail = f"/api/v1/events/{event.slug}/"
    for _ in range(4):
        assert request(port, "GET", detail)[0] == 200
    dbname = psycopg.conninfo.conninfo_to_dict(processes.test_database_url())["dbname"]

    with psycopg.connect(processes.test_database_url(), autocommit=True) as admin:
        idle = backends(admin, dbname, waiting=False)
        for pid in idle:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_for(lambda: not set(idle) & set(backends(admin, dbname, waiting=False)), timeout=10, what="gone")

    assert idle, "the workers kept persistent connections (else nothing was dropped)"
    statuses = [request(port, "GET", detail)[0] for _ in range(6)]
    statuses += [
        request(port, "POST", f"/api/v1/events/{event.slug}/registrations/", signup(i))[0] for i in range(3)
    ]
    assert statuses == [200] * 6 + [201] * 3
    assert server.alive()
