"""Staged flow refuelling (planner/siting/multiperiod_frlm.py) on tiny corridors: the
look-ahead plan against brute force scored by the checker's tank rule, nestedness and
per-stage limits as invariants, the myopic regret, and the robust first stage under a
winter (shorter-range) scenario against enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting.multiperiod_frlm import StagedFRLM
from planner.siting.multiperiod_robust import robust_first_stage


def _corridor(seed: int, *, n: int = 7, T: int = 3, q: int = 8):
    """Nodes along one road (a site at every node), OD flows between random node pairs in
    every stage, flow growing by stage; the route of a pair is the stretch between them."""
    rng = np.random.default_rng(seed)
    km = np.r_[0.0, np.cumsum(rng.integers(40, 110, n - 1))].astype(float)
    pairs = [tuple(sorted(rng.choice(n, 2, replace=False))) for _ in range(q)]
    route_km, site_km, site_idx, flows, stage = [], [], [], [], []
    for t in range(T):
        for a, b in pairs:
            nodes = np.arange(a, b + 1)
            route_km.append(km[nodes] - km[a])
            site_km.append(km[nodes] - km[a])
            site_idx.append(nodes)
            flows.append(float(rng.integers(1, 10)) * (1 + t))
            stage.append(t)
    return route_km, site_km, site_idx, np.array(flows), np.array(stage), n


def _model(seed, *, range_km=150.0, max_new=(1, 1, 1), T=3, fixed=(), **kw):
    rk, sk, si, f, s, n = _corridor(seed, T=T)
    return StagedFRLM.from_paths(
        rk,
        sk,
        si,
        f,
        s,
        n_sites=n,
        n_stages=T,
        range_km=range_km,
        site_costs=np.full(n, 100.0),
        max_new=np.asarray(max_new, dtype=float),
        fixed_open=np.asarray(fixed, dtype=np.int64),
        **kw,
    )


def _tank_value(model: StagedFRLM, opened: list) -> float:
    """Refuelled flow over the stages by the tank rule alone (no cover set)."""
    raw = model.raw
    open_ = np.zeros(raw["n_sites"], dtype=bool)
    open_[raw["fixed_open"]] = True
    total = 0.0
    for t, new in enumerate(opened):
        open_[list(new)] = True
        ok = model.refuelled(open_) & (raw["row_stage"] == t)
        total += float(raw["row_weight"][ok].sum())
    return total


def _brute_force(model: StagedFRLM, first: int = 0, before=()) -> tuple[float, list]:
    """Best nested plan by enumeration of every stage's new sites (within max_new)."""
    raw = model.raw
    free = [j for j in range(raw["n_sites"]) if j not in set(raw["fixed_open"].tolist())]
    best: tuple[float, list] = (-np.inf, [])

    def rec(t: int, open_set: frozenset, plan: list) -> None:
        nonlocal best
        if t == model.n_stages:
            v = _tank_value(model, [list(before), *plan] if first else plan)
            best = max(best, (v, plan), key=lambda x: x[0])
            return
        rest = [j for j in free if j not in open_set]
        for k in range(int(min(raw["max_new"][t], len(rest))) + 1):
            for combo in itertools.combinations(rest, k):
                rec(t + 1, open_set | set(combo), [*plan, combo])

    rec(first, frozenset(before), [])
    return best


@pytest.mark.parametrize(
    ("seed", "kw"),
    [
        (0, {}),
        (1, {"fixed": (3,)}),
        (2, {"short_trips": "cycle"}),
        (3, {"origin_charge": "full", "range_km": 120.0}),
    ],
)
def test_lookahead_is_optimal_against_brute_force(seed, kw):
    model = _model(seed, **kw)
    plan = model.solve(time_limit_s=20)
    model.check(plan)  # nested, within max_new, refuelled flow recomputed by the tank rule
    assert plan.status == "OPTIMAL"
    best, _ = _brute_force(model)
    assert plan.objective == pytest.approx(best)
    myopic = model.solve_myopic(time_limit_s=20)
    model.check(myopic)
    assert myopic.objective <= plan.objective + 1e-9  # the myopic plan's regret is >= 0


