"""Branch-and-bound on the Lagrangian bound for the p-median residual (Beasley 1985, §3).

Each node fixes some columns open (``forced``) and leaves the others ``undecided``; its
bound is the Lagrangian dual over those columns (:class:`~.lagrange.Subgradient`, warm
started with the parent's multipliers), and Beasley's reduction tests at the node's
multipliers close or open every column that cannot be in a better solution *below* it.
A node is pruned when its bound passes the incumbent. The branching column is the
attractive undecided column of the Lagrangian solution (the one with the most negative
column cost): the child with it open is explored first (depth first), where ``p_left``
falls and the reduction tests bite, then the child with it closed.

The search is exact: a node is only dropped when no solution below it beats the
incumbent (minus ``tol``, which is ``1 - 1e-7`` on integral data, whose optimum is an
integer), so an empty stack proves the incumbent optimal. When the time runs out, the
smallest bound of the nodes left open is a valid lower bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.siting.pmedian.lagrange import Subgradient, evaluate, reduction_tests

logger = logging.getLogger(__name__)


@dataclass
class _Node:
    forced: NDArray[np.int64]
    undecided: NDArray[np.int64]
    p_left: int
    lam: NDArray[np.float64]
    bound: float  # the parent's bound: valid for this node until it is solved


@dataclass
class BranchResult:
    """Outcome of :func:`lagrangian_branch_and_bound`.

    Attributes
    ----------
    open_cols : numpy.ndarray
        Columns open in the best solution found (forced + chosen), or the incumbent's.
    value : float
        Its objective.
    bound : float
        A lower bound on the optimum (``value`` when ``proven``).
    proven : bool
        Whether the search finished (the solution is optimal).
    nodes : int
        Nodes solved.
    """

    open_cols: NDArray[np.int64]
    value: float
    bound: float
    proven: bool
    nodes: int


def lagrangian_branch_and_bound(
    WD: NDArray[np.float64],
    forced: NDArray[np.int64],
    undecided: NDArray[np.int64],
    p_left: int,
    lam: NDArray[np.float64],
    incumbent: tuple[NDArray[np.int64], float],
    *,
    tol: float,
    deadline: float,
    root_bound: float,
    max_iter: int = 120,
    improve: Callable[[NDArray[np.int64]], tuple[NDArray[np.int64], float]] | None = None,
) -> BranchResult:
    """Solve ``min`` over ``p_left`` more columns of ``undecided`` (``forced`` open) exactly.

    Parameters
    ----------
    WD : numpy.ndarray
        ``n x m`` weighted costs (unreachable pairs hold a large finite penalty).
    forced, undecided : numpy.ndarray
        Columns open in every solution searched, and the columns still to decide.
    p_left : int
        How many undecided columns to open.
    lam : numpy.ndarray
        Multipliers to start from (the root's).
    incumbent : tuple
        ``(open columns, objective)`` of the best known solution (all open columns,
        forced or not, of a full solution).
    tol : float
        A node is pruned when its bound exceeds ``incumbent - tol``.
    deadline : float
        ``time.monotonic()`` time to stop at.
    root_bound : float
        A valid lower bound for the whole search (reported if nothing better is proven).
    max_iter : int
        Subgradient iterations per node.
    improve : callable, optional
        ``improve(open_cols) -> (open_cols, value)``: a local search applied to every
        Lagrangian solution that beats the incumbent.
    """
    best_cols, best = np.asarray(incumbent[0], np.int64), float(incumbent[1])

    def consider(cols: NDArray[np.int64]) -> None:
        nonlocal best_cols, best
        val = evaluate(WD, cols)
        if val < best - 1e-9 * max(1.0, abs(best)):
            if improve is not None:
                cols, val = improve(cols)
            best_cols, best = np.asarray(cols, np.int64), float(val)

    stack = [_Node(forced, undecided, p_left, lam, root_bound)]
    nodes = 0
    while stack:
        if time.monotonic() > deadline:
            low = min(nd.bound for nd in stack)
            return BranchResult(best_cols, best, min(low, best), False, nodes)
        nd = stack.pop()
        if nd.bound > best - tol:
            continue
        nodes += 1
        fo, und, pl, lm, bound = nd.forced, nd.undecided, nd.p_left, nd.lam, nd.bound
        pruned = False
        while True:
            if pl == 0 or pl >= und.size:  # a leaf: the completion is unique
                consider(np.concatenate([fo, und if pl else und[:0]]))
                pruned = True
                break
            cols = np.concatenate([fo, und])
            sg = Subgradient(WD[:, cols], fo.size, pl)

            def h(open_pos: NDArray[np.int64], cols: NDArray[np.int64] = cols) -> float:
                consider(cols[open_pos])
                return best

            b, lm, C, open_pos, _ = sg.run(
                lm,
                upper=best,
                target=best - tol,
                max_iter=max_iter,
                pi=1.0,
                stall=10,
                deadline=deadline,
                heuristic=h,
            )
            bound = max(bound, b)
            if bound > best - tol:
                pruned = True
                break
            close, opn = reduction_tests(b, C, fo.size, pl, best - tol)
            if not (close.any() or opn.any()):
                break
            fo = np.concatenate([fo, und[opn]])
            pl -= int(opn.sum())
            und = und[~(close | opn)]
        if pruned:
            continue
        # branch on the most attractive undecided column of the Lagrangian solution
        free_C = C[fo.size :]
        j = int(np.argmin(free_C))
        col = und[j]
        rest = np.delete(und, j)
        stack.append(_Node(fo, rest, pl, lm, bound))  # closed: explored second
        stack.append(_Node(np.append(fo, col), rest, pl - 1, lm, bound))  # open: first
    logger.debug("pmedian branch-and-bound: %d nodes, optimum %.10g", nodes, best)
    return BranchResult(best_cols, best, best, True, nodes)
