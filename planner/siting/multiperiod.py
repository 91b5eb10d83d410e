r"""Staged siting: where to build first and where next as demand grows.

:class:`StagedMCLP` is a multi-period maximal covering model (a covering variant of the
multi-period location models reviewed by Nickel & Saldanha-da-Gama, "Multi-period facility
location", in *Location Science*, Springer 2015, ch. 11). Stages ``t = 1..T`` (years) each
have their own demand weights ``w_it`` and a capital budget ``B_t``; a site opened in a stage
stays open (nested decisions). The **look-ahead** plan sees every stage at once::

    max  sum_t sum_i w_it y_it  -  eps * sum_t d_t sum_j c_j (x_jt - x_j,t-1)
    s.t. y_it <= sum_{j in N_i} x_jt                (demand i covered in stage t)
         x_j,t-1 <= x_jt                            (opened sites stay open)
         sum_j c_j (x_jt - x_j,t-1) <= B_t          (stage budget; no carry-over)
         x_j0 = 1 for existing sites ;  x, y binary

``N_i`` holds the sites within the coverage threshold of demand ``i``; ``d_t`` discounts
later capex (``d_t = (1 + r)^-(year_t - year_1)``) and ``eps`` is small enough that cost only
decides between plans that cover the same demand: among equally good plans, build later.
A stage may also cap its number of new sites (``max_new``). The **myopic** plan solves the
same model one stage at a time, each stage with the sites opened before fixed
(:meth:`StagedCover.solve_myopic`); its regret is the look-ahead objective minus its own.

:class:`StagedCover` is the model in a general form: a demand row (one per stage) is covered
when *every one of its groups* of sites holds an open site, ``y_r <= sum_{j in G} x_jt`` for
each group ``G`` of row ``r`` in stage ``t``. The MCLP has one group per row (``N_i``); the
flow-refuelling model (:class:`planner.siting.multiperiod_frlm.StagedFRLM`) has one group
per arc set of a round trip (Capar & Kuby 2012), so the same look-ahead, nestedness,
discounting and myopic regret serve corridors. ``y`` is continuous in ``[0, 1]``: with
binary ``x`` every bound is 0 or 1, so it is exact (as in the single-period FRLM).

The robust first stage over scenarios is :func:`planner.siting.multiperiod_robust.robust_first_stage`;
the look-ahead MIP itself is built and solved in :mod:`planner.siting.multiperiod_mip`
(this module keeps the model's data, reductions, plans, evaluation and checks).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from planner._errors import ModelInputError
from planner.siting._base import OPTIMAL
from planner.siting.multiperiod_mip import solve_lookahead_mip

logger = logging.getLogger(__name__)

__all__ = ["StagedCover", "StagedMCLP", "StagedResult"]


@dataclass
class StagedResult:
    """A staged plan: the sites open after each stage and what they cover.

    Attributes
    ----------
    opened : list of numpy.ndarray
        Per stage, the site columns first opened in that stage (existing ones excluded).
    open_after : list of numpy.ndarray
        Per stage, every open column (existing included).
    covered : numpy.ndarray
        Covered demand weight per stage.
    capex : numpy.ndarray
        Capital spent per stage.
    objective : float
        Total covered demand over the stages (the discount term excluded).
    status : str
        ``OPTIMAL`` or ``FEASIBLE`` (time limit; ``gap`` then says how far).
    method : str
        ``lookahead`` or ``myopic``.
    """

    opened: list[np.ndarray]
    open_after: list[np.ndarray]
    covered: np.ndarray
    capex: np.ndarray
    objective: float
    status: str
    method: str
    gap: float = 0.0
    solve_time_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class StagedCover:
    """Multi-period covering on demand rows that each need one or more *groups* of sites
    covered (see the module docstring): the shared model of :class:`StagedMCLP` (one group
    per row) and :class:`planner.siting.multiperiod_frlm.StagedFRLM` (one group per arc set
    of a round trip).

    ``raw`` holds ``groups`` (sparse bool, distinct group x site), ``row_ptr``/``row_groups``
    (CSR: the groups of each row), ``row_stage``, ``row_weight``, ``site_costs``,
    ``budgets``, ``max_new``, ``discount``, ``fixed_open`` and ``n_sites``.
    """

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @staticmethod
    def _raw(
        groups: sparse.csr_matrix,
        row_groups: list[np.ndarray],
        row_stage: np.ndarray,
        row_weight: np.ndarray,
        *,
        n_stages: int,
        site_costs: np.ndarray,
        budgets: np.ndarray,
        max_new: np.ndarray | None,
        years: np.ndarray | None,
        discount_rate: float,
        fixed_open: np.ndarray | None,
        name: str,
    ) -> dict[str, Any]:
        """Validate and assemble ``raw`` (errors name the model and the offending input)."""
        m = groups.shape[1]
        c = np.asarray(site_costs, dtype=float)
        b = np.asarray(budgets, dtype=float)
        k = np.full(n_stages, np.inf) if max_new is None else np.asarray(max_new, dtype=float)
        w = np.asarray(row_weight, dtype=float)
        if c.shape != (m,) or b.shape != (n_stages,) or k.shape != (n_stages,):
            raise ModelInputError(
                f"{name}: {m} sites need as many site costs (got {c.size}) and {n_stages} "
                f"stages as many budgets (got {b.size}) and max_new (got {k.size})"
            )
        if (w < 0).any() or not np.isfinite(w).all() or (c < 0).any() or (b < 0).any():
            raise ModelInputError(f"{name}: weights, costs and budgets must be >= 0 and finite")
        if (k < 0).any():
            raise ModelInputError(f"{name}: max_new must be >= 0, got {k.tolist()}")
        yrs = np.arange(n_stages, dtype=float) if years is None else np.asarray(years, float)
        if yrs.shape != (n_stages,) or np.any(np.diff(yrs) <= 0):
            raise ModelInputError(f"{name}: stage years must increase, got {yrs.tolist()}")
        rs = np.asarray(row_stage, dtype=np.int64)
        if rs.size and (rs.min() < 0 or rs.max() >= n_stages):
            raise ModelInputError(f"{name}: row stages must lie in 0..{n_stages - 1}")
        fixed = np.unique(np.asarray([] if fixed_open is None else fixed_open, dtype=np.int64))
        lengths = np.array([g.size for g in row_groups], dtype=np.int64)
        return {
            "groups": sparse.csr_matrix(groups, dtype=bool),
            "row_ptr": np.r_[0, np.cumsum(lengths)].astype(np.int64),
            "row_groups": np.concatenate(row_groups).astype(np.int64)
            if row_groups
            else np.empty(0, np.int64),
            "row_stage": rs,
            "row_weight": w,
            "site_costs": c,
            "budgets": b,
            "max_new": k,
            "discount": (1.0 + discount_rate) ** -(yrs - yrs[0]),
            "fixed_open": fixed,
            "n_sites": int(m),
            "n_stages": int(n_stages),
        }

    @property
    def n_stages(self) -> int:
        return int(self.raw["n_stages"])

    def useful_sites(self) -> np.ndarray:
        """Sites (not fixed open) in at least one group: the only ones worth opening."""
        g = self.raw["groups"]
        used = np.zeros(self.raw["n_sites"], dtype=bool)
        used[np.unique(g.indices)] = True
        used[self.raw["fixed_open"]] = False
        return np.flatnonzero(used)

    def covered_rows(self, open_mask: np.ndarray) -> np.ndarray:
        """Per row, whether every one of its groups holds an open site."""
        raw = self.raw
        hit = np.asarray(raw["groups"] @ open_mask.astype(np.int64)).ravel() > 0
        entry_row = np.repeat(np.arange(raw["row_stage"].size), np.diff(raw["row_ptr"]))
        missing = np.bincount(
            entry_row, weights=~hit[raw["row_groups"]], minlength=raw["row_stage"].size
        )
        return missing == 0

    # ----------------------------------------------------------------- solving
    def solve(
        self,
        *,
        time_limit_s: float = 60.0,
        threads: int = 1,
        seed: int = 0,
        stages: slice | None = None,
        fixed_before: np.ndarray | None = None,
        warm_start: bool = True,
    ) -> StagedResult:
        """The look-ahead plan over all stages (or the ``stages`` slice, with
        ``fixed_before`` columns open before its first stage).

        Sites another site dominates (:meth:`dominated`) are left out, which keeps the
        optimum; with ``warm_start`` the myopic plan of the same stages (a quarter of the
        time limit) is SCIP's first incumbent."""
        raw = self.raw
        sl = stages or slice(0, self.n_stages)
        first, T = sl.start or 0, len(range(*sl.indices(self.n_stages)))
        b, kmax, d = raw["budgets"][sl], raw["max_new"][sl], raw["discount"][sl]
        c, G, m = raw["site_costs"], raw["groups"], raw["n_sites"]
        pre = np.zeros(m, dtype=bool)
        pre[raw["fixed_open"]] = True
        if fixed_before is not None:
            pre[np.asarray(fixed_before, dtype=np.int64)] = True
        done = np.asarray(G @ pre.astype(np.int64)).ravel() > 0  # groups already satisfied
        empty = np.diff(G.indptr) == 0  # groups no site covers
        # rows still open to the model, merged when they need the same groups in one stage
        need: dict[tuple[int, tuple[int, ...]], float] = {}
        ptr, rg, rs, rw = raw["row_ptr"], raw["row_groups"], raw["row_stage"], raw["row_weight"]
        for r in np.flatnonzero((rs >= first) & (rs < first + T) & (rw > 0)):
            gs = rg[ptr[r] : ptr[r + 1]]
            if empty[gs].any():
                continue  # no plan can cover it
            left = tuple(sorted(set(gs[~done[gs]].tolist())))
            if left:
                key = (int(rs[r]) - first, left)
                need[key] = need.get(key, 0.0) + float(rw[r])
        used_groups = sorted({g for _, gs in need for g in gs})
        useful = np.setdiff1d(
            np.unique(G[used_groups].indices) if used_groups else np.empty(0, np.int64),
            np.flatnonzero(pre | self.dominated()),
        )
        t0 = time.monotonic()
        hint = None
        if warm_start and T > 1:  # the myopic plan of the same stages: a feasible incumbent
            hint = self.solve_myopic(
                time_limit_s=time_limit_s / 4,
                threads=threads,
                seed=seed,
                stages=sl,
                fixed_before=fixed_before,
            )
        xv, out = solve_lookahead_mip(  # the MIP itself: planner/siting/multiperiod_mip.py
            G,
            need,
            useful,
            site_costs=c,
            budgets=b,
            max_new=kmax,
            discount=d,
            n_sites=m,
            hint=None if hint is None else hint.opened,
            time_limit_s=time_limit_s,
            started=t0,
            threads=threads,
            seed=seed,
            name=type(self).__name__,
        )
        result = self._plan(xv, useful, pre, sl, method="lookahead", status=out.status)
        result.solve_time_s = time.monotonic() - t0
        if out.status != OPTIMAL and np.isfinite(out.bound):
            result.gap = max(0.0, (out.bound - out.objective) / max(abs(out.bound), 1e-9))
        logger.info(
            "%s stages %d-%d: %d rows, %d groups, %d sites; %s in %.1f s (gap %.2g)",
            type(self).__name__,
            first + 1,
            first + T,
            len(need),
            len(used_groups),
            len(useful),
            out.status,
            result.solve_time_s,
            result.gap,
        )
        return result

    def solve_myopic(
        self,
        *,
        time_limit_s: float = 60.0,
        threads: int = 1,
        seed: int = 0,
        stages: slice | None = None,
        fixed_before: np.ndarray | None = None,
    ) -> StagedResult:
        """Stage by stage (all stages, or the ``stages`` slice with ``fixed_before`` open
        before it): each stage optimal for its own demand and limits, with every site
        opened before kept open."""
        sl = stages or slice(0, self.n_stages)
        idx = range(*sl.indices(self.n_stages))
        opened_all: list[np.ndarray] = []
        status = OPTIMAL
        t0 = time.monotonic()
        start = np.asarray([] if fixed_before is None else fixed_before, dtype=np.int64)
        for t in idx:
            r = self.solve(
                time_limit_s=time_limit_s / len(idx),
                threads=threads,
                seed=seed,
                stages=slice(t, t + 1),
                fixed_before=np.concatenate([start, *opened_all]),
            )
            opened_all.append(r.opened[0])
            status = status if r.status == OPTIMAL else r.status
        first = sl.start or 0
        extra = None if first == 0 or start.size == 0 else start
        plan = self.evaluate(opened_all, method="myopic", first=first, before=extra)
        plan.status = status
        plan.solve_time_s = time.monotonic() - t0
        return plan

    def dominated(self) -> np.ndarray:
        """Sites another site makes redundant: every group holding site ``j`` also holds
        a site ``k`` that costs no more (ties: the larger set, then the lower index). A plan
        using ``j`` does at least as well with ``k`` instead, in every stage and under every
        limit (one site for one, capex not higher), so the optimum is kept. Computed once
        (mask over the columns; fixed-open and unused sites are never marked)."""
        if "dominated" in self.raw:
            return np.asarray(self.raw["dominated"])
        mask = np.zeros(self.raw["n_sites"], dtype=bool)
        useful = self.useful_sites()
        if 1 < useful.size <= 6000:  # a dense site x site overlap: bounded memory
            M = self.raw["groups"][:, useful].T.tocsr().astype(np.int32)
            size = np.diff(M.indptr)
            overlap = (M @ M.T).toarray()
            c = self.raw["site_costs"][useful]
            idx = np.arange(useful.size)
            inside = overlap == size[:, None]  # j's groups all hold k
            np.fill_diagonal(inside, False)
            better = (c[None, :] < c[:, None]) | (
                (c[None, :] == c[:, None])
                & (
                    (size[None, :] > size[:, None])
                    | ((size[None, :] == size[:, None]) & (idx[None, :] < idx[:, None]))
                )
            )
            mask[useful[(inside & better).any(axis=1)]] = True
        self.raw["dominated"] = mask
        return mask

    # ----------------------------------------------------------------- evaluation
    def _plan(
        self,
        xv: np.ndarray,
        useful: np.ndarray,
        pre: np.ndarray,
        sl: slice,
        *,
        method: str,
        status: str,
    ) -> StagedResult:
        opened = []
        prev = np.zeros(len(useful), dtype=bool)
        for t in range(xv.shape[1]):
            opened.append(useful[xv[:, t] & ~prev])
            prev = xv[:, t]
        extra = np.flatnonzero(pre & ~np.isin(np.arange(pre.size), self.raw["fixed_open"]))
        if sl.start == 0 or extra.size == 0:
            return self.evaluate(opened, method=method, status=status, first=sl.start or 0)
        return self.evaluate(opened, method=method, status=status, first=sl.start, before=extra)

    def evaluate(
        self,
        opened: list[np.ndarray],
        *,
        method: str = "given",
        status: str = OPTIMAL,
        first: int = 0,
        before: np.ndarray | None = None,
    ) -> StagedResult:
        """Coverage and capex of a plan given as the sites opened in each stage (from stage
        ``first`` on, with ``before`` open too), recomputed from the raw data."""
        raw = self.raw
        c, w, rs = raw["site_costs"], raw["row_weight"], raw["row_stage"]
        open_now = np.zeros(raw["n_sites"], dtype=bool)
        open_now[raw["fixed_open"]] = True
        if before is not None:
            open_now[np.asarray(before, dtype=np.int64)] = True
        covered, capex, after = [], [], []
        for k, new in enumerate(opened):
            new = np.asarray(new, dtype=np.int64)
            capex.append(float(c[new[~open_now[new]]].sum()))
            open_now[new] = True
            after.append(np.flatnonzero(open_now))
            hit = self.covered_rows(open_now) & (rs == first + k)
            covered.append(float(w[hit].sum()))
        cov = np.asarray(covered)
        return StagedResult(
            opened=[np.asarray(o, dtype=np.int64) for o in opened],
            open_after=after,
            covered=cov,
            capex=np.asarray(capex),
            objective=float(cov.sum()),
            status=status,
            method=method,
        )

    def recheck_covered(self, stage: int, open_mask: np.ndarray) -> float:
        """Covered weight of ``stage`` with the ``open_mask`` sites open, for :meth:`check`.

        Here the groups again; :class:`StagedFRLM` overrides it with a tank rule that does
        not use the groups at all."""
        hit = self.covered_rows(open_mask) & (self.raw["row_stage"] == stage)
        return float(self.raw["row_weight"][hit].sum())

    def check(self, plan: StagedResult) -> None:
        """Raise :class:`ModelInputError` unless ``plan`` is nested, within every stage's
        budget and site count and reports the coverage :meth:`recheck_covered` gives."""
        again = self.evaluate(plan.opened)
        b, kmax = self.raw["budgets"], self.raw["max_new"]
        fixed = set(self.raw["fixed_open"].tolist())
        for t, spent in enumerate(again.capex):
            if spent > b[t] + 1e-6 * max(1.0, b[t] if np.isfinite(b[t]) else 1.0):
                raise ModelInputError(f"stage {t + 1}: capex {spent:g} exceeds budget {b[t]:g}")
            new = set(again.open_after[t].tolist()) - fixed
            new -= set(again.open_after[t - 1].tolist()) if t else set()
            if len(new) > kmax[t]:
                raise ModelInputError(f"stage {t + 1}: {len(new)} new sites, at most {kmax[t]:g}")
        for t in range(1, len(again.open_after)):
            if not np.isin(again.open_after[t - 1], again.open_after[t]).all():
                raise ModelInputError(f"stage {t + 1} closes a site opened before")
        for t, cols in enumerate(again.open_after):
            mask = np.zeros(self.raw["n_sites"], dtype=bool)
            mask[cols] = True
            independent = self.recheck_covered(t, mask)
            if not np.isclose(independent, plan.covered[t], rtol=1e-9, atol=1e-9):
                raise ModelInputError(
                    f"stage {t + 1}: reported coverage {plan.covered[t]:g} != recomputed "
                    f"{independent:g}"
                )


