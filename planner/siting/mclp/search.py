"""Pair-exchange local search for the p-site maximal covering problem.

The 1-swap local search (:func:`planner.siting._covering.swap_cover`) stops far from the
best known solutions of the million-point benchmark: on the 30 km city at p = 5 its local
optimum from the greedy start covers 1,710,472 where 1,751,148 is known, and an iterated
1-swap search with random restarts stalled at 1,744,670 after 20 s (measured here). Moving
*two* sites at once escapes those optima: from the same start, alternating 1-swaps with
exact best pair exchanges reached 1,751,148 (measured here).

Pair exchange. For two open sites ``a, b`` of the current set ``Y``, let ``K = Y - {a, b}``
and ``U`` the demand groups ``K`` leaves uncovered. The best pair ``{i, j}`` to add covers::

    g_i + g_j - M_ij,   g = G_U^T W_U,   M = G_U^T diag(W_U) G_U

(``g`` the uncovered weight each candidate reaches, ``M`` the uncovered weight two
candidates share). Only the ``T`` candidates with the largest ``g`` enter ``M``; the pair
found is the exact best whenever its value is at least ``g_1 + g_{T+1}`` (no pair with a
member outside the top ``T`` can cover more), else ``T`` doubles. A pool (the candidates
reduced-cost fixing leaves, :mod:`planner.siting.mclp.lp`) restricts the candidates that
may enter: any strictly better solution lies within it.

The search is first-improvement over the pairs of open sites in random order (from the
solve's seed), a 1-swap descent after every accepted move, until no pair improves (a
2-exchange local optimum) or the deadline.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from numpy.typing import NDArray

from planner.siting._covering import CoverInstance, best_swap

logger = logging.getLogger(__name__)

# First size of the candidate shortlist of a pair exchange (doubled until the certificate
# in the module docstring holds)
TOP = 64
# Up to this many pairs of open sites (p = 6) a step takes the best pair exchange, beyond
# it the first improving one
FIRST_IMPROVEMENT_PAIRS = 15
# The iterated search stops after at least this many iterations without a better set (and
# STALL_FACTOR times as many as it took to find the best one), or at its deadline: on the
# million-point benchmark 200 iterations take 15-60 s, so there the deadline decides; on
# small instances (milliseconds per iteration) the time goes back to the exact search
# instead of spinning
STALL_ITERATIONS = 200
STALL_FACTOR = 4


class PairSearch:
    """1-swap and pair-exchange moves on one reduced instance (positions into ``inst.cols``).

    Parameters
    ----------
    inst : CoverInstance
        The reduced instance.
    pool : numpy.ndarray, optional
        Positions that may enter a solution (all by default); the current set need not
        lie within it.
    """

    def __init__(self, inst: CoverInstance, pool: NDArray[np.int64] | None = None) -> None:
        self.G = inst.groups.tocsc().astype(np.float64)
        self.GT = self.G.T.tocsr()
        self.W = np.asarray(inst.group_weight, dtype=np.float64)
        self.J = self.G.shape[1]
        self.allowed = np.zeros(self.J, dtype=bool)
        self.allowed[np.arange(self.J) if pool is None else np.asarray(pool, np.int64)] = True
        self.moves = 0

    def counts(self, sel: NDArray[np.int64]) -> NDArray[np.float64]:
        """Number of sites of ``sel`` covering each group."""
        y = np.zeros(self.J)
        y[np.asarray(sel, dtype=np.int64)] = 1.0
        return np.asarray(self.G @ y)

    def value(self, sel: NDArray[np.int64]) -> float:
        """Covered weight of ``sel`` (model part)."""
        return float(self.W[self.counts(sel) > 0].sum())

    def _col(self, j: int) -> NDArray[np.int32]:
        return self.G.indices[self.G.indptr[j] : self.G.indptr[j + 1]]

    def one_swaps(self, sel: NDArray[np.int64], cnt: NDArray[np.float64], deadline: float) -> bool:
        """Best-improvement 1-swaps in place (``sel``, ``cnt``) to a local optimum; True
        when any move was made."""
        W = self.W
        moved = False
        while time.monotonic() < deadline:
            j, k, profit = best_swap(self.G, self.GT, W, sel, cnt, self.allowed)
            # integral weights gain whole units; 1e-9 relative guards float sums
            if not profit > 1e-9 * max(1.0, float(W.sum())):
                break
            cnt[self._col(int(sel[k]))] -= 1
            cnt[self._col(j)] += 1
            sel[k] = j
            moved = True
            self.moves += 1
        return moved

    def best_pair(
        self, keep: NDArray[np.int64], cnt_keep: NDArray[np.float64]
    ) -> tuple[int, int, float]:
        """The exact best two candidates to add to ``keep`` (see module docstring) and the
        weight they add."""
        unc = np.where(cnt_keep == 0, self.W, 0.0)
        gain = np.asarray(self.GT @ unc)
        ok = self.allowed.copy()
        ok[keep] = False
        cand = np.flatnonzero(ok)
        if cand.size < 2:
            return -1, -1, -np.inf
        order = cand[np.argsort(-gain[cand], kind="stable")]
        top = TOP
        rows = np.flatnonzero(unc > 0)
        Gu = self.G[rows].tocsc()
        wu = unc[rows]
        while True:
            t = order[: min(top, order.size)]
            Gt = Gu[:, t]
            M = (Gt.T @ Gt.multiply(wu[:, None]).tocsc()).toarray()
            V = gain[t][:, None] + gain[t][None, :] - M
            np.fill_diagonal(V, -np.inf)
            a, b = np.unravel_index(int(np.argmax(V)), V.shape)
            val = float(V[a, b])
            # a pair with a member outside the shortlist adds at most g_1 + g_{T+1}
            if t.size == order.size or val >= gain[order[0]] + gain[order[t.size]]:
                return int(t[a]), int(t[b]), val
            top *= 2

    def run(
        self, sel: NDArray[np.int64], *, deadline: float, seed: int = 0
    ) -> tuple[NDArray[np.int64], float]:
        """1-swaps and pair exchanges from ``sel`` to a 2-exchange local optimum (or the
        deadline). Returns the set (sorted positions) and its covered weight."""
        rng = np.random.default_rng(seed)
        sel = np.asarray(sel, dtype=np.int64).copy()
        cnt = self.counts(sel)
        if sel.size == 0 or sel.size >= self.J:
            return np.sort(sel), float(self.W[cnt > 0].sum())
        self.one_swaps(sel, cnt, deadline)
        tol = 1e-9 * max(1.0, float(self.W.sum()))
        improved = sel.size >= 2
        while improved and time.monotonic() < deadline:
            improved = False
            cur = float(self.W[cnt > 0].sum())
            pairs = [(a, b) for a in range(sel.size) for b in range(a + 1, sel.size)]
            # best improvement over all pairs while that is cheap (few sites), first
            # improvement in random order beyond
            first = len(pairs) > FIRST_IMPROVEMENT_PAIRS
            best: tuple[float, NDArray[np.int64], NDArray[np.float64]] | None = None
            for idx in rng.permutation(len(pairs)):
                if time.monotonic() >= deadline:
                    break
                a, b = pairs[int(idx)]
                keep = np.delete(sel, [a, b])
                cnt_keep = cnt.copy()
                cnt_keep[self._col(int(sel[a]))] -= 1
                cnt_keep[self._col(int(sel[b]))] -= 1
                i, j, add = self.best_pair(keep, cnt_keep)
                if i < 0:
                    continue
                new_val = float(self.W[cnt_keep > 0].sum()) + add
                if new_val > cur + tol and (best is None or new_val > best[0]):
                    cnt_keep[self._col(i)] += 1
                    cnt_keep[self._col(j)] += 1
                    best = (new_val, np.concatenate([keep, [i, j]]).astype(np.int64), cnt_keep)
                    if first:
                        break
            if best is not None:
                _, sel, cnt = best
                self.moves += 1
                self.one_swaps(sel, cnt, deadline)
                improved = True
        return np.sort(sel), float(self.W[cnt > 0].sum())


def iterated_search(
    inst: CoverInstance,
    start: NDArray[np.int64],
    *,
    p: int,
    deadline: float,
    seed: int = 0,
    pool: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.int64], float, dict[str, float]]:
    """Iterated local search for the MCLP with at most ``p`` sites from ``start``
    (positions; completed greedily to ``p`` sites of ``pool``) until ``deadline``.

    The local search is :meth:`PairSearch.run` (1-swaps and pair exchanges) while a set
    has few pairs of sites (``FIRST_IMPROVEMENT_PAIRS``), else the 1-swap descent alone:
    on the 60 km region at p = 20 one pair-exchange descent took 11 s and ended at
    1,711,066, where 30 s of 1-swap iterations reached 1,718,925 (measured here). Each
    iteration replaces 1 to p/3 sites of the current set by candidates of ``pool`` drawn
    with probability proportional to the squared weight they would newly cover, descends,
    and moves to the result when it is no worse; the search stops at ``deadline`` or when
    it has gone ``STALL_ITERATIONS`` iterations, and ``STALL_FACTOR`` times as many as it
    took to find its best set, without a better one. Returns the best set, its covered
    weight and figures.
    """
    search = PairSearch(inst, pool)
    rng = np.random.default_rng(seed)
    sel = np.asarray(start, dtype=np.int64)
    cand = np.flatnonzero(search.allowed)
    p = min(int(p), cand.size)
    if sel.size < p:  # the fixing may have closed sites of the start: complete it greedily
        sel = _fill(search, sel, cand, p - sel.size, rng=None)
    pairs = p * (p - 1) // 2 <= FIRST_IMPROVEMENT_PAIRS

    def descend(s: NDArray[np.int64]) -> tuple[NDArray[np.int64], float]:
        if pairs:
            return search.run(s, deadline=deadline, seed=int(rng.integers(2**31)))
        s = s.copy()
        cnt = search.counts(s)
        search.one_swaps(s, cnt, deadline)
        return np.sort(s), float(search.W[cnt > 0].sum())

    cur, cur_val = descend(sel)
    best, best_val = cur, cur_val
    first_val, iters, last_better = cur_val, 0, 0
    while p and time.monotonic() < deadline and cand.size > p:
        # stalled for STALL_ITERATIONS and four times as long as it took to find the best
        # set: plateaus are long on larger instances (10,000-row subsample, p = 20: better
        # sets at iterations 293 and 1,073, nothing between), optima come early on small ones
        if iters - last_better >= max(STALL_ITERATIONS, STALL_FACTOR * last_better):
            break
        iters += 1
        k = int(rng.integers(1, max(1, p // 3) + 1))
        keep = rng.permutation(cur)[k:]
        s, val = descend(_fill(search, keep, cand, k, rng=rng))
        if val >= cur_val:
            cur, cur_val = s, val
        if val > best_val:
            best, best_val, last_better = s, val, iters
            logger.debug("mclp iterated search: %.10g after %d iterations", val, iters)
    figures = dict(
        search_iterations=float(iters),
        search_descent_objective=first_val,
        search_objective=best_val,
    )
    return best, best_val, figures


def _fill(
    search: PairSearch,
    keep: NDArray[np.int64],
    cand: NDArray[np.int64],
    k: int,
    *,
    rng: np.random.Generator | None,
) -> NDArray[np.int64]:
    """``keep`` plus ``k`` candidates of ``cand`` added one by one: the largest newly covered
    weight (``rng`` None) or drawn with probability proportional to its square."""
    cnt = search.counts(keep)
    new = list(np.asarray(keep, dtype=np.int64).tolist())
    for _ in range(k):
        gain = np.asarray(search.GT @ np.where(cnt == 0, search.W, 0.0))[cand]
        gain[np.isin(cand, new)] = 0.0
        if not gain.any():
            break
        if rng is None:
            j = int(cand[int(np.argmax(gain))])
        else:
            j = int(rng.choice(cand, p=gain**2 / float(gain @ gain)))
        new.append(j)
        cnt[search._col(j)] += 1
    return np.asarray(new, dtype=np.int64)
