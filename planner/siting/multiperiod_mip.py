"""The look-ahead MIP of staged siting, on SCIP through OR-Tools.

:meth:`planner.siting.multiperiod.StagedCover.solve` reduces the model (rows merged when
they need the same groups in one stage, satisfied groups and dominated sites left out) and
hands the rest to :func:`solve_lookahead_mip`, which builds and solves the formulation of
the :mod:`planner.siting.multiperiod` docstring over the stages of a slice:

* ``y_r <= sum_{j in G} x_jt`` for every group ``G`` of a row ``r`` of stage ``t``; a group
  several rows of a stage share gets one variable ``z_Gt <= sum_{j in G} x_jt`` instead
  (the same LP bound, far fewer nonzeros on corridors);
* ``x_j,t-1 <= x_jt`` (opened sites stay open);
* per stage, its spend ``sum_j c_j (x_jt - x_j,t-1) <= B_t`` and new sites
  ``sum_j (x_jt - x_j,t-1) <= K_t`` (no carry-over);
* objective: covered weight minus a discounted capex term small enough to only break ties.

Kept apart from the model's data, reductions, evaluation and checks (one module per
concept); it knows nothing of them beyond the arrays it is given.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy import sparse

from planner._errors import ModelInputError
from planner.siting._backends import BackendOutcome, new_mip, run_mip
from planner.siting._base import OPTIMAL, SolveOptions

__all__ = ["solve_lookahead_mip"]


def solve_lookahead_mip(
    groups: sparse.csr_matrix,
    need: dict[tuple[int, tuple[int, ...]], float],
    useful: np.ndarray,
    *,
    site_costs: np.ndarray,
    budgets: np.ndarray,
    max_new: np.ndarray,
    discount: np.ndarray,
    n_sites: int,
    hint: list[np.ndarray] | None,
    time_limit_s: float,
    started: float,
    threads: int,
    seed: int,
    name: str,
) -> tuple[np.ndarray, BackendOutcome]:
    """Build and solve the look-ahead MIP of the ``T = len(budgets)`` stages of a slice.

    Parameters
    ----------
    groups : scipy.sparse.csr_matrix
        Group x site membership (bool) of the whole model.
    need : dict
        ``(stage in the slice, groups) -> weight``: the rows left to cover, merged.
    useful : numpy.ndarray
        The site columns the MIP may open (one ``x`` per site and stage).
    site_costs : (n_sites,) array
        Capital cost of every site.
    budgets, max_new, discount : (T,) arrays
        Each stage's budget and most new sites (``inf``: none) and capex discount factor.
    n_sites : int
        Number of site columns.
    hint : list of numpy.ndarray, optional
        A feasible plan (sites opened per stage of the slice), SCIP's first incumbent.
    time_limit_s, started, threads, seed
        The solve's options; the limit counts from ``started`` (``time.monotonic()``), so
        SCIP gets what the warm start and the model building left of it.
    name : str
        The model's name, for the error.

    Returns
    -------
    xv : (len(useful), T) bool array
        Whether each useful site is open in each stage.
    out : BackendOutcome
        Status, objective and bound of the solve.

    Raises
    ------
    ModelInputError
        When SCIP finds no plan (the stage budgets are the usual cause).
    """
    b, kmax, d, c = budgets, max_new, discount, site_costs
    T = len(b)
    used_groups = sorted({g for _, gs in need for g in gs})
    solver = new_mip("scip")
    inf = solver.infinity()
    x = [[solver.BoolVar(f"x{j}_{t}") for t in range(T)] for j in useful]
    col_of = {int(j): k for k, j in enumerate(useful)}
    members = {
        g: [col_of[int(j)] for j in groups[g].indices if int(j) in col_of] for g in used_groups
    }
    uses: dict[tuple[int, int], int] = {}
    for t, gs in need:
        for g in gs:
            uses[(g, t)] = uses.get((g, t), 0) + 1
    # a group shared by several rows of a stage gets one variable z <= sum x (same LP
    # bound as repeating the sum in every row, far fewer nonzeros on corridors)
    z: dict[tuple[int, int], Any] = {}
    for (g, t), n_use in uses.items():
        if n_use > 1:
            z[(g, t)] = v = solver.NumVar(0.0, 1.0, "")
            ct = solver.Constraint(0.0, inf)
            ct.SetCoefficient(v, -1.0)
            for k in members[g]:
                ct.SetCoefficient(x[k][t], 1.0)
    objective = solver.Objective()
    w_min = min(need.values()) if need else 1.0
    for (t, gs), wt in need.items():
        y = solver.NumVar(0.0, 1.0, "")  # exact: binary x make every bound 0 or 1
        objective.SetCoefficient(y, wt)
        for g in gs:
            ct = solver.Constraint(0.0, inf)
            ct.SetCoefficient(y, -1.0)
            if (g, t) in z:
                ct.SetCoefficient(z[(g, t)], 1.0)
            else:
                for k in members[g]:
                    ct.SetCoefficient(x[k][t], 1.0)
    for k in range(len(useful)):
        for t in range(1, T):
            ct = solver.Constraint(0.0, inf)  # opened sites stay open
            ct.SetCoefficient(x[k][t], 1.0)
            ct.SetCoefficient(x[k][t - 1], -1.0)
    for t in range(T):
        for limit, coef in ((b[t], c[useful]), (kmax[t], np.ones(len(useful)))):
            if not np.isfinite(limit):
                continue
            ct = solver.Constraint(-inf, float(limit))  # the stage's spend (no carry-over)
            for k in range(len(useful)):
                ct.SetCoefficient(x[k][t], float(coef[k]))
                if t:
                    ct.SetCoefficient(x[k][t - 1], -float(coef[k]))
    # the capex term may only break ties: its largest possible value stays below the
    # smallest positive weight, so one more covered demand row always wins
    eps = 0.5 * w_min / (T * float(c[useful].sum()) + 1.0)
    for k, j in enumerate(useful):
        for t in range(T):  # discounted capex of opening j in stage t
            coef = eps * float(c[j]) * (d[t] - (d[t + 1] if t + 1 < T else 0.0))
            objective.SetCoefficient(x[k][t], -coef)
    objective.SetMaximization()
    start = None
    if hint is not None:
        opened_by = np.full(n_sites, T)  # the stage each site opens in (T: never)
        for t, cols in reversed(list(enumerate(hint))):
            opened_by[cols] = t
        start = (
            [v for row in x for v in row],
            [float(opened_by[j] <= t) for j in useful for t in range(T)],
        )
    out = run_mip(
        solver,
        {"x": [v for row in x for v in row]},
        kind="scip",
        options=SolveOptions(time_limit_s=time_limit_s, threads=threads, seed=seed, solver="scip"),
        time_left=max(1.0, time_limit_s - (time.monotonic() - started)),
        hint=start,
    )
    if out.status not in (OPTIMAL, "FEASIBLE"):
        raise ModelInputError(f"{name}: no plan found ({out.status}); check the stage budgets")
    return out.values["x"].reshape(len(useful), T) > 0.5, out
