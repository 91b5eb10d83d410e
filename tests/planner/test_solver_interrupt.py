"""A Ctrl-C (SIGINT) during a solve stops it at once and is raised, never swallowed.

Before the fix SCIP and CP-SAT caught SIGINT themselves and returned FEASIBLE early, so the
run went on (a serial batch recorded it as done), and PySCIPOpt held the GIL so that a stop
waited for the time limit. Each test sends a real SIGINT to this process while a real
solver runs on a synthetic (random, made-up) instance; the handler raises :class:`_Stop`
rather than ``KeyboardInterrupt`` so that pytest's own handling is not involved.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from planner.siting._backends import new_mip, run_cpsat, run_mip
from planner.siting._base import SolveOptions
from planner.siting._interrupt import solve_interruptibly

#: Every solve here would run this long without the stop; the tests require far less.
LIMIT_S = 60.0
PROMPT_S = 10.0


class _Stop(BaseException):
    """Raised by the test's SIGINT handler."""


@contextmanager
def _sigint_after(delay_s: float) -> Iterator[None]:
    """SIGINT to this process after ``delay_s``, handled by raising :class:`_Stop`."""

    def on_sigint(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGINT, on_sigint)
    timer = threading.Timer(delay_s, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        time.sleep(0.05)  # a signal sent just before the cancel is handled here, not later
        signal.signal(signal.SIGINT, previous)


def _knapsack(n: int = 300, m: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic multi-dimensional knapsack no solver here closes within a minute."""
    rng = np.random.default_rng(1)
    w = rng.integers(10, 100, (m, n))
    return w, rng.integers(10, 100, n), w.sum(1) // 3


def _stopped_promptly(solve: Callable[[], object]) -> None:
    started = time.monotonic()
    with pytest.raises(_Stop), _sigint_after(0.5):
        solve()
    assert time.monotonic() - started < PROMPT_S


def test_scip_through_ortools_raises_the_stop_at_once():
    w, v, cap = _knapsack()
    solver = new_mip("scip")
    x = [solver.BoolVar(f"x{i}") for i in range(len(v))]
    for k in range(len(cap)):
        solver.Add(sum(int(w[k, i]) * x[i] for i in range(len(v))) <= int(cap[k]))
    solver.Maximize(sum(int(v[i]) * x[i] for i in range(len(v))))
    options = SolveOptions(time_limit_s=LIMIT_S, threads=1)
    _stopped_promptly(
        lambda: run_mip(solver, {"x": x}, kind="scip", options=options, time_left=LIMIT_S)
    )


def test_cpsat_raises_the_stop_at_once():
    from ortools.sat.python import cp_model

    w, v, cap = _knapsack()
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(v))]
    for k in range(len(cap)):
        model.add(sum(int(w[k, i]) * x[i] for i in range(len(v))) <= int(cap[k]))
    model.maximize(sum(int(v[i]) * x[i] for i in range(len(v))))
    options = SolveOptions(time_limit_s=LIMIT_S, threads=2)
    _stopped_promptly(lambda: run_cpsat(model, {"x": x}, options=options, time_left=LIMIT_S))


def test_scip_benders_raises_the_stop_at_once():
    pytest.importorskip("pyscipopt")  # a core dependency
    from planner.siting.mclp import benders
    from planner.siting.mclp.lp import lp_cover_bound
    from tests.planner.test_siting_mclp_bounds import _instance

    rng = np.random.default_rng(0)
    K, J = 3000, 300  # branch-and-Benders-cut runs into a 20 s limit on this one
    G = rng.random((K, J)) < 0.03
    G[np.arange(K), rng.integers(0, J, K)] = True
    inst = _instance(G, rng.integers(1, 10, K).astype(float))
    lp = lp_cover_bound(inst, p=12, time_limit_s=30, threads=1)
    assert lp is not None
    _stopped_promptly(
        lambda: benders.solve_benders(
            inst, np.ones(J), 12, None, np.zeros(0, np.int64), SolveOptions(), LIMIT_S, lam=lp.lam
        )
    )


def test_the_solver_is_asked_to_stop_and_joined_before_the_stop_is_raised():
    release = threading.Event()
    asked: list[float] = []
    finished: list[bool] = []

    def solve() -> str:
        release.wait(LIMIT_S)  # blocks without the GIL, as a solver's search does
        finished.append(True)
        return "answer"

    def stop() -> None:
        asked.append(time.monotonic())
        release.set()

    _stopped_promptly(lambda: solve_interruptibly(solve, stop, name="test"))
    assert len(asked) == 1 and finished == [True]


def test_a_failing_stop_request_does_not_hide_the_stop():
    release = threading.Event()
    calls = []

    def stop() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("solver not started yet")
        release.set()

    _stopped_promptly(lambda: solve_interruptibly(lambda: release.wait(LIMIT_S), stop, name="t"))
    assert len(calls) == 2  # repeated until the solve ended


def test_results_and_errors_pass_through_and_other_threads_solve_directly():
    assert solve_interruptibly(lambda: 42, lambda: None, name="t") == 42

    def fails() -> None:
        raise ValueError("model rejected")

    with pytest.raises(ValueError, match="model rejected"):
        solve_interruptibly(fails, lambda: None, name="t")
    seen = []
    worker = threading.Thread(
        target=lambda: seen.append(
            solve_interruptibly(lambda: threading.current_thread().name, lambda: None, name="t")
        ),
        name="dask-like-worker",
    )
    worker.start()
    worker.join()
    assert seen == ["dask-like-worker"]  # ran in the calling thread, no helper


def test_a_stop_while_the_helper_starts_still_stops_the_solve(monkeypatch):
    # Thread.start runs Python code: a stop raised there came after the helper began (the
    # solve ran on, unasked, to its time limit) or before it (nothing to stop)
    release = threading.Event()
    asked: list[int] = []
    real_start = threading.Thread.start

    def start_then_stop(self):
        real_start(self)
        raise _Stop  # as a signal handler raising right after the thread began

    monkeypatch.setattr(threading.Thread, "start", start_then_stop)
    with pytest.raises(_Stop):
        solve_interruptibly(
            lambda: release.wait(LIMIT_S), lambda: (asked.append(1), release.set()), name="t"
        )
    assert asked and release.is_set()


def test_a_solver_that_ignores_the_stop_is_waited_for_and_named(caplog):
    started = time.monotonic()
    with caplog.at_level("WARNING"), pytest.raises(_Stop), _sigint_after(0.2):
        # returns after 3 s whatever it is asked, as HiGHS does
        solve_interruptibly(lambda: threading.Event().wait(3.0), lambda: None, name="highs")
    assert time.monotonic() - started >= 3.0
    assert [r.getMessage() for r in caplog.records] == [
        "highs does not stop early; waiting for it to return (at most its time limit)"
    ]
