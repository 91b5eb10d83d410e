"""Maximal covering location problem (Church & ReVelle 1974) with existing stations."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

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
    check_weights,
    integer_scale,
    labels_array,
    make_result,
    new_mip,
    run_cpsat,
    run_mip,
)
from planner.siting._covering import (
    CoverInstance,
    covered_weight,
    greedy_cover,
    reduce_covering,
    swap_cover,
)
from planner.siting._model import SitingModel, adapter_inputs
from planner.siting.mclp.lagrange import lagrangian_cover_bound
from planner.siting.mclp.lp import lp_fixings, lp_phase, restricted_instance

logger = logging.getLogger(__name__)

# Kernel polishing runs on instances this large (nonzeros of the reduced coverage matrix):
# below it SCIP's root LP is fast and the full model is best solved directly.
KERNEL_MIN_NNZ = 200_000
# Kernel sizes tried while they close, in multiples of p: on a 41,183 x 991 instance (p = 20)
# the restricted MIPs warm-started with the best so far closed in 0.3 s at 3p, 1.4 s at 5p and
# 2.8 s at 8p; without the warm start 8p took 58 s.
KERNEL_SIZES = (3, 5, 8, 12, 16)
# Share of the time (after the reduction) the exact LP of large instances may take: it took
# 3-12 s on the million-point benchmark instances, against a 60 s target.
LP_SHARE = 0.35


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

    Solving, in order, each step on what the previous left:

    1. greedy adding, then best-improvement 1-swaps (at most a fifth of the time limit);
    2. the Lagrangian bound of :mod:`planner.siting.mclp.lagrange` (relaxing the
       coupling rows; at most a tenth of the limit). When the bound meets the incumbent the
       answer is proven optimal here (solver ``"lagrangian"``), which is the common case on
       city studies;
    3. on large instances (``KERNEL_MIN_NNZ``) the exact LP bound of
       :mod:`planner.siting.mclp.lp` (its dual solved by HiGHS; at most ``LP_SHARE`` of
       the time): its rounding is one more solution, and when it meets the incumbent the
       answer is proven (solver ``"lp"``). Otherwise reduced-cost fixing closes (or opens)
       every candidate that no strictly better solution can avoid, and the steps below
       run on the restricted instance, which is exact;
    4. on large instances, exact restricted MCLPs on kernels of the incumbent plus the best
       ranked candidates (kernel search; at most half of the time left);
    5. the full (or restricted) model on the backend, warm-started with the best solution.
       The default is SCIP (continuous ``z``), far faster than CP-SAT on these covering
       structures; ``"cp-sat"`` (integer-scaled weights, no LP step) and ``"highs"`` are
       selectable.

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
            At most ``p`` new sites.
        budget : float, optional
            Total budget, including the cost of fixed-open sites.
        candidate_costs : array-like, optional
            Cost of each site (ones by default).
        fixed_open : array-like of int or bool mask, optional
            Sites open whatever happens (existing stations).
        site_labels : sequence, optional
            Labels for reporting.
        """
        cost = check_cost_matrix(cost)
        n, m = cost.shape
        w = check_weights(weights, n)
        c = check_site_costs(candidate_costs, m)
        fixed = check_fixed(fixed_open, m)
        p = check_count(p, "p")
        if threshold is None or not math.isfinite(float(threshold)) or float(threshold) < 0:
            raise ModelInputError(
                f"threshold must be a finite number >= 0 (seconds), got {threshold!r}"
            )
        if p is None and budget is None:
            raise ModelInputError("MCLP needs p (number of new sites) or a budget")
        budget = check_budget(budget, c, fixed)
        labels = labels_array(site_labels, m)
        check_free_sites(m, fixed)
        raw = dict(
            cost=cost,
            weights=w,
            threshold=float(threshold),
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
        existing stations (ignored when absent from the frame).
        """
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
        scores, lp, part = lag.scores, None, _Part.whole(inst, r["p"], budget_left)
        # a subgradient that never got below the trivial bound (all coverable demand) means
        # the LP covers everything fractionally: on the 60 km region at p = 50 it cost 4.5 s
        # of the kernel search's time and bounded nothing
        if large and lag.bound < upper_trivial * (1 - 1e-9):
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
                    part = _Part.fixed(
                        inst, c, lp["closed"], lp["opened"], r["p"], budget_left, details
                    )
            # kernel search on what the fixing left
            loc = part.from_inst(greedy)
            polished, val = loc, covered_weight(part.work, loc)
            # kernel search pays on large instances only: a small restricted one goes to SCIP whole
            if not part.infeasible and part.work.groups.nnz >= KERNEL_MIN_NNZ:
                polished, val = self._kernel_polish(
                    part.work,
                    c,
                    part.p,
                    part.budget,
                    loc,
                    val,
                    scores[part.positions],
                    kind,
                    options,
                    min(deadline, time.monotonic() + 0.5 * budget_s),
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
                        part = _Part.fixed(inst, c, closed, opened, r["p"], budget_left, details)
                        details.update(
                            refixed_closed=int(closed.size), refixed_open=int(opened.size)
                        )
        out = self._final(part, c, greedy, g_val, kind, options, deadline - time.monotonic())
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

    def _final(self, part, c, incumbent, inc_val, kind, options, left):
        """The full model on ``part`` (all of the instance, or what LP fixing left).

        Returns ``(chosen positions into the instance, status, bound of its model part over
        the solutions obeying the fixing)`` or None when the backend found nothing in time.
        """
        if part.infeasible:  # what must open exceeds the limits: nothing beats the incumbent
            return incumbent, OPTIMAL, inc_val
        loc = part.from_inst(incumbent)
        if part.work.cols.size == 0:
            out = (np.zeros(0, np.int64), OPTIMAL, 0.0)
        elif kind == "cp-sat":
            out = self._cpsat(part.work, c, part.p, part.budget, loc, options, left)
        else:
            out = self._mip(part.work, c, part.p, part.budget, loc, kind, options, left)
        if out is None:
            return None
        return part.to_inst(out[0]), out[1], part.base + out[2]

    def _kernel_polish(
        self, inst, c, p, budget_left, incumbent, incumbent_val, scores, kind, options, until
    ):
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
            out = self._solve_kernel(
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
            out = self._solve_kernel(
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

    def _solve_kernel(
        self,
        inst,
        kernel,
        best,
        c,
        p,
        budget_left,
        kind,
        options,
        until,
        *,
        must_use=None,
        beat=None,
    ):
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
        extra = {}
        if must_use is not None:
            extra["must_use"] = np.asarray(
                [where[int(j)] for j in must_use if int(j) in where], dtype=np.int64
            )
            if extra["must_use"].size == 0:  # the bucket is dominated within the kernel
                return None
            # strictly better, by more than the MIP's feasibility tolerance (1e-6): by half a
            # unit when the weights are integral (any improvement is a whole unit)
            integral = bool(np.all(inst.group_weight == np.round(inst.group_weight)))
            extra["at_least"] = beat + 0.5 if integral else beat * (1 + 1e-6) + 1e-6
        left = until - time.monotonic()
        if left <= 0:
            return None
        out = self._mip(kinst, c, p, budget_left, hint, kind, options, left, **extra)
        if out is None:
            return None
        chosen = np.sort(kept[out[0]])
        val = covered_weight(inst, chosen)
        if beat is not None and val <= beat:
            return None
        logger.debug("mclp kernel of %d candidates: %s, %.10g", kernel.size, out[1], val)
        return chosen, out[1], val

    def _result(
        self,
        inst: CoverInstance,
        chosen_pos,
        status,
        bound_model,
        solver,
        started,
        options,
        details,
    ):
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

    def _cpsat(self, inst, c, p, budget_left, greedy, options, left):
        from ortools.sat.python import cp_model

        G = inst.groups.tocsr()
        K, J = G.shape
        sizes = np.diff(G.indptr)
        wint, scale, err = integer_scale(inst.group_weight)
        model = cp_model.CpModel()
        y = [model.new_bool_var(f"y{j}") for j in range(J)]
        # groups covered by a single candidate need no variable: their weight goes on y_j
        single = sizes == 1
        obj_y = np.bincount(
            G.indices[G.indptr[:-1][single]], weights=wint[single], minlength=J
        ).astype(np.int64)
        multi = np.flatnonzero(~single)
        z = []
        for k in multi:
            zk = model.new_bool_var("")
            model.add_bool_or([y[j] for j in G.indices[G.indptr[k] : G.indptr[k + 1]]] + [zk.Not()])
            z.append(zk)
        if p is not None:
            model.add(sum(y) <= p)
        if budget_left is not None:
            ci, cscale, cerr = integer_scale(c[inst.cols])
            cap = math.floor(budget_left * cscale + 1e-9)
            if cerr > 0:
                ci = np.ceil(c[inst.cols] * cscale - 1e-9).astype(np.int64)  # conservative
                logger.warning(
                    "mclp: site costs are not integral; the budget is enforced with costs "
                    "rounded up to 1/%g",
                    cscale,
                )
            model.add(cp_model.LinearExpr.WeightedSum(y, ci.tolist()) <= cap)
        model.maximize(
            cp_model.LinearExpr.WeightedSum(y, obj_y.tolist())
            + cp_model.LinearExpr.WeightedSum(z, wint[multi].tolist())
        )
        gset = set(greedy.tolist())
        for j in range(J):
            model.add_hint(y[j], j in gset)
        out = run_cpsat(model, {"y": y}, options=options, time_left=left, scale=scale)
        if out.status not in (OPTIMAL, FEASIBLE):
            return None
        return np.flatnonzero(out.values["y"] > 0), out.status, out.bound + err

    def _mip(
        self, inst, c, p, budget_left, greedy, kind, options, left, *, must_use=None, at_least=None
    ):
        G = inst.groups.tocsr()
        K, J = G.shape
        solver = new_mip(kind)
        y = [solver.BoolVar(f"y{j}") for j in range(J)]
        z = [solver.NumVar(0.0, 1.0, "") for _ in range(K)]
        inf = solver.infinity()
        for k in range(K):
            ct = solver.Constraint(0.0, inf)
            ct.SetCoefficient(z[k], -1.0)
            for j in G.indices[G.indptr[k] : G.indptr[k + 1]]:
                ct.SetCoefficient(y[j], 1.0)
        if p is not None:
            ct = solver.Constraint(0.0, float(p))
            for v in y:
                ct.SetCoefficient(v, 1.0)
        if budget_left is not None:
            ct = solver.Constraint(-inf, budget_left)
            for j, v in enumerate(y):
                ct.SetCoefficient(v, float(c[inst.cols[j]]))
        obj = solver.Objective()
        for k in range(K):
            obj.SetCoefficient(z[k], float(inst.group_weight[k]))
        obj.SetMaximization()
        if must_use is not None:  # kernel search: one site of the bucket
            ct = solver.Constraint(1.0, inf)
            for j in must_use:
                ct.SetCoefficient(y[int(j)], 1.0)
        if at_least is not None:  # kernel search: only solutions beating the incumbent
            ct = solver.Constraint(float(at_least), inf)
            for k in range(K):
                ct.SetCoefficient(z[k], float(inst.group_weight[k]))
        gset = set(greedy.tolist())
        out = run_mip(
            solver,
            {"y": y},
            kind=kind,
            options=options,
            time_left=left,
            hint=(y, [1.0 if j in gset else 0.0 for j in range(J)]),
        )
        if out.status not in (OPTIMAL, FEASIBLE):
            return None
        bound = out.bound if math.isfinite(out.bound) else float(inst.group_weight.sum())
        return np.flatnonzero(out.values["y"] > 0.5), out.status, bound


@dataclass(frozen=True)
class _Part:
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
    def whole(cls, inst, p, budget):
        return cls(inst, np.arange(inst.cols.size), np.zeros(0, np.int64), p, budget, 0.0)

    @classmethod
    def fixed(cls, inst, c, closed, opened, p, budget, details):
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
        return (self.p is not None and self.p < 0) or (
            self.budget is not None and self.budget < -1e-9
        )

    def to_inst(self, loc) -> np.ndarray:
        """Positions into ``work`` -> positions into the full instance (forced ones added)."""
        return np.sort(
            np.concatenate([self.forced, self.positions[np.asarray(loc, dtype=np.int64)]])
        )

    def from_inst(self, chosen) -> np.ndarray:
        """The part of a full-instance solution that ``work`` can express."""
        keep = np.isin(self.positions, chosen)
        return np.flatnonzero(keep)
