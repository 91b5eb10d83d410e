"""The design loop sites for the demand its KPIs' runs left unserved: with replications,
the mean of each replication's unserved demand, not the seed run's alone (a seed run with
no stranding stopped the loop while the replications' mean missed the stranded target).
Real Almaty network and demand, a small sample."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.e2e.test_pipeline import SMALL_CITY, _cfg


def test_unserved_demand_is_the_mean_over_the_replications(data_env):
    import sim
    from planner.study.run import StepTimer, prepare
    from planner.study.simulate import StudySimulator, sim_settings, unserved_demand

    cfg = _cfg("almaty", {**SMALL_CITY, "demand.max_trips": 800})
    pre = prepare(cfg, StepTimer(None))
    simulator = StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles)
    outcome = simulator(pre.existing, replications=3)
    # (the study may extend the series until the intervals are narrow: same seed sequence)
    n = outcome.detail["replications"]
    assert n >= 3

    # independently: the same replications, each run's unserved demand, averaged
    per_run: list[pd.DataFrame] = []
    causes: list[pd.Series] = []

    def keep(_run: int, res: sim.SimulationResult) -> None:
        # the measured days' strandings by cause (the warm-up left out, as in the KPIs)
        measured = res.trips[res.trips["measured"]]
        causes.append(measured["strand_cause"][measured["strand_cause"] != ""].value_counts())
        per_run.append(
            unserved_demand(
                res,
                wait_target_min=cfg.targets.wait_p95_min,
                detour_limit_min=cfg.model.threshold_min,
            )
        )

    cols = ["station_id", "node", "plugs", "power_kw", "name"]
    sim.replicate(
        pre.sn.network,
        pre.existing[cols + (["connectors"] if "connectors" in pre.existing else [])],
        simulator._redraw,
        replications=n,
        vehicles=pre.vehicles,
        settings=sim_settings(cfg),
        seed=cfg.seed,
        on_run=keep,
    )
    assert len(per_run) == n and all(len(u) for u in per_run)
    expected = (
        pd.concat(per_run)
        .groupby(["node", "destination"], as_index=False)["weight"]
        .sum()
        .assign(weight=lambda d: d["weight"] / n)
    )
    got = outcome.unserved.sort_values(["node", "destination"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_dtype=False)
    mean_causes = pd.concat(causes, axis=1).fillna(0).sum(axis=1) / n
    mean_causes = mean_causes[mean_causes > 0]  # (a categorical column counts every label)
    assert outcome.detail["causes"] == pytest.approx(mean_causes.to_dict())
    # and not the seed run's (a different draw of the demand)
    seed_run = unserved_demand(
        outcome.detail["result"],
        wait_target_min=cfg.targets.wait_p95_min,
        detour_limit_min=cfg.model.threshold_min,
    )
    assert not seed_run.equals(got)


def test_the_seed_run_made_alongside_the_replications_is_the_seed_run(data_env, monkeypatch):
    """The seed run (tables, charts, the next round's input) is made while the replication
    workers run, no longer before them: it is still the run of the study's trips at the
    study's seed, made once (a guard, with the pool forced on for this small job)."""
    import sim
    import sim.api

    monkeypatch.setattr(sim.api, "MIN_PARALLEL_TRIPS", 0)
    monkeypatch.setenv("EVPLAN_SIM_WORKERS", "2")
    from planner.study.run import StepTimer, prepare
    from planner.study.simulate import StudySimulator, sim_settings

    cfg = _cfg("almaty", {**SMALL_CITY, "demand.max_trips": 800})
    pre = prepare(cfg, StepTimer(None))
    simulator = StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles)
    outcome = simulator(pre.existing, replications=3)
    cols = ["station_id", "node", "plugs", "power_kw", "name"]
    alone = sim.simulate(
        pre.sn.network,
        pre.existing[cols + (["connectors"] if "connectors" in pre.existing else [])],
        pre.trips,
        vehicles=pre.vehicles,
        settings=sim_settings(cfg),
        seed=cfg.seed,
    ).measured()
    got = outcome.detail["result"]
    pd.testing.assert_frame_equal(got.trips, alone.trips, check_exact=True)
    pd.testing.assert_frame_equal(got.sessions, alone.sessions, check_exact=True)
    assert simulator.runs == outcome.detail["replications"] + 1
