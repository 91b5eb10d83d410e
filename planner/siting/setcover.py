"""Set covering / minimum cost: the cheapest new sites reaching a coverage target."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from planner._errors import InfeasibleModelError, UnreachableDemandError
from planner.siting._backends import integer_scale, new_mip, run_cpsat, run_mip
from planner.siting._base import (
    FEASIBLE,
    OPTIMAL,
    SitingResult,
    SolveOptions,
    check_cost_matrix,
    check_fixed,
    check_free_sites,
    check_share,
    check_site_costs,
    check_threshold,
    check_weights,
    labels_array,
    make_result,
)
from planner.siting._covering import covered_weight, greedy_cover, reduce_covering
from planner.siting._model import SitingModel, adapter_inputs

logger = logging.getLogger(__name__)


class SetCover(SitingModel):
    r"""Minimum-cost covering: the cheapest set of new sites such that at least a share
    ``coverage`` of the demand lies within ``threshold`` of an open site.

    Formulation (after the covering preprocessing of :mod:`planner.siting._covering`)::

        min   sum_j c_j y_j
        s.t.  z_k <= sum_{j in S_k} y_j                     for every demand group k
              W_fix + sum_k W_k z_k >= coverage * W_total
              y_j, z_k in {0, 1}

    With ``coverage = 1`` this is the classic location set covering problem (Toregas et
    al. 1971). Solved on SCIP by default (continuous ``z``, exact for integral ``y``; HiGHS
    selectable, same model), or on CP-SAT with integer-scaled costs and weights (weights
    rounded *down* and the target *up*, so a reported solution always meets the target).
    Greedy (cost per newly covered weight) is the hint on SCIP and CP-SAT; HiGHS gets none
    (a hint crashes it in this OR-Tools build) but its solution is never reported when
    the greedy one is cheaper.
    """

    kind = "cover"
    sense = "min"

    @classmethod
    def from_cost_matrix(
        cls,
        cost,
        weights=None,
        *,
        threshold: float,
        coverage: float = 1.0,
        candidate_costs=None,
        fixed_open=None,
        site_labels=None,
    ) -> SetCover:
        """Build from a demand x site cost matrix (see :meth:`MCLP.from_cost_matrix`).

        Parameters
        ----------
        coverage : float
            Required share of the total demand weight within ``threshold`` (0 < coverage <= 1).

        Raises
        ------
        ModelInputError
            Malformed inputs (the message names the argument, the value and the fix) or
            repeated ``site_labels``.
        NoCandidatesError
            When every site is fixed open (or there is none).
        """
        cost = check_cost_matrix(cost)
        n, m = cost.shape
        w = check_weights(weights, n)
        c = check_site_costs(candidate_costs, m)
        fixed = check_fixed(fixed_open, m)
        threshold = check_threshold(threshold)
        coverage = check_share(coverage, "coverage", example="0.9")
        check_free_sites(m, fixed)
        raw = dict(
            cost=cost,
            weights=w,
            threshold=threshold,
            coverage=coverage,
            candidate_costs=c,
            fixed_open=fixed,
        )
        return cls(raw, site_labels=labels_array(site_labels, m))

    @classmethod
    def from_geodataframe(
        cls,
        demand_gdf,
        candidates_gdf,
        network,
        *,
        weight_col: str | None,
        threshold: float,
        coverage: float = 1.0,
        cost_col: str | None = None,
        fixed_col: str | None = "existing",
        label_col: str | None = "site_id",
        max_snap_m: float = 500.0,
    ) -> SetCover:
        """Build from demand points and sites snapped to a road network (cutoff at ``threshold``)."""
        threshold = check_threshold(threshold)  # before any travel time is computed
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
            coverage=coverage,
            candidate_costs=gi.site_costs,
            fixed_open=gi.fixed_open,
            site_labels=gi.site_labels,
        )
        model.geo = gi
        return model

    def _solve(self, options: SolveOptions, started: float) -> SitingResult:
        r = self.raw
        m = r["cost"].shape[1]
        fixed = r["fixed_open"]
        free = check_free_sites(m, fixed)
        c = r["candidate_costs"]
        inst = reduce_covering(
            r["cost"], r["weights"], r["threshold"], fixed, free, c, use_costs=True
        )
        total = inst.total_weight
        target = r["coverage"] * total
        coverable = total - inst.uncoverable_weight
        if total > 0 and coverable <= 0:
            raise UnreachableDemandError(
                f"cover: no demand lies within {r['threshold']:g} s of any site ({inst.n_rows_in} demand "
                f"rows, {m} sites); check the threshold's unit (seconds) and the candidate set"
            )
        if coverable < target * (1 - 1e-12):
            raise InfeasibleModelError(
                f"cover: infeasible because of the coverage target: {r['coverage']:.1%} of the demand "
                f"({target:.6g}) must lie within {r['threshold']:g} s, but even with every candidate open only "
                f"{coverable / total:.1%} can ({inst.uncoverable_rows.size} demand rows, weight "
                f"{inst.uncoverable_weight:.6g}, are beyond every site, e.g. rows "
                f"{inst.uncoverable_rows[:5].tolist()}); lower model.coverage_target, raise the threshold "
                "or add candidates near that demand"
            )
        need = target - inst.fixed_weight
        details = dict(
            total_weight=total,
            fixed_weight=inst.fixed_weight,
            target_weight=target,
            uncoverable_weight=inst.uncoverable_weight,
            demand_groups=int(inst.group_weight.size),
            model_candidates=int(inst.cols.size),
            dominated_candidates=inst.dropped_dominated,
        )
        if need <= 1e-12 * max(1.0, total):
            return self._result(
                inst, np.empty(0, np.int64), OPTIMAL, 0.0, "presolve", started, options, details
            )
        greedy = greedy_cover(inst, c, p=None, budget=None, target=need)
        details["greedy_objective"] = float(c[inst.cols[greedy]].sum())
        # SCIP by default (a 60-candidate instance CP-SAT left at FEASIBLE after 60 s closes
        # in under a second); CP-SAT stays selectable
        kind = "scip" if options.solver == "auto" else options.solver
        left = self._deadline(options, started) - time.monotonic()
        if kind == "cp-sat":
            out = self._cpsat(inst, c, need, greedy, options, left)
        else:
            out = self._mip(inst, c, need, greedy, kind, options, left)
        solver_name = kind
        if out is None:
            return self._result(inst, greedy, FEASIBLE, 0.0, solver_name, started, options, details)
        chosen, status, bound = out
        if c[inst.cols[chosen]].sum() > c[inst.cols[greedy]].sum():
            chosen = greedy
        return self._result(inst, chosen, status, bound, solver_name, started, options, details)

    def _mip(self, inst, c, need, greedy, kind, options, left):
        """Same model on SCIP/HiGHS with continuous ``z`` (exact: for integral ``y`` the best
        ``z`` is the 0/1 coverage)."""
        G = inst.groups.tocsr()
        K, J = G.shape
        solver = new_mip(kind)
        inf = solver.infinity()
        y = [solver.BoolVar(f"y{j}") for j in range(J)]
        z = [solver.NumVar(0.0, 1.0, "") for _ in range(K)]
        for k in range(K):
            ct = solver.Constraint(0.0, inf)
            ct.SetCoefficient(z[k], -1.0)
            for j in G.indices[G.indptr[k] : G.indptr[k + 1]]:
                ct.SetCoefficient(y[j], 1.0)
        # weights scaled down by a hair so the LP tolerance cannot admit a solution short of the target
        cov = solver.Constraint(float(need), inf)
        for k in range(K):
            cov.SetCoefficient(z[k], float(inst.group_weight[k]) * (1 - 1e-9))
        obj = solver.Objective()
        for j in range(J):
            obj.SetCoefficient(y[j], float(c[inst.cols[j]]))
        obj.SetMinimization()
        gset = set(greedy.tolist())
        out = run_mip(
            solver,
            {"y": y},
            kind=kind,
            options=options,
            time_left=left,
            hint=(y, [1.0 if j in gset else 0.0 for j in range(J)]),
        )
        if out.status == "INFEASIBLE":
            raise InfeasibleModelError(
                "cover: infeasible because of the coverage target; lower "
                "model.coverage_target or add candidates"
            )
        if out.status not in (OPTIMAL, FEASIBLE):
            return None
        chosen = np.flatnonzero(out.values["y"] > 0.5)
        if inst.fixed_weight + covered_weight(inst, chosen) < need + inst.fixed_weight - 1e-9 * max(
            1.0, need
        ):
            return None  # numerically short of the target: the greedy solution stands
        return chosen, out.status, max(0.0, out.bound if np.isfinite(out.bound) else 0.0)

    def _cpsat(self, inst, c, need, greedy, options, left):
        from ortools.sat.python import cp_model

        G = inst.groups.tocsr()
        K, J = G.shape
        wscale = integer_scale(inst.group_weight)[1]
        wint = np.floor(inst.group_weight * wscale + 1e-9).astype(np.int64)
        need_int = math.ceil(need * wscale - 1e-9)
        cint, cscale, cerr = integer_scale(c[inst.cols])
        model = cp_model.CpModel()
        y = [model.new_bool_var(f"y{j}") for j in range(J)]
        z = [model.new_bool_var(f"z{k}") for k in range(K)]
        for k in range(K):
            model.add_bool_or(
                [y[j] for j in G.indices[G.indptr[k] : G.indptr[k + 1]]] + [z[k].Not()]
            )
        model.add(cp_model.LinearExpr.WeightedSum(z, wint.tolist()) >= need_int)
        model.minimize(cp_model.LinearExpr.WeightedSum(y, cint.tolist()))
        gset = set(greedy.tolist())
        for j in range(J):
            model.add_hint(y[j], j in gset)
        out = run_cpsat(model, {"y": y}, options=options, time_left=left, scale=cscale)
        if out.status not in (OPTIMAL, FEASIBLE):
            if out.status == "INFEASIBLE":
                raise InfeasibleModelError(
                    "cover: infeasible because of the coverage target after integer scaling of the weights; "
                    "lower model.coverage_target slightly"
                )
            return None
        return np.flatnonzero(out.values["y"] > 0), out.status, max(0.0, out.bound - cerr)

    def _result(self, inst, chosen_pos, status, bound, solver, started, options, details):
        chosen_pos = np.asarray(chosen_pos, dtype=np.int64)
        sel = inst.cols[chosen_pos]
        c = self.raw["candidate_costs"]
        val = inst.fixed_weight + covered_weight(inst, chosen_pos)
        obj = float(c[sel].sum())
        details = dict(
            details,
            covered_weight=val,
            coverage_fraction=val / inst.total_weight if inst.total_weight else 1.0,
            new_sites=int(sel.size),
            capex=obj,
        )
        return make_result(
            self.kind,
            status=status,
            sense="min",
            selected=sel,
            fixed_open=self.raw["fixed_open"],
            objective=obj,
            bound=bound,
            solver=solver,
            started=started,
            options=options,
            labels=self.site_labels,
            details=details,
        )
