"""Maximal covering location problem (Church & ReVelle 1974) with existing stations."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from planner._errors import ModelInputError, UnreachableDemandError
from planner.siting._base import (
    FEASIBLE,
    OPTIMAL,
    SitingResult,
    SolveOptions,
    check_budget,
    check_cost_matrix,
    check_count,
    check_fixed,
    check_free_sites,
    check_site_costs,
    check_site_count,
    check_threshold,
    check_weights,
    labels_array,
    make_result,
)
from planner.siting._covering import (
    CoverInstance,
    covered_weight,
    greedy_cover,
    reduce_covering,
    swap_cover,
)
from planner.siting._model import SitingModel, adapter_inputs
from planner.siting.mclp import benders
from planner.siting.mclp.kernel import SearchPart, kernel_polish, solve_part
from planner.siting.mclp.lagrange import lagrangian_cover_bound
from planner.siting.mclp.lp import lp_fixings, lp_phase
from planner.siting.mclp.search import iterated_search

logger = logging.getLogger(__name__)

# Kernel polishing runs on instances this large (nonzeros of the reduced coverage matrix):
# below it SCIP's root LP is fast and the full model is best solved directly. Read here at
# solve time (tests lower it to run the LP phase and kernel search on small instances).
KERNEL_MIN_NNZ = 200_000
# Share of the time (after the reduction) the exact LP of large instances may take: it took
# 3-12 s on the million-point benchmark instances on an idle machine and 11-27 s with the
# machine shared; without it the bound falls back to the Lagrangian one (7.7 % gap on the
# 60 km region at p = 20 against 1.9 % with it), so it gets up to half of the time.
LP_SHARE = 0.5
# Share of the time the LP left that the iterated search of :mod:`.search` (with a site
# count) or the kernel search (with a budget) may take; the rest goes to the
# branch-and-Benders-cut search. With a site count the iterated search found the best known
# sets of the benchmark within 20 s (city p = 5 and 10, region p = 10, 20, 50) where the
# kernel search found nothing past the greedy start on the city.
SEARCH_SHARE = 0.6


class MCLP(SitingModel):
    r"""Maximal covering: open new sites to maximise the demand within a travel-time
    threshold of an open site (new or existing).

    Formulation (after preprocessing, see :mod:`planner.siting._covering`)::

        max   W_fix + sum_k W_k z_k
        s.t.  z_k <= sum_{j in S_k} y_j          for every demand group k
              sum_j y_j <= p                      (if p is given)
              sum_j c_j y_j <= B - sum_{f in F} c_f   (if a budget B is given)
              y_j, z_k in {0, 1}

    ``S_k`` is the set of candidates within ``threshold`` of the demand points in group
    ``k`` (rows with identical sets are merged, weights summed), ``F`` the fixed-open
    sites and ``W_fix`` the weight they already cover. Dominated candidates and
    candidates covering nothing are removed first.

    Solving, in order, each step on what the previous left (time shares are of the time
    left after the reduction):

    1. greedy adding, then, with ``p`` and no budget, best-improvement 1-swaps (at most a
       fifth of the time);
    2. the Lagrangian bound of :mod:`planner.siting.mclp.lagrange` (relaxing the
       coupling rows; at most a tenth of the time). When the bound meets the incumbent the
       answer is proven optimal here (solver ``"lagrangian"``), which is the common case on
       city studies;
    3. on large instances (``KERNEL_MIN_NNZ``; not with ``"cp-sat"``) the exact LP bound of
       :mod:`planner.siting.mclp.lp` (its dual solved by HiGHS; at most ``LP_SHARE`` of
       the time): its rounding is one more solution, and when it meets the incumbent the
       answer is proven (solver ``"lp"``). Otherwise reduced-cost fixing closes (or opens)
       every candidate that no strictly better solution can avoid, and the steps below
       run on the restricted instance, which is exact;
    4. on large instances, with a site count ``p`` and no budget, the iterated 1-swap /
       pair-exchange search of :mod:`planner.siting.mclp.search` over the candidates the
       fixing left; with a budget, exact restricted MCLPs on kernels of the incumbent plus
       the best ranked candidates (kernel search of :mod:`planner.siting.mclp.kernel`);
       either at most ``SEARCH_SHARE`` of the time left, and a better incumbent re-runs
       the fixing;
    5. the full (or restricted) model on the backend (:mod:`planner.siting.mclp.mip`),
       with the best solution as a hint (HiGHS gets none: a hint crashes it in this
       OR-Tools build). The default is SCIP (continuous ``z``), far faster than CP-SAT on
       these covering structures; ``"cp-sat"`` (integer-scaled weights, no LP step and no
       kernel search) and ``"highs"`` are selectable.

    The reported bound is the smallest of the backend's (over the restricted instance),
    the LP and the Lagrangian one.

    Use :meth:`from_cost_matrix` or :meth:`from_geodataframe` to build one.
    """

    kind = "mclp"
    sense = "max"

    @classmethod
    def from_cost_matrix(
        cls,
        cost,
        weights=None,
        *,
        threshold: float,
        p: int | None = None,
        budget: float | None = None,
        candidate_costs=None,
        fixed_open=None,
        site_labels=None,
    ) -> MCLP:
        """Build from a demand x site cost matrix.

        Parameters
        ----------
        cost : numpy.ndarray or scipy.sparse matrix
            Travel cost (seconds) from each demand row to each site column; ``inf`` (or
            a missing sparse entry) is unreachable.
        weights : array-like, optional
            Demand weight per row (ones by default).
        threshold : float
            A row is covered by a site with ``cost <= threshold``.
        p : int, optional
            At most ``p`` new sites; no more than there are candidate (not fixed-open)
            sites.
        budget : float, optional
            Total budget, including the cost of fixed-open sites.
        candidate_costs : array-like, optional
            Cost of each site (ones by default).
        fixed_open : array-like of int or bool mask, optional
            Sites open whatever happens (existing stations).
        site_labels : sequence, optional
            Labels for reporting, one per site and all distinct.

        Raises
        ------
        ModelInputError
            Malformed inputs (the message names the argument, the value and the fix),
            repeated ``site_labels``, neither ``p`` nor ``budget``, or ``p`` above the
            number of candidate sites.
        BudgetError
            When ``budget`` is below the cost of the fixed-open sites.
        NoCandidatesError
            When every site is fixed open (or there is none).
        """
        cost = check_cost_matrix(cost)
        n, m = cost.shape
        w = check_weights(weights, n)
        c = check_site_costs(candidate_costs, m)
        fixed = check_fixed(fixed_open, m)
        p = check_count(p, "p")
        threshold = check_threshold(threshold)
        if p is None and budget is None:
            raise ModelInputError(
                "MCLP needs p (number of new sites) or a budget; pass e.g. p=5 or budget=1e6"
            )
        budget = check_budget(budget, c, fixed)
        labels = labels_array(site_labels, m)
        free = check_free_sites(m, fixed)
        if p is not None:
            check_site_count(p, free.size, model="MCLP", n_fixed=fixed.size)
        raw = dict(
            cost=cost,
            weights=w,
            threshold=threshold,
            p=p,
            budget=budget,
            candidate_costs=c,
            fixed_open=fixed,
        )
        return cls(raw, site_labels=labels)

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        network,
        *,
        weight_col: str | None,
        threshold: float,
        p: int | None = None,
        budget: float | None = None,
        cost_col: str | None = None,
        fixed_col: str | None = "existing",
        label_col: str | None = "site_id",
        max_snap_m: float = 500.0,
    ) -> MCLP:
        """Build from demand points and sites snapped to a road network.

        Travel times (s) run from each demand node to each site with a cutoff at
        ``threshold``; demand points on the same node are merged. ``fixed_col`` marks
        existing stations (ignored when absent from the frame). The scalar arguments are
        checked before any travel time is computed.
        """
        threshold = check_threshold(threshold)
        check_count(p, "p")
        gi = adapter_inputs(
            demand_gdf,
            candidates_gdf,
            network,
            weight_col=weight_col,
            fixed_col=fixed_col,
            cost_col=cost_col,
            label_col=label_col,
            max_snap_m=max_snap_m,
            cutoff=threshold,
        )
        model = cls.from_cost_matrix(
            gi.cost,
            gi.weights,
            threshold=threshold,
            p=p,
            budget=budget,
            candidate_costs=gi.site_costs,
            fixed_open=gi.fixed_open,
            site_labels=gi.site_labels,
        )
        model.geo = gi
        return model

    # ------------------------------------------------------------------ solve
    def _solve(self, options: SolveOptions, started: float) -> SitingResult:
        r = self.raw
        m = r["cost"].shape[1]
        fixed = r["fixed_open"]
        free = check_free_sites(m, fixed)
        c = r["candidate_costs"]
        budget_left = None if r["budget"] is None else r["budget"] - float(c[fixed].sum())
        inst = reduce_covering(
            r["cost"],
            r["weights"],
            r["threshold"],
            fixed,
            free,
            c,
            use_costs=budget_left is not None,
        )
        if inst.total_weight > 0 and inst.uncoverable_weight >= inst.total_weight * (1 - 1e-12):
            raise UnreachableDemandError(
                f"mclp: no demand lies within the threshold of {r['threshold']:g} s of any site "
                f"({inst.n_rows_in} demand rows, {m} sites); check the threshold's unit (seconds) "
                "and that demand and sites are on the same connected network"
            )
        if inst.uncoverable_rows.size:
            logger.warning(
                "mclp: %d demand rows (weight %.6g) are beyond %g s of every site",
                inst.uncoverable_rows.size,
                inst.uncoverable_weight,
                r["threshold"],
            )
        deadline = self._deadline(options, started)
        # phase shares are of the time left after the reduction (which can take seconds)
        budget_s = max(0.0, deadline - time.monotonic())
        greedy = greedy_cover(inst, c, p=r["p"], budget=budget_left)
        if budget_left is None and r["p"] is not None and greedy.size:
            # 1-swap local search on the greedy start (a fifth of the time at most): a better
            # warm start, and the answer when a hard instance hits the time limit
            greedy = swap_cover(inst, greedy, deadline=time.monotonic() + 0.2 * budget_s)
        g_val = covered_weight(inst, greedy)
        details = dict(
            total_weight=inst.total_weight,
            fixed_weight=inst.fixed_weight,
            uncoverable_weight=inst.uncoverable_weight,
            demand_rows=inst.n_rows_in,
            demand_groups=int(inst.group_weight.size),
            model_candidates=int(inst.cols.size),
            dominated_candidates=inst.dropped_dominated,
            greedy_objective=inst.fixed_weight + g_val,
        )
        upper_trivial = float(inst.group_weight.sum())
        if inst.cols.size and upper_trivial > 0 and g_val >= upper_trivial * (1 - 1e-12):
            # the warm start already covers every coverable group: nothing can beat it
            return self._result(
                inst, greedy, OPTIMAL, upper_trivial, "presolve", started, options, details
            )
        if inst.cols.size == 0 or upper_trivial == 0:
            return self._result(
                inst,
                np.empty(0, np.int64),
                OPTIMAL,
                upper_trivial * 0,
                "presolve",
                started,
                options,
                details,
            )
        if (
            r["p"] is not None
            and r["p"] >= inst.cols.size
            and (budget_left is None or c[inst.cols].sum() <= budget_left)
        ):
            allpos = np.arange(inst.cols.size)
            return self._result(
                inst,
                allpos,
                OPTIMAL,
                covered_weight(inst, allpos),
                "presolve",
                started,
                options,
                details,
            )
        # Lagrangian bound (cheap sparse products; on large instances SCIP's root LP may not
        # even finish within the limit) with its top-p sets as extra solutions
        lag = lagrangian_cover_bound(
            inst,
            p=r["p"],
            costs=c[inst.cols] if budget_left is not None else None,
            budget=budget_left,
            incumbent=greedy,
            deadline=min(deadline, time.monotonic() + 0.1 * budget_s),
        )
        if lag.best_value > g_val:
            greedy, g_val = lag.best, lag.best_value
        upper = min(upper_trivial, lag.bound)
        details.update(
            lagrangian_bound=inst.fixed_weight + lag.bound, lagrangian_steps=lag.iterations
        )
        if g_val >= upper * (1 - 1e-12) - 1e-9:
            return self._result(
                inst, greedy, OPTIMAL, upper, "lagrangian", started, options, details
            )
        # SCIP by default: its LP-based search closed a 671-group, 59-candidate MCLP in 0.3 s
        # where CP-SAT on 2 workers needed 35-57 s (measured here); CP-SAT stays selectable
        kind = "scip" if options.solver == "auto" else options.solver
        large = kind != "cp-sat" and inst.groups.nnz >= KERNEL_MIN_NNZ
        # the kernel ranks by the Lagrangian scores: ranking by the LP's (a degenerate vertex)
        # did worse on the 41,183 x 991 instance at p = 10 (1,282,766 against 1,294,614)
        scores, lp, part = lag.scores, None, SearchPart.whole(inst, r["p"], budget_left)
        # a subgradient that never got below the trivial bound (all coverable demand) means
        # the LP covers everything fractionally: on the 60 km region at p = 50 it cost 4.5 s
        # of the kernel search's time and bounded nothing
        if large:
            if lag.bound < upper_trivial * (1 - 1e-9):
                lp = lp_phase(
                    inst,
                    c,
                    r["p"],
                    budget_left,
                    greedy,
                    g_val,
                    threads=options.threads,
                    until=min(deadline, time.monotonic() + LP_SHARE * budget_s),
                    details=details,
                )
                if lp is not None:
                    upper = min(upper, lp["bound"])
                    greedy, g_val = lp["best"], lp["best_value"]
                    if lp["proven"]:
                        return self._result(
                            inst, greedy, OPTIMAL, g_val, "lp", started, options, details
                        )
                    if lp["closed"].size or lp["opened"].size:
                        part = SearchPart.fixed(
                            inst, c, lp["closed"], lp["opened"], r["p"], budget_left, details
                        )
            loc = part.from_inst(greedy)
            polished, val = loc, covered_weight(part.work, loc)
            until = time.monotonic() + SEARCH_SHARE * max(0.0, deadline - time.monotonic())
            if not part.infeasible and part.p is not None and part.budget is None and part.p > 0:
                # iterated 1-swap / pair-exchange search over what the fixing left (a site
                # count and no budget): on the million-point benchmark it found better sets
                # in 20 s than the kernel search and the in-tree heuristic in 40 s
                polished, val, figures = iterated_search(
                    part.work, loc, p=part.p, deadline=until, seed=options.seed
                )
                details.update(figures, search_objective=inst.fixed_weight + part.base + val)
            elif not part.infeasible and part.work.groups.nnz >= KERNEL_MIN_NNZ:
                # a budget: kernel search on large instances (a small restricted one goes to
                # SCIP whole)
                polished, val = kernel_polish(
                    part.work,
                    c,
                    part.p,
                    part.budget,
                    loc,
                    val,
                    scores[part.positions],
                    kind,
                    options,
                    until,
                )
                details["kernel_objective"] = inst.fixed_weight + part.base + val
            if part.base + val > g_val:
                greedy, g_val = part.to_inst(polished), part.base + val
                if lp is not None:  # a better incumbent fixes more: refix before the final solve
                    closed, opened, nothing_better = lp_fixings(
                        lp["lp"], beat=g_val, integral=lp["integral"]
                    )
                    if nothing_better:
                        return self._result(
                            inst, greedy, OPTIMAL, g_val, "lp", started, options, details
                        )
                    if closed.size + opened.size > inst.cols.size - part.positions.size:
                        part = SearchPart.fixed(
                            inst, c, closed, opened, r["p"], budget_left, details
                        )
                        details.update(
                            refixed_closed=int(closed.size), refixed_open=int(opened.size)
                        )
        if large and kind == "scip" and benders.available():
            # branch-and-Benders-cut on the full instance, the LP fixing as bounds (valid
            # for solutions beating the incumbent, which SCIP's objective limit demands)
            bout = benders.solve_benders(
                inst,
                c,
                r["p"],
                budget_left,
                greedy,
                options,
                deadline - time.monotonic(),
                # the LP's duals give the master the LP bound; without them (the LP skipped
                # or out of time) the best Lagrangian multipliers give it theirs
                lam=lag.lam if lp is None else lp["lp"].lam,
                closed=np.setdiff1d(np.arange(inst.cols.size), part.positions),
                opened=part.forced,
                beat=g_val,
            )
            kind = "scip-benders"
            out = None if bout is None else bout[:3]
            if bout is not None:
                details.update(bout[3])
        else:
            if large and kind == "scip":
                logger.warning(
                    "mclp: PySCIPOpt is not installed; the branch-and-Benders-cut solve falls "
                    "back to the full model on SCIP through OR-Tools (pip install pyscipopt)"
                )
            out = solve_part(part, c, greedy, g_val, kind, options, deadline - time.monotonic())
        if out is None:  # no solution from the backend in time: the warm start stands
            return self._result(inst, greedy, FEASIBLE, upper, kind, started, options, details)
        chosen, status, bound = out
        val = covered_weight(inst, chosen)
        if val < g_val:  # never report worse than the warm start
            chosen, val = greedy, g_val
        if status != OPTIMAL and val >= upper * (1 - 1e-12) - 1e-9:
            status = OPTIMAL
        return self._result(
            inst, chosen, status, max(min(bound, upper), val), kind, started, options, details
        )

    def _result(
        self,
        inst: CoverInstance,
        chosen_pos: np.ndarray,
        status: str,
        bound_model: float,
        solver: str,
        started: float,
        options: SolveOptions,
        details: dict[str, Any],
    ) -> SitingResult:
        """The result for ``chosen_pos`` (positions into ``inst.cols``); ``bound_model`` is
        the bound of the model part (the fixed-open weight is added)."""
        chosen_pos = np.asarray(chosen_pos, dtype=np.int64)
        val = inst.fixed_weight + covered_weight(inst, chosen_pos)
        sel = inst.cols[chosen_pos]
        c = self.raw["candidate_costs"]
        details = dict(
            details,
            covered_weight=val,
            coverage_fraction=val / inst.total_weight if inst.total_weight else 1.0,
            new_sites=int(sel.size),
            capex=float(c[sel].sum()),
            total_cost=float(c[sel].sum() + c[self.raw["fixed_open"]].sum()),
        )
        bound = inst.fixed_weight + bound_model
        return make_result(
            self.kind,
            status=status,
            sense="max",
            selected=sel,
            fixed_open=self.raw["fixed_open"],
            objective=val,
            bound=bound,
            solver=solver,
            started=started,
            options=options,
            labels=self.site_labels,
            details=details,
        )
