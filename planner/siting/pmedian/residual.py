"""Exact solves of the p-median *residual*: the columns the Lagrangian reductions left
undecided, each demand row reduced to the columns that beat its nearest forced-open one.

Both use the compact radius form of Elloumi (2010) over the distinct weighted costs
``D_i^1 < D_i^2 < ...`` of each row::

    min  sum_i (D_i^1 + sum_l (D_i^{l+1} - D_i^l) z_il)
    s.t. z_il + sum_{j: WD_ij <= D_i^l} y_j >= 1,   sum_j y_j = p_left

:func:`residual_mip` (HiGHS or SCIP, chosen with ``solver=``; the default residual
solve for small p is the branch-and-bound of :mod:`planner.siting.pmedian.branch`) keeps each row's levels only up to a
truncation radius, a relaxation whose optimum is a lower bound, and gives the rows its
solution serves beyond them all their levels until the bound is tight;
:func:`residual_cpsat` builds all levels at once. Both return ``(chosen columns of undecided, status, bound)`` or
``None`` when the backend found nothing in time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.siting._backends import integer_scale, new_mip, run_cpsat, run_mip
from planner.siting._base import FEASIBLE, OPTIMAL, SolveOptions

logger = logging.getLogger(__name__)

#: ``(chosen columns, status, lower bound of the residual objective)``.
Residual = tuple[NDArray[np.int64], str, float]


def residual_mip(
    WD: NDArray[np.float64],
    forced: NDArray[np.int64],
    undecided: NDArray[np.int64],
    p_left: int,
    incumbent: NDArray[np.int64],
    kind: str,
    options: SolveOptions,
    deadline: float,
    details: dict[str, Any],
    tol: float,
    lam: NDArray[np.float64],
) -> Residual | None:
    """Exact residual model on HiGHS/SCIP: the radius form with *truncated* levels.

    Each row keeps only the levels up to its distance in the incumbent (Garcia, Labbe &
    Marin 2011): that is a relaxation, so its optimum is a lower bound; when the
    solution it returns serves every row within its kept levels, the bound is tight and
    the solution optimal. Otherwise the violated rows get all their levels and the model
    is solved again.
    """
    base = WD[:, forced].min(axis=1) if forced.size else np.full(WD.shape[0], np.inf)
    Wu = WD[:, undecided]
    inc_cost = WD[:, np.concatenate([forced, np.intersect1d(incumbent, undecided)])].min(axis=1)
    # Truncation radius: the row's cost in the incumbent or its Lagrange multiplier,
    # whichever is larger (in an LP optimum a row is only served at costs <= lambda_i).
    radius = np.maximum(inc_cost, lam)
    full = np.zeros(WD.shape[0], dtype=bool)
    # the incumbent need not contain every forced column, so it is no solution of the
    # residual: start from nothing and let the caller compare with the incumbent
    best_chosen: NDArray[np.int64] | None = None
    best_value, best_bound = np.inf, -np.inf
    for attempt in range(1, 20):
        left = deadline - time.monotonic()
        if left <= 0.05:
            break
        solver = new_mip(kind)
        y = [solver.BoolVar(f"y{k}") for k in range(undecided.size)]
        ct = solver.Constraint(float(p_left), float(p_left))
        for v in y:
            ct.SetCoefficient(v, 1.0)
        obj = solver.Objective()
        const = 0.0
        levels_kept = 0
        for i in range(WD.shape[0]):
            useful = np.flatnonzero(Wu[i] < base[i])
            if useful.size == 0:
                const += float(base[i])
                continue
            vals = np.unique(Wu[i, useful])
            levels = vals if not np.isfinite(base[i]) else np.append(vals, base[i])
            const += float(levels[0])
            last = (
                levels.size - 1
                if full[i]
                else min(levels.size - 1, int(np.searchsorted(levels, radius[i])) + 1)
            )
            order = np.argsort(Wu[i, useful], kind="stable")
            srt = useful[order]
            dv = Wu[i, srt]
            for li in range(last):
                z = solver.NumVar(0.0, 1.0, "")
                c = solver.Constraint(1.0, solver.infinity())
                c.SetCoefficient(z, 1.0)
                for k in srt[: int(np.searchsorted(dv, levels[li], side="right"))]:
                    c.SetCoefficient(y[k], 1.0)
                obj.SetCoefficient(z, float(levels[li + 1] - levels[li]))
            levels_kept += last
        obj.SetOffset(const)
        obj.SetMinimization()
        # no hint: a solution hint crashes HiGHS 1.12 inside OR-Tools (segfault seen here)
        out = run_mip(solver, {"y": y}, kind=kind, options=options, time_left=left, hint=None)
        details.update(residual_levels=levels_kept, residual_attempts=attempt)
        if out.status not in (OPTIMAL, FEASIBLE):
            return None
        chosen = undecided[out.values["y"] > 0.5]
        served = WD[:, np.concatenate([forced, chosen])].min(axis=1)
        # every relaxed solution is a feasible p-median solution, and the relaxation's
        # bound is a valid bound: either may already close the gap
        value = float(served.sum())
        if best_chosen is None or value < best_value:
            best_value, best_chosen = value, chosen
        best_bound = max(best_bound, out.bound if out.status == OPTIMAL else -np.inf)
        logger.debug(
            "pmedian residual attempt %d: relaxed %.6g, true %.6g, best %.6g, bound %.6g",
            attempt,
            out.objective,
            value,
            best_value,
            best_bound,
        )
        if best_bound > best_value - tol - 1e-9 * abs(best_value) or out.status == FEASIBLE:
            return (
                best_chosen,
                OPTIMAL if best_bound > best_value - tol - 1e-9 * abs(best_value) else FEASIBLE,
                best_bound,
            )
        # some rows are served beyond their kept levels: keep all their levels
        cap = np.array([np.inf] * WD.shape[0])
        for i in range(WD.shape[0]):
            useful = np.flatnonzero(Wu[i] < base[i])
            if useful.size and not full[i]:
                vals = np.unique(Wu[i, useful])
                levels = vals if not np.isfinite(base[i]) else np.append(vals, base[i])
                last = min(levels.size - 1, int(np.searchsorted(levels, radius[i])) + 1)
                cap[i] = levels[last]
        full |= served > cap + 1e-9
        # the bound of the relaxation is still valid for the true problem
        details["residual_relaxed_bound"] = out.bound
    return None if best_chosen is None else (best_chosen, FEASIBLE, best_bound)


def residual_cpsat(
    WD: NDArray[np.float64],
    forced: NDArray[np.int64],
    undecided: NDArray[np.int64],
    p_left: int,
    incumbent: NDArray[np.int64],
    options: SolveOptions,
    left: float,
) -> Residual | None:
    """Exact residual model (radius form) on CP-SAT, costs scaled to integers (the bound
    absorbs the rounding), with the incumbent as a hint."""
    from ortools.sat.python import cp_model

    if left <= 0.05:
        return None
    base = WD[:, forced].min(axis=1) if forced.size else np.full(WD.shape[0], np.inf)
    Wu = WD[:, undecided]
    ints, scale, err = integer_scale(
        np.concatenate([np.where(np.isfinite(base), base, 0.0), Wu.ravel()])
    )
    model = cp_model.CpModel()
    y = [model.new_bool_var(f"y{k}") for k in range(undecided.size)]
    model.add(sum(y) == p_left)
    obj_terms: list[Any] = []
    obj_coefs: list[int] = []
    const = 0
    base_i = ints[: WD.shape[0]]
    Wi = ints[WD.shape[0] :].reshape(Wu.shape)
    for i in range(WD.shape[0]):
        useful = np.flatnonzero(Wu[i] < base[i])
        if useful.size == 0:
            const += int(base_i[i])
            continue
        vals = np.unique(Wi[i, useful])
        levels = vals if not np.isfinite(base[i]) else np.append(vals, base_i[i])
        const += int(levels[0])
        for lo, hi in zip(levels[:-1], levels[1:], strict=True):
            z = model.new_bool_var("")
            ys = [y[k] for k in useful[Wi[i, useful] <= lo]]
            model.add_bool_or(ys + [z])
            obj_terms.append(z)
            obj_coefs.append(int(hi - lo))
        if not np.isfinite(base[i]):  # must be served by an undecided column
            model.add_bool_or([y[k] for k in useful])
    model.minimize(cp_model.LinearExpr.WeightedSum(obj_terms, obj_coefs) + const)
    inc = set(np.asarray(incumbent).tolist())
    for k, j in enumerate(undecided):
        model.add_hint(y[k], int(j) in inc)
    logger.debug(
        "pmedian residual: %d undecided columns, %d level variables",
        undecided.size,
        len(obj_terms),
    )
    out = run_cpsat(model, {"y": y}, options=options, time_left=left, scale=scale)
    if out.status not in (OPTIMAL, FEASIBLE):
        return None
    return undecided[out.values["y"] > 0], out.status, out.bound - err