class StagedMCLP(StagedCover):
    """Multi-period maximal covering (see the module docstring for the formulation).

    Build with :meth:`from_cost_matrix`; solve with :meth:`solve` (look-ahead) or
    :meth:`solve_myopic`; check a plan with :meth:`check`.
    """

    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray,
        weights: np.ndarray,
        *,
        threshold: float,
        site_costs: np.ndarray,
        budgets: np.ndarray,
        max_new: np.ndarray | None = None,
        years: np.ndarray | None = None,
        discount_rate: float = 0.05,
        fixed_open: np.ndarray | None = None,
    ) -> StagedMCLP:
        """Build from a demand x site cost matrix and per-stage demand weights.

        Parameters
        ----------
        cost : (n, m) array
            Travel time (or distance) from each demand row to each site; ``inf`` = unreachable.
        weights : (T, n) array
            Demand weight of each row in each stage.
        threshold : float
            A row is covered by an open site with ``cost <= threshold``.
        site_costs : (m,) array
            Capital cost of opening each site (existing sites: ignored).
        budgets : (T,) array
            Capital budget of each stage (``inf`` for none).
        max_new : (T,) array, optional
            Most new sites per stage (``inf`` or omitted for no limit).
        years : (T,) array, optional
            Year of each stage, for discounting (default 0, 1, 2, ...).
        discount_rate : float
            Annual rate discounting later capex in the tie-breaking term.
        fixed_open : array of int, optional
            Columns open before the first stage (existing stations).
        """
        cost = np.asarray(cost, dtype=float)
        w = np.atleast_2d(np.asarray(weights, dtype=float))
        if cost.ndim != 2 or w.shape[1] != cost.shape[0]:
            raise ModelInputError(
                f"StagedMCLP: weights have {w.shape[1]} rows per stage, cost has {cost.shape[0]}"
            )
        cover = np.isfinite(cost) & (cost <= threshold)
        T, n = w.shape
        # one group per demand row (its sites within the threshold), one row per (stage, row)
        raw = cls._raw(
            sparse.csr_matrix(cover),
            [np.array([i]) for _ in range(T) for i in range(n)],
            np.repeat(np.arange(T), n),
            w.ravel(),
            n_stages=T,
            site_costs=site_costs,
            budgets=budgets,
            max_new=max_new,
            years=years,
            discount_rate=discount_rate,
            fixed_open=fixed_open,
            name="StagedMCLP",
        )
        raw["cover"], raw["weights"] = cover, w
        return cls(raw)
