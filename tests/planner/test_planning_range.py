"""The corridor's planning range (:func:`planner.study.optimize.planning_range_km`) drives
the usable capacity the simulation drives: at -20 C a battery's cold-derated capacity, not
its nameplate (source audit, 2026-12-07: an Atto 3 was planned for 180 km at -20 C where the
simulation's capacity gives 162 km)."""

from __future__ import annotations

import pytest

from planner.config.study import config_from_dict
from planner.study.optimize import RANGE_SPEED_KPH, RANGE_USABLE_SHARE, planning_range_km
from sim.catalogue import builtin_models


def _cfg(tmp_path, temperature_c: float):
    return config_from_dict(
        {
            "name": "range",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "corridor", "trips_per_day": 6},
            "vehicles": {"fleet": {"byd_atto3": 1.0}},
            "model": {"kind": "frlm", "p": 1},
            "simulation": {"temperature_c": temperature_c},
        },
        base_dir=tmp_path,
    )


def test_the_planning_range_uses_the_cold_capacity_the_simulation_drives(tmp_path):
    models = builtin_models()
    atto = models["byd_atto3"]
    cold = planning_range_km(_cfg(tmp_path, -20.0), models)
    kwh_km = float(atto.consumption_kwh_per_km_at(RANGE_SPEED_KPH, -20.0))
    assert atto.usable_kwh(-20.0) < atto.battery_kwh  # the derating this test is about
    assert cold == pytest.approx(RANGE_USABLE_SHARE * atto.usable_kwh(-20.0) / kwh_km)
    assert cold < RANGE_USABLE_SHARE * atto.battery_kwh / kwh_km
    # above the derating's range the capacity is the nameplate one
    warm = planning_range_km(_cfg(tmp_path, 20.0), models)
    kwh_km = float(atto.consumption_kwh_per_km_at(RANGE_SPEED_KPH, 20.0))
    assert warm == pytest.approx(RANGE_USABLE_SHARE * atto.battery_kwh / kwh_km)
