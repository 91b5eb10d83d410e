"""The design loop prices a truck bay at its class's own cost (``bay_cost``), as the table of
selected stations does (cargo review, 2026-12-07: trimmed MCS bays were refunded at the car
plug's cost, so the study's capex, 82.5 M, did not add up to its selected table, 82.15 M).
All data here are synthetic."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.study.grid_fit import unit_plug_costs
from planner.study.loop_remedies import (
    add_plugs,
    size_plugs,
    trim_idle,
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
    assert unit_plug_costs(st, PLUG).tolist() == [MCS, CCS, PLUG]
    assert unit_plug_costs(st.drop(columns="bay_cost"), PLUG)[0] == PLUG


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


# --- review of the change (2026-12-07): the verdict, the spent budget, free bays, spelling


def test_the_budget_sentence_prices_the_plugs_the_sizing_wants():
    """The verdict's "buys no plug (X each)" reads the cheapest plug the final plan's sizing
    wants (a 500,000 MCS bay), not candidates.plug_cost (50,000): 200,000 left buys none."""
    from types import SimpleNamespace as NS

    from planner.study.verdict import _budget_binds

    cfg = NS(model=NS(budget=1_000_000.0), candidates=NS(plug_cost=50_000.0))
    loop = NS(capex=800_000.0, stations=_truck_site())
    short = {"plugs": 2, "cost": 1_000_000.0, "unit_cost": MCS}
    text = _budget_binds(cfg, loop, {"budget_short": short}, [])
    assert "200,000 left buys no plug (400,000 each)" in text
    # 400,000 left buys a 90,000 CCS bay: not "no plug (500,000 each)"
    cfg = NS(model=NS(budget=1_000_000.0), candidates=NS(plug_cost=500_000.0))
    loop = NS(capex=600_000.0, stations=_truck_site())
    short = {"plugs": 3, "cost": 3 * CCS + 1.0, "unit_cost": CCS}
    assert "buys no plug" not in _budget_binds(cfg, loop, {"budget_short": short}, [])


def test_the_cheapest_plug_is_the_plans_own():
    from planner.study.loop_remedies import cheapest_plug

    trucks = _truck_site().iloc[:2]
    assert cheapest_plug(trucks, 10.0) == CCS  # every row has its class: no car plug
    assert cheapest_plug(_truck_site(), PLUG) == PLUG  # the hotel takes a car plug
    assert cheapest_plug(trucks.iloc[0:0], PLUG) == PLUG


def test_a_free_bay_is_not_trimmed_to_the_budget():
    new = pd.DataFrame(
        {"station_id": ["a:ccs", "b:mcs"], "plugs": [3, 4],
         "capex": [400_000.0, 400_000.0 + 4 * MCS], "bay_cost": [0.0, MCS]}
    )  # fmt: skip
    out = within_budget(new, 2_000_000.0, PLUG)
    assert out["plugs"].tolist() == [3, 3]  # the free bays stay; one MCS bay is cut
    assert within_budget(new, 2_000_000.0, PLUG, defer=True)["plugs"].tolist() == [3, 1]


def test_plug_types_read_as_the_engine():
    from planner.study.loop_remedies import plug_types

    assert plug_types("GB/T; CCS2") == ["GB/T", "CCS2"]
    assert plug_types("CCS2,Type2") == ["CCS2", "Type2"]
    assert plug_types(float("nan")) == []


def test_the_budget_check_reads_the_cheapest_bay_class():
    """A truck study's site needs a bay, not a car plug: the check's lower bound is the site
    plus its cheapest bay class (the cargo config: CCS 150,000, not the 500,000 plug_cost)."""
    from pathlib import Path

    from planner.config.checks import CHECKS
    from planner.config.study import load_config

    cargo = Path(__file__).resolve().parents[2] / "configs" / "cargo-china.yaml"
    base = load_config(cargo)
    site = base.candidates.site_cost
    bays = min(bc.plug_cost for bc in base.candidates.truck_bays.values())
    # FRLM sites by count: a budget needs a budgeted corridor model (MCLP)
    mclp = {"model.kind": "mclp", "model.p": None}
    ok = load_config(cargo, overrides={**mclp, "model.budget": site + bays})
    assert CHECKS["budget_covers_something"](ok) == []
    low = load_config(cargo, overrides={**mclp, "model.budget": site + bays - 1})
    (msg,) = CHECKS["budget_covers_something"](low)
    assert "truck_bays" in msg and f"{site + bays:,.0f}" in msg
