"""Staged siting (planner/siting/multiperiod.py) on synthetic instances: the look-ahead plan
against brute force, nestedness and stage budgets as invariants, myopic regret, and the
robust first stage against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting.multiperiod import StagedMCLP
from planner.siting.multiperiod_robust import robust_first_stage


def _instance(seed: int, n: int = 12, m: int = 6, T: int = 3):
    """Synthetic: demand points and sites on a unit square, demand growing by stage."""
    rng = np.random.default_rng(seed)
    pts, sites = rng.random((n, 2)), rng.random((m, 2))
    cost = np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)
    base = rng.integers(1, 10, n).astype(float)
    growth = rng.random(n) * 2
    weights = np.array([base * (1 + growth) ** t for t in range(T)])
    site_costs = rng.integers(1, 4, m).astype(float)
    budgets = np.array([3.0] * T)
    return cost, weights, site_costs, budgets


def _brute_force(model: StagedMCLP) -> float:
    """Best nested plan by enumeration (every stage: any affordable set of new sites)."""
    raw = model.raw
    m, T = raw["cover"].shape[1], model.n_stages
    fixed = set(raw["fixed_open"].tolist())
    free = [j for j in range(m) if j not in fixed]
    best = -np.inf

    def rec(t: int, open_set: frozenset, plan: list):
        nonlocal best
        if t == T:
            best = max(best, model.evaluate(plan).objective)
            return
        rest = [j for j in free if j not in open_set]
        for k in range(len(rest) + 1):
            for combo in itertools.combinations(rest, k):
                if raw["site_costs"][list(combo)].sum() <= raw["budgets"][t] + 1e-9:
                    rec(t + 1, open_set | set(combo), [*plan, np.array(combo, dtype=np.int64)])

    rec(0, frozenset(fixed), [])
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lookahead_is_optimal_against_brute_force(seed):
    cost, w, c, b = _instance(seed)
    model = StagedMCLP.from_cost_matrix(
        cost, w, threshold=0.35, site_costs=c, budgets=b, fixed_open=[0]
    )
    plan = model.solve(time_limit_s=20)
    model.check(plan)
    assert plan.status == "OPTIMAL"
    assert plan.objective == pytest.approx(_brute_force(model))
    myopic = model.solve_myopic(time_limit_s=20)
    model.check(myopic)
    assert myopic.objective <= plan.objective + 1e-9  # the regret of the myopic plan is >= 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), budget=st.floats(0.0, 6.0), T=st.integers(1, 4))
def test_plans_are_nested_and_within_each_stage_budget(seed, budget, T):
    cost, w, c, _ = _instance(seed, T=T)
    b = np.full(T, budget)
    model = StagedMCLP.from_cost_matrix(cost, w, threshold=0.4, site_costs=c, budgets=b)
    for plan in (model.solve(time_limit_s=10), model.solve_myopic(time_limit_s=10)):
        model.check(plan)  # nested, within budget, coverage recomputed
        assert all(spent <= budget + 1e-9 for spent in plan.capex)
        for t in range(1, T):
            assert set(plan.open_after[t - 1]) <= set(plan.open_after[t])


def test_lookahead_builds_for_later_demand_where_myopic_does_not():
    """Stage 1 demand sits at A, stage 2's (much larger) at B; one site in stage 1, no budget
    in stage 2. Myopic serves A now; look-ahead builds for B and wins over the horizon."""
    cost = np.array(
        [
            [0.1, 9.0, 9.0],  # A
            [9.0, 9.0, 0.2],  # B1
            [9.0, 9.0, 0.1],  # B2
        ]
    )
    w = np.array([[1.0, 0.0, 0.0], [1.0, 10.0, 10.0]])
    c = np.array([1.0, 1.0, 1.0])
    model = StagedMCLP.from_cost_matrix(
        cost, w, threshold=0.3, site_costs=c, budgets=np.array([1.0, 0.0])
    )
    look, myo = model.solve(), model.solve_myopic()
    assert list(look.opened[0]) == [2] and look.objective == pytest.approx(20.0)
    assert list(myo.opened[0]) == [0] and myo.objective == pytest.approx(2.0)


def test_robust_first_stage_against_enumeration():
    cost, w, c, b = _instance(5, n=10, m=5, T=2)
    scenarios = {
        name: StagedMCLP.from_cost_matrix(cost, w * f, threshold=0.4, site_costs=c, budgets=b)
        for name, f in (
            ("low", np.array([[1.0], [0.5]])),
            ("base", np.array([[1.0], [1.0]])),
            ("high", np.array([[1.0], [3.0]])),
        )
    }
    choice = robust_first_stage(scenarios, time_limit_s=10)
    # enumeration: every affordable first stage, its best continuation in each scenario
    best = np.inf
    for k in range(6):
        for combo in itertools.combinations(range(5), k):
            if c[list(combo)].sum() > b[0]:
                continue
            worst = 0.0
            for name, model in scenarios.items():
                rest = model.solve(stages=slice(1, 2), fixed_before=np.array(combo, dtype=np.int64))
                v = model.evaluate([np.array(combo, dtype=np.int64), *rest.opened]).objective
                worst = max(worst, choice.optima[name] - v)
            best = min(best, worst)
    assert choice.max_regret == pytest.approx(best)
    labels = " | ".join(r["choice"] for r in choice.table)
    assert all(f"optimal for {s}" in labels for s in scenarios)
