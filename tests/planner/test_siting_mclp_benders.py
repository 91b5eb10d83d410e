"""MCLP branch-and-Benders-cut: exact against brute force, honest about a stop, valid cuts.

All instances here are synthetic (random, made up), checked against brute force.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting import MCLP, check_result
from planner.siting._base import FEASIBLE, OPTIMAL, SolveOptions
from planner.siting._covering import covered_weight
from planner.siting.mclp import benders
from planner.siting.mclp import model as mclp_module
from planner.siting.mclp.lp import lp_cover_bound, lp_fixings
from tests.planner.test_siting_mclp_bounds import _instance, _solutions, covering_instances
from tests.planner.test_siting_mclp_lp import _brute_force_plane, _plane

pytest.importorskip("pyscipopt")  # a core dependency; the model falls back without it


@settings(max_examples=60, deadline=None)
@given(covering_instances(), st.booleans())
def test_benders_returns_the_brute_force_optimum(data, seeded):
    G, w, costs, p, budget = data
    inst = _instance(G, w)
    use_b = budget is not None
    sols = list(_solutions(G, w, costs, p, budget))
    opt = max(v for _, v in sols)
    lam = None
    if seeded:
        lp = lp_cover_bound(
            inst, p=p, costs=costs if use_b else None, budget=budget, time_limit_s=30, threads=1
        )
        assert lp is not None
        lam = lp.lam
    out = benders.solve_benders(
        inst, costs, p, budget, np.zeros(0, np.int64), SolveOptions(), 30.0, lam=lam
    )
    assert out is not None
    chosen, status, bound, _ = out
    assert status == OPTIMAL
    assert covered_weight(inst, chosen) == pytest.approx(opt)
    assert bound >= opt - 1e-9 and bound <= opt + 1 - 1e-6  # integral weights: within a unit
    assert p is None or chosen.size <= p
    assert not use_b or costs[chosen].sum() <= budget + 1e-9


@settings(max_examples=40, deadline=None)
@given(covering_instances(), st.integers(0, 3))
def test_benders_with_lp_fixing_finds_every_better_solution_or_proves_none(data, drop):
    G, w, costs, p, budget = data
    inst = _instance(G, w)
    use_b = budget is not None
    opt = max(v for _, v in _solutions(G, w, costs, p, budget))
    lp = lp_cover_bound(
        inst, p=p, costs=costs if use_b else None, budget=budget, time_limit_s=30, threads=1
    )
    assert lp is not None
    beat = max(0.0, opt - drop)
    closed, opened, nothing_better = lp_fixings(lp, beat=beat, integral=True)
    if nothing_better:
        return
    out = benders.solve_benders(
        inst,
        costs,
        p,
        budget,
        np.zeros(0, np.int64),
        SolveOptions(),
        30.0,
        lam=lp.lam,
        closed=closed,
        opened=opened,
        beat=beat,
    )
    assert out is not None
    chosen, status, bound, _ = out
    assert status == OPTIMAL
    assert bound >= opt - 1e-9
    if opt > beat:  # a better solution exists: it is found
        assert covered_weight(inst, chosen) == pytest.approx(opt)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("p", [3, 5])
def test_mclp_through_benders_returns_the_brute_force_optimum_and_passes_the_checker(
    seed, p, monkeypatch
):
    # every instance counts as large: LP phase, kernel search, then branch-and-Benders-cut
    monkeypatch.setattr(mclp_module, "KERNEL_MIN_NNZ", 0)
    cost, w = _plane(seed, n=300, m=30)
    thr = 250.0
    model = MCLP.from_cost_matrix(cost, w, threshold=thr, p=p)
    res = model.solve(time_limit_s=30, threads=1)
    assert res.optimal
    assert res.objective == pytest.approx(_brute_force_plane(cost, w, thr, p))
    check_result("mclp", model.raw, res)
    if res.solver == "scip-benders":
        assert res.details["benders_nodes"] >= 1


def _hard_instance(seed: int = 7):
    """A covering instance whose LP bound is well above the optimum (many overlapping
    sets, p small), so one node cannot prove it."""
    rng = np.random.default_rng(seed)
    K, J = 400, 60
    G = rng.random((K, J)) < 0.08
    G[np.arange(K), rng.integers(0, J, K)] = True
    w = rng.integers(1, 10, K).astype(float)
    return _instance(G, w)


def test_a_stopped_benders_search_reports_feasible_with_a_valid_gap():
    inst = _hard_instance()
    p = 4
    lp = lp_cover_bound(inst, p=p, time_limit_s=30, threads=1)
    assert lp is not None
    full = benders.solve_benders(
        inst, np.ones(60), p, None, np.zeros(0, np.int64), SolveOptions(), 60.0, lam=lp.lam
    )
    assert full is not None and full[1] == OPTIMAL
    opt = covered_weight(inst, full[0])
    assert lp.bound > opt + 1  # the root alone cannot prove it
    stopped = benders.solve_benders(
        inst,
        np.ones(60),
        p,
        None,
        np.zeros(0, np.int64),
        SolveOptions(),
        60.0,
        lam=lp.lam,
        node_limit=1,
    )
    assert stopped is not None
    chosen, status, bound, figures = stopped
    assert status == FEASIBLE and figures["benders_status"] == "nodelimit"
    assert bound >= opt - 1e-9  # a valid bound...
    assert bound > covered_weight(inst, chosen)  # ...with the gap left open


def test_benders_cut_is_exact_at_its_point_and_valid_everywhere():
    inst = _hard_instance(3)
    G = inst.groups.tocsr().astype(float)
    multi = np.diff(G.indptr) > 1
    oracle = benders._Oracle(G[multi], G[multi].T.tocsr(), inst.group_weight[multi])
    rng = np.random.default_rng(0)
    for _ in range(50):
        at = rng.random(60) * (rng.random(60) < 0.2)
        f, const, coef = oracle.cut(at)
        assert f == pytest.approx(oracle.value(at))
        for _ in range(5):
            other = rng.random(60) * (rng.random(60) < 0.3)
            assert oracle.value(other) <= const + coef @ other + 1e-9


def test_without_pyscipopt_the_model_falls_back_to_the_full_mip(monkeypatch, caplog):
    monkeypatch.setattr(mclp_module, "KERNEL_MIN_NNZ", 0)
    monkeypatch.setattr(benders, "available", lambda: False)
    cost, w = _plane(2, n=300, m=30)
    res = MCLP.from_cost_matrix(cost, w, threshold=250.0, p=5).solve(time_limit_s=30, threads=1)
    assert res.optimal
    assert res.objective == pytest.approx(_brute_force_plane(cost, w, 250.0, 5))
    if res.solver not in ("lagrangian", "lp", "presolve"):
        assert res.solver == "scip"
        assert "PySCIPOpt is not installed" in caplog.text
