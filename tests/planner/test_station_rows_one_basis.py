"""Every column of a station row is one run's: the proposal's seed run.

A review of the Almaty study (2026-12-07) found station rows that contradicted themselves:
sessions, visits, utilisation and waits came from the proposal's seed run, while the
row's CO2 and renewable matching were averaged over the replications ("Royal Tulip": 0
sessions, 0 % use, 94.9 kg CO2). The grid step now matches each row on the seed run's
sessions; the CO2 KPIs stay the mean over the runs, as every KPI.

Synthetic data: two stations ("near" a 1 MW solar plant at Saran's point, "far" 80 km
away), hand-made charging sessions, a hand-made seed run and two replications.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from planner.config.study import config_from_dict
from planner.study.grid import emissions
from planner.study.grid_step import apply_grid, attach
from planner.study.loop import LoopResult, ScenarioOutcome

#: the default grid factor at the charger: 0.641 kg/kWh, 7 % grid losses
GRID_KG = 0.641 / 0.93


def _cfg(tmp_path):
    """A study config with one synthetic solar plant (1 MW at Saran's point)."""
    plants = tmp_path / "synthetic-plants.csv"
    plants.write_text(
        "key,name,kind,capacity_mw,lon,lat,location_quality,location_source\n"
        "solar_synthetic,Synthetic solar,solar,1,72.8719,49.8093,plant,synthetic\n"
    )
    return config_from_dict(
        {
            "name": "station-rows",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "capacitated"},
            "renewables": {"plants": str(plants), "match_radius_km": 10, "day": "2024-06-21"},
        },
        base_dir=tmp_path,
    )


def _sessions(rows):
    """Public charged sessions ``(station index, station id, start hour, grid kWh)``."""
    return pd.DataFrame(
        {
            "station": [r[0] for r in rows],
            "station_id": [r[1] for r in rows],
            "status": "charged",
            "start_s": [r[2] * 3600.0 for r in rows],
            "end_s": [(r[2] + 0.5) * 3600.0 for r in rows],
            "grid_kwh": [float(r[3]) for r in rows],
        }
    )


def _per_station(sessions, ids):
    """The seed run's per-station figures, as ``SimulationResult.station_stats`` gives them."""
    n = sessions.groupby("station_id").size().reindex(ids, fill_value=0)
    return pd.DataFrame(
        {
            "station_id": ids,
            "sessions": n.to_numpy(),
            "visits": n.to_numpy(),
            "utilisation": n.to_numpy() / 48.0,
            "wait_mean_min": 0.0,
            "wait_p95_min": 0.0,
        }
    )


def _outcome(seed_run, replications, ids):
    """A simulated scenario: KPIs (the mean over ``replications``), station rows and tables
    from ``seed_run``, as planner.study.simulate.StudySimulator builds it."""
    return ScenarioOutcome(
        {"demand_expansion_factor": 1.0},
        _per_station(seed_run, ids),
        pd.DataFrame(columns=["node", "weight"]),
        detail={"result": SimpleNamespace(sessions=seed_run), "charging_per_run": replications},
    )


def _study(tmp_path):
    cfg = _cfg(tmp_path)
    stations = pd.DataFrame(
        {
            "station_id": ["near", "far"],
            "node": [0, 1],
            "plugs": [2, 5],
            "power_kw": [50.0, 50.0],
            "existing": [True, False],
            "name": ["Near (synthetic)", "Far (synthetic)"],
            "lon": [72.94, 74.0],
            "lat": [49.81, 49.81],
            "added_plugs": [0, 0],
            "opened_round": [np.nan, 1.0],
        }
    )
    candidates = pd.DataFrame(
        {
            "site_id": ["far"],
            "node": [1],
            "lon": [74.0],
            "lat": [49.81],
            "approximate": [False],
            "plug_cost": [1000.0],
        }
    )
    # the seed run: nobody charges at "far"; the replications: "far" is busy in both
    seed = _sessions([(0, "near", 12, 30.0), (0, "near", 0, 10.0)])
    reps = [
        _sessions([(0, "near", 12, 40.0), (1, "far", 1, 60.0)]),
        _sessions([(0, "near", 0, 20.0), (1, "far", 13, 100.0)]),
    ]
    base_seed = _sessions([(0, "near", 12, 25.0)])
    base_reps = [_sessions([(0, "near", 12, 35.0)]), _sessions([(0, "near", 0, 15.0)])]
    loop = LoopResult(
        baseline=_outcome(base_seed, base_reps, ["near"]),
        proposal=_outcome(seed, reps, ["near", "far"]),
        stations=stations,
        selected=stations[~stations["existing"]],
        capex=5000.0,
    )

    def no_second_simulation(_stations):
        raise AssertionError("no grid limit: the plan is not simulated again")

    grid = apply_grid(cfg, loop, candidates, no_second_simulation)
    per = loop.proposal.per_station.set_index("station_id")
    rows = loop.stations.join(per[["sessions", "visits", "utilisation"]], on="station_id")
    result = SimpleNamespace(
        selected=rows[~rows["existing"]].reset_index(drop=True),
        existing=rows[rows["existing"]].reset_index(drop=True),
        kpis_before={},
        kpis_after={},
        tables={},
        notes=[],
    )
    attach(result, grid, candidates)
    return cfg, loop, result, seed, reps


