"""floor: GET /healthz/live, a static 204 through the whole middleware stack.

Measured at every concurrency another scenario uses, so each ratio compares equal loads."""

from __future__ import annotations

from bench import loadgen
from bench.scenarios import Context

NAME = "floor"
CONCURRENCIES = (32, 16, 4)


def run(ctx: Context) -> dict:
    request = loadgen.Request("GET", "/healthz/live")
    # Warm every gunicorn worker and thread (imports, first connections) before measuring.
    loadgen.run(ctx.port, lambda: request, concurrency=32, max_requests=ctx.scale(2000, 300), duration=20)
    runs = {}
    for concurrency in CONCURRENCIES:
        result = loadgen.run(
            ctx.port,
            lambda: request,
            concurrency=concurrency,
            max_requests=ctx.scale(20000, 2000),
            duration=ctx.scale(20, 5),
        )
        summary = result.summary()
        ok = result.statuses().get(204, 0) == result.count and not result.transport_errors
        summary["ok"] = ok
        runs[str(concurrency)] = summary
        ctx.floor[concurrency] = result.rps
        if result.machine_cpu_ms_per_request:
            ctx.floor_cpu_ms[concurrency] = result.machine_cpu_ms_per_request
    return {
        "runs": runs,
        "figures": [
            {
                "metric": f"GET /healthz/live req/s (c={c})",
                "value": runs[str(c)]["rps"],
                "p50_ms": runs[str(c)]["p50_ms"],
                "p99_ms": runs[str(c)]["p99_ms"],
                "cpu_ms": runs[str(c)]["machine_cpu_ms_per_request"],
                "ok": runs[str(c)]["ok"],
            }
            for c in CONCURRENCIES
        ],
    }
