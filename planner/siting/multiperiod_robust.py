"""Robust first stage of a staged plan: min-max regret over scenarios.

The first-stage sites are shared by every scenario, later stages adapt to each one, and the
first stage minimises the maximum regret over the scenarios (Kouvelis & Yu, *Robust Discrete
Optimization and Its Applications*, Kluwer 1997, ch. 1: min-max regret; regret of a first
stage in a scenario = that scenario's look-ahead optimum minus the best the scenario can do
after that first stage). Scenarios are staged models (:class:`StagedCover`) on the same
site columns, costs and stage budgets; they may differ in demand (low / base / high
adoption) and, for corridors, in which flows can be refuelled (the range falls with the
temperature: winter severity). The table reports how every candidate first stage does in
every scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from planner._errors import ModelInputError
from planner.siting._base import OPTIMAL
from planner.siting.multiperiod import StagedCover, StagedResult

__all__ = ["RobustChoice", "robust_first_stage"]


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
        One row per candidate first stage (each scenario's own optimum and, on small
        instances, every affordable first stage): ``choice``, ``sites``, per scenario its
        best objective given that first stage (``<s>_objective``) and the regret against
        the scenario's optimum (``<s>_regret``), and ``max_regret``.
    optima : dict
        Each scenario's best known objective: its look-ahead optimum (when a solve stopped
        at the time limit, the better of its plan and the candidates' values there).
    exact : bool
        Whether every affordable first stage was a candidate (exact min-max regret) or
        only the scenarios' own optima (the usual heuristic restriction).
    optimal : bool
        Whether every solve behind the table was proven optimal (else the regrets are
        those of the best plans found within the time limit).
    plans : dict
        Per scenario, the plan its objective in the table is the value of: the site
        columns each stage opens, the chosen first stage then the best later stages the
        scenario found after it (the plan to build if that scenario comes true).
    """

    first_stage: np.ndarray
    max_regret: float
    table: list[dict[str, Any]]
    optima: dict[str, float]
    exact: bool = True
    optimal: bool = True
    plans: dict[str, list[np.ndarray]] = field(default_factory=dict)


def _affordable(
    useful: list[int], cost: np.ndarray, budget: float, max_new: float, limit: int
) -> list[tuple[int, ...]] | None:
    """Every first stage within the budget and site count, or ``None`` past ``limit``."""
    out: list[tuple[int, ...]] = []
    for k in range(len(useful) + 1):
        if k > max_new:
            break
        for combo in combinations(useful, k):
            if float(cost[list(combo)].sum()) <= budget + 1e-9:
                out.append(combo)
                if len(out) > limit:
                    return None
    return out


def robust_first_stage(
    scenarios: Mapping[str, StagedCover],
    *,
    time_limit_s: float = 60.0,
    seed: int = 0,
    max_enumerated: int = 256,
    known: Mapping[str, StagedResult] | None = None,
) -> RobustChoice:
    """Min-max regret first stage over scenarios (same sites, costs and budgets).

    Every affordable first stage is a candidate when there are at most ``max_enumerated``
    of them (exact min-max regret); on larger instances the candidates are the first stages
    of each scenario's own look-ahead plan. A first stage's value in a scenario is the best
    its later stages can do after it (a look-ahead solve of stages 2..T; a scenario's own
    optimal first stage is worth its optimum there, no solve needed). ``known`` holds
    look-ahead plans already solved (e.g. the study's own scenario), reused as they are.
    Solves that stop at the time limit make the regrets approximate: ``optimal`` says
    whether every solve was proven optimal.
    """
    names = list(scenarios)
    if not names:
        raise ModelInputError("robust_first_stage: no scenario given")
    base = scenarios[names[0]]
    for s in names[1:]:
        other = scenarios[s].raw
        if other["n_sites"] != base.raw["n_sites"] or not np.array_equal(
            other["budgets"], base.raw["budgets"]
        ):
            raise ModelInputError(
                f"robust_first_stage: scenario {s!r} has other sites or budgets than {names[0]!r}"
            )
    known = dict(known or {})
    plans = {
        s: known[s] if s in known else scenarios[s].solve(time_limit_s=time_limit_s, seed=seed)
        for s in names
    }
    optima = {s: p.objective for s, p in plans.items()}
    candidates: dict[str, np.ndarray] = {f"optimal for {s}": plans[s].opened[0] for s in names}
    useful = sorted(set().union(*(scenarios[s].useful_sites().tolist() for s in names)))
    every = _affordable(
        useful,
        base.raw["site_costs"],
        float(base.raw["budgets"][0]),
        float(base.raw["max_new"][0]),
        max_enumerated,
    )
    for combo in every or []:
        candidates.setdefault(f"sites {list(combo)}", np.asarray(combo, dtype=np.int64))

    statuses = [p.status for p in plans.values()]

    def value(s: str, first: np.ndarray) -> tuple[float, list[np.ndarray]]:
        # the scenario's best objective after ``first``, and the plan that reaches it
        model = scenarios[s]
        if model.n_stages == 1:
            return model.evaluate([first]).objective, [first]
        if set(first.tolist()) == set(plans[s].opened[0].tolist()):
            return plans[s].objective, list(plans[s].opened)  # the scenario's own optimum
        rest = model.solve(
            time_limit_s=time_limit_s,
            seed=seed,
            stages=slice(1, model.n_stages),
            fixed_before=first,
        )
        statuses.append(rest.status)
        opened = [first, *rest.opened]
        return model.evaluate(opened).objective, opened

    labels: dict[tuple[int, ...], list[str]] = {}
    for label, first in candidates.items():  # one row per distinct first stage, all its names
        labels.setdefault(tuple(sorted(int(j) for j in first.tolist())), []).append(label)
    table = []
    later: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
    for key, names_of in labels.items():
        row: dict[str, Any] = {"choice": ", ".join(names_of), "sites": list(key)}
        for s in names:
            row[f"{s}_objective"], later[key, s] = value(s, np.asarray(key, dtype=np.int64))
        table.append(row)
    # regret against the best plan known in each scenario: its optimum when the solve was
    # proven, else the better of the solve's plan and any candidate's (never negative)
    for s in names:
        optima[s] = max([optima[s], *(row[f"{s}_objective"] for row in table)])
    best, best_regret = None, np.inf
    for row in table:
        for s in names:
            row[f"{s}_regret"] = optima[s] - row[f"{s}_objective"]
        row["max_regret"] = max(row[f"{s}_regret"] for s in names)
        if row["max_regret"] < best_regret - 1e-9:
            best, best_regret = tuple(row["sites"]), row["max_regret"]
    assert best is not None
    return RobustChoice(
        np.asarray(best, dtype=np.int64),
        float(best_regret),
        table,
        optima,
        exact=every is not None,
        optimal=all(st == OPTIMAL for st in statuses),
        plans={s: later[best, s] for s in names},
    )
