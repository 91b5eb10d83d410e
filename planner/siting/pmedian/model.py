"""p-median (Hakimi 1964; ReVelle & Swain 1970) with existing stations fixed open."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from planner._errors import InfeasibleModelError, ModelInputError, UnreachableDemandError
from planner.siting._aggregate import group_identical_dense_rows
from planner.siting._base import (
    FEASIBLE,
    OPTIMAL,
    SitingResult,
    SolveOptions,
    check_cost_matrix,
    check_count,
    check_fixed,
    check_site_count,
    check_weights,
    labels_array,
    make_result,
)
from planner.siting._model import SitingModel, adapter_inputs
from planner.siting.pmedian.branch import lagrangian_branch_and_bound
from planner.siting.pmedian.lagrange import (
    Subgradient,
    evaluate,
    greedy_add,
    reduction_tests,
    swap_search,
)
from planner.siting.pmedian.residual import residual_cpsat, residual_mip

logger = logging.getLogger(__name__)

#: Undecided columns at most for which the probing reduction test runs.
PROBE_LIMIT = 120
#: With ``solver="auto"``, residuals with at most this many sites left to open go to the
#: Lagrangian branch-and-bound, larger ones to HiGHS. Measured on OR-Library pmed1-20 and
#: generated n = 500-900 instances: the branch-and-bound proves p = 5-10 residuals that
#: HiGHS leaves at ~1 % gaps after 120 s, while HiGHS is 2-6x faster when p >= 20 (its
#: LP bound is tight there and the tree grows with p).
BNB_MAX_P_LEFT = 10


#: Distinct Lagrangian solutions of the root bound that the interchange search polishes
#: when a gap remains (Beasley's Lagrangian heuristic only kept solutions that beat the
#: incumbent as they were; on beasley-n600-p10-s1 the interchange from the best one finds
#: the optimum 8,299 where greedy + interchange stopped at 8,334).
POLISH = 4


@dataclass
class _Incumbent:
    """Best solution so far (new sites ``sel``, objective ``ub``), which the Lagrangian
    heuristic improves in place; ``pool`` keeps the distinct Lagrangian open sets seen
    (sorted column tuple -> objective) for :data:`POLISH`."""

    ub: float
    sel: np.ndarray
    pool: dict[tuple[int, ...], float] = field(default_factory=dict)


@dataclass
class _Residual:
    """What the root leaves to the exact residual solve (instead of 16 arguments)."""

    WD: np.ndarray  # weighted costs (unreachable: ``big``)
    fixed: np.ndarray  # existing sites
    free: np.ndarray  # candidates
    forced: np.ndarray  # fixed + opened by the reductions
    undecided: np.ndarray
    p_left: int
    lam: np.ndarray  # root multipliers
    sel: np.ndarray  # incumbent's new sites
    ub: float
    lb: float
    tol: float
    big: float
    deadline: float


class PMedian(SitingModel):
    r"""p-median: open ``p`` new sites to minimise the demand-weighted travel time from
    every demand point to its nearest open site (new or existing).

    Formulation (strong form; ``F`` fixed-open sites, ``J`` free candidates)::

        min   sum_i sum_j w_i d_ij x_ij
        s.t.  sum_j x_ij = 1                  for every demand row i
              x_ij <= y_j                     for every i, j
              sum_{j in J} y_j = p ;  y_f = 1 for f in F
              x_ij >= 0 ;  y_j in {0, 1}

    Solved as Beasley (1985) did, instead of handing the dense ``n x m`` model to a MIP
    solver:

    1. identical demand rows are merged (weights summed);
    2. an upper bound from greedy adding and best-improvement vertex substitution;
    3. a lower bound from the Lagrangian relaxation of ``sum_j x_ij = 1`` maximised by
       subgradient optimisation;
    4. Beasley's reduction tests and probing fix columns open or closed whenever forcing
       the opposite lifts the bound above the incumbent;
    5. if a gap remains, the interchange search restarts from the :data:`POLISH` best
       distinct Lagrangian solutions (a better incumbent prunes more below), and the
       *residual* (undecided columns only) is solved exactly. The default
       (``solver="auto"``) is Beasley's branch-and-bound on the Lagrangian bound
       (:mod:`planner.siting.pmedian.branch`): multipliers warm-started from the parent
       and capped at the forced columns' costs, the reduction tests at every node, and
       strong branching whose pruned children fix columns (probing at every node); it
       takes residuals with at most :data:`BNB_MAX_P_LEFT` sites left to open, HiGHS the
       larger ones (faster there). On the 30 generated OR-Library-family instances with
       n = 500-900, p = 5 and 10, seeds 1-3
       (:func:`~planner.siting.instances.orlib.beasley_pmed`) every optimum is proven,
       the slowest in ~27 s on the shared 2-core machine (``benchmarks/results/siting.md``),
       where the MIP below stopped at 120 s with ~1 % gaps. ``"highs"`` and
       ``"scip"`` solve the residual in the compact radius form of Elloumi
       (2010) over the distinct weighted costs ``D_i^l`` of row ``i``:
       ``min sum_i (D_i^1 + sum_l (D_i^{l+1} - D_i^l) z_il)``,
       ``z_il + sum_{j: w_i d_ij <= D_i^l} y_j >= 1``
       (:mod:`planner.siting.pmedian.residual`), *truncated* (each row's levels cut at a
       radius, a relaxation; rows served beyond it get all their levels and it is solved
       again), without a hint; ``"cp-sat"`` solves the full form with integer-scaled
       costs and the incumbent as a hint.

    With integral data the search stops as soon as ``bound > incumbent - 1`` (the optimum
    is an integer). Unreachable pairs (``inf``) must never be used: when ``p`` sites cannot
    serve every row, :class:`~planner._errors.InfeasibleModelError` names the rows.
    """

    kind = "pmedian"
    sense = "min"

    @classmethod
    def from_cost_matrix(
        cls, cost, weights=None, *, p: int, fixed_open=None, site_labels=None
    ) -> PMedian:
        """Build from a demand x site cost matrix.

        Parameters
        ----------
        cost : numpy.ndarray or scipy.sparse matrix
            Travel cost (seconds) demand row -> site column; ``inf`` (or a missing sparse
            entry) is unreachable.
        weights : array-like, optional
            Demand weight per row (ones by default).
        p : int
            Number of new sites to open (``p = 0`` evaluates the fixed sites alone).
        fixed_open : array-like of int or bool mask, optional
            Sites open whatever happens (existing stations).
        site_labels : sequence, optional
            Labels for reporting, one per site and all distinct.

        Raises
        ------
        ModelInputError
            Malformed inputs, repeated ``site_labels``, ``p`` above the candidate sites.
        """
        cost = check_cost_matrix(cost)
        n, m = cost.shape
        w = check_weights(weights, n)
        fixed = check_fixed(fixed_open, m)
        p = check_count(p, "p", allow_none=False)
        check_site_count(p, m - fixed.size, model="PMedian", n_fixed=fixed.size)
        if p == 0 and fixed.size == 0:
            raise ModelInputError(
                "p = 0 with no fixed-open site leaves no site to serve the demand; set p >= 1"
            )
        labels = labels_array(site_labels, m)
        raw = dict(cost=cost, weights=w, p=p, fixed_open=fixed)
        return cls(raw, site_labels=labels)

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        network,
        *,
        weight_col: str | None,
        p: int,
        fixed_col: str | None = "existing",
        label_col: str | None = "site_id",
        max_snap_m: float = 500.0,
    ) -> PMedian:
        """Build from demand points and sites snapped to a road network (travel times in s)."""
        check_count(p, "p", allow_none=False)  # before any travel time is computed
        gi = adapter_inputs(
            demand_gdf,
            candidates_gdf,
            network,
            weight_col=weight_col,
            fixed_col=fixed_col,
            label_col=label_col,
            max_snap_m=max_snap_m,
            cutoff=None,
        )
        model = cls.from_cost_matrix(
            gi.cost, gi.weights, p=p, fixed_open=gi.fixed_open, site_labels=gi.site_labels
        )
        model.geo = gi
        return model

    # ------------------------------------------------------------------ solve
    def _solve(self, options: SolveOptions, started: float) -> SitingResult:
        r = self.raw
        D = r["cost"].toarray() if sparse.issparse(r["cost"]) else np.asarray(r["cost"])
        if sparse.issparse(r["cost"]):  # missing sparse entries are unreachable, stored ones kept
            mask = np.zeros(D.shape, dtype=bool)
            coo = r["cost"].tocoo()
            mask[coo.row, coo.col] = True
            D = np.where(mask, D, np.inf)
        w = r["weights"]
        fixed, p = r["fixed_open"], r["p"]
        m = D.shape[1]
        free = np.setdiff1d(np.arange(m), fixed)
        live = w > 0
        no_site = live & ~np.isfinite(D).any(axis=1)
        if no_site.any():
            rows = np.flatnonzero(no_site)
            raise UnreachableDemandError(
                f"pmedian: {rows.size} demand rows (e.g. {rows[:5].tolist()}) cannot reach any site or "
                "existing station; remove them or add candidates they can reach"
            )
        rows_in = np.flatnonzero(live)
        rep, inverse = group_identical_dense_rows(D[rows_in])
        W = np.bincount(inverse, weights=w[rows_in], minlength=rep.size)
        Dg = D[rows_in[rep]]
        finite_max = float(np.where(np.isfinite(Dg), Dg, 0.0).max(initial=0.0))
        big = (finite_max * float(W.sum()) + 1.0) * 4.0  # beats any feasible objective
        WD = np.where(np.isfinite(Dg), Dg * W[:, None], big)
        integral = bool(np.all(WD[WD < big] == np.round(WD[WD < big])))
        tol = (1.0 - 1e-7) if integral else 0.0
        deadline = self._deadline(options, started)
        details: dict[str, Any] = dict(
            demand_rows=int(live.sum()), demand_groups=int(rep.size), candidates=int(free.size)
        )

        # upper bound
        sel = greedy_add(WD, fixed, free, p, big)
        sel = swap_search(WD, fixed, free, sel, big=big, deadline=deadline)
        ub = evaluate(WD, np.concatenate([fixed, sel]))
        details["heuristic_objective"] = ub
        if p == 0 or p >= free.size:
            return self._result(
                sel, ub, OPTIMAL, ub, "presolve", started, options, details, WD, big
            )

        # Lagrangian bound and reductions
        forced, undecided, p_left = fixed.copy(), free.copy(), p
        lam = self._initial_multipliers(WD, np.concatenate([fixed, sel]))
        lb, rounds, iters = -np.inf, 0, 0
        best = _Incumbent(ub, sel)

        def lagrangian_heuristic(cols: np.ndarray) -> Callable[[np.ndarray], float]:
            def h(open_pos: np.ndarray) -> float:
                cand = cols[open_pos]
                val = evaluate(WD, cand)
                if len(best.pool) < 10_000:
                    best.pool[tuple(np.sort(cand).tolist())] = val
                if val < best.ub - 1e-9 * max(1.0, abs(best.ub)):
                    new = swap_search(
                        WD, fixed, free, np.setdiff1d(cand, fixed), big=big, deadline=deadline
                    )
                    best.ub, best.sel = evaluate(WD, np.concatenate([fixed, new])), new
                return best.ub

            return h

        while time.monotonic() < deadline:
            rounds += 1
            cols = np.concatenate([forced, undecided])
            sg = Subgradient(WD[:, cols], forced.size, p_left)
            bound, lam, C, _, it = sg.run(
                lam,
                upper=ub,
                target=ub - tol,
                max_iter=3000,
                stall=30,
                deadline=deadline,
                heuristic=lagrangian_heuristic(cols),
            )
            ub, sel = best.ub, best.sel
            iters += it
            lb = max(lb, bound)
            if lb > ub - tol - 1e-9 * abs(ub):
                break
            close, opn = reduction_tests(bound, C, forced.size, p_left, ub - tol)
            if not (close.any() or opn.any()):
                break
            forced = np.concatenate([forced, undecided[opn]])
            p_left -= int(opn.sum())
            undecided = undecided[~(close | opn)]
            if p_left == 0 or p_left >= undecided.size:
                break
        details.update(lagrangian_rounds=rounds, subgradient_iterations=iters)
        if not lb > ub - tol - 1e-9 * abs(ub):
            ub, sel = self._polish(WD, fixed, free, best, big, deadline, details)
        done = self._settled(WD, fixed, forced, undecided, p_left, sel, ub, lb, tol)
        if done is None:
            forced, undecided, p_left, lb = self._probe(
                WD, forced, undecided, p_left, lam, ub, tol, lb, deadline, details
            )
            done = self._settled(WD, fixed, forced, undecided, p_left, sel, ub, lb, tol)
        details.update(
            residual_forced=int(forced.size - fixed.size), residual_undecided=int(undecided.size)
        )
        if done is not None:
            return self._result(
                done[0], done[1], OPTIMAL, done[1], "lagrangian", started, options, details, WD, big
            )
        if options.solver == "auto" and p_left <= BNB_MAX_P_LEFT:
            state = _Residual(
                WD, fixed, free, forced, undecided, p_left, lam, sel, ub, lb, tol, big, deadline
            )
            return self._branch(state, started, options, details)
        kind = "highs" if options.solver == "auto" else options.solver
        if kind == "cp-sat":
            out = residual_cpsat(
                WD, forced, undecided, p_left, sel, options, deadline - time.monotonic()
            )
        else:
            out = residual_mip(
                WD, forced, undecided, p_left, sel, kind, options, deadline, details, tol, lam
            )
        solver_name = f"lagrangian+{kind}"
        if out is None:
            return self._result(
                sel, ub, FEASIBLE, lb, solver_name, started, options, details, WD, big
            )
        chosen_u, status, bound = out
        new = np.concatenate([np.setdiff1d(forced, fixed), chosen_u])
        val = evaluate(WD, np.concatenate([fixed, new]))
        if val <= ub:
            sel, ub = new, val
        bound = max(bound, lb)
        if integral and bound > ub - tol:
            status = OPTIMAL
        return self._result(sel, ub, status, bound, solver_name, started, options, details, WD, big)

    @staticmethod
    def _polish(WD, fixed, free, best: _Incumbent, big, deadline, details):
        """Interchange search from the :data:`POLISH` best distinct Lagrangian solutions
        of the root; returns the (possibly improved) incumbent ``(ub, sel)``."""
        polished = 0
        for key in sorted(best.pool, key=best.pool.__getitem__)[:POLISH]:
            if time.monotonic() > deadline:
                break
            start = np.setdiff1d(np.asarray(key, dtype=np.int64), fixed)
            new = swap_search(WD, fixed, free, start, big=big, deadline=deadline)
            val = evaluate(WD, np.concatenate([fixed, new]))
            polished += 1
            if val < best.ub - 1e-9 * max(1.0, abs(best.ub)):
                best.ub, best.sel = val, new
        details.update(polished=polished, polished_objective=best.ub)
        return best.ub, best.sel

    def _branch(self, st: _Residual, started, options, details):
        """The residual by branch-and-bound on the Lagrangian bound (:mod:`.branch`)."""
        WD, fixed = st.WD, st.fixed

        def improve(cols: np.ndarray) -> tuple[np.ndarray, float]:
            new = swap_search(
                WD, fixed, st.free, np.setdiff1d(cols, fixed), big=st.big, deadline=st.deadline
            )
            open_ = np.concatenate([fixed, new])
            return open_, evaluate(WD, open_)

        out = lagrangian_branch_and_bound(
            WD,
            st.forced,
            st.undecided,
            st.p_left,
            st.lam,
            (np.concatenate([fixed, st.sel]), st.ub),
            tol=st.tol,
            deadline=st.deadline,
            root_bound=st.lb,
            improve=improve,
        )
        details.update(bnb_nodes=out.nodes, bnb_probed=out.probed)
        new = np.setdiff1d(out.open_cols, fixed)
        status = OPTIMAL if out.proven else FEASIBLE
        return self._result(
            new,
            out.value,
            status,
            out.bound,
            "lagrangian-bnb",
            started,
            options,
            details,
            WD,
            st.big,
        )

    @staticmethod
    def _settled(WD, fixed, forced, undecided, p_left, sel, ub, lb, tol):
        """``(selection, objective)`` when optimality is proven, else ``None``.

        The reductions only remove solutions that cannot beat the incumbent, so when they
        leave a single completion it is the only possible improvement.
        """
        if lb > ub - tol - 1e-9 * abs(ub):
            return sel, ub
        if p_left > undecided.size:  # no improving solution has p new sites
            return sel, ub
        if p_left == 0 or p_left == undecided.size:
            new = np.concatenate([np.setdiff1d(forced, fixed), undecided if p_left else []]).astype(
                np.int64
            )
            val = evaluate(WD, np.concatenate([fixed, new]))
            return (new, val) if val < ub else (sel, ub)
        return None

    @staticmethod
    def _initial_multipliers(WD: np.ndarray, open_cols: np.ndarray) -> np.ndarray:
        """Each row's cost in the incumbent: a start close to the dual optimum."""
        return WD[:, open_cols].min(axis=1).astype(np.float64)

    def _probe(self, WD, forced, undecided, p_left, lam, ub, tol, lb, deadline, details):
        """Probing: re-optimise the multipliers with one column forced open (closed); if the
        bound then passes the incumbent, the column is closed (opened) for good."""
        probes = 0
        changed = True
        while changed and undecided.size <= PROBE_LIMIT and time.monotonic() < deadline:
            changed = False
            for j in list(undecided):
                if time.monotonic() > deadline or p_left == 0 or p_left >= undecided.size:
                    break
                rest = undecided[undecided != j]
                # force j open: if even the best solution with j open is worse, close j
                cols = np.concatenate([forced, [j], rest])
                b_open, *_ = Subgradient(WD[:, cols], forced.size + 1, p_left - 1).run(
                    lam, upper=ub, target=ub - tol, max_iter=150, deadline=deadline
                )
                probes += 1
                if b_open > ub - tol - 1e-9 * abs(ub):
                    undecided = rest
                    changed = True
                    continue
                # force j closed: if every solution without j is worse, open j
                cols = np.concatenate([forced, rest])
                b_closed, *_ = Subgradient(WD[:, cols], forced.size, p_left).run(
                    lam, upper=ub, target=ub - tol, max_iter=150, deadline=deadline
                )
                probes += 1
                if b_closed > ub - tol - 1e-9 * abs(ub):
                    forced = np.concatenate([forced, [j]])
                    undecided = rest
                    p_left -= 1
                    changed = True
        details["probes"] = probes
        return forced, undecided, p_left, lb

    def _result(self, sel, objective, status, bound, solver, started, options, details, WD, big):
        fixed = self.raw["fixed_open"]
        sel = np.asarray(sel, dtype=np.int64)
        open_ = np.concatenate([fixed, sel])
        served = WD[:, open_].min(axis=1)
        if (served >= big).any():
            raise InfeasibleModelError(
                f"pmedian: infeasible because of the assignment constraints: {int((served >= big).sum())} "
                f"demand groups cannot reach any of the best {sel.size} new sites plus {fixed.size} fixed ones "
                "(their only reachable sites are not chosen); raise p or add candidates near that demand"
            )
        # recompute the objective from the raw costs, not the aggregated/weighted matrix
        objective = self._objective_raw(open_)
        if status == OPTIMAL:
            bound = objective
        details = dict(details, p=self.raw["p"], new_sites=int(sel.size))
        return make_result(
            self.kind,
            status=status,
            sense="min",
            selected=sel,
            fixed_open=fixed,
            objective=objective,
            bound=min(bound, objective) if math.isfinite(bound) else bound,
            solver=solver,
            started=started,
            options=options,
            labels=self.site_labels,
            details=details,
        )

    def _objective_raw(self, open_cols: np.ndarray) -> float:
        cost = self.raw["cost"]
        w = self.raw["weights"]
        if sparse.issparse(cost):
            sub = cost[:, open_cols].tocsr()
            best = np.full(sub.shape[0], np.inf)
            for i in range(sub.shape[0]):  # only for sparse inputs, which are small or sparse
                row = sub.data[sub.indptr[i] : sub.indptr[i + 1]]
                if row.size:
                    best[i] = row.min()
        else:
            best = np.asarray(cost)[:, open_cols].min(axis=1)
        live = w > 0
        return float((w[live] * best[live]).sum())
