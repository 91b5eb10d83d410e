"""Exact LP bound, LP rounding and reduced-cost fixing for the maximal covering problem.

The subgradient bound of :mod:`planner.siting.mclp.lagrange` converges slowly on
large instances, and the LP relaxation in its natural (primal) form is slow to solve: one
row per demand group. Its *dual* has one row per candidate instead::

    min  sum_k (W_k - lambda_k) + p pi_p + B pi_B + sum_j v_j
    s.t. sum_{k: j in S_k} lambda_k - pi_p - c_j pi_B - v_j <= 0     for every candidate j
         0 <= lambda_k <= W_k,  pi_p, pi_B, v_j >= 0

(``pi_p`` only with a site count ``p``, ``pi_B`` only with a budget ``B``). HiGHS' dual
simplex solves it in seconds where the primal form took minutes: 10.6 s against more
than 400 s on a 21,000-group x 956-candidate instance built from a million demand
points (measured here).

Bound. For any ``lambda`` in ``[0, W]`` and ``pi >= 0``, with scores ``s = G^T lambda``
and ``d_j = s_j - pi_p - c_j pi_B``, every feasible site set ``Y`` satisfies::

    covered(Y) <= C + sum_{j in Y} d_j <= C + sum_j max(d_j, 0) = L,
    C = sum_k (W_k - lambda_k) + p pi_p + B pi_B

(weak duality), so ``L`` is recomputed here from the clipped LP values and is a valid
bound whatever the LP's tolerances; at the LP optimum it equals the LP bound.

Fixing. The same inequality bounds every set containing ``j`` by ``L + min(d_j, 0)`` and
every set without ``j`` by ``L - max(d_j, 0)``. When that is no better than the incumbent,
any *strictly better* solution leaves ``j`` closed (or opens it), so the search for one
can be restricted; if the restricted problem has nothing better, the incumbent is optimal.

Rounding. The candidates ranked by ``d_j``, ties (common: the LP is degenerate) in the
candidates' order, the best ``p`` that fit the limits, are a primal solution. The LP's own
site values would be the duals of the candidate rows, but OR-Tools 9.15's
``model_builder`` returns the row *activities* as HiGHS' dual values (checked here on a
small LP against GLOP's duals), so they are not read; for tied ``d_j`` those activities
were equal up to rounding noise, so earlier versions ordered ties by that noise, in effect
by index. Breaking ties by the weight a site covers alone was measured and dropped: on
the million-point benchmark it left worse incumbents at 60 s (city p = 5 gap 0.31 % against
0.12 %, region p = 10 0.77 % against 0.51 %, p = 20 1.69 % against 1.25 %), its heavy
sites overlapping in the dense clusters.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from planner.siting._covering import CoverInstance, covered_weight, reduce_covering, swap_cover
from planner.siting._interrupt import solve_interruptibly

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverLP:
    """Outcome of :func:`lp_cover_bound` (model part: fixed-open weight excluded).

    Attributes
    ----------
    bound : float
        Valid upper bound ``L`` recomputed from the clipped dual values.
    reduced : numpy.ndarray
        ``d_j`` per candidate (positions into ``inst.cols``).
    seconds : float
        Model build plus solve time.
    lam : numpy.ndarray
        The LP's group duals ``lambda`` clipped to ``[0, W]``: the seed cut of
        :mod:`planner.siting.mclp.benders`, which gives its master the LP bound at once.
    """

    bound: float
    reduced: np.ndarray
    seconds: float
    lam: np.ndarray


def lp_cover_bound(
    inst: CoverInstance,
    *,
    p: int | None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    time_limit_s: float,
    threads: int = 1,
) -> CoverLP | None:
    """Solve the dual LP of the MCLP relaxation with HiGHS (see module docstring).

    Returns ``None`` when HiGHS does not reach an optimal LP basis within the limit (the
    caller keeps its other bounds).
    """
    from ortools.linear_solver.python import model_builder as mb

    started = time.monotonic()
    if time_limit_s <= 0:
        return None
    G = inst.groups.tocsr().astype(np.float64)
    W = np.asarray(inst.group_weight, dtype=np.float64)
    K, J = G.shape
    # the budget row only with both the budget and the site costs
    knap = (
        None if budget is None or costs is None else (np.asarray(costs, dtype=np.float64), budget)
    )
    blocks = [G.T.tocsr()]
    obj: list[NDArray[np.float64]] = [-np.ones(K)]
    ub: list[NDArray[np.float64]] = [W]
    if p is not None:
        blocks.append(sparse.csr_matrix(-np.ones((J, 1))))
        obj.append(np.array([float(p)]))
        ub.append(np.array([np.inf]))
    if knap is not None:
        blocks.append(sparse.csr_matrix(-knap[0].reshape(J, 1)))
        obj.append(np.array([float(knap[1])]))
        ub.append(np.array([np.inf]))
    blocks.append(-sparse.identity(J, format="csr"))
    obj.append(np.ones(J))
    ub.append(np.full(J, np.inf))
    A = sparse.hstack(blocks, format="csr")
    model = mb.Model()
    # the helper's stub spells its array type as numpy.ndarray[numpy.float64[m, 1]]
    # (pybind11), which no numpy array type matches
    model.helper.fill_model_from_sparse_data(
        np.zeros(A.shape[1]),
        np.concatenate(ub),  # type: ignore[arg-type]
        np.concatenate(obj),  # type: ignore[arg-type]
        np.full(J, -np.inf),
        np.zeros(J),
        A,
    )
    solver = mb.Solver("highs")
    solver.enable_output(False)
    # the parallel dual simplex (PAMI) took 8.8 s where the serial one took 11.7 s (41,183 x
    # 991, p = 20, 2 threads; the interior point method 18.6 s, PDLP did not finish in 100 s)
    # HiGHS' thread pool is process-wide: asking for another size than the first solve did
    # fails at once (NOT_SOLVED), so "threads" is never set; it only picks the strategy
    params = ["output_flag=false", "random_seed=0"]
    if threads >= 2:
        params.append("simplex_strategy=2")
    solver.set_solver_specific_parameters("\n".join(params))
    solver.set_time_limit_in_seconds(max(0.1, time_limit_s - (time.monotonic() - started)))
    # HiGHS ignores the stop request: a stop waits for this solve (planner.siting._interrupt)
    status = solve_interruptibly(lambda: solver.solve(model), solver.stop_search, name="highs")
    if status != mb.SolveStatus.OPTIMAL:
        logger.debug(
            "mclp lp: HiGHS stopped with %s after %.1f s", status, time.monotonic() - started
        )
        return None
    x = solver.values(model.get_variables()).to_numpy(dtype=np.float64)
    lam = np.clip(x[:K], 0.0, W)
    scores = G.T @ lam
    pos = K
    pi_p = pi_b = 0.0
    if p is not None:
        pi_p, pos = max(0.0, float(x[pos])), pos + 1
    if knap is not None:
        pi_b, pos = max(0.0, float(x[pos])), pos + 1
    if p is not None and knap is None:  # the best pi_p for these lambdas: the p-th largest score
        pi_p = (
            float(np.partition(scores, J - p)[J - p])
            if 0 < p <= J
            else (0.0 if p > J else float(scores.max()))
        )
    d = scores - pi_p - (knap[0] * pi_b if knap is not None else 0.0)
    C = (
        float((W - lam).sum())
        + (p * pi_p if p is not None else 0.0)
        + (knap[1] * pi_b if knap is not None else 0.0)
    )
    bound = C + float(np.maximum(d, 0.0).sum())
    secs = time.monotonic() - started
    logger.debug(
        "mclp lp: bound %.10g (HiGHS %.10g) in %.2f s",
        bound,
        float(W.sum()) + solver.objective_value,
        secs,
    )
    return CoverLP(bound=bound, reduced=d, seconds=secs, lam=lam)


def lp_rounding(
    lp: CoverLP, *, p: int | None, costs: np.ndarray | None, budget: float | None
) -> np.ndarray:
    """The candidates ranked by reduced cost, ties (common: the LP is degenerate) in the
    candidates' order (module docstring), taken greedily within the limits."""
    order = np.argsort(-np.round(lp.reduced, 9), kind="stable")
    if costs is None or budget is None:
        return np.sort(order[:p] if p is not None else order)
    picked: list[int] = []
    spent = 0.0
    for j in order:
        if p is not None and len(picked) >= p:
            break
        if spent + costs[j] <= budget * (1 + 1e-12):
            picked.append(int(j))
            spent += float(costs[j])
    return np.sort(np.asarray(picked, dtype=np.int64))


