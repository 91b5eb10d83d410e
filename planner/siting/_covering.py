"""Preprocessing shared by the covering models (MCLP and set covering).

From a cost matrix and a threshold it builds the *reduced covering instance*:

1. ``a_ij = cost_ij <= threshold`` as a sparse boolean matrix (only stored entries);
2. demand already covered by a fixed-open site is set aside (a constant);
3. demand no site covers is set aside (reported as uncoverable);
4. the remaining rows are grouped by identical coverage set (exact hashing), their
   weights summed: a million demand points on a road network collapse to at most one
   row per distinct set;
5. candidates that cover nothing are dropped, and so are *dominated* candidates
   (``S_j`` a subset of ``S_k`` at no lower cost), which never change the optimum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from planner.siting._aggregate import coverage_matrix, group_identical_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverInstance:
    """A reduced covering instance.

    Attributes
    ----------
    cols : numpy.ndarray
        Original column index of every candidate kept in the model.
    groups : scipy.sparse.csr_matrix
        ``K x len(cols)`` boolean coverage of the demand groups by kept candidates.
    group_weight : numpy.ndarray
        Total demand weight of each group.
    fixed_weight : float
        Weight already covered by fixed-open sites.
    uncoverable_weight : float
        Weight that no site (fixed or candidate) covers.
    uncoverable_rows : numpy.ndarray
        Demand rows (original indices) that no site covers.
    total_weight : float
        Sum of all weights.
    n_rows_in : int
        Number of demand rows before aggregation.
    """

    cols: np.ndarray
    groups: sparse.csr_matrix
    group_weight: np.ndarray
    fixed_weight: float
    uncoverable_weight: float
    uncoverable_rows: np.ndarray
    total_weight: float
    n_rows_in: int
    dropped_dominated: int


def reduce_covering(
    cost,
    weights: np.ndarray,
    threshold: float,
    fixed: np.ndarray,
    free: np.ndarray,
    site_costs: np.ndarray,
    *,
    use_costs: bool,
) -> CoverInstance:
    """Build the reduced covering instance (see module docstring)."""
    A = coverage_matrix(cost, threshold)
    n, m = A.shape
    total = float(weights.sum())
    if fixed.size:
        by_fixed = np.asarray(A[:, fixed].sum(axis=1)).ravel() > 0
    else:
        by_fixed = np.zeros(n, dtype=bool)
    # column / row selections copy the whole matrix: skip them when they select everything
    Af = A if np.array_equal(free, np.arange(m)) else A[:, free].tocsr()
    n_cov = np.diff(Af.indptr)
    uncoverable = ~by_fixed & (n_cov == 0)
    live = ~by_fixed & (n_cov > 0) & (weights > 0)
    rows = np.flatnonzero(live)
    sub = Af if rows.size == n else Af[rows]
    gw: NDArray[np.float64]
    if rows.size:
        rep, inverse = group_identical_rows(sub)
        # numpy's stub types bincount as intp even with float weights (it returns float64)
        gw = np.bincount(inverse, weights=weights[rows], minlength=rep.size)  # type: ignore[assignment]
        G = sub[rep].tocsc()
    else:
        gw = np.zeros(0)
        G = sparse.csc_matrix((0, free.size), dtype=bool)
    # candidates covering nothing
    useful = np.diff(G.indptr) > 0
    keep = np.flatnonzero(useful)
    G = G[:, keep].tocsr().astype(bool)
    cols = free[keep]
    dropped = 0
    if keep.size > 1:
        GI = G.astype(np.int32)
        inter = (GI.T @ GI).toarray()
        size = np.diag(inter).copy()
        c = site_costs[cols] if use_costs else np.zeros(cols.size)
        subset = inter == size[:, None]  # subset[j, k]: S_j within S_k
        np.fill_diagonal(subset, False)
        equal = subset & subset.T
        idx = np.arange(cols.size)
        better = (c[None, :] < c[:, None]) | (
            (c[None, :] == c[:, None])
            & ((size[None, :] > size[:, None]) | (equal & (idx[None, :] < idx[:, None])))
        )
        dominated = (subset & better).any(axis=1)
        dropped = int(dominated.sum())
        if dropped:
            G = G[:, ~dominated].tocsr()
            cols = cols[~dominated]
    logger.debug(
        "covering reduction: %d rows -> %d groups, %d -> %d candidates (%d dominated)",
        n,
        gw.size,
        free.size,
        cols.size,
        dropped,
    )
    return CoverInstance(
        cols=cols,
        groups=G.tocsr(),
        group_weight=gw,
        fixed_weight=float(weights[by_fixed].sum()),
        uncoverable_weight=float(weights[uncoverable].sum()),
        uncoverable_rows=np.flatnonzero(uncoverable),
        total_weight=total,
        n_rows_in=n,
        dropped_dominated=dropped,
    )


def greedy_cover(
    inst: CoverInstance,
    site_costs: np.ndarray,
    *,
    p: int | None,
    budget: float | None,
    target: float | None = None,
) -> np.ndarray:
    """Greedy adding on the reduced instance (positions into ``inst.cols``).

    Adds the candidate with the largest newly covered weight (per unit cost when a budget
    or a coverage target drives the choice) until ``p`` sites, the budget or ``target``
    covered weight is reached.
    """
    G = inst.groups.tocsc()
    GT = inst.groups.T.tocsr()
    c = site_costs[inst.cols]
    covered = np.zeros(G.shape[0], dtype=bool)
    chosen: list[int] = []
    spent = 0.0
    got = 0.0
    avail = np.ones(G.shape[1], dtype=bool)
    by_ratio = budget is not None or target is not None
    while avail.any():
        if p is not None and len(chosen) >= p:
            break
        if target is not None and got >= target - 1e-9:
            break
        gain = GT @ np.where(covered, 0.0, inst.group_weight)
        ok = avail & (gain > 0)
        if budget is not None:
            ok &= spent + c <= budget + 1e-9
        if not ok.any():
            break
        score = np.where(ok, gain / np.maximum(c, 1e-12) if by_ratio else gain, -np.inf)
        j = int(np.argmax(score))
        chosen.append(j)
        avail[j] = False
        spent += c[j]
        got += gain[j]
        covered[G.indices[G.indptr[j] : G.indptr[j + 1]]] = True
    return np.asarray(chosen, dtype=np.int64)


def covered_weight(inst: CoverInstance, chosen_pos: np.ndarray) -> float:
    """Weight of the groups covered by the chosen positions (model part only)."""
    if chosen_pos.size == 0 or inst.groups.shape[0] == 0:
        return 0.0
    hit = np.asarray(inst.groups[:, chosen_pos].sum(axis=1)).ravel() > 0
    return float(inst.group_weight[hit].sum())


def swap_cover(
    inst: CoverInstance, chosen_pos: np.ndarray, *, deadline: float, max_iter: int = 500
) -> np.ndarray:
    """Best-improvement 1-swap local search for the p-site MCLP (positions into ``inst.cols``).

    With ``n_k`` the number of open sites covering group ``k``, swapping ``j`` in and ``r``
    out changes the covered weight by
    ``gain_j - loss_r + sum_{k in S_j & S_r, n_k = 1} W_k`` where ``gain_j`` is the weight
    of uncovered groups in ``S_j`` and ``loss_r`` the weight only ``r`` covers; the
    correction for all pairs is one sparse product. Stops at a local optimum or the deadline.
    """
    import time

    G = inst.groups.tocsc().astype(np.float64)
    GT = G.T.tocsr()
    W = inst.group_weight
    sel = np.asarray(chosen_pos, dtype=np.int64).copy()
    J = G.shape[1]
    if sel.size == 0 or sel.size >= J:
        return sel
    for _ in range(max_iter):
        if time.monotonic() > deadline:
            break
        cnt = np.asarray(G[:, sel].sum(axis=1)).ravel()
        j, k, profit = best_swap(G, GT, W, sel, cnt)
        if profit <= 1e-9 * max(1.0, float(W.sum())):
            break
        sel[k] = j
    return np.sort(sel)


def best_swap(
    G: sparse.csc_matrix,
    GT: sparse.csr_matrix,
    W: np.ndarray,
    sel: np.ndarray,
    cnt: np.ndarray,
    allowed: np.ndarray | None = None,
) -> tuple[int, int, float]:
    """The best 1-swap of the open positions ``sel`` (``cnt``: open sites covering each
    group): ``(j, k, profit)`` for ``j`` in and ``sel[k]`` out, the formula of
    :func:`swap_cover` for all pairs at once. Open sites, and sites outside ``allowed``
    when given, cannot come in."""
    gain = GT @ np.where(cnt == 0, W, 0.0)
    only = np.where(cnt == 1, W, 0.0)
    Gs = G[:, sel]
    loss = Gs.T @ only
    corr = (GT @ Gs.multiply(only[:, None]).tocsc()).toarray()  # J x |sel|
    profit = gain[:, None] - loss[None, :] + corr
    if allowed is not None:
        profit[~allowed, :] = -np.inf
    profit[sel, :] = -np.inf
    j, k = np.unravel_index(int(np.argmax(profit)), profit.shape)
    return int(j), int(k), float(profit[j, k])
