"""`python -m bench.run --only … --profile checkin`: one request path under pyinstrument.

Runs in the harness process, through the whole Django stack (middleware, DRF, the service,
PostgreSQL on the bench database) with Django's test client, i.e. without gunicorn and the
network: what is left is the application's own time, which is what a fix can change.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

PATHS = ("signup", "checkin", "agenda", "agenda_ics", "floor", "badge_pdf", "deliver")


def _profile_badge_pdf(results: Path, count: int) -> Path:
    """The worker's slowest step: drawing the A6 PDF badge of a confirmation."""
    from pyinstrument import Profiler

    from bench.scenarios.badge import NAMES
    from notifications import badges
    from registrations.badge_tokens import issue_badge_token

    def data(i: int):
        return badges.BadgeData(
            token=issue_badge_token(event_id=7, registration_id=i, counter=1),
            full_name=NAMES[i % 2],  # Latin and Arabic: the common case, without the CJK font
            organisation="Ministry of Planning",
            category_label="Member State",
            category_colour="#1F77B4",
            event_title="A Better Tomorrow with South-South Cooperation",
            date_text="12 September, 10:00–13:00",
            venue="United Nations Headquarters, New York",
        )

    items = [data(i) for i in range(count)]
    badges.badge_pdf(items[0])
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for item in items[1:]:
        badges.badge_pdf(item)
    profiler.stop()
    out = results / "profile-badge_pdf.txt"
    out.write_text(
        f"profile of badge_pdf: {count - 1} badges in-process\n\n"
        + profiler.output_text(unicode=True, color=False)
        + "\n\nflat (self time):\n"
        + profiler.output_text(unicode=True, color=False, flat=True)
    )
    return out


def _profile_deliver(results: Path, count: int) -> Path:
    """A worker's task body for chunks of confirmations, as the bulk fan-out sends them (claim,
    render with invite and badge, send to the bench's SMTP sink over one connection, record):
    the fan-out's cost per message without Celery around it."""
    from django.conf import settings
    from pyinstrument import Profiler

    from bench import seed
    from notifications.models import Notification
    from notifications.services import deliver_notifications, smtp_sessions

    event = seed.make_event(slug=f"profile-deliver-{uuid.uuid4().hex[:6]}", capacity=count + 1)
    registrations = seed.confirmed_registrations(event=event, count=count, prefix="pdel")
    # Written directly, not through notification_enqueue: no task may race this process.
    rows = Notification.objects.bulk_create(Notification(**seed.confirmation_of(r)) for r in registrations)
    ids = [row.pk for row in rows]
    deliver_notifications(notification_ids=ids[:1])  # warm-up: imports, fonts, SMTP session
    ids = ids[1:]
    half, chunk_size = len(ids) // 2, settings.NOTIFICATIONS_CHUNK_SIZE
    chunks = [ids[i : i + chunk_size] for i in range(0, half, chunk_size)]
    profiled = [ids[i : i + chunk_size] for i in range(half, len(ids), chunk_size)]
    cpu, wall = time.process_time(), time.perf_counter()
    sent = sum(deliver_notifications(notification_ids=chunk)["sent"] for chunk in chunks)
    timed = max(sum(map(len, chunks)), 1)
    cpu_ms = 1000 * (time.process_time() - cpu) / timed
    wall_ms = 1000 * (time.perf_counter() - wall) / timed
    profiler = Profiler(interval=0.0005)
    profiler.start()
    sent += sum(deliver_notifications(notification_ids=chunk)["sent"] for chunk in profiled)
    profiler.stop()
    smtp_sessions.discard()
    out = results / "profile-deliver.txt"
    out.write_text(
        f"profile of deliver: {len(ids)} confirmations in-process in chunks of {chunk_size}, {sent} sent\n"
        f"without the profiler ({timed} messages before it): {cpu_ms:.2f} ms CPU, "
        f"{wall_ms:.2f} ms wall per message\n\n"
        + profiler.output_text(unicode=True, color=False)
        + "\n\nflat (self time):\n"
        + profiler.output_text(unicode=True, color=False, flat=True)
    )
    return out


