"""The design loop prices a truck bay at its class's own cost (``bay_cost``), as the table of
selected stations does (cargo review, 2026-12-07: trimmed MCS bays were refunded at the car
plug's cost, so the study's capex, 82.5 M, did not add up to its selected table, 82.15 M).
All data here are synthetic."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.study.loop_remedies import (
    add_plugs,
    size_plugs,
    trim_idle,
    unit_plug_cost,
    within_budget,
)

PLUG = 25_000.0  # candidates.plug_cost (a car plug)
MCS, CCS = 400_000.0, 90_000.0  # bay costs of two truck classes


def _truck_site() -> pd.DataFrame:
    """One truck site: an MCS and a CCS bay class (rows ``T:mcs``, ``T:ccs``), 4 bays each,
    and an existing car station with no bay class."""
    return pd.DataFrame(
        {"station_id": ["T:mcs", "T:ccs", "H"], "node": [1, 1, 2], "plugs": [4, 4, 2],
         "added_plugs": [4, 4, 0], "power_kw": [1000.0, 350.0, 50.0],
         "existing": [False, False, True], "name": ["T", "T", "Hotel"],
         "bay_cost": [MCS, CCS, float("nan")]}
    )  # fmt: skip


def test_the_unit_cost_is_the_bay_class_or_the_plug():
    st = _truck_site()
    assert [unit_plug_cost(st, r, PLUG) for r in st.index] == [MCS, CCS, PLUG]
    assert unit_plug_cost(st.drop(columns="bay_cost"), 0, PLUG) == PLUG


def test_idle_bays_are_refunded_at_their_class_cost():
    st = _truck_site()
    in_use = pd.Series({"T:mcs": 1, "T:ccs": 2, "H": 0})
    out, refund, cut = trim_idle(
        st, in_use, set(), plug_cost=PLUG, floors={"T:mcs": 1, "T:ccs": 1, "H": 2}
    )
    assert out["plugs"].tolist() == [1, 2, 2]
    assert cut == 5
    assert refund == pytest.approx(3 * MCS + 2 * CCS)


def test_sized_bays_are_paid_at_their_class_cost_within_the_budget():
    st = _truck_site()
    load = pd.DataFrame(
        {"station_id": ["T:mcs"], "peak_arrivals_per_h": [6.0], "service_h": [1.0],
         "cs2": [1.0], "misses": [True], "arrivals_at_once": [6.0], "wait_p95_min": [40.0]}
    )  # fmt: skip
    out, spent, added, *_ = size_plugs(
        st, load, 15.0, plug_cost=PLUG, max_plugs=6, budget_left=None
    )
    assert added == 2 and spent == pytest.approx(2 * MCS)
    # a budget for one MCS bay buys one (at the car plug's price it would buy both)
    out, spent, added, capped, *_ = size_plugs(
        st, load, 15.0, plug_cost=PLUG, max_plugs=6, budget_left=1.5 * MCS
    )
    assert added == 1 and spent == pytest.approx(MCS)
    assert out.loc[0, "plugs"] == 5 and capped


def test_one_more_bay_costs_its_class():
    st = _truck_site()
    per = pd.DataFrame({"station_id": ["T:ccs"], "wait_p95_min": [40.0]})
    _, spent, added = add_plugs(st, per, 15.0, plug_cost=PLUG, max_plugs=6, budget_left=None)
    assert added == 1 and spent == pytest.approx(CCS)


def test_new_bays_trimmed_to_the_budget_come_off_at_their_class_cost():
    new = _truck_site().iloc[:2].drop(columns="added_plugs")
    new["capex"] = [1e6 + 4 * MCS, 4 * CCS]
    left = 1e6 + 4 * MCS + 4 * CCS - 2 * CCS  # two CCS bays too many
    out = within_budget(new, left, PLUG)
    assert float(out["capex"].sum()) <= left + 1e-6
    # each capex is its site cost plus its bays at their class's cost
    assert out["capex"].tolist() == pytest.approx(
        [1e6 + out.loc[0, "plugs"] * MCS, out.loc[1, "plugs"] * CCS]
    )
    deferred = within_budget(new, left, PLUG, defer=True)
    assert deferred["plugs"].tolist() == [1, 1]
    assert deferred["capex"].tolist() == pytest.approx([1e6 + MCS, CCS])
