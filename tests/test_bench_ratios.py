"""The bench's ratios: a floor measured while the machine was busy must not flatter them."""

from __future__ import annotations

from bench.scenarios import Context


def test_ratio_divides_by_the_higher_floor_of_the_run():
    ctx = Context(stack=None, quick=True, port=0, floor={16: 3400.0})
    ctx.adjacent_floor[16] = 1329.0  # re-measured while the workers were still draining mail

    assert ctx.ratio(979.0, 16) == round(979.0 / 3400.0, 3)
    assert ctx.floor_for(16) == 3400.0
    ctx.adjacent_floor[16] = 3600.0
    assert ctx.ratio(979.0, 16) == round(979.0 / 3600.0, 3)


def test_cost_ratio_divides_by_the_cheapest_floor_cpu_of_the_run():
    ctx = Context(stack=None, quick=True, port=0, floor_cpu_ms={16: 0.58})

    assert ctx.cost_ratio(1.91, 16) == round(0.58 / 1.91, 3)
    assert ctx.cost_ratio(None, 16) is None
