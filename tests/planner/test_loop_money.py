"""The design loop's money adds up (hypothesis): whatever it opens, sizes, trims or cuts to
the budget, its capex is the sum of its plan at the prices the selected table uses (each
new site's cost, each plug at its row's bay class or the car plug's cost), and with a budget
it never spends more. All data here are synthetic (scripted simulations and sites)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.study.loop import ScenarioOutcome, Targets, closed_loop

PLUG = 100.0  # candidates.plug_cost: a car plug


def _existing(plugs: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"station_id": ["H"], "node": [1], "plugs": [plugs], "power_kw": [50.0],
         "existing": [True], "name": ["Hotel"], "lon": [0.0], "lat": [0.0]}
    )  # fmt: skip


def _sites(rng: np.random.Generator, site_cost: float, mcs: float, ccs: float, opened: dict):
    """An optimiser that opens one truck site a round (an MCS and a CCS bay row, the site
    cost on the first), when the money left buys it with one bay each."""

    def optimize(unserved, fixed, n_sites, budget_left):
        k = len(opened)
        if budget_left is not None and budget_left < site_cost + mcs + ccs:
            return fixed.iloc[0:0].assign(capex=[])
        n_mcs, n_ccs = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        opened[f"T{k}:mcs"] = site_cost
        return pd.DataFrame(
            {"station_id": [f"T{k}:mcs", f"T{k}:ccs"], "node": [10 + k] * 2,
             "plugs": [n_mcs, n_ccs], "power_kw": [1000.0, 400.0], "existing": False,
             "name": [f"T{k}"] * 2, "lon": 0.0, "lat": 0.0, "bay_cost": [mcs, ccs],
             "capex": [site_cost + n_mcs * mcs, n_ccs * ccs]}
        )  # fmt: skip

    return optimize


def _simulate(rng: np.random.Generator):
    """Random sessions at every station: a few arrivals in hour 8, some after a 30-min wait
    (the station's own p95 then misses a 10-min target)."""

    def simulate(stations: pd.DataFrame) -> ScenarioOutcome:
        rows = []
        for sid in stations["station_id"]:
            n = int(rng.integers(0, 10))
            arrive = 8 * 3600.0 + np.sort(rng.uniform(0, 3600.0, n))
            wait = np.where(rng.random(n) < 0.5, 1800.0, 0.0)
            rows.append(
                pd.DataFrame(
                    {
                        "station": 0,
                        "station_id": sid,
                        "arrive_s": arrive,
                        "start_s": arrive + wait,
                        "end_s": arrive + wait + 1800.0,
                        "status": "charged",
                        "wait_s": wait,
                    }
                )  # fmt: skip
            )
        sessions = pd.concat(rows, ignore_index=True)
        p95 = sessions.groupby("station_id")["wait_s"].quantile(0.95) / 60.0
        per = pd.DataFrame({"station_id": stations["station_id"]})
        per["wait_p95_min"] = per["station_id"].map(p95).fillna(0.0).to_numpy()
        worst = float(per["wait_p95_min"].max())
        kpis = {"wait_p95_min": worst, "stranded_vehicles": 0.0}
        unserved = pd.DataFrame({"node": [5], "destination": [6], "weight": [1.0]})
        return ScenarioOutcome(
            kpis, per, unserved, detail={"result": SimpleNamespace(sessions=sessions)}
        )

    return simulate


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    hotel_plugs=st.integers(1, 3),
    site_cost=st.sampled_from([0.0, 1000.0, 5000.0]),
    mcs=st.sampled_from([500.0, 300.0]),
    ccs=st.sampled_from([0.0, 150.0]),
    budget=st.one_of(st.none(), st.floats(0.0, 30_000.0)),
    rounds=st.integers(1, 3),
)
def test_the_loops_capex_is_its_plan_at_the_tables_prices(
    seed, hotel_plugs, site_cost, mcs, ccs, budget, rounds
):
    rng = np.random.default_rng(seed)
    opened: dict[str, float] = {}
    existing = _existing(hotel_plugs)
    loop = closed_loop(
        existing,
        simulate=_simulate(rng),
        optimize=_sites(rng, site_cost, mcs, ccs, opened),
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=rounds),
        first_round_sites=1,
        budget=budget,
        plug_cost=PLUG,
        max_plugs=6,
    )
    plan = loop.stations.set_index("station_id")
    unit = plan["bay_cost"].fillna(PLUG) if "bay_cost" in plan else pd.Series(PLUG, plan.index)
    new = ~plan["existing"].astype(bool)
    expected = (
        sum(opened.get(str(s), 0.0) for s in plan.index[new])
        + float((plan.loc[new, "plugs"] * unit[new]).sum())
        + (plan.loc["H", "plugs"] - hotel_plugs) * PLUG
    )
    assert loop.capex == pytest.approx(expected, abs=1e-6)
    assert plan.loc["H", "plugs"] >= hotel_plugs
    if budget is not None:
        assert loop.capex <= budget + 1e-6