def test_lookahead_builds_for_later_flow_where_myopic_does_not():
    """Leaving home full (``origin_charge="full"``, R = 120 km), the 100 km trip 0->1 needs
    a station at node 1 and the trip 2->3 one at node 3. Stage 1 has only the first trip and
    one new site; stage 2 ten times more of the second and no new site. Myopic serves the
    first trip now; look-ahead builds for the second and wins over the horizon."""
    route, skm = [np.array([0.0, 100.0])] * 4, [np.array([0.0, 100.0])] * 4
    sidx = [np.array([0, 1]), np.array([2, 3])] * 2
    model = StagedFRLM.from_paths(
        route,
        skm,
        sidx,
        np.array([1.0, 0.0, 1.0, 10.0]),
        np.array([0, 0, 1, 1]),
        n_sites=4,
        n_stages=2,
        range_km=120.0,
        site_costs=np.ones(4),
        max_new=np.array([1.0, 0.0]),
        origin_charge="full",
    )
    look, myo = model.solve(), model.solve_myopic()
    model.check(look)
    model.check(myo)
    assert list(look.opened[0]) == [3] and look.objective == pytest.approx(10.0)
    assert list(myo.opened[0]) == [1] and myo.objective == pytest.approx(2.0)
    assert look.objective == pytest.approx(_brute_force(model)[0])


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(0, 2),
    budget=st.floats(0.0, 300.0),
    T=st.integers(1, 3),
    range_km=st.floats(60.0, 400.0),
)
def test_plans_are_nested_and_within_each_stage_limits(seed, k, budget, T, range_km):
    rk, sk, si, f, s, n = _corridor(seed, T=T)
    model = StagedFRLM.from_paths(
        rk,
        sk,
        si,
        f,
        s,
        n_sites=n,
        n_stages=T,
        range_km=range_km,
        site_costs=np.arange(1, n + 1) * 50.0,
        budgets=np.full(T, budget),
        max_new=np.full(T, float(k)),
    )
    for plan in (model.solve(time_limit_s=10), model.solve_myopic(time_limit_s=10)):
        model.check(plan)  # nested, limits, tank-rule coverage
        assert all(spent <= budget + 1e-9 for spent in plan.capex)
        assert all(o.size <= k for o in plan.opened)
        for t in range(1, T):
            assert set(plan.open_after[t - 1]) <= set(plan.open_after[t])


def test_range_per_flow_changes_what_is_refuelled():
    """The same flows planned for a winter range refuel less with the same stations."""
    mild, severe = _model(4, range_km=200.0), _model(4, range_km=110.0)
    open_ = np.zeros(mild.raw["n_sites"], dtype=bool)
    open_[[1, 3, 5]] = True
    assert mild.refuelled(open_).sum() >= severe.refuelled(open_).sum()
    assert mild.solve().objective >= severe.solve().objective


def test_robust_first_stage_with_a_winter_scenario_against_enumeration():
    """Scenarios: base demand in a mild winter (range 160 km), base demand in a severe
    winter (range 100 km), high demand (x2 in later stages) in a mild one."""
    rk, sk, si, f, s, n = _corridor(11, T=2)
    common = dict(n_sites=n, n_stages=2, site_costs=np.full(n, 100.0), max_new=np.array([1, 2]))
    scen = {
        "mild": StagedFRLM.from_paths(rk, sk, si, f, s, range_km=160.0, **common),
        "severe": StagedFRLM.from_paths(rk, sk, si, f, s, range_km=100.0, **common),
        "high": StagedFRLM.from_paths(
            rk, sk, si, f * np.where(s > 0, 2.0, 1.0), s, range_km=160.0, **common
        ),
    }
    choice = robust_first_stage(scen, time_limit_s=10)
    assert choice.exact
    optima = {name: _brute_force(m)[0] for name, m in scen.items()}
    assert choice.optima == pytest.approx(optima)
    best = np.inf
    for k in range(2):
        for combo in itertools.combinations(range(n), k):
            worst = max(
                optima[name] - _brute_force(m, first=1, before=combo)[0] for name, m in scen.items()
            )
            best = min(best, worst)
    assert choice.max_regret == pytest.approx(best)
    assert any(r["severe_regret"] > 1e-9 for r in choice.table)  # winter changes the answer
    labels = " | ".join(r["choice"] for r in choice.table)
    assert all(f"optimal for {name}" in labels for name in scen)


def test_dominated_sites_are_left_out_without_changing_the_optimum():
    """On a tiny corridor some sites' arc sets are inside another's (here the end nodes):
    they are left out; a site on no route is not a variable at all (never marked). The
    optimum is the brute force's, and no plan opens a dominated site."""
    rk, sk, si, f, s, n = _corridor(6)
    si = [np.where(idx == 2, 1, idx) for idx in si]  # site 2 never on a route: unused
    model = StagedFRLM.from_paths(
        rk,
        sk,
        si,
        f,
        s,
        n_sites=n,
        n_stages=3,
        range_km=150.0,
        site_costs=np.full(n, 100.0),
        max_new=np.ones(3),
    )
    dom = model.dominated()
    assert dom.any()
    assert not dom[model.raw["fixed_open"]].any() and not dom[2]  # unused: not a variable
    G = model.raw["groups"].tocsc()
    for j in np.flatnonzero(dom):  # each dominated site's groups all hold a kept site
        rows = set(G[:, j].indices.tolist())
        assert any(
            rows <= set(G[:, k].indices.tolist()) for k in model.useful_sites() if not dom[k]
        )
    plan = model.solve(time_limit_s=20)
    model.check(plan)
    assert plan.objective == pytest.approx(_brute_force(model)[0])
    assert not dom[np.concatenate(plan.opened)].any()
