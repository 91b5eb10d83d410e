"""A service target within reach on the runs' mean but not on its 95 % bound is a question
of runs, not of chargers: the study adds replications (up to simulation.max_replications)
before the design loop would add sites for it. Real Almaty network and demand."""

from __future__ import annotations

import pandas as pd

import sim
from tests.e2e.test_pipeline import _cfg


def _simulator(overrides):
    from planner.study.run import StepTimer, prepare
    from planner.study.simulate import StudySimulator

    cfg = _cfg("almaty", overrides)
    pre = prepare(cfg, StepTimer(None))
    return StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles), pre


def test_targets_missed_on_the_bound_alone_are_found_on_the_whole_fleet_only(data_env):
    simulator, pre = _simulator(
        {"demand.max_trips": 400, "targets.stranded": 0, "targets.wait_p95_min": None}
    )
    whole = pre.trips.copy()
    whole.attrs["expansion_factor"] = 1.0
    none = pd.DataFrame({"stranded_vehicles": [0.0, 0.0]})  # 2 runs, none stranded: 1.84
    assert simulator._bound_only(sim.summarise(none), none, whole) == ["stranded_vehicles"]
    four = pd.DataFrame({"stranded_vehicles": [0.0] * 4})  # 0.92: below one, met
    assert simulator._bound_only(sim.summarise(four), four, whole) == []
    many = pd.DataFrame({"stranded_vehicles": [3.0, 5.0]})  # missed on the mean: chargers
    assert simulator._bound_only(sim.summarise(many), many, whole) == []
    # a sample of the fleet is never confirmed (its queues are the sample's): no more runs
    assert pre.trips.attrs["expansion_factor"] > 1.0
    assert simulator._bound_only(sim.summarise(none), none, pre.trips) == []


def test_the_study_adds_runs_while_a_target_is_missed_on_its_bound_alone(data_env, monkeypatch):
    simulator, pre = _simulator(
        {
            "demand.max_trips": 300,
            "simulation.replications": 2,
            "simulation.max_replications": 4,
        }
    )
    asked: list[int] = []

    def bound_only(summary, per_run, trips):
        asked.append(len(per_run))
        return ["stranded_vehicles"]

    monkeypatch.setattr(simulator, "_bound_only", bound_only)
    out = simulator(pre.existing)
    assert out.detail["replications"] == 4 and asked == [2, 4]
