"""signup: N sign-ups at concurrency 32 for an event with fewer seats than sign-ups.

Every request must get 201, and exactly `capacity` of them `confirmed`, the rest `waitlisted`,
both in the answers and in the database."""

from __future__ import annotations

import json
import random

from bench import loadgen
from bench.scenarios import Context, require_route

NAME = "signup"
CONCURRENCY = 32
TARGET_RATIO = 0.25
CATEGORIES = ["member_state", "un_system", "private_sector", "civil_society", "academia", "media", "other"]
LANGUAGES = ["en", "fr", "es", "ar", "zh", "ru"]
ZONES = ["Africa/Dakar", "America/New_York", "Asia/Kolkata", "Europe/Zurich", "America/Sao_Paulo"]


def _body(i: int) -> dict:
    rng = random.Random(i)
    return {
        "full_name": f"Bench Signup {i}",
        "email": f"Signup.{i}@Bench.Example.org",
        "organisation": "Ministry of Planning",
        "country": rng.choice(["SN", "BR", "IN", "KE", "ID"]),
        "category": rng.choice(CATEGORIES),
        "attendance": "in_person",
        "timezone": rng.choice(ZONES),
        "language": rng.choice(LANGUAGES),
        "consent": True,
        "accessibility_needs": "",
    }


def run(ctx: Context) -> dict:
    from bench import seed

    total = ctx.scale(2000, 200)
    capacity = ctx.scale(500, 50)
    event = seed.make_event(slug="bench-signup", capacity=capacity, online_enabled=True)
    path = f"/api/v1/events/{event.slug}/registrations/"
    require_route(path, "sign-up")

    requests = []
    for i in range(total):
        body, headers = loadgen.json_body(_body(i))
        requests.append(loadgen.Request("POST", path, body, headers))
    # The workers stop taking email while the burst runs, so the figure is the web path's own
    # (on 2 cores, rendering badges would otherwise compete with it); every sign-up still
    # publishes its task to Redis, and the run delivers them all afterwards (see "drain").
    from worker import app

    floor = ctx.measure_floor(CONCURRENCY)
    app.control.cancel_consumer("email", reply=True, timeout=5)
    try:
        result = loadgen.run(ctx.port, requests, concurrency=CONCURRENCY, max_requests=total, duration=600)
    finally:
        app.control.add_consumer("email", reply=True, timeout=5)

    answered: dict[str, int] = {}
    for reply in result.replies:
        if reply.status == 201:
            status = json.loads(reply.body).get("status", "?")
            answered[status] = answered.get(status, 0) + 1
    in_db = _db_split(event)
    errors = (
        result.count - result.statuses().get(201, 0) + len(result.transport_errors) + (total - result.count)
    )
    expected = {"confirmed": capacity, "waitlisted": total - capacity}
    split_ok = answered == expected and in_db == expected
    ratio = ctx.ratio(result.rps, CONCURRENCY)
    summary = result.summary()
    samples = [r.body[:300].decode(errors="replace") for r in result.replies if r.status != 201][:5]
    return {
        "run": summary,
        "answered": answered,
        "database": in_db,
        "expected": expected,
        "error_samples": samples,
        "floor_rps_just_before": floor,
        "figures": [
            {
                "metric": f"sign-ups req/s ({total} at c={CONCURRENCY}, {capacity} seats)",
                "value": summary["rps"],
                "p50_ms": summary["p50_ms"],
                "p99_ms": summary["p99_ms"],
                "ratio": ratio,
                "cpu_ms": summary["machine_cpu_ms_per_request"],
                "cost_ratio": ctx.cost_ratio(summary["machine_cpu_ms_per_request"], CONCURRENCY),
                "target": f">= {TARGET_RATIO:.0%} of floor, 0 errors, exact split",
                "ok": errors == 0 and split_ok and ratio is not None and ratio >= TARGET_RATIO,
                "errors": errors,
                "split": f"{answered.get('confirmed', 0)}/{answered.get('waitlisted', 0)}",
                "floor": floor,
            }
        ],
    }


def _db_split(event) -> dict[str, int]:
    from django.db.models import Count

    from registrations.models import Registration

    rows = Registration.objects.filter(event=event).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
