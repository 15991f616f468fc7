"""Bench scenarios. Each module has `NAME` and `run(ctx) -> dict`; a scenario whose feature is
not there raises `Skip` with the reason, so the rest of the run goes on."""

from __future__ import annotations

from dataclasses import dataclass, field

ORDER = ["floor", "badge", "agenda", "signup", "checkin", "fanout"]


class Skip(Exception):  # noqa: N818  (a verdict, not an error)
    """This scenario cannot run yet (its endpoint or builder does not exist)."""


@dataclass
class Context:
    stack: object  # bench.stack.Stack
    quick: bool
    port: int
    # floor requests/s by concurrency, measured in this run
    floor: dict[int, float] = field(default_factory=dict)
    # the floor re-measured just before the scenario being run, by concurrency
    adjacent_floor: dict[int, float] = field(default_factory=dict)
    # machine CPU ms per floor request, by concurrency (the cheapest measured in this run)
    floor_cpu_ms: dict[int, float] = field(default_factory=dict)

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def ratio(self, rps: float, concurrency: int) -> float | None:
        """Requests/s ÷ the floor's: the higher of the floor measured just before the scenario
        and the `floor` scenario's, so a floor measured while something else was busy cannot
        flatter a ratio."""
        base = self._floor_base(concurrency)
        return round(rps / base, 3) if base else None

    def floor_for(self, concurrency: int) -> float | None:
        """The floor `ratio` divides by."""
        base = self._floor_base(concurrency)
        return round(base, 1) if base else None

    def _floor_base(self, concurrency: int) -> float:
        return max(self.adjacent_floor.get(concurrency) or 0, self.floor.get(concurrency) or 0)

    def cost_ratio(self, cpu_ms_per_request: float | None, concurrency: int) -> float | None:
        """Floor CPU per request ÷ this scenario's: the throughput ratio a quiet machine gives
        when the run is CPU-bound, measured from CPU time and so steadier on a shared one."""
        base = self.floor_cpu_ms.get(concurrency)
        return round(base / cpu_ms_per_request, 3) if base and cpu_ms_per_request else None

    def measure_floor(self, concurrency: int) -> float:
        """The floor again, right before a scenario at the same concurrency: on a shared or
        throttling machine, the denominator is then measured under the same conditions."""
        from bench import loadgen

        request = loadgen.Request("GET", "/healthz/live")
        result = loadgen.run(
            self.port,
            lambda: request,
            concurrency=concurrency,
            max_requests=self.scale(10000, 2000),
            duration=self.scale(10, 3),
        )
        self.adjacent_floor[concurrency] = result.rps
        cpu_ms = result.machine_cpu_ms_per_request
        if cpu_ms and cpu_ms < self.floor_cpu_ms.get(concurrency, float("inf")):
            self.floor_cpu_ms[concurrency] = cpu_ms
        return self.floor_for(concurrency)


def route_exists(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return True


def require_route(path: str, what: str) -> None:
    if not route_exists(path):
        raise Skip(f"{what}: no route for {path.split('?', 1)[0]} yet")
