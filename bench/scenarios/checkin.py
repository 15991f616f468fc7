"""checkin: the door rush. N distinct badges + 10% rescans at concurrency 16, then a second set
of badges with 4 concurrent scanners (the latency target)."""

from __future__ import annotations

import json
import random
import uuid
from datetime import timedelta

from bench import loadgen
from bench.scenarios import Context, Skip, require_route

NAME = "checkin"
CONCURRENCY = 16
SCANNERS = 4
TARGET_RATIO = 0.40
TARGET_P99_MS = 40.0


def _scan(path: str, token: str, code: str, gate: str, tag: str = "") -> loadgen.Request:
    body, headers = loadgen.json_body({"code": code, "gate": gate, "nonce": str(uuid.uuid4())})
    headers["Authorization"] = f"Token {token}"
    return loadgen.Request("POST", path, body, headers, tag=tag)


def _outcomes(result: loadgen.RunResult) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for reply in result.replies:
        try:
            key = json.loads(reply.body).get("result") or f"http_{reply.status}"
        except ValueError:
            key = f"http_{reply.status}"
        outcomes[key] = outcomes.get(key, 0) + 1
    outcomes["transport_errors"] = len(result.transport_errors)
    return {k: v for k, v in outcomes.items() if v}


def _queries_per_scan(slug: str, token: str, code: str) -> int | None:
    """One scan through the whole Django stack in this process, counting SQL statements."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/v1/events/{slug}/checkins/",
            data=json.dumps({"code": code, "gate": "probe", "nonce": str(uuid.uuid4())}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
    return len(queries) if response.status_code == 201 else None


def run(ctx: Context) -> dict:
    from bench import seed
    from registrations.models import EventRole

    try:
        from registrations.badge_tokens import issue_badge_token
    except ImportError as exc:
        raise Skip(f"no badge tokens yet ({exc})")

    distinct = ctx.scale(2000, 200)
    second = ctx.scale(1000, 100)
    event = seed.make_event(
        slug="bench-checkin", capacity=distinct + second + 10, starts_in=-timedelta(hours=1)
    )
    path = f"/api/v1/events/{event.slug}/checkins/"
    require_route(path, "check-in")
    token = seed.staff_token(event=event, role=EventRole.Role.CHECKIN, name="scanner@bench.example.org")
    registrations = seed.confirmed_registrations(event=event, count=distinct + second + 1, prefix="door")
    codes = [
        issue_badge_token(event_id=event.id, registration_id=r.id, counter=r.badge_counter)
        for r in registrations
    ]
    queries = _queries_per_scan(event.slug, token, codes[-1])

    # Run 1: distinct badges in random order, plus 10% rescans, each after its first scan.
    rng = random.Random(7)
    first = codes[:distinct]
    plan = [(code, "") for code in rng.sample(first, len(first))]
    for code in rng.sample(first, distinct // 10):
        position = plan.index((code, ""))
        plan.insert(rng.randint(position + 1, len(plan)), (code, "rescan"))
    order = [_scan(path, token, code, f"Gate {i % 4}", tag=tag) for i, (code, tag) in enumerate(plan)]
    rush_floor = ctx.measure_floor(CONCURRENCY)
    rush = loadgen.run(ctx.port, order, concurrency=CONCURRENCY, max_requests=len(order), duration=600)
    rush_outcomes = _outcomes(rush)
    rush_cost_ratio = ctx.cost_ratio(rush.machine_cpu_ms_per_request, CONCURRENCY)
    expected = {"ok": distinct, "already_checked_in": distinct // 10}

    # Run 2: four scanners on badges not seen yet.
    calm_reqs = [
        _scan(path, token, code, f"Gate {i % SCANNERS}") for i, code in enumerate(codes[distinct:-1])
    ]
    calm_floor = ctx.measure_floor(SCANNERS)
    calm = loadgen.run(ctx.port, calm_reqs, concurrency=SCANNERS, max_requests=len(calm_reqs), duration=600)
    calm_outcomes = _outcomes(calm)
    calm_cost_ratio = ctx.cost_ratio(calm.machine_cpu_ms_per_request, SCANNERS)

    rush_ratio = ctx.ratio(rush.rps, CONCURRENCY)
    calm_summary = calm.summary()
    rush_summary = rush.summary()
    rush_ok = rush_outcomes == expected
    calm_ok = calm_outcomes == {"ok": second}
    return {
        "rush": rush_summary,
        "rush_outcomes": rush_outcomes,
        "expected": expected,
        "scanners": calm_summary,
        "scanners_outcomes": calm_outcomes,
        "queries_per_scan": queries,
        "figures": [
            {
                "metric": f"scans/s ({distinct} badges + {distinct // 10} rescans, c={CONCURRENCY})",
                "value": rush_summary["rps"],
                "p50_ms": rush_summary["p50_ms"],
                "p99_ms": rush_summary["p99_ms"],
                "ratio": rush_ratio,
                "cpu_ms": rush_summary["machine_cpu_ms_per_request"],
                "cost_ratio": rush_cost_ratio,
                "target": f">= {TARGET_RATIO:.0%} of floor, outcomes exact",
                "ok": rush_ok and rush_ratio is not None and rush_ratio >= TARGET_RATIO,
                "outcomes": rush_outcomes,
                "queries_per_scan": queries,
                "floor": rush_floor,
            },
            {
                "metric": f"scans/s ({second} badges, {SCANNERS} scanners)",
                "value": calm_summary["rps"],
                "p50_ms": calm_summary["p50_ms"],
                "p99_ms": calm_summary["p99_ms"],
                "ratio": ctx.ratio(calm.rps, SCANNERS),
                "cpu_ms": calm_summary["machine_cpu_ms_per_request"],
                "cost_ratio": calm_cost_ratio,
                "target": f"p99 < {TARGET_P99_MS:.0f} ms",
                "ok": calm_ok
                and calm_summary["p99_ms"] is not None
                and calm_summary["p99_ms"] < TARGET_P99_MS,
                "outcomes": calm_outcomes,
                "floor": calm_floor,
            },
        ],
    }
