"""The KPI table reports one quantity one way when the runs all agree. Only the stranded
count and the completed share got the exact bound (Garwood's Poisson bound, Clopper-Pearson)
of runs whose t-interval collapses, so the cargo study's clean runs (a bay at every
candidate site: no truck stranded in 4 runs) read "0 - 0.92" stranded vehicles beside
"0 - 0" stranded at a queue (every stranding there), "0 - 0" trips abandoned and
"0.0 % - 0.0 %" of the vehicles stranded, and 120 - 120 trips completed beside
99.2 % - 100 %. The per-run KPIs here are synthetic, shaped like those 4 runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from planner.study.targets import count_upper_bound, share_lower_bound, with_count_bound

RUNS = 4
VEHICLES = TRIPS = 120.0
ZERO_COUNTS = [
    "stranded_vehicles",
    "stranded_no_charger",
    "stranded_queue",
    "stranded_below_reach",
    "trips_abandoned",
    "trips_no_road_path",
    "sessions_balked",
]


def _clean_runs() -> pd.DataFrame:
    """4 synthetic runs that agree: 120 trucks, every trip completed, nobody stranded; the
    visits vary from run to run."""
    runs = pd.DataFrame({name: [0.0] * RUNS for name in ZERO_COUNTS})
    runs["vehicles"] = VEHICLES
    runs["trips"] = TRIPS
    runs["trips_completed"] = TRIPS
    runs["share_trips_completed"] = 1.0
    runs["share_vehicles_stranded"] = 0.0
    runs["station_visits"] = [350.0, 340.0, 362.0, 366.0]
    return runs


def _table(runs: pd.DataFrame) -> pd.DataFrame:
    return with_count_bound(sim.summarise(runs), runs)


def test_every_zero_failure_count_of_agreeing_runs_gets_the_same_bound():
    iv = _table(_clean_runs())
    bound = count_upper_bound(0.0, RUNS)
    assert bound == pytest.approx(3.689 / RUNS, abs=5e-4)
    for name in ZERO_COUNTS:  # (the old code: 0.92 for stranded_vehicles, 0 for the rest)
        assert iv.loc[name, "ci_low"] == 0.0, name
        assert iv.loc[name, "ci_high"] == pytest.approx(bound), name
    # the same quantity as a share of the vehicles: the count's bound over the vehicles
    assert iv.loc["share_vehicles_stranded", "ci_high"] == pytest.approx(bound / VEHICLES)
    # the completed trips as a count: the share's exact lower bound times the trips
    low = share_lower_bound(RUNS * TRIPS, RUNS * TRIPS)
    assert iv.loc["share_trips_completed", "ci_low"] == pytest.approx(low)
    assert iv.loc["trips_completed", "ci_low"] == pytest.approx(low * TRIPS)
    assert iv.loc["trips_completed", "ci_high"] == TRIPS
    # what is not a failure count keeps its interval: the trips and vehicles simulated
    # are the demand's, and visits that differ keep their t-interval
    assert iv.loc["trips", "ci_low"] == iv.loc["trips", "ci_high"] == TRIPS
    assert iv.loc["vehicles", "ci_high"] == VEHICLES
    plain = sim.summarise(_clean_runs())
    assert iv.loc["station_visits", "ci_high"] == plain.loc["station_visits", "ci_high"]


def test_runs_that_differ_keep_their_t_intervals_in_every_unit():
    runs = _clean_runs()
    runs["stranded_vehicles"] = runs["stranded_queue"] = runs["trips_abandoned"] = [
        0.0,
        2.0,
        1.0,
        0.0,
    ]
    runs["share_vehicles_stranded"] = runs["stranded_vehicles"] / VEHICLES
    runs["trips_completed"] = TRIPS - runs["stranded_vehicles"]
    runs["share_trips_completed"] = runs["trips_completed"] / TRIPS
    iv, plain = _table(runs), sim.summarise(runs)
    for name in ("stranded_vehicles", "stranded_queue", "trips_abandoned"):
        assert iv.loc[name, "ci_high"] == plain.loc[name, "ci_high"]
    for name in ("share_vehicles_stranded", "trips_completed", "share_trips_completed"):
        assert iv.loc[name, ["ci_low", "ci_high"]].tolist() == (
            plain.loc[name, ["ci_low", "ci_high"]].tolist()
        )
    # the counts that still agree (zero in every run) get the exact bound, as before
    assert iv.loc["stranded_no_charger", "ci_high"] == pytest.approx(count_upper_bound(0, RUNS))


def test_the_judged_stranded_interval_is_unchanged():
    """The verdict's interval (net of cars below reach) is bounded as before, and its
    share rows are the table's business (none in the judged table)."""
    from planner.study.targets import target_intervals

    runs = _clean_runs().assign(wait_p95_min=0.0)
    iv = target_intervals(runs)
    assert set(iv.index) == {"stranded_vehicles", "share_trips_completed", "wait_p95_min"}
    assert iv.loc["stranded_vehicles", "ci_high"] == pytest.approx(count_upper_bound(0, RUNS))
    assert np.isclose(iv.loc["share_trips_completed", "ci_low"], share_lower_bound(480, 480))
