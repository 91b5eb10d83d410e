"""The design loop counts sites, not station rows: a truck site is one row per bay class
(``<site>:<class>``), so the cargo study's first round read ``new_sites`` 100 for the 50
sites it opened (``evplan run configs/cargo-china.yaml``, 2026-12-07 16:27), and a rollout
stage's ``new_sites`` cap was used up by bay rows. All data here are synthetic."""

from __future__ import annotations

import pandas as pd

from planner.study.loop import ScenarioOutcome, Targets, closed_loop


def _truck_site(site: str, node: int) -> pd.DataFrame:
    """A synthetic truck site: one MCS and one CCS bay row at ``node``, with their capex."""
    return pd.DataFrame(
        {"station_id": [f"{site}:mcs", f"{site}:ccs"], "node": [node, node], "plugs": [1, 1],
         "power_kw": [1000.0, 400.0], "existing": [False, False], "name": [site, site],
         "connectors": ["MCS", "CCS2"], "plug_class": ["mcs", "ccs"],
         "capex": [900_000.0, 150_000.0]}
    )  # fmt: skip


def _hotel() -> pd.DataFrame:
    return pd.DataFrame(
        {"station_id": ["H"], "node": [0], "plugs": [1], "power_kw": [50.0],
         "existing": [True], "name": ["Hotel"], "connectors": ["CCS2"], "plug_class": [None]}
    )  # fmt: skip


def test_site_count_counts_a_truck_site_once():
    from planner.study.grid_fit import site_count

    rows = pd.concat([_hotel(), _truck_site("A", 1), _truck_site("B", 2)], ignore_index=True)
    assert len(rows) == 5 and site_count(rows) == 3
    assert site_count(rows.iloc[0:0]) == 0
    # stations without bay classes: one site per row
    assert site_count(rows.drop(columns="plug_class")) == 5


def _loop(max_new_sites: int | None, asked: list[int | None]):
    """A loop whose every round strands trucks out of reach (so it keeps siting) and whose
    optimiser opens one truck site (two bay rows) per round, recording the sites asked for."""
    sites = iter([("A", 1), ("B", 2), ("C", 3)])

    def optimize(unserved, fixed, n_sites, budget_left):
        asked.append(n_sites)
        if n_sites is not None and n_sites <= 0:
            return _truck_site("A", 1).iloc[0:0]
        return _truck_site(*next(sites))

    def simulate(stations: pd.DataFrame) -> ScenarioOutcome:
        kpis = {"wait_p95_min": 0.0, "stranded_vehicles": 5.0, "stranded_no_charger": 5.0}
        per = pd.DataFrame({"station_id": stations["station_id"], "wait_p95_min": 0.0})
        unserved = pd.DataFrame({"node": [9], "destination": [8], "weight": [5.0]})
        return ScenarioOutcome(kpis, per, unserved)

    return closed_loop(
        _hotel(),
        simulate=simulate,
        optimize=optimize,
        targets=Targets(wait_p95_min=30, stranded=0, max_iterations=3),
        first_round_sites=1,
        budget=None,
        plug_cost=150_000.0,
        max_plugs=4,
        max_new_sites=max_new_sites,
    )


def test_the_loop_table_counts_new_sites_not_bay_rows():
    loop = _loop(None, [])
    rounds = [(it["iteration"], it["new_sites"]) for it in loop.iterations]
    assert rounds == [(1, 1), (2, 1), (3, 1)]  # (the old code: 2 a round, one per bay row)
    assert loop.iterations[-1]["stations"] == 7  # the station rows: the hotel and 3 x 2 bays
    assert loop.selected["node"].nunique() == 3


def test_a_cap_on_new_sites_counts_sites_not_bay_rows():
    """A rollout stage's ``new_sites: 2``: the first round's truck site leaves room for one
    more (the old code read its two bay rows as two sites and opened no second one)."""
    asked: list[int | None] = []
    loop = _loop(2, asked)
    assert asked[:2] == [1, 1]
    assert loop.selected["node"].nunique() == 2
    assert [it["new_sites"] for it in loop.iterations] == [1, 1, 0]
