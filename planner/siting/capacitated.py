"""Capacitated siting: which sites, and how many plugs at each (an integer decision)."""

from __future__ import annotations

import logging
import math
import numbers
import time
from typing import Any

import numpy as np
from scipy import sparse

from planner._errors import InfeasibleModelError, ModelInputError, UnreachableDemandError
from planner.siting._aggregate import coverage_matrix, group_identical_rows
from planner.siting._backends import new_mip, run_mip
from planner.siting._base import (
    FEASIBLE,
    OPTIMAL,
    SitingResult,
    SolveOptions,
    check_budget,
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
from planner.siting._model import SitingModel
from planner.siting._validate import SHOWN, shown

logger = logging.getLogger(__name__)


class Capacitated(SitingModel):
    r"""Capacitated siting with integer plugs per site, site and per-plug costs and an
    optional grid-power limit per site, which a site may exceed by paying for an upgrade.

    ``demand`` is in charging hours per hour (plug-hours/h, e.g. from a simulation): a
    site with ``n`` plugs can take ``rho * n`` of it at the target utilisation ``rho``.
    Demand row ``i`` may only be served by a site within ``threshold``.

    Formulation (``F`` fixed-open sites with ``e_j`` existing plugs)::

        min   sum_j f_j y_j + sum_j g_j n_j                      (or, with a budget B,
        s.t.  sum_j x_ij <= 1                     for every i      max sum_ij h_i x_ij
              sum_i h_i x_ij <= rho (e_j + n_j)    for every j      s.t. cost <= B)
              e_j + n_j <= U_j y_j ,  y_f = 1 (f in F)
              k_j (e_j + n_j) <= K_j + u_j         (sites with a grid limit and an upgrade price)
              sum_ij h_i x_ij >= coverage * sum_i h_i
              x_ij >= 0 (only pairs within threshold),  y_j in {0,1},  n_j in Z+,  u_j >= 0

    Costs include ``c_j u_j`` (upgrade price per kW x upgraded kW). ``U_j = max_plugs_j`` where
    the site may be upgraded, else ``min(max_plugs_j, floor(K_j / k_j))`` (``K_j`` grid kW,
    ``k_j`` kW per plug; existing plugs are kept: ``K_j`` is at least their draw). Rows with the same set of
    reachable sites are merged (exact, since ``x`` is continuous). Solved as a MIP
    (continuous assignment) through OR-Tools on SCIP by default, warm-started from a greedy
    solution, or on HiGHS (no warm start); CP-SAT is not supported.
    """

    kind = "capacitated"
    sense = "min"

    @classmethod
    def from_cost_matrix(
        cls,
        cost,
        demand,
        *,
        threshold: float,
        max_plugs,
        site_costs=None,
        plug_costs=None,
        plug_kw=50.0,
        grid_kw=None,
        upgrade_cost_per_kw=None,
        existing_plugs=None,
        fixed_open=None,
        utilisation: float = 0.6,
        coverage: float = 1.0,
        budget: float | None = None,
        site_labels=None,
    ) -> Capacitated:
        """Build from arrays.

        Parameters
        ----------
        cost : array or sparse matrix
            Travel time demand row -> site (s); ``inf``/missing is unreachable.
        demand : array-like
            Charging hours per hour of every demand row.
        threshold : float
            Maximum travel time (s) from a demand row to the site that serves it.
        max_plugs : int or array-like
            Plug limit per site.
        site_costs, plug_costs : array-like, optional
            Cost of opening a new site (0 for fixed ones) and of each added plug.
        plug_kw : float or array-like
            Power per plug (kW), for the grid limit and reporting.
        grid_kw : float or array-like, optional
            Grid connection limit per site (kW); ``None`` or ``inf`` for no limit.
        upgrade_cost_per_kw : float or array-like, optional
            Price of each kW above ``grid_kw`` per site; ``None`` or ``nan`` where the site
            cannot be upgraded (its plugs are then capped by ``grid_kw``).
        existing_plugs : array-like, optional
            Plugs already installed (at fixed-open sites).
        utilisation : float
            Target utilisation ``rho`` of a plug (0 < rho <= 1).
        coverage : float
            Share of the demand that must be served (without a budget).
        budget : float, optional
            Maximise served demand within this total cost instead.
        """
        cost = check_cost_matrix(cost)
        n, m = cost.shape
        h = check_weights(demand, n, name="demand")
        f = (
            check_site_costs(site_costs, m, name="site_costs")
            if site_costs is not None
            else np.zeros(m)
        )
        g = (
            check_site_costs(plug_costs, m, name="plug_costs")
            if plug_costs is not None
            else np.ones(m)
        )
        kw = _per_site(plug_kw, m, "plug_kw").astype(float)
        _refuse(
            ~np.isfinite(kw) | (kw <= 0),
            kw,
            "plug_kw must be a finite number > 0 (kW per plug) at every site",
            "give each site's charger power, e.g. plug_kw=50",
        )
        mp = _per_site(max_plugs, m, "max_plugs")
        if mp.dtype.kind not in "iu":
            raise ModelInputError(
                f"max_plugs must be integers (plugs per site), got dtype {mp.dtype} (values "
                f"{mp[:SHOWN].tolist()}); pass whole numbers, e.g. max_plugs=8 or "
                "np.asarray(max_plugs, dtype=int)"
            )
        _refuse(mp < 0, mp, "max_plugs must be >= 0 at every site", "use 0 to forbid a site")
        cap = mp.astype(np.int64)
        fixed = check_fixed(fixed_open, m)
        e = (
            np.zeros(m)
            if existing_plugs is None
            else _per_site(existing_plugs, m, "existing_plugs")
        )
        _refuse(
            (e < 0) | (e != np.round(e)),
            e,
            "existing_plugs must be whole numbers >= 0 (plugs installed per site)",
            "give the installed plugs per site, 0 where there are none",
        )
        e = e.astype(np.int64)
        gk = np.full(m, np.inf)
        if grid_kw is not None:
            gk = _per_site(grid_kw, m, "grid_kw").astype(float)
            _refuse(
                (gk < 0) | np.isnan(gk),
                gk,
                "grid_kw must be >= 0 (kW of grid connection per site)",
                "use inf (or grid_kw=None) where there is no limit",
            )
        gk = np.maximum(gk, e * kw)  # existing plugs are connected already
        uc = np.full(m, np.nan)
        if upgrade_cost_per_kw is not None:
            uc = _per_site(upgrade_cost_per_kw, m, "upgrade_cost_per_kw").astype(float)
            _refuse(
                (uc < 0) | np.isinf(uc),
                uc,
                "upgrade_cost_per_kw must be finite and >= 0 (price per kW above grid_kw)",
                "use nan where no upgrade is possible",
            )
        limited = np.isfinite(gk) & np.isnan(uc)
        cap = np.where(
            limited,
            np.minimum(cap, np.floor(np.where(limited, gk / kw, 0.0) + 1e-9).astype(np.int64)),
            cap,
        )
        not_fixed = np.ones(m, dtype=bool)
        not_fixed[fixed] = False
        _refuse(
            not_fixed & (e > 0),
            e,
            "existing_plugs are only allowed at fixed-open sites (existing stations)",
            "add those sites to fixed_open or set their existing_plugs to 0",
        )
        cap = np.maximum(cap, e)
        utilisation = check_share(utilisation, "utilisation", example="0.6")
        coverage = check_share(coverage, "coverage", example="0.9")
        threshold = check_threshold(threshold)
        budget = check_budget(budget, np.zeros(m), fixed) if budget is not None else None
        check_free_sites(m, fixed)
        raw = dict(
            cost=cost,
            demand=h,
            threshold=threshold,
            cap=cap,
            site_costs=f,
            plug_costs=g,
            plug_kw=kw,
            grid_kw=gk,
            upgrade_cost_per_kw=uc,
            existing_plugs=e,
            fixed_open=fixed,
            utilisation=utilisation,
            coverage=coverage,
            budget=budget,
        )
        return cls(raw, site_labels=labels_array(site_labels, m))

    def _solve(self, options: SolveOptions, started: float) -> SitingResult:
        r = self.raw
        A = coverage_matrix(r["cost"], r["threshold"]).tocsr()
        h, cap, e, fixed = r["demand"], r["cap"], r["existing_plugs"], r["fixed_open"]
        m = A.shape[1]
        rho = r["utilisation"]
        reach = (np.diff(A.indptr) > 0) & (h > 0)
        total = float(h.sum())
        unreach_w = float(h[(np.diff(A.indptr) == 0) & (h > 0)].sum())
        if total > 0 and unreach_w >= total:
            raise UnreachableDemandError(
                f"capacitated: no demand row lies within threshold={r['threshold']:g} s of any site "
                f"({int((h > 0).sum())} demand rows with {total:.6g} charging hours/h, {m} sites); "
                "raise the threshold (it is in seconds) or add candidates near the demand"
            )
        rows = np.flatnonzero(reach)
        rep, inverse = (
            group_identical_rows(A[rows]) if rows.size else (np.empty(0, int), np.empty(0, int))
        )
        H = np.bincount(inverse, weights=h[rows], minlength=rep.size)
        G = A[rows[rep]].tocsr() if rows.size else sparse.csr_matrix((0, m), dtype=bool)
        site_cap_h = rho * cap.astype(float)
        if r["budget"] is None:
            need = r["coverage"] * total
            # upper bound on what can be served: every site at its plug limit
            can = min(
                total - unreach_w, float(site_cap_h[np.unique(G.indices)].sum()) if G.nnz else 0.0
            )
            if can < need * (1 - 1e-9):
                raise InfeasibleModelError(
                    f"capacitated: infeasible because of the coverage constraint: coverage={r['coverage']:g} means {r['coverage']:.0%} of "
                    f"{total:.6g} charging hours/h must be served, but at most {can:.6g} can be (demand beyond "
                    f"{r['threshold']:g} s of every site: {unreach_w:.6g}; plug limits x utilisation "
                    f"{rho:g} cap the rest); raise max_plugs or grid_kw, lower the coverage or add candidates"
                )
        else:
            need = 0.0
        kind = "scip" if options.solver == "auto" else options.solver
        if kind not in ("scip", "highs"):
            raise ModelInputError(
                f"capacitated: solver {kind!r} is not supported; use 'auto', 'scip' or 'highs'"
            )
        solver = new_mip(kind)
        inf = solver.infinity()
        free_mask = np.ones(m, dtype=bool)
        free_mask[fixed] = False
        y = [solver.IntVar(1.0 if not free_mask[j] else 0.0, 1.0, f"y{j}") for j in range(m)]
        nplug = [solver.IntVar(0.0, float(cap[j] - e[j]), f"n{j}") for j in range(m)]
        gk, uc, kw = r["grid_kw"], r["upgrade_cost_per_kw"], r["plug_kw"]
        up_sites = np.flatnonzero(np.isfinite(gk) & ~np.isnan(uc))
        upg = {}
        for ju in up_sites.tolist():  # k_j (e_j + n_j) - u_j <= K_j
            need_kw = max(0.0, float(kw[ju] * cap[ju] - gk[ju]))
            upg[ju] = solver.NumVar(0.0, need_kw, f"u{ju}")
            cu = solver.Constraint(-inf, float(gk[ju] - kw[ju] * e[ju]))
            cu.SetCoefficient(nplug[ju], float(kw[ju]))
            cu.SetCoefficient(upg[ju], -1.0)
        x = {}
        load: list[list] = [[] for _ in range(m)]
        served_terms = []
        for k in range(G.shape[0]):
            js = G.indices[G.indptr[k] : G.indptr[k + 1]]
            ct = solver.Constraint(0.0, 1.0)
            for j in js:
                v = solver.NumVar(0.0, 1.0, "")
                x[k, j] = v
                ct.SetCoefficient(v, 1.0)
                load[j].append((v, H[k]))
                served_terms.append((v, H[k]))
        for j in range(m):
            c = solver.Constraint(-inf, rho * float(e[j]))
            for v, hk in load[j]:
                c.SetCoefficient(v, float(hk))
            c.SetCoefficient(nplug[j], -rho)
            # plugs only where open
            c2 = solver.Constraint(-inf, 0.0)
            c2.SetCoefficient(nplug[j], 1.0)
            c2.SetCoefficient(y[j], -float(cap[j] - e[j]))
        cost_expr = (
            [(y[j], float(r["site_costs"][j])) for j in range(m) if free_mask[j]]
            + [(nplug[j], float(r["plug_costs"][j])) for j in range(m)]
            + [(upg[j], float(uc[j])) for j in upg]
        )
        obj = solver.Objective()
        if r["budget"] is None:
            cov = solver.Constraint(need, inf)
            for v, hk in served_terms:
                cov.SetCoefficient(v, float(hk))
            for v, cj in cost_expr:
                obj.SetCoefficient(v, cj)
            obj.SetMinimization()
        else:
            bud = solver.Constraint(-inf, float(r["budget"]))
            for v, cj in cost_expr:
                bud.SetCoefficient(v, cj)
            for v, hk in served_terms:
                obj.SetCoefficient(v, float(hk))
            obj.SetMaximization()
        hint = None
        if kind == "scip":  # HiGHS crashes on hints in this OR-Tools build
            gy, gn = self._greedy(G, H, need)
            gu = [max(0.0, float(kw[j] * (e[j] + gn[j]) - gk[j])) for j in upg]
            hint = (
                y + nplug + list(upg.values()),
                [float(v) for v in gy] + [float(v) for v in gn] + gu,
            )
        deadline = self._deadline(options, started)
        out = run_mip(
            solver,
            {"y": y, "n": nplug},
            kind=kind,
            options=options,
            time_left=deadline - time.monotonic(),
            hint=hint,
        )
        if out.status == "INFEASIBLE":
            raise InfeasibleModelError(
                f"capacitated: infeasible because of the coverage and plug-capacity constraints together: "
                f"coverage={r['coverage']:g} asks for {need:.6g} of {total:.6g} charging hours/h within "
                f"threshold={r['threshold']:g} s, and each site takes at most max_plugs x "
                f"utilisation={rho:g} of it; raise max_plugs or grid_kw, or lower the coverage target"
            )
        if out.status not in (OPTIMAL, FEASIBLE):
            raise InfeasibleModelError(
                f"capacitated: no solution found within time_limit_s={options.time_limit_s:g} s "
                f"({kind}: {out.status}); raise time_limit_s"
            )
        yv = out.values["y"] > 0.5
        nv = np.round(out.values["n"]).astype(np.int64)
        plugs = np.where(yv, e + nv, 0)
        vals = np.asarray([v.solution_value() for v in x.values()], dtype=float)
        cols = np.asarray([j for _, j in x], dtype=np.int64)
        # solver noise (1e-16 on a closed site's x) is not an assignment: only open sites
        # and fractions above the solver's tolerance are kept
        keep = (vals > 1e-9) & yv[cols] if vals.size else np.zeros(0, dtype=bool)
        assign = sparse.csr_matrix(
            (vals[keep], (np.asarray([k for k, _ in x], dtype=np.int64)[keep], cols[keep])),
            shape=G.shape,
        )
        # assignment of original rows: each row gets its group's fractions, scaled by its share
        row_assign = sparse.csr_matrix(assign[inverse]) if rows.size else sparse.csr_matrix((0, m))
        full = sparse.lil_matrix((len(h), m))
        if rows.size:
            full[rows] = row_assign
        full = full.tocsr()
        full.eliminate_zeros()
        sel = np.flatnonzero(yv & free_mask)
        # upgraded kW: what the chosen plugs need above the connection (the solver's u_j may
        # carry slack when an upgrade costs nothing)
        up_kw = np.where(np.isfinite(gk) & ~np.isnan(uc), np.maximum(0.0, kw * plugs - gk), 0.0)
        up_cost = float(np.nansum(np.where(up_kw > 0, uc, 0.0) * up_kw))
        capex = float(r["site_costs"][sel].sum() + (r["plug_costs"] * nv * yv).sum()) + up_cost
        served_h = float(full.multiply(h[:, None]).sum())
        objective = capex if r["budget"] is None else served_h
        details = dict(
            capex=capex,
            served_hours=served_h,
            total_hours=total,
            unreachable_hours=unreach_w,
            coverage_fraction=served_h / total if total else 1.0,
            demand_groups=int(G.shape[0]),
            new_sites=int(sel.size),
            added_plugs=int((nv * yv).sum()),
            assignment=full,
            power_kw={int(j): float(plugs[j] * r["plug_kw"][j]) for j in np.flatnonzero(plugs)},
            upgrade_kw={int(j): float(up_kw[j]) for j in np.flatnonzero(up_kw > 1e-9)},
            upgrade_cost=up_cost,
        )
        return make_result(
            self.kind,
            status=out.status,
            sense="min" if r["budget"] is None else "max",
            selected=sel,
            fixed_open=fixed,
            objective=objective,
            bound=out.bound,
            solver=kind,
            started=started,
            options=options,
            plugs=plugs,
            labels=self.site_labels,
            details=details,
        )

    def _greedy(self, G, H, need):
        """Open sites in order of reachable demand per cost, each with the plugs its
        captured demand needs, until ``need`` is served (a warm start, not a bound)."""
        r = self.raw
        m = G.shape[1]
        rho, cap, e = r["utilisation"], r["cap"], r["existing_plugs"]
        left = H.astype(float).copy()
        y = np.zeros(m, dtype=int)
        n = np.zeros(m, dtype=int)
        y[r["fixed_open"]] = 1
        GT = G.T.tocsr()
        got = 0.0
        order_cost = r["site_costs"] + r["plug_costs"]
        for _ in range(m):
            if r["budget"] is None and got >= need:
                break
            reach = np.asarray(GT @ left).ravel()
            gain = np.minimum(reach, rho * cap)
            score = np.where(y == 0, gain / np.maximum(order_cost, 1e-9), -1)
            j = int(np.argmax(score))
            if score[j] <= 0:
                break
            rows = GT.indices[GT.indptr[j] : GT.indptr[j + 1]]
            room = rho * cap[j]
            take = 0.0
            for k in rows:
                t = min(left[k], room - take)
                left[k] -= t
                take += t
            y[j] = 1
            n[j] = min(cap[j] - e[j], max(0, math.ceil(take / rho - 1e-9) - e[j]))
            got += take
        return y, n


def _per_site(value: Any, m: int, name: str) -> np.ndarray:
    """``value`` as one number per site: a scalar is repeated, an array must have ``m``
    entries; anything else is refused naming ``name``."""
    fix = f"pass one number for every site or a list of {m} numbers (one per site column)"
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nesting
        raise ModelInputError(f"{name} is not a flat list of numbers ({exc}); {fix}") from None
    if arr.dtype.kind == "O":  # e.g. a column after a concat with an empty frame
        arr = _object_numbers(arr, value, name, fix)
    if arr.dtype.kind not in "biuf":
        raise ModelInputError(
            f"{name} must be numbers, got {type(value).__name__} {shown(value)} (dtype "
            f"{arr.dtype}); {fix}"
        )
    if arr.shape not in ((), (1,), (m,)):
        raise ModelInputError(f"{name} has shape {arr.shape} but there are {m} sites; {fix}")
    return np.broadcast_to(arr, (m,)).copy()


def _object_numbers(arr: np.ndarray, value: Any, name: str, fix: str) -> np.ndarray:
    """An object array of numbers as numbers: integers stay integers (``max_plugs`` needs
    them), anything else becomes float (``None`` as NaN, which e.g. ``upgrade_cost_per_kw``
    reads as "no upgrade"); entries that are not numbers are refused."""
    items = arr.ravel().tolist()
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in items):
        return arr.astype(np.int64)
    try:
        return arr.astype(float)
    except (TypeError, ValueError):
        bad = [x for x in items if x is not None and not isinstance(x, numbers.Real)]
        raise ModelInputError(
            f"{name} must hold numbers, got {type(value).__name__} {shown(value)} with "
            f"{shown(bad[:SHOWN])} in it; {fix}"
        ) from None


def _refuse(bad: np.ndarray, values: np.ndarray, rule: str, fix: str) -> None:
    """Raise :class:`ModelInputError` naming the sites where ``bad`` holds and their values."""
    sites = np.flatnonzero(bad)
    if sites.size:
        shown_sites = sites[:SHOWN]
        more = f" and {sites.size - SHOWN} more" if sites.size > SHOWN else ""
        raise ModelInputError(
            f"{rule}; bad sites {shown_sites.tolist()}{more} (values "
            f"{values[shown_sites].tolist()}); {fix}"
        )
