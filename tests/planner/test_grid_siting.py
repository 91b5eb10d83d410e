"""Grid capacity in the siting models: plugs x kW within capacity or a paid upgrade, and the
independent checker refusing a plan over capacity (issue 18, "chargers on the grid")."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import CheckerError
from planner.siting import Capacitated
from planner.siting.checker import grid_violations

COST = np.array([[100.0, 900.0], [200.0, 900.0], [300.0, 100.0]])
DEMAND = np.array([1.2, 0.6, 0.3])  # charging hours per hour


def _model(**kw):
    base = dict(
        threshold=600,
        max_plugs=10,
        site_costs=[100.0, 100.0],
        plug_costs=[10.0, 10.0],
        utilisation=0.6,
        plug_kw=50.0,
        grid_kw=150.0,
    )
    base.update(kw)
    return Capacitated.from_cost_matrix(COST, DEMAND, **base)


def test_cheap_upgrade_beats_a_second_site():
    # Without an upgrade site 0 is capped at 3 plugs and site 1 opens (240, see
    # test_siting_models). One more 50 kW plug at site 0 costs 10 + 50 kW x 1 = 60 < 110.
    model = _model(upgrade_cost_per_kw=1.0)
    res = model.solve()
    model.check(res)
    assert res.plugs.tolist() == [4, 0]
    assert res.details["upgrade_kw"] == {0: pytest.approx(50.0)}
    assert res.objective == pytest.approx(100 + 40 + 50)


def test_dear_upgrade_is_not_bought():
    # 50 kW x 3 = 150 > 110 (the second site with its plug): the grid-capped plan stays
    model = _model(upgrade_cost_per_kw=3.0)
    res = model.solve()
    model.check(res)
    assert res.plugs.tolist() == [3, 1] and not res.details["upgrade_kw"]
    assert res.objective == pytest.approx(240.0)


def test_upgrade_only_where_priced():
    # site 0 cannot be upgraded (nan), site 1 can: the plan must not upgrade site 0
    model = _model(upgrade_cost_per_kw=[np.nan, 1.0], grid_kw=[150.0, 10.0])
    res = model.solve()
    model.check(res)
    assert res.plugs[0] <= 3
    assert res.details["upgrade_kw"] == {1: pytest.approx(40.0)}


def test_upgrade_cost_counts_in_the_budget():
    # budget 100 + 40 + 40: the fourth plug at site 0 needs 50 kW x 1 = 50 more: not affordable
    model = _model(upgrade_cost_per_kw=1.0, budget=180.0, site_costs=[100.0, 1000.0])
    res = model.solve()
    model.check(res)
    assert res.plugs.tolist() == [3, 0] and res.objective == pytest.approx(1.8)
    model = _model(upgrade_cost_per_kw=1.0, budget=190.0, site_costs=[100.0, 1000.0])
    res = model.solve()
    model.check(res)
    assert res.plugs.tolist() == [4, 0] and res.objective == pytest.approx(2.1)


def test_checker_refuses_a_plan_over_capacity_without_upgrade():
    model = _model(upgrade_cost_per_kw=1.0)
    res = model.solve()
    forged = dataclasses.replace(res, details={**res.details, "upgrade_kw": {}})
    with pytest.raises(CheckerError, match="grid capacity"):
        model.check(forged)
    capped = _model()
    res = capped.solve()
    forged = dataclasses.replace(res, plugs=np.array([4, 1]))
    with pytest.raises(CheckerError):
        capped.check(forged)


def test_existing_plugs_over_capacity_are_kept():
    # an existing 4-plug station on a 100 kW connection is not a violation by itself
    model = _model(grid_kw=100.0, existing_plugs=[4, 0], fixed_open=[0], site_costs=[0.0, 100.0])
    res = model.solve()
    model.check(res)
    assert res.plugs[0] == 4


def test_grid_violations_names_sites():
    v = grid_violations(
        np.array([2, 4]), 50.0, np.array([100.0, 150.0]), labels=np.array(["a", "b"])
    )
    assert len(v) == 1 and "b draws 200 kW" in v[0]
    assert not grid_violations(
        np.array([2, 4]), 50.0, np.array([100.0, 150.0]), upgrade_kw=np.array([0.0, 50.0])
    )
    v = grid_violations(
        np.array([4]),
        50.0,
        np.array([150.0]),
        upgrade_kw=np.array([50.0]),
        upgradable=np.array([False]),
    )
    assert "cannot be upgraded" in v[0]


@settings(max_examples=25, deadline=None)
@given(
    grid=st.lists(st.floats(0, 400), min_size=2, max_size=2),
    price=st.one_of(st.none(), st.floats(0, 5)),
    scale=st.floats(0.2, 1.5),
)
def test_no_selected_plan_exceeds_capacity(grid, price, scale):
    """Whatever the capacities and upgrade price, a solved plan passes the grid check."""
    from planner._errors import InfeasibleModelError

    model = _model(grid_kw=grid, upgrade_cost_per_kw=price, coverage=0.5)
    model.raw["demand"] = DEMAND * scale
    try:
        res = model.solve()
    except InfeasibleModelError:
        return
    model.check(res)  # includes grid_violations
    up = np.zeros(2)
    for j, u in res.details["upgrade_kw"].items():
        up[j] = u
    assert not grid_violations(res.plugs, 50.0, np.asarray(grid), upgrade_kw=up)


def test_solver_noise_on_a_closed_site_is_not_an_assignment():
    # found by hypothesis: SCIP left x = 2.2e-16 on closed site 1; the checker refused the plan
    model = _model(grid_kw=[150.0, 100.0], upgrade_cost_per_kw=None, coverage=0.5)
    model.raw["demand"] = DEMAND * 1.375
    res = model.solve()
    model.check(res)
    assert set(res.details["assignment"].tocoo().col) <= set(np.flatnonzero(res.plugs > 0))
