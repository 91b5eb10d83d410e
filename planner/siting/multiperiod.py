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
The **myopic** plan solves the same model one stage at a time, each stage with the sites
opened before fixed (:meth:`StagedMCLP.solve_myopic`); its regret is the look-ahead
objective minus its own.

:func:`robust_first_stage` chooses the first stage under demand scenarios (low / base /
high adoption): the first-stage sites are shared, later stages adapt to each scenario, and
the choice minimises the maximum regret over scenarios (Kouvelis & Yu, *Robust Discrete
Optimization and Its Applications*, Kluwer 1997, ch. 1: min-max regret). It also reports how
each scenario's own optimal first stage does in every scenario.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner._errors import ModelInputError
from planner.siting._backends import new_mip, run_mip
from planner.siting._base import OPTIMAL, SolveOptions

__all__ = ["RobustChoice", "StagedMCLP", "StagedResult", "robust_first_stage"]


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


class StagedMCLP:
    """Multi-period maximal covering (see the module docstring for the formulation).

    Build with :meth:`from_cost_matrix`; solve with :meth:`solve` (look-ahead) or
    :meth:`solve_myopic`; check a plan with :meth:`check`.
    """

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @classmethod
    def from_cost_matrix(
        cls,
        cost: np.ndarray,
        weights: np.ndarray,
        *,
        threshold: float,
        site_costs: np.ndarray,
        budgets: np.ndarray,
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
        years : (T,) array, optional
            Year of each stage, for discounting (default 0, 1, 2, ...).
        discount_rate : float
            Annual rate discounting later capex in the tie-breaking term.
        fixed_open : array of int, optional
            Columns open before the first stage (existing stations).
        """
        cost = np.asarray(cost, dtype=float)
        w = np.atleast_2d(np.asarray(weights, dtype=float))
        c = np.asarray(site_costs, dtype=float)
        b = np.asarray(budgets, dtype=float)
        if cost.ndim != 2 or w.shape[1] != cost.shape[0]:
            raise ModelInputError(
                f"StagedMCLP: weights have {w.shape[1]} rows per stage, cost has {cost.shape[0]}"
            )
        if c.shape != (cost.shape[1],) or b.shape != (w.shape[0],):
            raise ModelInputError(
                f"StagedMCLP: {cost.shape[1]} sites need as many site costs (got {c.size}) and "
                f"{w.shape[0]} stages as many budgets (got {b.size})"
            )
        if (w < 0).any() or not np.isfinite(w).all() or (c < 0).any() or (b < 0).any():
            raise ModelInputError("StagedMCLP: weights, costs and budgets must be >= 0 and finite")
        yrs = np.arange(w.shape[0], dtype=float) if years is None else np.asarray(years, float)
        if yrs.shape != (w.shape[0],) or np.any(np.diff(yrs) <= 0):
            raise ModelInputError(f"StagedMCLP: stage years must increase, got {yrs.tolist()}")
        fixed = np.unique(np.asarray([] if fixed_open is None else fixed_open, dtype=np.int64))
        cover = np.isfinite(cost) & (cost <= threshold)
        return cls(
            {
                "cover": cover,
                "weights": w,
                "site_costs": c,
                "budgets": b,
                "discount": (1.0 + discount_rate) ** -(yrs - yrs[0]),
                "fixed_open": fixed,
            }
        )

    @property
    def n_stages(self) -> int:
        return int(self.raw["weights"].shape[0])

    # ----------------------------------------------------------------- solving
    def solve(
        self,
        *,
        time_limit_s: float = 60.0,
        threads: int = 1,
        seed: int = 0,
        stages: slice | None = None,
        fixed_before: np.ndarray | None = None,
    ) -> StagedResult:
        """The look-ahead plan over all stages (or the ``stages`` slice, with
        ``fixed_before`` columns open before its first stage)."""
        raw = self.raw
        sl = stages or slice(0, self.n_stages)
        w = raw["weights"][sl]
        b = raw["budgets"][sl]
        d = raw["discount"][sl]
        cover, c = raw["cover"], raw["site_costs"]
        n, m = cover.shape
        T = w.shape[0]
        pre = np.zeros(m, dtype=bool)
        pre[raw["fixed_open"]] = True
        if fixed_before is not None:
            pre[np.asarray(fixed_before, dtype=np.int64)] = True
        useful = np.flatnonzero(cover.any(axis=0) & ~pre)  # sites that can cover something
        covered_pre = cover[:, pre].any(axis=1)
        rows = np.flatnonzero(~covered_pre & cover[:, useful].any(axis=1))
        t0 = time.monotonic()
        solver = new_mip("scip")
        x = [[solver.BoolVar(f"x{j}_{t}") for t in range(T)] for j in useful]
        y = [[solver.BoolVar(f"y{i}_{t}") for t in range(T)] for i in rows]
        col_of = {int(j): k for k, j in enumerate(useful)}
        for r, i in enumerate(rows):
            sites = [col_of[int(j)] for j in np.flatnonzero(cover[i]) if int(j) in col_of]
            for t in range(T):
                solver.Add(y[r][t] <= solver.Sum([x[k][t] for k in sites]))
        for k in range(len(useful)):
            for t in range(1, T):
                solver.Add(x[k][t - 1] <= x[k][t])
        for t in range(T):
            spend = solver.Sum(
                [float(c[j]) * (x[k][t] - (x[k][t - 1] if t else 0)) for k, j in enumerate(useful)]
            )
            if np.isfinite(b[t]):
                solver.Add(spend <= float(b[t]))
        # the capex term may only break ties: its largest possible value stays below the
        # smallest positive weight, so one more covered demand row always wins
        w_min = float(w[w > 0].min()) if (w > 0).any() else 1.0
        eps = 0.5 * w_min / (T * float(c[useful].sum()) + 1.0)
        obj = solver.Sum([float(w[t, i]) * y[r][t] for r, i in enumerate(rows) for t in range(T)])
        cost_term = solver.Sum(
            [
                float(d[t] * c[j]) * (x[k][t] - (x[k][t - 1] if t else 0))
                for k, j in enumerate(useful)
                for t in range(T)
            ]
        )
        solver.Maximize(obj - eps * cost_term)
        out = run_mip(
            solver,
            {"x": [v for row in x for v in row]},
            kind="scip",
            options=SolveOptions(
                time_limit_s=time_limit_s, threads=threads, seed=seed, solver="scip"
            ),
            time_left=time_limit_s,
        )
        if out.status not in (OPTIMAL, "FEASIBLE"):
            raise ModelInputError(
                f"StagedMCLP: no plan found ({out.status}); check the stage budgets"
            )
        xv = out.values["x"].reshape(len(useful), T) > 0.5
        result = self._plan(xv, useful, pre, sl, method="lookahead", status=out.status)
        result.solve_time_s = time.monotonic() - t0
        if out.status != OPTIMAL and np.isfinite(out.bound):
            result.gap = max(0.0, (out.bound - out.objective) / max(abs(out.bound), 1e-9))
        return result

    def solve_myopic(
        self, *, time_limit_s: float = 60.0, threads: int = 1, seed: int = 0
    ) -> StagedResult:
        """Stage by stage: each stage optimal for its own demand and budget, with every site
        opened before kept open."""
        opened_all: list[np.ndarray] = []
        status = OPTIMAL
        t0 = time.monotonic()
        for t in range(self.n_stages):
            before = np.concatenate(opened_all) if opened_all else np.empty(0, dtype=np.int64)
            r = self.solve(
                time_limit_s=time_limit_s / self.n_stages,
                threads=threads,
                seed=seed,
                stages=slice(t, t + 1),
                fixed_before=before,
            )
            opened_all.append(r.opened[0])
            status = status if r.status == OPTIMAL else r.status
        plan = self.evaluate(opened_all, method="myopic")
        plan.status = status
        plan.solve_time_s = time.monotonic() - t0
        return plan

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
        cover, w, c = raw["cover"], raw["weights"], raw["site_costs"]
        open_now = np.zeros(cover.shape[1], dtype=bool)
        open_now[raw["fixed_open"]] = True
        if before is not None:
            open_now[np.asarray(before, dtype=np.int64)] = True
        covered, capex, after = [], [], []
        for k, new in enumerate(opened):
            new = np.asarray(new, dtype=np.int64)
            capex.append(float(c[new[~open_now[new]]].sum()))
            open_now[new] = True
            after.append(np.flatnonzero(open_now))
            hit = cover[:, open_now].any(axis=1)
            covered.append(float(w[first + k][hit].sum()))
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

    def check(self, plan: StagedResult) -> None:
        """Raise :class:`ModelInputError` unless ``plan`` is nested, within every stage's
        budget and reports the coverage the raw data give (independent recomputation)."""
        again = self.evaluate(plan.opened)
        b = self.raw["budgets"]
        for t, spent in enumerate(again.capex):
            if spent > b[t] + 1e-6 * max(1.0, b[t] if np.isfinite(b[t]) else 1.0):
                raise ModelInputError(f"stage {t + 1}: capex {spent:g} exceeds budget {b[t]:g}")
        for t in range(1, len(again.open_after)):
            if not np.isin(again.open_after[t - 1], again.open_after[t]).all():
                raise ModelInputError(f"stage {t + 1} closes a site opened before")
        if not np.allclose(again.covered, plan.covered, rtol=1e-9, atol=1e-9):
            raise ModelInputError(
                f"reported coverage {plan.covered.tolist()} != recomputed {again.covered.tolist()}"
            )


@dataclass
class RobustChoice:
    """The min-max-regret first stage and how first stages fare in each scenario.

    Attributes
    ----------
    first_stage : numpy.ndarray
        Site columns to open in the first stage.
    max_regret : float
        Largest regret of that choice over the scenarios.
    table : list of dict
        One row per candidate first stage (the robust one and each scenario's own optimum):
        ``choice``, ``sites``, and per scenario its best objective given that first stage
        and the regret against the scenario's optimum.
    optima : dict
        Each scenario's look-ahead optimum.
    """

    first_stage: np.ndarray
    max_regret: float
    table: list[dict[str, Any]]
    optima: dict[str, float]


def robust_first_stage(
    scenarios: dict[str, StagedMCLP], *, time_limit_s: float = 60.0, seed: int = 0
) -> RobustChoice:
    """Min-max regret first stage over demand scenarios (same sites, costs and budgets).

    Every first stage within the first budget is evaluated when there are at most 16 useful
    candidate sites (exact min-max regret); on larger instances the candidates are the
    first stages of each scenario's own look-ahead plan (the usual heuristic restriction).
    A first stage's value in a scenario is the best the later stages can do after it.
    """
    names = list(scenarios)
    base = scenarios[names[0]]
    optima = {s: scenarios[s].solve(time_limit_s=time_limit_s, seed=seed).objective for s in names}
    cover = base.raw["cover"]
    fixed = set(base.raw["fixed_open"].tolist())
    useful = [j for j in np.flatnonzero(cover.any(axis=0)) if j not in fixed]
    c, b0 = base.raw["site_costs"], base.raw["budgets"][0]
    candidates: dict[str, np.ndarray] = {}
    for s in names:
        plan = scenarios[s].solve(time_limit_s=time_limit_s, seed=seed)
        candidates[f"optimal for {s}"] = plan.opened[0]
    if len(useful) <= 16:
        from itertools import combinations

        for k in range(0, len(useful) + 1):
            for combo in combinations(useful, k):
                if float(c[list(combo)].sum()) <= b0 + 1e-9:
                    candidates.setdefault(f"sites {list(combo)}", np.asarray(combo, dtype=np.int64))

    def value(model: StagedMCLP, first: np.ndarray) -> float:
        if model.n_stages == 1:
            return model.evaluate([first]).objective
        rest = model.solve(
            time_limit_s=time_limit_s,
            seed=seed,
            stages=slice(1, model.n_stages),
            fixed_before=first,
        )
        return model.evaluate([first, *rest.opened]).objective

    labels: dict[tuple[int, ...], list[str]] = {}
    for label, first in candidates.items():  # one row per distinct first stage, all its names
        labels.setdefault(tuple(sorted(int(j) for j in first.tolist())), []).append(label)
    table, best, best_regret = [], None, np.inf
    for key, names_of in labels.items():
        row: dict[str, Any] = {"choice": ", ".join(names_of), "sites": list(key)}
        worst = 0.0
        for s in names:
            v = value(scenarios[s], np.asarray(key, dtype=np.int64))
            row[f"{s}_objective"] = v
            row[f"{s}_regret"] = optima[s] - v
            worst = max(worst, optima[s] - v)
        row["max_regret"] = worst
        table.append(row)
        if worst < best_regret - 1e-9:
            best, best_regret = key, worst
    assert best is not None
    return RobustChoice(np.asarray(best, dtype=np.int64), float(best_regret), table, optima)
