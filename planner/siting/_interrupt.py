"""Solver calls that a Ctrl-C or a SIGTERM stops at once, and that never hide the stop.

Two faults are avoided here, both measured on this project's solvers (OR-Tools 9.15,
PySCIPOpt 6.3):

- **A stop swallowed.** SCIP (``misc/catchctrlc``, on by default) and CP-SAT
  (``catch_sigint_signal``, on by default) replace the process's SIGINT handler while they
  solve; a Ctrl-C then ends the search early as if its time limit had come, the call returns
  FEASIBLE, and the run goes on with a worse answer. A serial batch recorded such a run as
  done. Every model built here turns both options off (:data:`SCIP_NO_CTRLC`;
  :func:`solve_cpsat`), so the stop reaches Python.
- **A stop delayed by the time limit.** Python runs a signal handler only when the main
  thread is back in Python: a solve in the main thread holds a Ctrl-C or a SIGTERM
  (``planner._terminate``) until it returns, up to its ``time_limit_s``.
  :func:`solve_interruptibly` runs the solve in a helper thread (OR-Tools' SCIP and CP-SAT
  release the GIL while they solve; PySCIPOpt does in ``optimizeNogil``) and waits in the
  main thread, where the handler runs. When it raises, the solver is asked to stop
  (``InterruptSolve`` / ``stop_search`` / ``interruptSolve``), the helper is joined, and the
  signal's exception goes on: no answer of an interrupted solve is ever returned.

HiGHS, through ``pywraplp`` or OR-Tools' model builder, ignores the request to stop: a HiGHS
solve still runs to its time limit before the stop is raised (a warning says so). With the
default ``solver: auto`` HiGHS runs the MCLP's LP bound on large instances
(``mclp/lp.py``, at most half the time limit) and the p-median's residual model when more
than ten sites are left to open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: SCIP's parameter line that leaves SIGINT to Python (``SetSolverSpecificParametersAsString``).
SCIP_NO_CTRLC = "misc/catchctrlc = FALSE\n"

#: How often the waiting main thread wakes (s), and how often a stop is repeated: a request
#: that comes before the solver has started its search is not kept by every solver.
_POLL_S = 0.1
_REPEAT_STOP_S = 0.5
#: After this long (a multiple of the repeat) a solver that ignores the stop is named.
_WARN_AFTER_S = 2.0
#: How long a helper interrupted while starting may take to begin (else it never started).
_START_WAIT_S = 1.0


def solve_interruptibly(solve: Callable[[], T], stop: Callable[[], object], *, name: str) -> T:
    """Run ``solve()`` so that a signal handled meanwhile stops it and is raised.

    Parameters
    ----------
    solve
        The solver call; it must release the GIL while it searches.
    stop
        Asks the running solve to end (it then returns early); called from the main thread.
    name
        The solver, for the log and the helper thread's name.

    Returns
    -------
    T
        What ``solve()`` returned; its exception is raised as it was.

    Notes
    -----
    Outside the main thread (a Dask worker's thread, a thread pool) Python delivers no
    signal there, so ``solve()`` runs directly.
    """
    if threading.current_thread() is not threading.main_thread():
        return solve()
    outcome: dict[str, object] = {}
    # waited on instead of Thread.join: a signal raised inside join() marks the thread
    # stopped while it still runs (CPython 3.11, Thread._wait_for_tstate_lock)
    done = threading.Event()
    began = threading.Event()

    def run() -> None:
        began.set()
        try:
            outcome["value"] = solve()
        except BaseException as exc:  # handed to the main thread, raised there
            outcome["error"] = exc
        finally:
            done.set()

    # daemon: if a second Ctrl-C ends the wait below, the process may exit without it
    helper = threading.Thread(target=run, name=f"evplan-{name}", daemon=True)
    try:
        helper.start()
        while not done.wait(_POLL_S):
            pass
    except BaseException:
        # Thread.start runs Python code: a stop raised in it may come before or after the
        # helper began; one that began is stopped like any other
        if began.wait(_START_WAIT_S):
            logger.info("%s: stop received; asking the solver to end its search", name)
            waited = 0.0
            while not done.is_set():
                try:
                    stop()
                except Exception as exc:  # the stop must go on whatever the solver says
                    logger.debug("%s: stop request failed: %s", name, exc)
                done.wait(_REPEAT_STOP_S)
                waited += _REPEAT_STOP_S
                if waited == _WARN_AFTER_S:
                    logger.warning(
                        "%s does not stop early; waiting for it to return (at most its time limit)",
                        name,
                    )
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def solve_cpsat(solver: cp_model.CpSolver, model: cp_model.CpModel) -> cp_model.CpSolverStatus:
    """``solver.solve(model)`` with CP-SAT's own SIGINT handling off, run by
    :func:`solve_interruptibly`; the status."""
    solver.parameters.catch_sigint_signal = False  # a Ctrl-C is raised, not swallowed
    return solve_interruptibly(lambda: solver.solve(model), solver.stop_search, name="cp-sat")
