"""Study settings of driver behaviour: warm-up defaults, steady start, comfort buffer,
congestion, connectors and the demand expansion factor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.config.study import ConfigFileError, load_config
from planner.study.demand import sample_fleet
from planner.study.inputs import connector_text
from planner.study.simulate import CITY_CONGESTION_BY_CLASS, EXTENSIVE_KPIS, sim_settings
from sim.kpis import KPIS

BASE = """\
name: t
network:
  source: x.osm.pbf
demand:
  kind: {kind}
  zones: z.geojson
  od_table: od.csv
model:
  kind: mclp
  p: 3
"""


def _cfg(tmp_path, kind="city", extra=""):
    p = tmp_path / "study.yaml"
    p.write_text(BASE.format(kind=kind) + extra)
    return load_config(p)


def test_defaults_warm_up_steady_start_buffer_and_city_congestion(tmp_path):
    cfg = _cfg(tmp_path)
    s = sim_settings(cfg)
    assert cfg.warmup_days() == 2 and s.warmup_s == 2 * 86_400.0
    assert s.initial_soc == "steady" and s.soc_range() == (0.2, 0.8)
    assert s.policy.when.buffer_soc == 0.2 and s.policy.when.look_ahead
    assert s.time_factors == tuple(CITY_CONGESTION_BY_CLASS.items())
    assert all(len(v) == 24 for v in CITY_CONGESTION_BY_CLASS.values())
    assert _cfg(tmp_path, "od_table").warmup_days() == 0
    corridor = _cfg(tmp_path, "corridor")
    assert sim_settings(corridor).time_factors is None  # corridors keep free flow


def test_bad_behaviour_settings_are_refused(tmp_path):
    with pytest.raises(ConfigFileError, match="warmup_days"):
        _cfg(tmp_path, "od_table", "simulation:\n  warmup_days: 2\n")
    with pytest.raises(ConfigFileError, match="congestion"):
        _cfg(tmp_path, extra="simulation:\n  congestion: [1.2, 1.5]\n")
    with pytest.raises(ConfigFileError, match=r"unknown road class.*'arterial'"):
        _cfg(tmp_path, extra="simulation:\n  congestion: {highway: [1.2]}\n")
    with pytest.raises(ConfigFileError, match="congestion.local"):
        _cfg(tmp_path, extra="simulation:\n  congestion: {local: [1.2, 1.5]}\n")
    with pytest.raises(ConfigFileError, match="engine"):
        _cfg(tmp_path, extra="simulation:\n  engine: quick\n")
    with pytest.raises(ConfigFileError, match="connectors"):
        _cfg(tmp_path, extra="candidates:\n  connectors: []\n")


def test_connectors_travel_as_text():
    assert connector_text(["GB/T", " CCS2"]) == "GB/T;CCS2"
    assert connector_text(None) == ""


def test_max_trips_samples_whole_vehicles_with_an_expansion_factor():
    rng = np.random.default_rng(0)
    n_legs = rng.integers(1, 4, 100)
    trips = pd.DataFrame({"vehicle_id": np.repeat(np.arange(100), n_legs)})
    kept = sample_fleet(trips.copy(), max_trips=50)
    assert len(kept) <= 50
    # whole vehicles only
    assert (
        kept.groupby("vehicle_id").size() == pd.Series(n_legs)[kept["vehicle_id"].unique()].values
    ).all()
    assert kept.attrs["expansion_factor"] == pytest.approx(len(trips) / len(kept))
    full = sample_fleet(trips.copy(), max_trips=None)
    assert full.attrs["expansion_factor"] == 1.0 and len(full) == len(trips)
    assert set(EXTENSIVE_KPIS) <= set(KPIS) and "demand_expansion_factor" in KPIS


def test_time_measures_end_with_the_generated_days(tmp_path):
    """Utilisation and the station time series over the warm-up + measured days the demand
    was generated for, not to the last late arrival (Almaty: 1 day read as 2)."""
    cfg = _cfg(tmp_path, extra="simulation:\n  days: 3\n  warmup_days: 1\n")
    assert sim_settings(cfg).measure_end_s == 4 * 86_400.0
    assert sim_settings(_cfg(tmp_path, "od_table")).measure_end_s is None


def test_the_notes_state_the_co2_factors_the_figures_use(tmp_path):
    """The report said "~0.64" nowhere and used 0.689 (at the plug) and 0.766 (per kWh the
    car uses) everywhere: the note states them, from the settings the simulation uses."""
    import re

    from planner.study.result import _co2_note

    note = _co2_note(_cfg(tmp_path))
    s = sim_settings(_cfg(tmp_path))
    per_kwh = s.grid_kg_co2_per_kwh / (1 - s.grid_loss_share) / s.charging_efficiency
    assert "0.641" in note and "7% grid losses" in note and "90% charging efficiency" in note
    figures = [float(x) for x in re.findall(r"(\d\.\d{3}) kg per kWh", note)]
    assert figures == [round(per_kwh * s.charging_efficiency, 3), round(per_kwh, 3)]
    own = _cfg(tmp_path, extra="simulation:\n  grid_kg_co2_per_kwh: 0.5\n")
    assert "grid 0.500 kg CO2/kWh generated (simulation.grid_kg_co2_per_kwh)" in _co2_note(own)


def test_cool_down_days_by_demand_and_the_days_generated(tmp_path):
    """Corridor and freight trips take a day or more: without days after the measured ones
    their last stops met empty stations (the corridor's p95 wait read 31 min where the
    stops inside the generated days waited 37; review of 2026-12-07)."""
    from planner.config.study import ConfigFileError as Bad

    assert _cfg(tmp_path).cooldown_days() == 0
    corridor = _cfg(tmp_path, "corridor")
    assert corridor.cooldown_days() == 1
    assert corridor.simulated_days() == corridor.warmup_days() + 1 + 1
    s = sim_settings(corridor)
    assert s.measure_end_s == (corridor.warmup_days() + 1) * 86_400.0  # not the cool-down
    own = _cfg(tmp_path, "corridor", "simulation:\n  cooldown_days: 3\n  days: 2\n")
    assert own.simulated_days() == own.warmup_days() + 2 + 3
    with pytest.raises(Bad, match="cooldown_days"):
        _cfg(tmp_path, "od_table", "simulation:\n  cooldown_days: 1\n")
