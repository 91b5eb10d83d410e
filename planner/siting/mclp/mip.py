"""The maximal covering model on a backend: the MIP on SCIP or HiGHS (continuous ``z``)
and the CP-SAT model (integer-scaled weights).

Both solve the reduced instance of :mod:`planner.siting._covering`, warm-started with a
site set (positions into ``inst.cols``), and return ``(chosen positions, status, bound)``
or ``None`` when the backend found no solution in time.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import NDArray

from planner.siting._backends import integer_scale, new_mip, run_cpsat, run_mip
from planner.siting._base import FEASIBLE, OPTIMAL, SolveOptions
from planner.siting._covering import CoverInstance

logger = logging.getLogger(__name__)

#: ``(chosen positions into inst.cols, status, bound of the model part)``.
Solved = tuple[NDArray[np.int64], str, float]


def solve_cpsat(
    inst: CoverInstance,
    c: NDArray[np.float64],
    p: int | None,
    budget_left: float | None,
    greedy: NDArray[np.int64],
    options: SolveOptions,
    left: float,
) -> Solved | None:
    """The MCLP on CP-SAT, weights scaled to integers (the bound absorbs the rounding).

    ``c`` holds the site costs by original column; a budget with non-integral costs is
    enforced with the costs rounded up. ``greedy`` is the hint.
    """
    from ortools.sat.python import cp_model

    G = inst.groups.tocsr()
    K, J = G.shape
    sizes = np.diff(G.indptr)
    wint, scale, err = integer_scale(inst.group_weight)
    model = cp_model.CpModel()
    y = [model.new_bool_var(f"y{j}") for j in range(J)]
    # groups covered by a single candidate need no variable: their weight goes on y_j
    single = sizes == 1
    obj_y = np.bincount(G.indices[G.indptr[:-1][single]], weights=wint[single], minlength=J).astype(
        np.int64
    )
    multi = np.flatnonzero(~single)
    z = []
    for k in multi:
        zk = model.new_bool_var("")
        model.add_bool_or([y[j] for j in G.indices[G.indptr[k] : G.indptr[k + 1]]] + [zk.Not()])
        z.append(zk)
    if p is not None:
        model.add(sum(y) <= p)
    if budget_left is not None:
        ci, cscale, cerr = integer_scale(c[inst.cols])
        cap = math.floor(budget_left * cscale + 1e-9)
        if cerr > 0:
            ci = np.ceil(c[inst.cols] * cscale - 1e-9).astype(np.int64)  # conservative
            logger.warning(
                "mclp: site costs are not integral; the budget is enforced with costs "
                "rounded up to 1/%g",
                cscale,
            )
        model.add(cp_model.LinearExpr.WeightedSum(y, ci.tolist()) <= cap)
    model.maximize(
        cp_model.LinearExpr.WeightedSum(y, obj_y.tolist())
        + cp_model.LinearExpr.WeightedSum(z, wint[multi].tolist())
    )
    gset = set(greedy.tolist())
    for j in range(J):
        model.add_hint(y[j], j in gset)
    out = run_cpsat(model, {"y": y}, options=options, time_left=left, scale=scale)
    if out.status not in (OPTIMAL, FEASIBLE):
        return None
    return np.flatnonzero(out.values["y"] > 0), out.status, out.bound + err


def solve_mip(
    inst: CoverInstance,
    c: NDArray[np.float64],
    p: int | None,
    budget_left: float | None,
    greedy: NDArray[np.int64],
    kind: str,
    options: SolveOptions,
    left: float,
    *,
    must_use: NDArray[np.int64] | None = None,
    at_least: float | None = None,
) -> Solved | None:
    """The MCLP on SCIP or HiGHS (``kind``), binary ``y`` and continuous ``z`` (exact: for
    binary ``y`` the best ``z`` is 0 or 1); ``greedy`` is the hint.

    For the kernel search, ``must_use`` requires one of those positions to open and
    ``at_least`` a covered weight of at least that much.
    """
    G = inst.groups.tocsr()
    K, J = G.shape
    solver = new_mip(kind)
    y = [solver.BoolVar(f"y{j}") for j in range(J)]
    z = [solver.NumVar(0.0, 1.0, "") for _ in range(K)]
    inf = solver.infinity()
    for k in range(K):
        ct = solver.Constraint(0.0, inf)
        ct.SetCoefficient(z[k], -1.0)
        for j in G.indices[G.indptr[k] : G.indptr[k + 1]]:
            ct.SetCoefficient(y[j], 1.0)
    if p is not None:
        ct = solver.Constraint(0.0, float(p))
        for v in y:
            ct.SetCoefficient(v, 1.0)
    if budget_left is not None:
        ct = solver.Constraint(-inf, budget_left)
        for j, v in enumerate(y):
            ct.SetCoefficient(v, float(c[inst.cols[j]]))
    obj = solver.Objective()
    for k in range(K):
        obj.SetCoefficient(z[k], float(inst.group_weight[k]))
    obj.SetMaximization()
    if must_use is not None:  # kernel search: one site of the bucket
        ct = solver.Constraint(1.0, inf)
        for j in must_use:
            ct.SetCoefficient(y[int(j)], 1.0)
    if at_least is not None:  # kernel search: only solutions beating the incumbent
        ct = solver.Constraint(float(at_least), inf)
        for k in range(K):
            ct.SetCoefficient(z[k], float(inst.group_weight[k]))
    gset = set(greedy.tolist())
    out = run_mip(
        solver,
        {"y": y},
        kind=kind,
        options=options,
        time_left=left,
        hint=(y, [1.0 if j in gset else 0.0 for j in range(J)]),
    )
    if out.status not in (OPTIMAL, FEASIBLE):
        return None
    bound = out.bound if math.isfinite(out.bound) else float(inst.group_weight.sum())
    return np.flatnonzero(out.values["y"] > 0.5), out.status, bound
