"""The carmaker's table (review 2026-12-08): a model listed twice in ``vehicles.compare`` is
one row, not two rows of the same simulations; a probe of a category the study has no
vehicle of (a truck in an all-car city) counts 0 probe vehicles, not NaN."""

from __future__ import annotations

import math

from planner.study.compare import vehicle_matrix
from tests.e2e.test_vehicle_probe import _almaty


def test_a_repeated_model_is_one_row_and_an_empty_probe_counts_zero(data_env, net_cache_dir):
    cfg, pre, sim = _almaty(
        net_cache_dir,
        compare=["mercedes_eactros_600", "byd_atto3", "byd_atto3"],
        compare_as="probe",
    )
    table = vehicle_matrix(cfg, sim, pre.existing, pre.existing)
    assert table["vehicle_model"].tolist() == ["mercedes_eactros_600", "byd_atto3"]
    truck, car = table.iloc[0], table.iloc[1]
    assert truck["probe_vehicles"] == 0 and math.isnan(truck["share_before"])
    assert car["probe_vehicles"] >= 1 and 0 <= car["share_before"] <= 1
    assert sim.runs == 2  # the car's before and after cells; the truck had none to simulate


def test_runs_counted_the_same_with_two_workers_when_a_probe_is_empty(
    data_env, net_cache_dir, monkeypatch
):
    """With workers, the parent counted every cell as a run (manifest simulation_runs), the
    empty probe's cells too, which no worker simulated: 4 runs with two workers, 2 with one."""
    import planner.study.compare as compare

    tables, runs = {}, {}
    for workers in (1, 2):
        monkeypatch.setattr(compare, "replication_workers", lambda *a, w=workers, **k: w)
        cfg, pre, sim = _almaty(
            net_cache_dir, compare=["mercedes_eactros_600", "byd_atto3"], compare_as="probe"
        )
        tables[workers] = vehicle_matrix(cfg, sim, pre.existing, pre.existing)
        runs[workers] = sim.runs
    assert tables[1].equals(tables[2])
    assert runs[1] == runs[2] == 2
