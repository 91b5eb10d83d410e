"""The vehicle comparison's cells run in the replication pool: the same table, value for
value, with one worker as with two (real Almaty network and demand, small sample)."""

from __future__ import annotations

import pandas as pd

from tests.e2e.test_pipeline import SMALL_CITY, _cfg


def test_vehicle_matrix_is_the_same_with_one_or_two_workers(data_env, monkeypatch):
    import planner.study.compare as compare
    import sim.api as sim_api
    from planner.study.run import StepTimer, prepare
    from planner.study.simulate import StudySimulator

    cfg = _cfg(
        "almaty",
        {
            **SMALL_CITY,
            "demand.max_trips": 600,
            "vehicles.compare": ["mitsubishi_imiev_2013", "byd_atto3"],
        },
    )
    pre = prepare(cfg, StepTimer(None))
    proposal = pd.concat(
        [pre.existing, pre.existing.assign(station_id="copy", plugs=4)], ignore_index=True
    )
    tables, runs = {}, {}
    for workers in (1, 2):
        monkeypatch.setattr(compare, "replication_workers", lambda *a, w=workers, **k: w)
        simulator = StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles)
        tables[workers] = compare.vehicle_matrix(cfg, simulator, pre.existing, proposal)
        runs[workers] = simulator.runs
    pd.testing.assert_frame_equal(tables[1], tables[2], check_exact=True)
    assert runs[1] == runs[2] == 2 * 2 * 2  # models x seasons x before/after
    assert len(tables[1]) == 4 and tables[1]["share_before"].between(0, 1).all()
    assert sim_api._TASK is None  # nothing of the job kept after the run
