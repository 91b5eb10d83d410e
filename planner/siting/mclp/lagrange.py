"""Lagrangian bound and a restricted-candidate polish for the maximal covering problem.

On large MCLPs whose p sites cannot cover the demand, the LP relaxation is both weak and
slow: on a 41,183-group x 991-candidate instance (one million demand points) HiGHS' dual
simplex needed more than ten minutes for the root LP, so SCIP reported the trivial bound
(all demand covered) after two minutes. Relaxing the coupling rows gives the same bound
from cheap sparse products instead.

Bound. Relax ``z_k <= sum_{j in S_k} y_j`` with multipliers ``0 <= lambda_k <= W_k``::

    L(lambda) = sum_k (W_k - lambda_k) + max_{y in Y} sum_j s_j y_j,   s = G^T lambda

where ``Y`` is ``{y binary, sum y <= p}`` (the ``p`` largest scores) or, with a budget,
the fractional knapsack over the scores (an upper bound of the binary one). Every
``L(lambda)`` bounds the optimum from above (weak duality), so the smallest value seen is
a valid bound whatever the subgradient method's convergence. The top-``p`` sets met on
the way are evaluated as solutions too (Lagrangian heuristic).

Polish. The multipliers rank the candidates for :class:`~planner.siting.MCLP`'s kernel
search (:mod:`planner.siting.mclp.kernel`): the sites of the incumbent plus the best
ranked ones form a small *kernel* whose restricted MCLP
(:func:`planner.siting.mclp.lp.restricted_instance`) an exact solver closes quickly; its
optimum is a solution of the full problem (Angelelli, Mansini & Speranza 2010).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from planner.siting._covering import CoverInstance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverBound:
    """Outcome of :func:`lagrangian_cover_bound` (positions into ``inst.cols``).

    Attributes
    ----------
    bound : float
        Valid upper bound of the model part (fixed-open weight excluded).
    best : numpy.ndarray
        Best feasible site set met (the incumbent passed in when nothing beat it).
    best_value : float
        Its covered weight (model part).
    scores : numpy.ndarray
        ``G^T lambda`` at the best multipliers: how much each candidate is worth.
    iterations : int
        Subgradient steps taken.
    lam : numpy.ndarray or None
        The best multipliers (in ``[0, W]``): a seed cut for
        :mod:`planner.siting.mclp.benders` when the exact LP is not available.
    """

    bound: float
    best: np.ndarray
    best_value: float
    scores: np.ndarray
    iterations: int
    lam: np.ndarray | None = None


def _knapsack_bound(
    scores: np.ndarray, costs: np.ndarray, budget: float
) -> tuple[float, np.ndarray]:
    """Fractional-knapsack bound and the integral prefix (by score per cost) that fits."""
    pos = np.flatnonzero(scores > 0)
    order = pos[np.argsort(-scores[pos] / np.maximum(costs[pos], 1e-300), kind="stable")]
    cum = np.cumsum(costs[order])
    full = int(np.searchsorted(cum, budget * (1 + 1e-12), side="right"))
    val = float(scores[order[:full]].sum())
    if full < order.size:
        left = budget - (cum[full - 1] if full else 0.0)
        val += float(scores[order[full]]) * max(0.0, left) / max(float(costs[order[full]]), 1e-300)
    return val, order[:full]


def lagrangian_cover_bound(
    inst: CoverInstance,
    *,
    p: int | None,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    incumbent: np.ndarray,
    deadline: float,
    max_iter: int = 3000,
    patience: int = 40,
) -> CoverBound:
    """Subgradient optimisation of the MCLP Lagrangian (see module docstring).

    Parameters
    ----------
    inst : CoverInstance
        The reduced instance.
    p : int, optional
        At most ``p`` sites.
    costs, budget : optional
        Site costs (per kept candidate) and the budget left for new sites.
    incumbent : numpy.ndarray
        Best known solution (positions); its value steers the step length.
    deadline : float
        ``time.monotonic()`` value to stop at.
    max_iter, patience : int
        Step limit; the step factor halves after ``patience`` steps without a better bound.
    """
    G = inst.groups.tocsr().astype(np.float64)
    GT = G.T.tocsr()
    W = np.asarray(inst.group_weight, dtype=np.float64)
    J = G.shape[1]
    top_p = p if p is not None and p < J else None  # the site count binds
    knap = None if budget is None or costs is None else (costs, budget)
    best_sel = np.asarray(incumbent, dtype=np.int64)
    y = np.zeros(J)
    if best_sel.size:
        y[best_sel] = 1.0
    best_val = float(W[(G @ y) > 0].sum()) if best_sel.size else 0.0
    lam = np.zeros_like(W)
    bound, best_lam = float("inf"), lam
    mu, stall, it = 2.0, 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported after the loop
        s = GT @ lam
        vals, sels = [], []
        if top_p is not None:
            top = np.argpartition(-s, top_p - 1)[:top_p]
            vals.append(float(s[top].sum()))
            sels.append(top)
        if knap is not None:
            v, prefix = _knapsack_bound(s, *knap)
            vals.append(v)
            sels.append(prefix)
        if not vals:  # neither limit binds: every candidate may open
            vals.append(float(s.sum()))
            sels.append(np.arange(J))
        k = int(np.argmin(vals))
        L = float((W - lam).sum()) + vals[k]
        if L < bound - 1e-12 * max(1.0, abs(L)):
            bound, best_lam, stall = L, lam, 0
        else:
            stall += 1
            if stall >= patience:
                mu, stall = mu / 2, 0
        y[:] = 0.0
        sel = sels[k]
        if top_p is not None and knap is not None:  # a feasible set must respect both limits
            sel = sel[np.argsort(-s[sel])][:top_p] if sel.size > top_p else sel
            if knap[0][sel].sum() > knap[1] * (1 + 1e-12):
                sel = _knapsack_bound(np.where(np.isin(np.arange(J), sel), s, 0.0), *knap)[1]
        y[sel] = 1.0
        cov = G @ y
        val = float(W[cov > 0].sum())
        if val > best_val:
            best_val, best_sel = val, np.sort(sel)
        if bound <= best_val * (1 + 1e-12) + 1e-9 or mu < 1e-5 or time.monotonic() > deadline:
            break
        # subgradient of L at lam (z_k = 1 wherever W_k > lambda_k)
        g = cov - (W > lam)
        norm = float(g @ g)
        if norm == 0.0:
            break
        lam = np.clip(lam - mu * (L - best_val) / norm * g, 0.0, W)
    logger.debug("mclp lagrangian: bound %.10g, best %.10g after %d steps", bound, best_val, it)
    return CoverBound(
        bound=bound,
        best=best_sel,
        best_value=best_val,
        scores=GT @ best_lam,
        iterations=it,
        lam=best_lam,
    )
