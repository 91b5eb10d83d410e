"""Fixes from the review of the plugs-follow-load change (2026-12-07). Synthetic data.

* a rollout's sites from earlier stages (they carry ``opened_round``) were trimmed to one
  plug as if the loop had opened them, and the refund made the stage's capex negative;
* a sampled fleet (``demand.max_trips``) was sized and trimmed on the sample's queues;
* a wait missed over the runs with no station missing it in the seed run added no plug;
* a plug type the loop added lost its plug to the trim;
* with a budget the final trim freed money nothing could spend.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from planner.study.loop import ScenarioOutcome, Targets, closed_loop
from tests.planner.test_loop_plugs_follow_load import _busy_a, _existing, _ses, _site


def _outcome(stations, sessions, kpis):
    per = pd.DataFrame({"station_id": stations["station_id"], "wait_p95_min": 0.0})
    unserved = pd.DataFrame({"node": [5], "destination": [6], "weight": [2.0]})
    return ScenarioOutcome(
        kpis, per, unserved, detail={"result": SimpleNamespace(sessions=sessions)}
    )


def _quiet(stations):
    """One session at a time at E and S, nobody waits; two drivers with no charger."""
    ses = pd.concat(
        [_ses(sid, 9 * 3600.0 + np.arange(2) * 3600.0, 1800.0, 0.0) for sid in ("E", "S")],
        ignore_index=True,
    )
    return ses, {"wait_p95_min": 0.0, "stranded_vehicles": 2.0, "stranded_no_charger": 2.0}


def test_an_earlier_stages_site_keeps_its_plugs():
    # E was opened by an earlier stage (opened_round 1, 4 plugs, 3 of them added then)
    existing = pd.DataFrame(
        {"station_id": ["E"], "node": [1], "plugs": [4], "added_plugs": [3],
         "opened_round": [1.0], "power_kw": [50.0], "existing": [False], "name": ["E"],
         "lon": [0.0], "lat": [0.0]}
    )  # fmt: skip
    calls = []

    def simulate(stations):
        calls.append(stations.copy())
        return _outcome(stations, *_quiet(stations))

    loop = closed_loop(
        existing,
        simulate=simulate,
        optimize=_site(6, 1000.0, 100.0),
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=1),
        first_round_sites=1,
        budget=None,
        plug_cost=100.0,
        max_plugs=6,
    )
    plan = loop.stations.set_index("station_id")
    assert plan.loc["E", "plugs"] == 4  # not this loop's to take
    assert plan.loc["S", "plugs"] == 1  # the loop's own site is trimmed
    assert loop.capex == 1000.0 + 100.0 >= 0


def test_a_sampled_fleet_is_neither_trimmed_nor_filtered_by_the_samples_queues():
    calls = []

    def simulate(stations):
        calls.append(stations.copy())
        # the sample's S is used one at a time and nobody waits anywhere in the seed run,
        # but the scaled fleet misses the wait target
        ses = pd.concat(
            [_ses("A", 8 * 3600.0 + np.arange(4) * 900.0, 1800.0, 0.0),
             _ses("S", 9 * 3600.0 + np.arange(2) * 3600.0, 1800.0, 0.0)],
            ignore_index=True,
        )  # fmt: skip
        kpis = {"wait_p95_min": 30.0, "stranded_vehicles": 0.0, "demand_expansion_factor": 20.0}
        return _outcome(stations, ses, kpis)

    loop = closed_loop(
        _existing(),
        simulate=simulate,
        optimize=_site(6, 1000.0, 100.0),
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=2),
        first_round_sites=1,
        budget=None,
        plug_cost=100.0,
        max_plugs=6,
    )
    plan = loop.stations.set_index("station_id")
    assert plan.loc["S", "plugs"] == 6  # no trim on a sample
    assert plan.loc["A", "plugs"] > 1  # sized on the scaled arrivals
    assert not any("idle_plugs_removed" in r for r in loop.iterations)


def test_a_wait_missed_over_the_runs_sizes_plugs_when_no_station_missed_in_the_seed_run():
    def simulate(stations):
        # the seed run: A's 12 drivers wait 8 min (within 10); the runs' p95 is 12 min
        ses = _ses("A", 8 * 3600.0 + np.arange(12) * 300.0, 1800.0, np.full(12, 480.0))
        return _outcome(stations, ses, {"wait_p95_min": 12.0, "stranded_vehicles": 0.0})

    loop = closed_loop(
        _existing(),
        simulate=simulate,
        optimize=_site(1, 1000.0, 100.0),
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=2),
        first_round_sites=None,
        budget=None,
        plug_cost=100.0,
        max_plugs=6,
    )
    assert loop.stations.set_index("station_id").loc["A", "plugs"] > 1
    assert loop.iterations[0].get("plugs_added_next", 0) > 0


def test_a_plug_type_the_loop_added_keeps_its_plug():
    from planner.study.loop_remedies import trim_idle

    stations = pd.DataFrame(
        {"station_id": ["K"], "plugs": [2], "added_plugs": [1], "connectors": ["CHAdeMO;CCS2"]}
    )
    # K had one CHAdeMO plug before the loop; the loop added a CCS2 plug
    out, refund, cut = trim_idle(
        stations, pd.Series({"K": 1.0}), set(), plug_cost=100.0, floors={"K": 1 + 1}
    )
    assert out.loc[0, "plugs"] == 2 and refund == 0 and cut == 0


def test_with_a_budget_the_final_plan_keeps_its_plugs():
    calls = []

    def simulate(stations):
        calls.append(stations.copy())
        tables = [_busy_a()]
        if "S" in set(stations["station_id"]):
            tables.append(_ses("S", 9 * 3600.0 + np.arange(3) * 3600.0, 1800.0, 0.0))
        kpis = {"wait_p95_min": 30.0, "stranded_vehicles": 2.0, "stranded_queue": 2.0,
                "trips_abandoned": 2.0}  # fmt: skip
        return _outcome(stations, pd.concat(tables, ignore_index=True), kpis)

    loop = closed_loop(
        _existing(),
        simulate=simulate,
        optimize=_site(6, 1000.0, 100.0),
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=1),
        first_round_sites=1,
        budget=1650.0,
        plug_cost=100.0,
        max_plugs=6,
    )
    assert not any("idle_plugs_removed" in r for r in loop.iterations)
    assert calls[-1]["plugs"].tolist() == loop.stations["plugs"].tolist()


def test_a_plug_type_added_at_a_site_the_loop_opened_keeps_its_plug():
    """Review of the fix: a site the loop opened (1 plug, CCS2) got a CHAdeMO plug for a
    connector gap, and the next round's trim took it back (1 plug, two types)."""
    existing = _existing().assign(connectors="CCS2")
    rounds = []

    def optimize(unserved, fixed, n_sites, budget_left):
        if "S" in set(fixed["station_id"]):
            return fixed.iloc[0:0].assign(capex=[])
        return pd.DataFrame(
            {"station_id": ["S"], "node": [10], "plugs": [1], "power_kw": [50.0],
             "existing": [False], "name": ["Site S"], "lon": [0.0], "lat": [0.0],
             "connectors": ["CCS2"], "capex": [1100.0]}
        )  # fmt: skip

    def simulate(stations):
        rounds.append(stations.copy())
        ses = _ses("S", 9 * 3600.0 + np.arange(2) * 3600.0, 1800.0, 0.0)  # one at a time
        kpis = {"wait_p95_min": 0.0, "stranded_vehicles": 2.0, "stranded_no_charger": 2.0}
        out = _outcome(stations, ses, kpis)
        if len(rounds) == 2:  # the first proposal: CHAdeMO cars found no plug at S
            out.detail["connector_gaps"] = pd.DataFrame(
                {"station_id": ["S"], "connector": ["CHAdeMO"], "trips": [2]}
            )
        return out

    loop = closed_loop(
        existing,
        simulate=simulate,
        optimize=optimize,
        targets=Targets(wait_p95_min=10, stranded=0, max_iterations=3),
        first_round_sites=1,
        budget=None,
        plug_cost=100.0,
        max_plugs=6,
    )
    s = loop.stations.set_index("station_id").loc["S"]
    assert s["connectors"] == "CCS2;CHAdeMO" and s["plugs"] == 2
