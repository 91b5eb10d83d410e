"""The fast path on the shipped file-based studies (issue 15): the study's own network,
demand model, settings (warm-up days, per-class congestion, look-ahead driver) and station
set (existing stations plus the first ``model.p`` candidates) give identical tables and KPIs
with ``engine: fast`` and ``engine: full``. Trips are the first vehicles' chains (about
3,000 trips) so the test stays short; the full demand is compared in
``benchmarks/bench_sim.py``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.config.study import load_config
from planner.study.demand import build_trips
from planner.study.inputs import build_candidates, build_existing, build_network
from planner.study.simulate import sim_settings, study_vehicles
from sim import simulate
from tests.sim.test_sim_fast import assert_same_results

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MAX_TRIPS = 3_000


@pytest.mark.slow
@pytest.mark.parametrize("name", ["almaty", "corridor-kaz01"])
def test_shipped_study_fast_equals_full(name, data_dir, monkeypatch):
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    cfg = load_config(CONFIGS / f"{name}.yaml")
    sn = build_network(cfg)
    vehicles = study_vehicles(cfg)
    trips = build_trips(cfg, sn, vehicles, rng=np.random.default_rng(cfg.seed))
    first = trips["vehicle_id"].drop_duplicates().iloc[: MAX_TRIPS // 2]
    trips = trips[trips["vehicle_id"].isin(first)].head(MAX_TRIPS).reset_index(drop=True)
    existing = build_existing(cfg, sn)
    candidates = build_candidates(cfg, sn, existing)
    new = candidates.head(cfg.model.p or 5).rename(columns={"site_id": "station_id"})
    new = new.assign(plugs=np.minimum(new["max_plugs"], 2))
    cols = ["station_id", "node", "plugs", "power_kw", "name", "connectors"]
    stations = pd.concat([existing, new], ignore_index=True)
    stations = stations[[c for c in cols if c in stations]]
    settings = sim_settings(cfg)
    runs = {
        engine: simulate(
            sn.network,
            stations,
            trips,
            vehicles=vehicles,
            settings=dataclasses.replace(settings, engine=engine),
            seed=cfg.seed,
        )
        for engine in ("fast", "full")
    }
    assert_same_results(runs["fast"], runs["full"])
    t = runs["fast"].timings
    assert t["vehicles_settled"] > 0 and t["vehicles_as_events"] > 0
