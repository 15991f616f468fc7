"""fanout: N confirmations (HTML + text, calendar invite, QR badge) through Redis and the two
Celery worker processes into the SMTP sink, twice: enqueued as a bulk action enqueues them
(dispatch_together: one task per chunk), then as a stream of sign-ups does (one task per
confirmation). Between the two, the raw smtplib ceiling, replaying messages the workers really
rendered over one connection to the same sink, in the same run."""

from __future__ import annotations

import email
import email.policy
import smtplib
import time

from bench import loadgen
from bench.scenarios import Context, Skip

NAME = "fanout"
TARGET_RATE = 100.0
TARGET_RATIO = 0.50


def _attachments(raw: bytes) -> list[str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return sorted({part.get_content_type() for part in message.walk() if not part.is_multipart()})


def _deliver(ctx: Context, *, slug: str, total: int, together: bool) -> dict:
    """Enqueue `total` confirmations in one transaction and wait until the sink has them all.
    `together`: inside dispatch_together, as bulk actions enqueue (one task per chunk);
    otherwise one task per confirmation, the shape a stream of sign-ups gives."""
    import contextlib

    from django.db import transaction
    from django.db.models import Count
    from django.test import override_settings

    from bench import seed
    from notifications.models import Notification
    from notifications.services import dispatch_together, notification_enqueue

    sink = ctx.stack.sink
    event = seed.make_event(slug=slug, capacity=total + 10)
    registrations = seed.confirmed_registrations(event=event, count=total, prefix=f"{slug}-")
    sink.reset()

    named = {sink.process.pid: "smtp sink"}
    parts_before, busy_before = loadgen.cpu_by_process(named), loadgen.machine_busy_seconds()
    enqueue_started = time.time()
    committed: list[float] = []
    # One task per confirmation: each row handed over on its own, as a trickle of sign-ups is
    # (one per dispatch window); a burst of them goes out by window, as the bulk run does.
    alone = contextlib.nullcontext() if together else override_settings(NOTIFICATIONS_DISPATCH_WINDOW_MS=0)
    with alone, transaction.atomic(), dispatch_together() if together else contextlib.nullcontext():
        # Runs first after the commit, before the dispatch hooks: the moment workers can start.
        transaction.on_commit(lambda: committed.append(time.time()))
        for r in registrations:
            notification_enqueue(**seed.confirmation_of(r))
    enqueued = time.time()  # on_commit has dispatched every task by now
    started = committed[0]
    deadline = started + (600 if not ctx.quick else 180)
    while sink.count.value < total and time.time() < deadline:
        ctx.stack.check_alive()
        time.sleep(0.2)
    delivered = sink.count.value
    last = sink.last.value or time.time()
    elapsed = last - started
    parts = loadgen.cpu_by_part_between(parts_before, loadgen.cpu_by_process(named))
    busy_after = loadgen.machine_busy_seconds()
    time.sleep(1.0)  # anything more would be a duplicate
    rows = Notification.objects.filter(event=event).values("status").annotate(n=Count("id"))
    return {
        "delivered": delivered,
        "duplicates": max(sink.count.value - total, 0),
        "rate": delivered / elapsed if elapsed > 0 else 0.0,
        "rows_written_s": round(started - enqueue_started, 3),
        "tasks_published_s": round(enqueued - started, 3),
        "time_to_last_delivery_s": round(elapsed, 3),
        "outbox_statuses": {row["status"]: row["n"] for row in rows},
        # From the enqueue to the last delivery (the harness writes the rows and publishes).
        "machine_cpu_ms_per_message": (
            round(1000 * (busy_after - busy_before) / delivered, 3)
            if delivered and busy_before is not None
            else None
        ),
        "cpu_ms_per_message_by_part": (
            {
                ("harness" if part == "load generator" else part): round(1000 * seconds / delivered, 3)
                for part, seconds in sorted(parts.items())
            }
            if parts is not None and delivered
            else None
        ),
    }


def run(ctx: Context) -> dict:
    from django.conf import settings

    from notifications.services import DELIVER_TASK
    from worker import app

    app.loader.import_default_modules()
    if DELIVER_TASK not in app.tasks:
        raise Skip(f"no Celery task {DELIVER_TASK!r} yet")

    total = ctx.scale(2000, 200)
    sink = ctx.stack.sink
    bulk = _deliver(ctx, slug="bench-fanout", total=total, together=True)
    kept = sorted(sink.keep_dir.glob("*.eml"))
    if not kept:
        raise Skip("the workers delivered nothing; see bench logs")
    messages = [p.read_bytes() for p in kept]
    parts = _attachments(messages[0])
    sizes = [len(m) for m in messages]

    # The ceiling: the same number of already-rendered messages, one smtplib connection; right
    # after the bulk run, which it is the ceiling of (this machine's speed drifts by the minute).
    sink.reset()
    busy_before = loadgen.machine_busy_seconds()
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as smtp:
        for i in range(total):
            smtp.sendmail(
                "events@convene.localhost", [f"ceiling{i}@bench.example.org"], messages[i % len(messages)]
            )
    ceiling_elapsed = time.perf_counter() - t0
    ceiling = total / ceiling_elapsed
    busy_after = loadgen.machine_busy_seconds()
    ceiling_cpu_ms = round(1000 * (busy_after - busy_before) / total, 3) if busy_before is not None else None
    single = _deliver(ctx, slug="bench-fanout-single", total=total, together=False)

    def figure(result: dict, metric: str, *, target: bool) -> dict:
        ratio = result["rate"] / ceiling if ceiling else None
        complete = result["delivered"] == total and result["duplicates"] == 0
        cpu_ms = result["machine_cpu_ms_per_message"]
        return {
            "metric": metric,
            "value": round(result["rate"], 1),
            "cpu_ms": cpu_ms,
            # The ceiling's machine CPU per message (smtplib and the sink) over this path's.
            "cost_ratio": round(ceiling_cpu_ms / cpu_ms, 3) if cpu_ms and ceiling_cpu_ms else None,
            "time_to_last_s": round(result["time_to_last_delivery_s"], 2),
            "ratio": round(ratio, 3) if ratio else None,
            "ratio_to": "raw smtplib ceiling",
            "target": f">= {TARGET_RATE:.0f}/s and >= {TARGET_RATIO:.0%} of ceiling" if target else "",
            "ok": complete
            and (
                not target or (result["rate"] >= TARGET_RATE and ratio is not None and ratio >= TARGET_RATIO)
            ),
        }

    chunk = settings.NOTIFICATIONS_CHUNK_SIZE
    return {
        "messages": total,
        "chunk_size": chunk,
        "bulk": bulk,
        "one_task_per_message": single,
        "message_parts": parts,
        "mean_message_bytes": round(sum(sizes) / len(sizes)),
        "ceiling_msgs_per_s": round(ceiling, 1),
        "ceiling_machine_cpu_ms_per_message": ceiling_cpu_ms,
        "figures": [
            figure(
                bulk,
                f"fan-out messages/s ({total} confirmations, 2 workers, tasks of {chunk})",
                target=True,
            ),
            figure(
                single,
                f"fan-out messages/s ({total} confirmations, 2 workers, one task each)",
                target=False,
            ),
            {
                "metric": "raw smtplib ceiling messages/s (pre-rendered, 1 connection)",
                "value": round(ceiling, 1),
                "cpu_ms": ceiling_cpu_ms,
                "ok": True,
            },
        ],
    }
