"""The fast path's SimPy environment (``sim._events.OrderedEnvironment``, issue 15) against
SimPy's own: the same processes give the same trace (which process acts, when, in which
order among simultaneous events), and errors and stops behave as in SimPy."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim._events import OrderedEnvironment


def _trace(env: simpy.Environment, plan: list[list[tuple[int, int]]], plugs: int) -> list:
    """Run ``plan`` (per process: (delay, hold) steps; whole numbers, so many ties) on
    ``env`` with one shared resource; return the ordered log of what each process did."""
    log: list = []
    res = simpy.Resource(env, capacity=plugs)

    def proc(i: int, steps: list[tuple[int, int]]):
        for k, (delay, hold) in enumerate(steps):
            yield env.timeout(delay)
            # the resource's state as this step sees it: which events ran before it
            log.append((env.now, i, k, "arrive", res.count, len(res.queue)))
            if hold:
                req = res.request()
                yield req
                log.append((env.now, i, k, "start"))
                yield env.timeout(hold)
                res.release(req)
                log.append((env.now, i, k, "leave"))

    for i, steps in enumerate(plan):
        env.process(proc(i, steps))
    env.run(until=50)
    return log


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=5),
        min_size=1,
        max_size=8,
    ),
    st.integers(1, 2),
)
def test_same_trace_as_simpy(plan, plugs):
    assert _trace(OrderedEnvironment(), plan, plugs) == _trace(simpy.Environment(), plan, plugs)


def test_a_failed_process_raises_its_error_as_in_simpy():
    def bad(env):
        yield env.timeout(1.0)
        raise KeyError("boom")

    for env in (OrderedEnvironment(), simpy.Environment()):
        env.process(bad(env))
        with pytest.raises(KeyError, match="boom") as info:
            env.run(until=5.0)
        assert isinstance(info.value.__cause__, KeyError)
        assert env.now == 1.0


def test_run_stops_at_until_and_rejects_a_past_until():
    env = OrderedEnvironment()

    def ticker(env):
        while True:
            yield env.timeout(1.0)

    env.process(ticker(env))
    env.run(until=3.5)
    assert env.now == 3.5
    with pytest.raises(ValueError, match="until"):
        env.run(until=2.0)
    done = env.timeout(2.0, value="v")
    assert env.run(until=done) == "v"  # an event as ``until``: SimPy's own loop
    assert env.now == 5.5


def test_an_int_until_and_a_bad_yield_as_in_simpy():
    def bad(env):
        yield 42

    for env in (OrderedEnvironment(), simpy.Environment()):
        env.run(until=3)
        assert env.now == 3 and type(env.now) is int  # SimPy keeps an int clock
        env.process(bad(env))
        with pytest.raises(RuntimeError, match=r'in bad\n +yield 42\nInvalid yield value "42"'):
            env.run(until=5)
