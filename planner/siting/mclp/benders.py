"""Branch-and-Benders-cut for the maximal covering problem (Cordeau, Furini & Ljubic 2019).

The covering variables ``z_k`` are projected out: with ``theta`` the weight of the demand
groups that more than one candidate covers, the MCLP is::

    max  theta + sum_j u_j y_j
    s.t. theta <= sum_k W_k min(1, y(S_k))        (over the groups with |S_k| >= 2)
         sum_j y_j <= p,  sum_j c_j y_j <= B,  y binary

(``u_j`` is the weight of the groups ``j`` alone covers: exact as a linear term). The
concave right-hand side is enforced lazily by *Benders cuts*: for any ``lambda`` in
``[0, W]``, ``W_k min(1, x) <= (W_k - lambda_k) + lambda_k x`` for every ``x >= 0``, so::

    theta <= sum_k (W_k - lambda_k) + sum_j (sum_{k: j in S_k} lambda_k) y_j

is valid for every (fractional) ``y``. At a point ``y*`` the tightest such cut takes
``lambda_k = W_k`` where ``y*(S_k) < 1`` and ``0`` elsewhere (Cordeau et al. 2019, eq. 12,
the cut from the closed-form subproblem); it is exact at ``y*``, so the cuts enforce the
model exactly at integral points. The cut built from the optimal duals of the LP
relaxation (:mod:`planner.siting.mclp.lp`) alone gives the master the LP bound, so the
master starts at the LP bound instead of converging to it cut by cut.

The master has one column per candidate instead of one row per demand group (21,000 to
41,000 groups on the million-point benchmark instances), so SCIP's branch and bound, its
reduced-cost fixing and its heuristics run on a small LP. SCIP through PySCIPOpt (the
``pyscipopt`` dependency) provides the constraint-handler callbacks the lazy cuts need;
OR-Tools' wrapper offers none.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from planner.siting._base import FEASIBLE, OPTIMAL, SolveOptions
from planner.siting._covering import CoverInstance
from planner.siting._interrupt import solve_interruptibly

logger = logging.getLogger(__name__)

# Separation rounds at fractional points: at the root and at every other node
ROOT_ROUNDS = 50
NODE_ROUNDS = 3
# SCIP's (relative) feasibility tolerance: 1e-8 of the 2,000,722 covered weight of the city
# benchmark is 0.02, well under the one unit that separates integral objectives. When an LP
# is numerically troubled SCIP re-solves it at 1/1000 of this (1e-11), below the 1e-10 that
# SoPlex accepts without GMP: SoPlex then prints "Cannot set feasibility tolerance to small
# value 1e-11 without GMP - using 1e-10" and re-solves at 1e-10. The message is harmless and
# stays: only FEASTOL >= 1e-7 avoids it (numerics/lpfeastolfactor cannot exceed 1), and that
# changes the search (on a 300,000 x 600 synthetic city at p = 10, stopped after 60 nodes,
# the incumbent fell from 591,477 to 588,706).
FEASTOL = 1e-8
# Share of the elapsed time the swap heuristic may use, and the limit of one local search
HEUR_SHARE = 0.7
SWAP_SECONDS = 2.0

#: ``(chosen positions into inst.cols, status, bound of the model part, details)``.
BendersOut = tuple[NDArray[np.int64], str, float, dict]


def available() -> bool:
    """True when PySCIPOpt imports (the Benders solve needs its callbacks)."""
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class _Oracle:
    """The covered weight of the multi-candidate groups and its tightest cut at a point."""

    G: Any  # scipy.sparse csr K x J (multi groups only)
    GT: Any  # scipy.sparse csr J x K
    W: NDArray[np.float64]
    cuts: int = 0

    def value(self, y: NDArray[np.float64]) -> float:
        cov = self.G @ y
        return float(self.W @ np.minimum(cov, 1.0))

    def cut(self, y: NDArray[np.float64]) -> tuple[float, float, NDArray[np.float64]]:
        """``(f(y), const, coef)`` with ``theta <= const + coef . y`` exact at ``y``."""
        cov = self.G @ y
        short = cov < 1.0 - 1e-9
        lam = np.where(short, self.W, 0.0)
        const = float(self.W.sum() - lam.sum())
        coef = self.GT @ lam
        return const + float(coef @ y), const, np.asarray(coef, dtype=np.float64)


def solve_benders(
    inst: CoverInstance,
    c: NDArray[np.float64],
    p: int | None,
    budget_left: float | None,
    incumbent: NDArray[np.int64],
    options: SolveOptions,
    left: float,
    *,
    lam: NDArray[np.float64] | None = None,
    closed: NDArray[np.int64] | None = None,
    opened: NDArray[np.int64] | None = None,
    beat: float | None = None,
    node_limit: int | None = None,
) -> BendersOut | None:
    """Solve the MCLP on ``inst`` by branch-and-Benders-cut on SCIP (see module docstring).

    Parameters
    ----------
    inst : CoverInstance
        The (possibly restricted) instance; positions are into ``inst.cols``.
    c : numpy.ndarray
        Site costs by original column (used with ``budget_left``).
    p, budget_left : int or float, optional
        Limits on the new sites.
    incumbent : numpy.ndarray
        A feasible site set (positions), the starting solution.
    options : SolveOptions
        Seed and logging.
    left : float
        Seconds the solve may take.
    lam : numpy.ndarray, optional
        Optimal LP duals of the groups of ``inst`` (``0 <= lam <= W``): the seed cut that
        gives the master the LP bound at once.
    closed, opened : numpy.ndarray, optional
        Positions reduced-cost fixing closed / opened (:func:`~.lp.lp_fixings`): valid for
        the solutions better than ``beat`` only, so they go with ``beat``.
    beat : float, optional
        Only solutions covering more than this count (SCIP's objective limit); the bound
        returned then holds for those, and ``max(bound, beat)`` for all.
    node_limit : int, optional
        Stop after this many nodes (tests of a stopped search).

    Returns
    -------
    tuple or None
        ``(chosen positions, status, bound, figures)``; None when SCIP found no solution
        in time (the incumbent is always offered to it, so only on an error).
    """
    import pyscipopt as ps

    started = time.monotonic()
    G = inst.groups.tocsr().astype(np.float64)
    W = np.asarray(inst.group_weight, dtype=np.float64)
    K, J = G.shape
    sizes = np.diff(G.indptr)
    single = sizes == 1
    # groups one candidate alone covers: their weight is linear in that candidate
    u = np.bincount(G.indices[G.indptr[:-1][single]], weights=W[single], minlength=J)
    multi = np.flatnonzero(~single)
    Gm = G[multi]
    oracle = _Oracle(Gm, Gm.T.tocsr(), W[multi])
    integral = bool(np.all(W == np.round(W)))

    model = ps.Model("mclp-benders")
    model.hideOutput(not options.log)
    y = [model.addVar(f"y{j}", vtype="B", obj=float(u[j])) for j in range(J)]
    for j in closed if closed is not None else ():
        model.chgVarUb(y[int(j)], 0.0)
    for j in opened if opened is not None else ():
        model.chgVarLb(y[int(j)], 1.0)
    theta = model.addVar("theta", vtype="C", lb=0.0, ub=float(oracle.W.sum()), obj=1.0)
    model.setMaximize()
    if p is not None:
        model.addCons(ps.quicksum(y) <= p, name="p")
    if budget_left is not None:
        cj = c[inst.cols]
        model.addCons(ps.quicksum(float(cj[j]) * y[j] for j in range(J)) <= budget_left)

    def add_cut_cons(const: float, coef: NDArray[np.float64], name: str) -> None:
        nz = np.flatnonzero(coef > 0)
        model.addCons(
            theta - ps.quicksum(float(coef[j]) * y[j] for j in nz) <= const,
            name=name,
            removable=False,
        )

    inc_y = np.zeros(J)
    inc_y[np.asarray(incumbent, dtype=np.int64)] = 1.0
    _, const, coef = oracle.cut(inc_y)
    add_cut_cons(const, coef, "cut_incumbent")
    if lam is not None:
        lm = np.clip(np.asarray(lam, dtype=np.float64)[multi], 0.0, oracle.W)
        add_cut_cons(float((oracle.W - lm).sum()), np.asarray(oracle.GT @ lm), "cut_lp")

    handler = _BendersHandler(oracle, y, theta, integral)
    model.includeConshdlr(
        handler,
        "mclp_benders",
        "MCLP Benders cuts",
        sepapriority=1_000_000,
        enfopriority=1_000_000,
        chckpriority=-1_000_000,
        sepafreq=1,
        needscons=True,
    )
    cons = model.createCons(handler, "benders", initial=False, separate=True, enforce=True)
    model.addPyCons(cons)
    heur = None
    if p is not None and budget_left is None and p < J:
        allowed = np.setdiff1d(np.arange(J), np.asarray(closed if closed is not None else []))
        heur = _SwapHeuristic(inst, allowed, p, oracle, u, y, theta, beat, options.seed)
        # the incumbent first: a kernel-search optimum need not be a 1-swap optimum
        heur.queue.append(np.flatnonzero(np.isin(allowed, np.asarray(incumbent))))
        model.includeHeur(
            heur,
            "mclp_swap",
            "LP ranking + 1-swap local search",
            "S",
            priority=-1_000,
            freq=1,
            timingmask=ps.SCIP_HEURTIMING.AFTERLPNODE,
        )

    if beat is None:
        sol = model.createSol()
        for j in range(J):
            model.setSolVal(sol, y[j], float(inc_y[j]))
        model.setSolVal(sol, theta, oracle.value(inc_y))
        model.addSol(sol)
    else:
        # only strictly better solutions: by a whole unit (less the MIP tolerance) with
        # integral weights; the incumbent is then not offered (the fixing may exclude it)
        model.setObjlimit(beat + (1.0 - 1e-6) if integral else beat * (1 + 1e-9) + 1e-9)
    model.setParam("limits/time", max(0.1, left - (time.monotonic() - started)))
    model.setParam("randomization/randomseedshift", int(options.seed) % 2**31)
    # any improvement is a whole unit with integral weights: stop within less than one
    model.setParam("limits/absgap", 1.0 - 1e-6 if integral else 0.0)
    model.setParam("limits/gap", 0.0)
    model.setParam("numerics/feastol", FEASTOL)
    if node_limit is not None:
        model.setParam("limits/nodes", int(node_limit))
    # a Ctrl-C is raised, not swallowed; without the GIL so that the main thread sees it
    # (the callbacks take the GIL themselves): planner.siting._interrupt
    model.setParam("misc/catchctrlc", False)
    solve_interruptibly(model.optimizeNogil, model.interruptSolve, name="scip-benders")
    status_s = model.getStatus()
    bound = float(model.getDualbound())
    if integral:  # the bound of an integral objective rounds down
        bound = math.floor(bound + 1e-6)
    chosen, val = np.zeros(0, np.int64), -math.inf
    if model.getNSols() > 0:
        yv = np.array([model.getSolVal(model.getBestSol(), v) for v in y]).round()
        chosen = np.flatnonzero(yv > 0.5).astype(np.int64)
        val = oracle.value(yv) + float(u @ yv)
    if beat is not None and not val > beat:
        # SCIP keeps solutions that miss the objective limit: none of them counts here;
        # nothing better than ``beat`` exists ("infeasible") or was found in time
        chosen, val = np.sort(np.asarray(incumbent, dtype=np.int64)), float(beat)
        status = OPTIMAL if status_s in ("infeasible", "optimal") else FEASIBLE
        bound = float(beat) if status == OPTIMAL else max(bound, float(beat))
    elif model.getNSols() == 0:
        return None
    else:
        # the proof is the recomputed value against the bound (SCIP's status trusts theta)
        slack = 1.0 - 1e-6 if integral else 1e-9 * max(1.0, abs(bound))
        status = OPTIMAL if val >= bound - slack else FEASIBLE
    figures = dict(
        benders_nodes=int(model.getNNodes()),
        benders_cuts=handler.oracle.cuts,
        benders_status=status_s,
        benders_root_bound=float(model.getDualboundRoot()),
        benders_seconds=time.monotonic() - started,
        swap_heuristic_runs=0 if heur is None else heur.runs,
        swap_heuristic_seconds=0.0 if heur is None else heur.spent,
    )
    logger.debug("mclp benders: %s", figures)
    return chosen, status, max(bound, val), figures


def _make_handler_class():
    import pyscipopt as ps

    class Handler(ps.Conshdlr):
        """Separates ``theta <= f(y)`` at LP points and enforces it at integral ones."""

        def __init__(self, oracle: _Oracle, y, theta, integral: bool) -> None:
            self.oracle, self.y, self.theta = oracle, y, theta
            # SCIP's feasibility tolerance is set to FEASTOL (relative), so theta can exceed
            # a cut by about FEASTOL * |rhs|: checking tighter would re-add the same cut
            self.tol_abs = 2 * FEASTOL * max(1.0, float(oracle.W.sum()))
            self.integral = integral
            self.rounds: dict[int, int] = {}

        def _point(self, sol):
            m = self.model
            yv = np.array([m.getSolVal(sol, v) for v in self.y])
            return np.clip(yv, 0.0, 1.0), m.getSolVal(sol, self.theta)

        def _separate(self, sol, *, must: bool) -> bool:
            yv, th = self._point(sol)
            if not must:
                # fractional points: a few rounds per node (the LP is degenerate: Kelley's
                # cuts move its solution without moving its bound), then branch
                node = self.model.getCurrentNode().getNumber()
                rounds = self.rounds.get(node, 0)
                limit = ROOT_ROUNDS if node == 1 else NODE_ROUNDS
                if rounds >= limit:
                    return False
                self.rounds[node] = rounds + 1
            f, const, coef = self.oracle.cut(yv)
            if th <= f + self.tol_abs:
                return False
            m = self.model
            row = m.createEmptyRowUnspec(name="bc", lhs=None, rhs=const, local=False)
            m.cacheRowExtensions(row)
            m.addVarToRow(row, self.theta, 1.0)
            for j in np.flatnonzero(coef > 0):
                m.addVarToRow(row, self.y[j], -float(coef[j]))
            m.flushRowExtensions(row)
            m.addCut(row, forcecut=True)
            m.releaseRow(row)
            self.oracle.cuts += 1
            return True

        def conssepalp(self, constraints, nusefulconss):
            hit = self._separate(None, must=False)
            return {"result": ps.SCIP_RESULT.SEPARATED if hit else ps.SCIP_RESULT.DIDNOTFIND}

        def consenfolp(self, constraints, nusefulconss, solinfeasible):
            yv, _ = self._point(None)
            integral = bool(np.all(np.abs(yv - np.round(yv)) <= 1e-6))
            hit = self._separate(None, must=integral)
            return {"result": ps.SCIP_RESULT.SEPARATED if hit else ps.SCIP_RESULT.FEASIBLE}

        def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
            yv, th = self._point(None)
            ok = th <= self.oracle.value(yv) + self.tol_abs
            return {"result": ps.SCIP_RESULT.FEASIBLE if ok else ps.SCIP_RESULT.INFEASIBLE}

        def conscheck(
            self, constraints, solution, checkintegrality, checklprows, printreason, completely
        ):
            yv, th = self._point(solution)
            ok = th <= self.oracle.value(yv) + self.tol_abs
            return {"result": ps.SCIP_RESULT.FEASIBLE if ok else ps.SCIP_RESULT.INFEASIBLE}

        def conslock(self, constraint, locktype, nlockspos, nlocksneg):
            m = self.model
            m.addVarLocksType(self.theta, locktype, nlocksneg, nlockspos)
            for v in self.y:
                m.addVarLocksType(v, locktype, nlockspos, nlocksneg)

    return Handler


def _make_heuristic_class():
    import pyscipopt as ps

    from planner.siting._covering import swap_cover

    class SwapHeuristic(ps.Heur):
        """Primal heuristic: the incumbent, then the best set found with 1 to a fifth of its
        sites replaced by others drawn by node-LP value (iterated local search), each
        improved by the 1-swap local search of
        :func:`planner.siting._covering.swap_cover`, on the candidates the fixing allows.

        SCIP's own heuristics see only ``theta``'s cuts, not the covered weight, and
        rarely find good sets on their own; the local search evaluates the true coverage.
        It gets at most ``HEUR_SHARE`` of the elapsed time, so the tree search keeps going.
        """

        def __init__(self, inst, allowed, p, oracle, u, y, theta, beat, seed) -> None:
            self.sub = replace(
                inst, groups=inst.groups.tocsc()[:, allowed].tocsr(), cols=inst.cols[allowed]
            )
            self.allowed, self.p, self.oracle, self.u = allowed, p, oracle, u
            self.y, self.theta = y, theta
            self.best = -np.inf if beat is None else float(beat)
            self.seen: set[tuple[int, ...]] = set()
            self.t0 = time.monotonic()
            self.spent, self.runs = 0.0, 0
            self.queue: list[NDArray[np.int64]] = []
            self.best_set: NDArray[np.int64] | None = None
            self.best_val = -np.inf
            self.rng = np.random.default_rng(seed)

        def _perturb(self, yv: NDArray[np.float64]) -> NDArray[np.int64]:
            """The best set with 1 to a fifth of its sites swapped for others."""
            assert self.best_set is not None
            k = int(self.rng.integers(1, max(1, self.best_set.size // 5) + 1))
            keep = self.rng.permutation(self.best_set)[k:]
            pick = np.setdiff1d(np.arange(self.allowed.size), keep)
            prob = np.maximum(yv[pick], 0.0) + 1.0 / pick.size
            new = self.rng.choice(pick, size=k, replace=False, p=prob / prob.sum())
            return np.sort(np.concatenate([keep, new]))

        def heurexec(self, heurtiming, nodeinfeasible):
            now = time.monotonic()
            if self.spent > HEUR_SHARE * (now - self.t0):
                return {"result": ps.SCIP_RESULT.DELAYED}
            m = self.model
            yv = np.array([m.getSolVal(None, self.y[j]) for j in self.allowed])
            if self.queue:
                start = np.sort(self.queue.pop())
            elif self.best_set is None:
                start = np.sort(np.argsort(-yv, kind="stable")[: self.p])
            else:
                # iterated local search from the best set, new sites drawn by LP value: the
                # LP's own top p (then swapped) did worse than the greedy start on the city
                # at p = 10 (1,950,591 against 1,952,491)
                start = self._perturb(yv)
            key = tuple(start.tolist())
            if key in self.seen:  # same start, same local optimum
                return {"result": ps.SCIP_RESULT.DIDNOTFIND}
            self.seen.add(key)
            self.runs += 1
            local = swap_cover(self.sub, start, deadline=now + SWAP_SECONDS)
            full = np.zeros(len(self.y))
            full[self.allowed[local]] = 1.0
            multi_val = self.oracle.value(full)
            val = multi_val + float(self.u @ full)
            found = False
            if self.best_set is None or val > self.best_val:
                self.best_set, self.best_val = local, val
            if val > self.best:
                sol = m.createSol(self)
                for j in np.flatnonzero(full):
                    m.setSolVal(sol, self.y[j], 1.0)
                m.setSolVal(sol, self.theta, multi_val)
                found = bool(m.trySol(sol, printreason=False))
                if found:
                    self.best = val
            self.spent += time.monotonic() - now
            res = ps.SCIP_RESULT.FOUNDSOL if found else ps.SCIP_RESULT.DIDNOTFIND
            return {"result": res}

    return SwapHeuristic


def _SwapHeuristic(inst, allowed, p, oracle, u, y, theta, beat, seed):  # noqa: N802
    """The swap heuristic (its class needs PySCIPOpt, imported on first use)."""
    global _HEUR
    if _HEUR is None:
        _HEUR = _make_heuristic_class()
    return _HEUR(inst, allowed, p, oracle, u, y, theta, beat, seed)


_HEUR = None


def _BendersHandler(oracle: _Oracle, y, theta, integral: bool):  # noqa: N802
    """The constraint handler (its class needs PySCIPOpt, imported on first use)."""
    global _HANDLER
    if _HANDLER is None:
        _HANDLER = _make_handler_class()
    return _HANDLER(oracle, y, theta, integral)


_HANDLER = None