def lp_fixings(lp: CoverLP, *, beat: float, integral: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Candidates every strictly better solution than ``beat`` leaves closed / opens.

    With integral weights a better solution covers at least ``beat + 1``; otherwise it
    covers more than ``beat``. A margin covers the rounding of the sums. The third value
    is True when the bound itself rules out anything better (the incumbent is optimal).
    """
    tol = 1e-9 * max(1.0, abs(lp.bound)) + 1e-7
    target = beat + 1.0 - tol if integral else beat - tol
    if lp.bound < target:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), True
    closed = lp.bound + np.minimum(lp.reduced, 0.0) < target
    opened = lp.bound - np.maximum(lp.reduced, 0.0) < target
    return np.flatnonzero(closed), np.flatnonzero(opened), False


def restricted_instance(
    inst: CoverInstance,
    closed: np.ndarray,
    opened: np.ndarray,
    site_costs: np.ndarray,
    *,
    use_costs: bool,
) -> tuple[CoverInstance, np.ndarray]:
    """The instance left after fixing: ``closed`` removed, ``opened`` open (fixed weight).

    ``closed`` and ``opened`` are positions into ``inst.cols``; ``site_costs`` is indexed by
    original column. Rows are re-aggregated and candidates re-checked for dominance.
    Returns the instance (its ``cols`` are original columns, as in ``inst``) and the
    positions into ``inst.cols`` of its candidates.
    """
    keep = np.setdiff1d(np.arange(inst.cols.size), closed)
    sub = inst.groups.tocsc()[:, keep].tocsr().astype(np.float64)
    fixed_local = np.searchsorted(keep, opened).astype(np.int64)
    free_local = np.setdiff1d(np.arange(keep.size), fixed_local)
    red = reduce_covering(
        sub,
        np.asarray(inst.group_weight, dtype=np.float64),
        1.0,
        fixed_local,
        free_local,
        np.asarray(site_costs)[inst.cols[keep]],
        use_costs=use_costs,
    )
    positions = keep[red.cols]
    return replace(red, cols=inst.cols[positions]), positions


def lp_phase(
    inst: CoverInstance,
    c: np.ndarray,
    p: int | None,
    budget_left: float | None,
    incumbent: np.ndarray,
    inc_val: float,
    *,
    threads: int,
    until: float,
    details: dict,
) -> dict | None:
    """Exact LP bound, LP rounding and reduced-cost fixing for :class:`~planner.siting.MCLP`.

    ``c`` holds the site costs by original column, ``p`` / ``budget_left`` the limits on
    new sites, ``incumbent`` the best solution so far (positions into ``inst.cols``).
    Figures go into ``details``.

    Returns ``None`` when the LP does not finish by ``until``; otherwise a dict with the
    bound, the best solution so far, whether it is proven optimal, the LP itself and the
    candidates fixed closed / open against that solution.
    """
    use_b = budget_left is not None
    costs = c[inst.cols] if use_b else None
    lp = lp_cover_bound(
        inst,
        p=p,
        costs=costs,
        budget=budget_left,
        time_limit_s=until - time.monotonic(),
        threads=threads,
    )
    if lp is None:
        details["lp_bound"] = None
        return None
    best, best_val = incumbent, inc_val
    rounded = lp_rounding(lp, p=p, costs=costs, budget=budget_left)
    if not use_b and p is not None and rounded.size:
        rounded = swap_cover(
            inst, rounded, deadline=time.monotonic() + max(0.5, 0.1 * (until - time.monotonic()))
        )
    r_val = covered_weight(inst, rounded)
    if r_val > best_val:
        best, best_val = rounded, r_val
    integral = bool(np.all(inst.group_weight == np.round(inst.group_weight)))
    closed, opened, nothing_better = lp_fixings(lp, beat=best_val, integral=integral)
    details.update(
        lp_bound=inst.fixed_weight + lp.bound,
        lp_seconds=lp.seconds,
        lp_rounding_objective=inst.fixed_weight + r_val,
        lp_fixed_closed=int(closed.size),
        lp_fixed_open=int(opened.size),
    )
    return dict(
        bound=lp.bound,
        best=best,
        best_value=best_val,
        closed=closed,
        opened=opened,
        lp=lp,
        integral=integral,
        proven=nothing_better or best_val >= lp.bound * (1 - 1e-12) - 1e-9,
    )
