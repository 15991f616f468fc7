"""agenda: the published agenda as JSON in a viewer's zone (`?tz=`) and as `agenda.ics`, c=32."""

from __future__ import annotations

from bench import loadgen
from bench.scenarios import Context, Skip, require_route

NAME = "agenda"
CONCURRENCY = 32
TARGET_RATIO = 0.70


def _seed() -> str:
    from django.core.management import call_command

    from sessions import demo
    from sessions.models import Event

    if not Event.objects.filter(slug=demo.DEMO_SLUG).exists():
        call_command("seed_demo", "--quiet-tokens", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return demo.DEMO_SLUG


def run(ctx: Context) -> dict:
    slug = _seed()
    json_path = f"/api/v1/events/{slug}/agenda/?tz=Asia/Tokyo"
    ics_path = f"/api/v1/events/{slug}/agenda.ics"
    require_route(json_path, "agenda JSON")
    require_route(ics_path, "agenda.ics")

    figures = []
    runs = {}
    for label, path, expect in (
        ("json ?tz=Asia/Tokyo", json_path, b'"sessions"'),
        ("ics", ics_path, b"BEGIN:VCALENDAR"),
    ):
        request = loadgen.Request("GET", path)
        probe = loadgen.run(ctx.port, [request], concurrency=1, max_requests=1)
        if probe.statuses().get(200) != 1:
            raise Skip(f"{path} answered {dict(probe.statuses())}, not 200")
        if expect not in probe.replies[0].body:
            raise Skip(f"{path} body lacks {expect!r}")
        loadgen.run(ctx.port, lambda r=request: r, concurrency=CONCURRENCY, max_requests=ctx.scale(500, 100))
        floor = ctx.measure_floor(CONCURRENCY)
        result = loadgen.run(
            ctx.port,
            lambda r=request: r,
            concurrency=CONCURRENCY,
            max_requests=ctx.scale(10000, 1000),
            duration=ctx.scale(20, 5),
        )
        summary = result.summary()
        summary["response_bytes"] = len(probe.replies[0].body)
        summary["floor_rps_just_before"] = floor
        errors = result.count - result.statuses().get(200, 0) + len(result.transport_errors)
        ratio = ctx.ratio(result.rps, CONCURRENCY)
        runs[label] = summary
        figures.append(
            {
                "metric": f"agenda {label} req/s (c={CONCURRENCY})",
                "value": summary["rps"],
                "p50_ms": summary["p50_ms"],
                "p99_ms": summary["p99_ms"],
                "ratio": ratio,
                "cpu_ms": summary["machine_cpu_ms_per_request"],
                "cost_ratio": ctx.cost_ratio(summary["machine_cpu_ms_per_request"], CONCURRENCY),
                "target": f">= {TARGET_RATIO:.0%} of floor",
                "ok": errors == 0 and ratio is not None and ratio >= TARGET_RATIO,
                "errors": errors,
                "floor": floor,
            }
        )
    return {"runs": runs, "figures": figures}