def _co2(cfg, sessions, stations):
    plants = pd.DataFrame(
        {
            "key": ["solar_synthetic"],
            "kind": ["solar"],
            "capacity_kw": [1000.0],
            "lon": [72.8719],
            "lat": [49.8093],
        }
    )
    return emissions(cfg, sessions, stations, plants, grid_kg_per_kwh=0.641, grid_loss_share=0.07)


def test_a_station_row_with_no_session_has_no_co2(tmp_path):
    """The "far" station has 5 plugs and no session in the seed run: its row showed the
    replications' mean CO2 (the Almaty "Tay-House": 5 plugs, 0 sessions, 160 kg)."""
    _, _, result, _, _ = _study(tmp_path)
    far = result.selected.set_index("station_id").loc["far"]
    assert far["sessions"] == 0 and far["utilisation"] == 0
    assert far["co2_kg"] == 0.0
    assert far["renewable_kwh"] == 0.0 and far["renewable_share"] == 0.0
    rows = pd.concat([result.selected, result.existing], ignore_index=True)
    idle = rows[rows["sessions"] == 0]
    assert (idle["co2_kg"] == 0).all() and (idle["renewable_kwh"] == 0).all()


def test_station_rows_sum_to_the_seed_runs_co2_and_the_kpis_stay_the_mean(tmp_path):
    """The rows' CO2 and renewable energy are the seed run's (the run their sessions are
    from), the station_energy table too; the KPIs are the mean over the replications."""
    cfg, loop, result, seed, reps = _study(tmp_path)
    rows = pd.concat([result.selected, result.existing], ignore_index=True)
    seed_table, seed_kpis = _co2(cfg, seed, loop.stations)
    # seed run: "near" 30 kWh at noon (renewable) and 10 kWh at midnight (grid)
    assert seed_kpis["co2_charging_kg"] == pytest.approx(10.0 * GRID_KG)
    assert rows["co2_kg"].sum() == pytest.approx(seed_kpis["co2_charging_kg"])
    assert rows["renewable_kwh"].sum() == pytest.approx(seed_kpis["energy_renewable_kwh"])
    near = rows.set_index("station_id").loc["near"]
    assert near["renewable_share"] == pytest.approx(30.0 / 40.0)
    energy = result.tables["station_energy_after"].set_index("station_id")
    assert energy["energy_kwh"].to_dict() == pytest.approx({"near": 40.0, "far": 0.0})
    assert energy["co2_kg"].sum() == pytest.approx(seed_kpis["co2_charging_kg"])
    before = result.tables["station_energy_before"].set_index("station_id")
    assert before.loc["near", "energy_kwh"] == pytest.approx(25.0)
    # KPIs: the mean over the two replications, as before
    per_run = [_co2(cfg, r, loop.stations)[1]["co2_charging_kg"] for r in reps]
    assert result.kpis_after["co2_charging_kg"] == pytest.approx(np.mean(per_run))
    assert result.kpis_after["co2_charging_kg"] == pytest.approx(
        (0.0 + 60.0 + 20.0 + 100.0) / 2 * GRID_KG
    )
    assert result.kpis_after["energy_renewable_kwh"] == pytest.approx(40.0 / 2)
    # baseline: 35 kWh at noon (renewable) and 15 kWh at midnight (grid) in its two runs
    assert result.kpis_before["co2_charging_kg"] == pytest.approx(15.0 / 2 * GRID_KG)
