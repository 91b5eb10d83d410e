"""Restricted solves of the maximal covering problem: the part of the instance that LP
fixing leaves (:class:`SearchPart`), the final solve on it, and the kernel search.

Kernel search (Angelelli, Mansini & Speranza 2010): the sites of the incumbent plus the
candidates ranked best by the Lagrangian scores form a small *kernel* whose restricted
MCLP an exact solver closes quickly; its optimum is a solution of the full problem.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.siting._base import OPTIMAL, SolveOptions
from planner.siting._covering import CoverInstance, covered_weight
from planner.siting.mclp.lp import restricted_instance
from planner.siting.mclp.mip import Solved, solve_cpsat, solve_mip

logger = logging.getLogger(__name__)

# Kernel sizes tried while they close, in multiples of p: on a 41,183 x 991 instance (p = 20)
# the restricted MIPs warm-started with the best so far closed in 0.3 s at 3p, 1.4 s at 5p and
# 2.8 s at 8p; without the warm start 8p took 58 s.
KERNEL_SIZES = (3, 5, 8, 12, 16)


@dataclass(frozen=True)
class SearchPart:
    """The instance a search runs on: all of it, or what LP fixing left (``work``).

    ``positions`` maps the candidates of ``work`` to positions of the full instance,
    ``forced`` are the positions fixed open, whose weight ``base`` is ``work``'s fixed
    weight; ``p`` and ``budget`` are what is left of the limits once they are open.
    """

    work: CoverInstance
    positions: np.ndarray
    forced: np.ndarray
    p: int | None
    budget: float | None
    base: float

    @classmethod
    def whole(cls, inst: CoverInstance, p: int | None, budget: float | None) -> SearchPart:
        """All of ``inst``, nothing fixed."""
        return cls(inst, np.arange(inst.cols.size), np.zeros(0, np.int64), p, budget, 0.0)

    @classmethod
    def fixed(
        cls,
        inst: CoverInstance,
        c: NDArray[np.float64],
        closed: NDArray[np.int64],
        opened: NDArray[np.int64],
        p: int | None,
        budget: float | None,
        details: dict[str, Any],
    ) -> SearchPart:
        """What is left of ``inst`` with ``closed`` removed and ``opened`` open (sizes go to
        ``details``)."""
        work, positions = restricted_instance(inst, closed, opened, c, use_costs=budget is not None)
        details.update(
            restricted_candidates=int(positions.size), restricted_groups=int(work.group_weight.size)
        )
        return cls(
            work,
            positions,
            np.asarray(opened, dtype=np.int64),
            None if p is None else p - len(opened),
            None if budget is None else budget - float(c[inst.cols[opened]].sum()),
            work.fixed_weight,
        )

    @property
    def infeasible(self) -> bool:
        """True when what must open already exceeds the limits."""
        return (self.p is not None and self.p < 0) or (
            self.budget is not None and self.budget < -1e-9
        )

    def to_inst(self, loc: np.ndarray) -> np.ndarray:
        """Positions into ``work`` -> positions into the full instance (forced ones added)."""
        return np.sort(
            np.concatenate([self.forced, self.positions[np.asarray(loc, dtype=np.int64)]])
        )

    def from_inst(self, chosen: np.ndarray) -> np.ndarray:
        """The part of a full-instance solution that ``work`` can express."""
        keep = np.isin(self.positions, chosen)
        return np.flatnonzero(keep)


def solve_part(
    part: SearchPart,
    c: NDArray[np.float64],
    incumbent: NDArray[np.int64],
    inc_val: float,
    kind: str,
    options: SolveOptions,
    left: float,
) -> Solved | None:
    """The full model on ``part`` (all of the instance, or what LP fixing left).

    Returns ``(chosen positions into the instance, status, bound of its model part over
    the solutions obeying the fixing)`` or None when the backend found nothing in time.
    """
    if part.infeasible:  # what must open exceeds the limits: nothing beats the incumbent
        return incumbent, OPTIMAL, inc_val
    loc = part.from_inst(incumbent)
    out: Solved | None
    if part.work.cols.size == 0:
        out = (np.zeros(0, np.int64), OPTIMAL, 0.0)
    elif kind == "cp-sat":
        out = solve_cpsat(part.work, c, part.p, part.budget, loc, options, left)
    else:
        out = solve_mip(part.work, c, part.p, part.budget, loc, kind, options, left)
    if out is None:
        return None
    return part.to_inst(out[0]), out[1], part.base + out[2]


def kernel_polish(
    inst: CoverInstance,
    c: NDArray[np.float64],
    p: int | None,
    budget_left: float | None,
    incumbent: NDArray[np.int64],
    incumbent_val: float,
    scores: NDArray[np.float64],
    kind: str,
    options: SolveOptions,
    until: float,
) -> tuple[NDArray[np.int64], float]:
    """Kernel search: restricted MCLPs on the incumbent plus the best-scored candidates.

    First on growing kernels (``KERNEL_SIZES`` times p) while they close; then the rest
    of the ranking in buckets of p candidates, each solved with the kernel and the
    constraints "use one of the bucket" and "beat the incumbent", so a bucket costs
    little unless it improves. Returns the best site set found (positions into
    ``inst.cols``) and its covered weight; every solve is warm-started with it and stops
    at ``until``.
    """
    J = inst.cols.size
    n_sites = p if p is not None else max(1, incumbent.size)
    order = np.argsort(-scores, kind="stable")
    best, best_val = incumbent, incumbent_val
    closed = 0  # size of the largest kernel solved to optimality
    for mult in KERNEL_SIZES:
        size = mult * n_sites
        if size >= J or time.monotonic() >= until:
            break
        # one growth step gets at most 40 % of what is left, so buckets still get a turn
        cap = time.monotonic() + max(1.0, 0.4 * (until - time.monotonic()))
        out = solve_kernel(
            inst,
            np.union1d(best, order[:size]),
            best,
            c,
            p,
            budget_left,
            kind,
            options,
            min(until, cap),
        )
        if out is not None and out[2] > best_val:
            best, best_val = out[0], out[2]
        if out is None or out[1] != OPTIMAL:  # too hard already: larger ones will be too
            break
        closed = size
    if closed == 0:
        return best, best_val
    # buckets (the ranking after the largest kernel that closed) beside a small core (the
    # first kernel size), so that each solve is quick; one bucket gets a fifth of the window
    start, core = closed, order[: KERNEL_SIZES[0] * n_sites]
    per_solve = max(1.0, 0.2 * (until - time.monotonic()))
    while start < J and time.monotonic() < until:
        bucket = order[start : start + n_sites]
        start += n_sites
        kernel = np.union1d(np.union1d(best, core), bucket)
        out = solve_kernel(
            inst,
            kernel,
            best,
            c,
            p,
            budget_left,
            kind,
            options,
            min(until, time.monotonic() + per_solve),
            must_use=bucket,
            beat=best_val,
        )
        if out is not None and out[2] > best_val:
            best, best_val = out[0], out[2]
            core = np.union1d(core, np.intersect1d(out[0], bucket))
    return best, best_val


def solve_kernel(
    inst: CoverInstance,
    kernel: NDArray[np.int64],
    best: NDArray[np.int64],
    c: NDArray[np.float64],
    p: int | None,
    budget_left: float | None,
    kind: str,
    options: SolveOptions,
    until: float,
    *,
    must_use: NDArray[np.int64] | None = None,
    beat: float | None = None,
) -> Solved | None:
    """Solve the MCLP restricted to ``kernel`` (positions into ``inst.cols``).

    Returns ``(chosen positions, status, covered weight)`` or ``None`` (no solution:
    time out, or nothing in ``must_use`` beats ``beat``).
    """
    # the kernel's candidates the reduction kept (dominance without costs, as before)
    kinst, kept = restricted_instance(
        inst,
        np.setdiff1d(np.arange(inst.cols.size), kernel),
        np.zeros(0, np.int64),
        c,
        use_costs=False,
    )
    where = {int(k): i for i, k in enumerate(kept)}
    hint = np.asarray([where[int(j)] for j in best if int(j) in where], dtype=np.int64)
    must: NDArray[np.int64] | None = None
    at_least: float | None = None
    if must_use is not None:
        must = np.asarray([where[int(j)] for j in must_use if int(j) in where], dtype=np.int64)
        if must.size == 0:  # the bucket is dominated within the kernel
            return None
        if beat is None:
            raise ValueError("solve_kernel: must_use needs the value to beat")
        # strictly better, by more than the MIP's feasibility tolerance (1e-6): by half a
        # unit when the weights are integral (any improvement is a whole unit)
        integral = bool(np.all(inst.group_weight == np.round(inst.group_weight)))
        at_least = beat + 0.5 if integral else beat * (1 + 1e-6) + 1e-6
    left = until - time.monotonic()
    if left <= 0:
        return None
    out = solve_mip(
        kinst, c, p, budget_left, hint, kind, options, left, must_use=must, at_least=at_least
    )
    if out is None:
        return None
    chosen = np.sort(kept[out[0]])
    val = covered_weight(inst, chosen)
    if beat is not None and val <= beat:
        return None
    logger.debug("mclp kernel of %d candidates: %s, %.10g", kernel.size, out[1], val)
    return chosen, out[1], val
