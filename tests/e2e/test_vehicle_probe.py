"""The vehicle comparison's probe design (``vehicles.compare_as: probe``): a seeded share of
the study's vehicles of the model's category drive it among the study's own fleet, and only
their trips count. Checked on the real Almaty study, sampled small."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from planner.config.study import load_config
from planner.study.compare import comparison_trips, vehicle_matrix
from planner.study.simulate import StudySimulator
from planner.study.skeleton import StepTimer, prepare

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _almaty(net_cache_dir, **vehicles):
    over = {
        "demand.max_trips": 1200,
        "simulation.warmup_days": 0,
        "simulation.seasons": {"winter": -20},
        "vehicles.compare": ["byd_atto3", "mitsubishi_imiev_2013"],
        "network.cache_dir": str(net_cache_dir),
        **{f"vehicles.{k}": v for k, v in vehicles.items()},
    }
    cfg = load_config(CONFIGS / "almaty.yaml", overrides=over)
    with StepTimer(None) as timer:
        pre = prepare(cfg, timer)
    return cfg, pre, StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles)


def test_probe_vehicles_are_a_seeded_share_of_the_fleet(data_env, net_cache_dir):
    cfg, pre, sim = _almaty(net_cache_dir, compare_as="probe", probe_share=0.1)
    trips, probe = comparison_trips(cfg, pre.trips, "byd_atto3", pre.vehicles)
    ids = pre.trips["vehicle_id"].unique()
    assert probe is not None and probe.size == max(1, round(0.1 * ids.size))
    mine = trips["vehicle_id"].isin(probe).to_numpy()
    assert (trips.loc[mine, "vehicle_model"] == "byd_atto3").all()
    # the others keep the study's own fleet
    assert trips.loc[~mine, "vehicle_model"].equals(pre.trips.loc[~mine, "vehicle_model"])
    # the same vehicles for every model and every call (one seed, its own stream)
    _, again = comparison_trips(cfg, pre.trips, "mitsubishi_imiev_2013", pre.vehicles)
    assert np.array_equal(probe, again)


def test_a_probe_of_the_whole_fleet_is_the_fleet_of_one_model(data_env, net_cache_dir):
    """All-car study: probing every vehicle is the fleet-of-one design, cell for cell; a
    small probe differs (it meets the study's own queues)."""
    cfg, pre, sim = _almaty(net_cache_dir)
    fleet = vehicle_matrix(cfg, sim, pre.existing, pre.existing)
    cfg_all, _, sim_all = _almaty(net_cache_dir, compare_as="probe", probe_share=1.0)
    whole = vehicle_matrix(cfg_all, sim_all, pre.existing, pre.existing)
    for col in ("share_before", "share_public_before", "stranded_before"):
        assert whole[col].to_numpy() == pytest.approx(fleet[col].to_numpy(), nan_ok=True), col
    assert (whole["probe_vehicles"] == pre.trips["vehicle_id"].nunique()).all()
    cfg_p, _, sim_p = _almaty(net_cache_dir, compare_as="probe", probe_share=0.1)
    probe = vehicle_matrix(cfg_p, sim_p, pre.existing, pre.existing)
    assert probe["share_before"].between(0, 1).all()
    assert not math.isclose(probe["share_before"].iloc[0], fleet["share_before"].iloc[0])