def _requests(name: str, count: int):
    from datetime import timedelta

    from bench import seed
    from registrations.models import EventRole

    if name == "floor":
        return [("get", "/healthz/live", None, {})] * count
    if name in {"agenda", "agenda_ics"}:
        from bench.scenarios.agenda import _seed

        slug = _seed()
        path = (
            f"/api/v1/events/{slug}/agenda/?tz=Asia/Tokyo"
            if name == "agenda"
            else (f"/api/v1/events/{slug}/agenda.ics")
        )
        return [("get", path, None, {})] * count
    if name == "signup":
        from bench.scenarios.signup import _body

        event = seed.make_event(slug=f"profile-signup-{uuid.uuid4().hex[:6]}", capacity=count // 4)
        path = f"/api/v1/events/{event.slug}/registrations/"
        return [("post", path, _body(100_000 + i), {}) for i in range(count)]
    if name == "checkin":
        from registrations.badge_tokens import issue_badge_token

        event = seed.make_event(
            slug=f"profile-checkin-{uuid.uuid4().hex[:6]}", capacity=count + 1, starts_in=-timedelta(hours=1)
        )
        token = seed.staff_token(event=event, role=EventRole.Role.CHECKIN, name="profiler@bench.example.org")
        regs = seed.confirmed_registrations(event=event, count=count, prefix="prof")
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
        return [
            (
                "post",
                f"/api/v1/events/{event.slug}/checkins/",
                {
                    "code": issue_badge_token(
                        event_id=event.id, registration_id=r.id, counter=r.badge_counter
                    ),
                    "gate": "Main",
                    "nonce": str(uuid.uuid4()),
                },
                headers,
            )
            for r in regs
        ]
    raise ValueError(f"unknown profile path {name!r}; known: {', '.join(PATHS)}")


def run(name: str, results: Path, *, quick: bool = False) -> Path:
    from django.db import connection
    from django.test import Client
    from pyinstrument import Profiler

    count = 100 if quick else 400
    if name == "badge_pdf":
        return _profile_badge_pdf(results, 20 if quick else 60)
    if name == "deliver":
        return _profile_deliver(results, count)
    requests = _requests(name, count)
    client = Client(HTTP_HOST="127.0.0.1")
    statuses: dict[int, int] = {}

    def send(method, path, body, headers):
        if body is None:
            return getattr(client, method)(path, **headers)
        return getattr(client, method)(
            path, data=json.dumps(body), content_type="application/json", **headers
        )

    send(*requests[0])  # warm-up: imports, first connection
    # First half without the profiler: the CPU a request costs in this process (the profiler
    # inflates pure-Python code more than C, so its shares are shares, not costs).
    half = len(requests) // 2
    cpu, wall = time.process_time(), time.perf_counter()
    for request in requests[1:half]:
        response = send(*request)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    timed = max(half - 1, 1)
    cpu_ms, wall_ms = (
        1000 * (time.process_time() - cpu) / timed,
        1000 * (time.perf_counter() - wall) / timed,
    )
    requests = requests[half - 1 :]
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    profiler = Profiler(interval=0.0005)
    with connection.execute_wrapper(count):
        profiler.start()
        for request in requests[1:]:
            response = send(*request)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        profiler.stop()
    queries = len(executed)
    out = results / f"profile-{name}.txt"
    header = (
        f"profile of {name}: {len(requests) - 1} requests in-process, statuses {statuses}, "
        f"{queries / max(len(requests) - 1, 1):.1f} SQL queries per request\n"
        f"without the profiler ({timed} requests before it): {cpu_ms:.2f} ms CPU, "
        f"{wall_ms:.2f} ms wall per request\n\n"
    )
    out.write_text(header + profiler.output_text(unicode=True, color=False, show_all=False))
    return out
