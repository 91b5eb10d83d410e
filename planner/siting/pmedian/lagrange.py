"""Numerical core of the p-median solver: heuristics, Lagrangian bounds and reductions.

Everything works on a dense ``n x m`` matrix ``WD`` of *weighted* assignment costs
(``w_i * d_ij``; unreachable pairs hold a finite penalty larger than any feasible
objective) and is vectorised with numpy: no Python loop runs over ``n x m``.

The method follows Beasley (1985), "A note on solving large p-median problems", EJOR 21:

* upper bound: greedy adding, then best-improvement vertex substitution (Teitz & Bart)
  evaluated for all (insert, remove) pairs at once with the Whitaker/Resende-Werneck
  gain/loss/extra decomposition;
* lower bound: relax the assignment constraints ``sum_j x_ij = 1`` with multipliers
  ``lambda_i``; the Lagrangian ``L(lambda) = sum_i lambda_i + sum of the p smallest
  C_j`` with ``C_j = sum_i min(0, WD_ij - lambda_i)`` is maximised by subgradient
  optimisation (its maximum equals the LP bound of the strong formulation);
* reduction tests: a facility whose forced opening (closing) lifts the bound above the
  incumbent cannot be open (closed) in any better solution, so it is fixed closed
  (open). The plain test uses the current multipliers; *probing* re-optimises the
  multipliers with the facility forced, which is much stronger and cheap once the
  candidate set has shrunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

logger = logging.getLogger(__name__)


def evaluate(WD: np.ndarray, open_cols: np.ndarray) -> float:
    """Objective of an open set: every row served by its cheapest open column."""
    if open_cols.size == 0:
        return float("inf")
    return float(WD[:, open_cols].min(axis=1).sum())


def greedy_add(
    WD: np.ndarray, fixed: np.ndarray, free: np.ndarray, p: int, big: float
) -> np.ndarray:
    """Greedy adding: open, p times, the free column that lowers the objective most."""
    n = WD.shape[0]
    cur = WD[:, fixed].min(axis=1) if fixed.size else np.full(n, big)
    avail = free.copy()
    chosen: list[int] = []
    for _ in range(min(p, avail.size)):
        gain = np.maximum(cur[:, None] - WD[:, avail], 0.0).sum(axis=0)
        k = int(np.argmax(gain))
        chosen.append(int(avail[k]))
        cur = np.minimum(cur, WD[:, avail[k]])
        avail = np.delete(avail, k)
    return np.asarray(chosen, dtype=np.int64)


def swap_search(
    WD: np.ndarray,
    fixed: np.ndarray,
    free: np.ndarray,
    sel: np.ndarray,
    *,
    big: float,
    deadline: float = float("inf"),
    max_iter: int = 10_000,
) -> np.ndarray:
    """Best-improvement interchange: repeatedly apply the best (insert j, remove r) swap.

    For the current open set with nearest cost ``d1_i`` (column ``a_i``) and second
    nearest ``d2_i``, the profit of swapping ``j`` in and ``r`` out is
    ``gain_j - loss_r + extra_jr`` with ``gain_j = sum_i max(0, d1_i - WD_ij)``,
    ``loss_r = sum_{a_i = r} (d2_i - d1_i)`` and
    ``extra_jr = sum_{a_i = r} max(0, d2_i - max(WD_ij, d1_i))``; ``extra`` is one matrix
    product. Fixed columns never leave.
    """
    n = WD.shape[0]
    sel = np.asarray(sel, dtype=np.int64).copy()
    if sel.size == 0:
        return sel
    rows = np.arange(n)
    for _ in range(max_iter):
        if time.monotonic() > deadline:
            break
        open_ = np.concatenate([fixed, sel])
        Ds = WD[:, open_]
        if open_.size > 1:
            two = np.argpartition(Ds, 1, axis=1)[:, :2]
            d_a, d_b = Ds[rows, two[:, 0]], Ds[rows, two[:, 1]]
            first = np.where(d_a <= d_b, two[:, 0], two[:, 1])
            d1, d2 = np.minimum(d_a, d_b), np.maximum(d_a, d_b)
        else:
            first = np.zeros(n, dtype=np.int64)
            d1, d2 = Ds[:, 0], np.full(n, big)
        cand = np.setdiff1d(free, sel)
        if cand.size == 0:
            break
        Dc = WD[:, cand]
        gain = np.maximum(d1[:, None] - Dc, 0.0).sum(axis=0)
        nf = fixed.size
        mine = first >= nf  # rows served by a removable (selected) column
        A = np.zeros((n, sel.size))
        A[np.flatnonzero(mine), first[mine] - nf] = 1.0
        loss = (d2 - d1) @ A
        E = np.maximum(d2[:, None] - np.maximum(Dc, d1[:, None]), 0.0)
        profit = gain[:, None] - loss[None, :] + E.T @ A
        k = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if profit[k] <= 1e-9 * max(1.0, float(d1.sum())):
            break
        sel[k[1]] = cand[k[0]]
    return sel


class Subgradient:
    """Lagrangian dual of the p-median over a column subset, maximised by subgradients.

    Parameters
    ----------
    WD : numpy.ndarray
        ``n x k`` weighted costs of the columns in play.
    n_forced : int
        The first ``n_forced`` columns are forced open; ``p`` more are chosen from the rest.
    p : int
        Number of free columns to open.
    """

    def __init__(self, WD: np.ndarray, n_forced: int, p: int) -> None:
        self.WD = WD
        self.nf = n_forced
        self.p = p

    def value(self, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """``L(lambda)``, the column costs ``C``, the Lagrangian open set (column positions)
        and the subgradient."""
        M = self.WD - lam[:, None]
        np.minimum(M, 0.0, out=M)
        C = M.sum(axis=0)
        free_C = C[self.nf :]
        if self.p >= free_C.size:
            pick = np.arange(free_C.size)
        elif self.p > 0:
            pick = np.argpartition(free_C, self.p - 1)[: self.p]
        else:
            pick = np.empty(0, dtype=np.int64)
        open_pos = np.concatenate([np.arange(self.nf), self.nf + pick])
        L = float(lam.sum() + C[: self.nf].sum() + free_C[pick].sum())
        g = 1.0 - (M[:, open_pos] < 0.0).sum(axis=1)
        return L, C, open_pos, g

    def run(
        self,
        lam: np.ndarray,
        *,
        upper: float,
        target: float,
        max_iter: int,
        pi: float = 2.0,
        stall: int = 20,
        min_pi: float = 1e-4,
        deadline: float = float("inf"),
        heuristic: Callable[[np.ndarray], float] | None = None,
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, int]:
        """Maximise ``L``; stop when it exceeds ``target`` (proof), stalls or time is up.

        ``heuristic(open_pos)``, if given, turns each Lagrangian open set into a feasible
        solution and returns the (possibly improved) incumbent value; ``upper`` and
        ``target`` then move down with it (Beasley's Lagrangian heuristic).

        Returns best bound, its multipliers, its column costs, its open set and iterations.
        """
        return subgradient_ascent(
            self.value,
            lam.copy(),
            project=lambda x: np.maximum(x, 0.0),
            upper=upper,
            target=target,
            max_iter=max_iter,
            pi=pi,
            stall=stall,
            min_pi=min_pi,
            deadline=deadline,
            heuristic=heuristic,
        )


def subgradient_ascent(
    value: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray, np.ndarray]],
    lam: np.ndarray,
    *,
    project: Callable[[np.ndarray], np.ndarray],
    upper: float,
    target: float,
    max_iter: int,
    pi: float,
    stall: int,
    min_pi: float,
    deadline: float,
    heuristic: Callable[[np.ndarray], float] | None = None,
    heuristic_every: int = 1,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, int]:
    """Maximise a Lagrangian by projected subgradient steps: Polyak's step towards
    ``upper`` scaled by ``pi``, ``pi`` halved after ``stall`` iterations without
    improvement; stop when the bound exceeds ``target`` (proof), ``pi`` falls below
    ``min_pi``, the subgradient vanishes (the Lagrangian solution is feasible, hence
    optimal) or time is up. Serves :class:`Subgradient` and the branch-and-bound's node
    duals (:mod:`planner.siting.pmedian.branch`).

    ``value(lam)`` returns ``L(lam)``, the column costs, the Lagrangian solution and the
    subgradient; ``project`` maps a step back into the multipliers' domain (multipliers
    are never changed in place). ``heuristic(solution)``, called every
    ``heuristic_every`` iterations from the first, turns a Lagrangian solution into a
    feasible one and returns the (possibly improved) incumbent value; ``upper`` and
    ``target`` move down with it (Beasley's Lagrangian heuristic).

    Returns the best bound, its multipliers, its column costs, its solution and the
    iterations run.
    """
    slack = upper - target
    best, best_lam = -np.inf, lam
    best_C: np.ndarray | None = None
    best_sol: np.ndarray | None = None
    since = 0
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported after the loop
        L, C, sol, g = value(lam)
        if heuristic is not None and (it - 1) % heuristic_every == 0:
            upper = min(upper, heuristic(sol))
            target = upper - slack
        if best_C is None or L > best + 1e-12 * max(1.0, abs(best)):
            best, best_lam, best_C, best_sol = L, lam, C, sol
            since = 0
        else:
            since += 1
            if since >= stall:
                pi /= 2.0
                since = 0
        if best > target or pi < min_pi or time.monotonic() > deadline:
            break
        norm = float(g @ g)
        if norm == 0.0:  # the Lagrangian solution is feasible, hence optimal
            break
        step = pi * max(upper - L, 1e-9 * max(1.0, abs(upper))) / norm
        lam = project(lam + step * g)
    if best_C is None or best_sol is None:  # only when the loop never ran
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    return best, best_lam, best_C, best_sol, it


def reduction_tests(
    L: float, C: np.ndarray, n_forced: int, p: int, target: float
) -> tuple[np.ndarray, np.ndarray]:
    """Beasley's tests at fixed multipliers.

    Returns boolean masks over the *free* columns: ``close`` (forced open, the bound
    exceeds ``target``) and ``open`` (forced closed, the bound exceeds ``target``).
    """
    free_C = C[n_forced:]
    k = free_C.size
    close = np.zeros(k, dtype=bool)
    opn = np.zeros(k, dtype=bool)
    if p <= 0 or p >= k:
        return close, opn
    order = np.argsort(free_C, kind="stable")
    chosen = np.zeros(k, dtype=bool)
    chosen[order[:p]] = True
    c_p, c_p1 = free_C[order[p - 1]], free_C[order[p]]
    close = ~chosen & (L - c_p + free_C > target)
    opn = chosen & (L - free_C + c_p1 > target)
    return close, opn
