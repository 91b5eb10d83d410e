"""The OR-Tools calls shared by the siting models: CP-SAT (:func:`run_cpsat`, with the
integer scaling its objectives need, :func:`integer_scale`) and the ``pywraplp`` MIP
interface to SCIP and HiGHS (:func:`new_mip`, :func:`run_mip`). Each returns a
:class:`BackendOutcome` in the model's units.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from planner._errors import SolverError
from planner.siting._base import FEASIBLE, OPTIMAL, SolveOptions
from planner.siting._interrupt import SCIP_NO_CTRLC, solve_cpsat, solve_interruptibly

if TYPE_CHECKING:
    import ortools.linear_solver.pywraplp as pywraplp
    from ortools.sat.python import cp_model

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- integer scaling
def integer_scale(
    values: np.ndarray, *, max_total: float = 2.0**52
) -> tuple[np.ndarray, float, float]:
    """Scale non-negative values to integers for CP-SAT.

    Returns ``(ints, scale, max_error)`` with ``ints = round(values * scale)``; the scale is
    1 when the values are already integral, else the power of ten giving about nine
    significant digits without overflowing ``max_total``. ``max_error`` bounds
    ``|sum(ints)/scale - sum(values)|`` over any subset.
    """
    v = np.asarray(values, dtype=np.float64)
    total = float(v.sum()) if v.size else 0.0
    if np.all(v == np.round(v)) and total < max_total:
        return v.astype(np.int64), 1.0, 0.0
    top = max(float(v.max()) if v.size else 1.0, 1e-300)
    scale = 10.0 ** (9 - math.ceil(math.log10(top)))
    while total * scale > max_total / 4:
        scale /= 10.0
    ints = np.round(v * scale).astype(np.int64)
    err = float(np.abs(ints / scale - v).sum())
    return ints, scale, err


# ---------------------------------------------------------------------------- OR-Tools wrappers
@dataclass
class BackendOutcome:
    """What a backend returned: status, chosen values, objective and bound (model units)."""

    status: str  # OPTIMAL | FEASIBLE | INFEASIBLE | NO_SOLUTION (an invalid model raises)
    values: dict[str, np.ndarray]
    objective: float
    bound: float
    solver: str
    wall_s: float


def run_cpsat(
    model: cp_model.CpModel,
    var_groups: dict[str, Sequence[Any]],
    *,
    options: SolveOptions,
    time_left: float,
    scale: float = 1.0,
    offset: float = 0.0,
) -> BackendOutcome:
    """Solve a CP-SAT model; values per variable group, objective/bound back in model units."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, float(time_left))
    solver.parameters.num_workers = int(options.threads)
    solver.parameters.random_seed = int(options.seed)
    solver.parameters.log_search_progress = bool(options.log)
    # Covering models are LP-driven: full linearization lets CP-SAT's workers use the LP
    # relaxation (an MCLP that took 57 s at the default level closes in about a second).
    solver.parameters.linearization_level = 2
    t = time.monotonic()
    code = solve_cpsat(solver, model)
    wall = time.monotonic() - t
    name = solver.status_name(code)
    logger.debug("cp-sat: %s in %.2f s", name, wall)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = {
            k: np.fromiter((solver.value(v) for v in vs), dtype=np.int64, count=len(vs))
            for k, vs in var_groups.items()
        }
        return BackendOutcome(
            status=OPTIMAL if code == cp_model.OPTIMAL else FEASIBLE,
            values=values,
            objective=solver.objective_value / scale + offset,
            bound=solver.best_objective_bound / scale + offset,
            solver="cp-sat",
            wall_s=wall,
        )
    if code == cp_model.INFEASIBLE:
        return BackendOutcome("INFEASIBLE", {}, math.nan, math.nan, "cp-sat", wall)
    if code == cp_model.MODEL_INVALID:
        raise SolverError(f"CP-SAT rejected the model: {model.validate()}")
    return BackendOutcome(
        "NO_SOLUTION", {}, math.nan, solver.best_objective_bound / scale + offset, "cp-sat", wall
    )


def new_mip(kind: str) -> pywraplp.Solver:
    """A ``pywraplp`` solver for ``"scip"`` or ``"highs"``."""
    # this form, not "from ortools.linear_solver import pywraplp": ortools ships no py.typed,
    # and mypy then misses the submodule as an attribute of the package
    import ortools.linear_solver.pywraplp as pywraplp

    backend = {"scip": "SCIP", "highs": "HIGHS"}[kind]
    solver = pywraplp.Solver.CreateSolver(backend)
    if solver is None:  # pragma: no cover - depends on the OR-Tools build
        raise SolverError(f"OR-Tools was built without {backend}; choose another solver")
    return solver


def run_mip(
    solver: pywraplp.Solver,
    var_groups: dict[str, Sequence[Any]],
    *,
    kind: str,
    options: SolveOptions,
    time_left: float,
    hint: tuple[list[Any], list[float]] | None = None,
) -> BackendOutcome:
    """Solve a ``pywraplp`` model with zero gap tolerance; objective/bound as the model has them.

    SCIP runs on one thread, HiGHS on ``options.threads``. ``hint`` (variables, values)
    goes to SCIP only: a hint crashes HiGHS in this OR-Tools build.
    """
    import ortools.linear_solver.pywraplp as pywraplp  # this form: see new_mip

    solver.SetTimeLimit(int(max(10.0, 1000.0 * time_left)))
    # SCIP runs single-threaded: with more threads OR-Tools switches it to its concurrent
    # mode, which here stopped early at FEASIBLE with gaps and differed run to run
    solver.SetNumThreads(1 if kind == "scip" else int(options.threads))
    if kind == "scip":
        solver.SetSolverSpecificParametersAsString(
            f"limits/gap = 0\nlimits/absgap = 0\nrandomization/randomseedshift = {int(options.seed)}\n"
            + SCIP_NO_CTRLC  # a Ctrl-C is raised, not swallowed (planner.siting._interrupt)
        )
    if kind == "highs" and not options.log:
        # HiGHS prints a banner on stdout even with output suppressed; library code must not
        solver.SetSolverSpecificParametersAsString("output_flag=false\n")
    if options.log:
        solver.EnableOutput()
    if (
        hint is not None and kind != "highs"
    ):  # a hint crashes HiGHS 1.12 in this OR-Tools (segfault)
        solver.SetHint(*hint)
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    t = time.monotonic()
    code = solve_interruptibly(lambda: solver.Solve(params), solver.InterruptSolve, name=kind)
    wall = time.monotonic() - t
    logger.debug("%s: status %d in %.2f s", kind, code, wall)
    if code in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        values = {
            k: np.fromiter((v.solution_value() for v in vs), dtype=np.float64, count=len(vs))
            for k, vs in var_groups.items()
        }
        obj = solver.Objective()
        status = OPTIMAL if code == pywraplp.Solver.OPTIMAL else FEASIBLE
        bound = obj.Value() if status == OPTIMAL else obj.BestBound()
        return BackendOutcome(status, values, obj.Value(), bound, kind, wall)
    if code == pywraplp.Solver.INFEASIBLE:
        return BackendOutcome("INFEASIBLE", {}, math.nan, math.nan, kind, wall)
    if code in (pywraplp.Solver.ABNORMAL, pywraplp.Solver.MODEL_INVALID):
        raise SolverError(f"{kind} failed on the model (status {code}); try solver='cp-sat'")
    return BackendOutcome("NO_SOLUTION", {}, math.nan, math.nan, kind, wall)
