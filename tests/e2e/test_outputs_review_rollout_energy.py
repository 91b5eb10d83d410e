"""A staged study with renewable plants reports their hourly matching, as an unstaged study
does (black-box review of corridor-kaz01-rollout, 2026-12-07: its config sets
renewables.plants, the report's CO2 note said charging CO2 "is matched hour by hour to the
renewable plants' output where they are set", yet the run matched nothing: no renewable
share, no CO2 of charging, no station_energy tables, no renewables note)."""

from __future__ import annotations

import math

import pytest

from planner.config.study import load_config
from tests.e2e.test_pipeline import CONFIGS
from tests.e2e.test_rollout import SMALL_CORRIDOR_ROLLOUT


@pytest.fixture(scope="module")
def staged(data_dir, net_cache_dir):
    """The corridor rollout on small settings (two stages), run once for the module."""
    mp = pytest.MonkeyPatch()
    mp.setenv("EVPLAN_DATA_DIR", str(data_dir))
    mp.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    from planner.study.run import run_study

    cfg = load_config(
        CONFIGS / "corridor-kaz01-rollout.yaml",
        overrides={
            **SMALL_CORRIDOR_ROLLOUT,
            "rollout.method": "myopic",
            "rollout.scenarios": {},
        },
    )
    cfg.stages = cfg.stages[:2]
    assert cfg.renewables.plants  # the shipped rollout sets the Karaganda plants
    try:
        yield run_study(cfg, write=False)
    finally:
        mp.undo()


@pytest.mark.slow
def test_a_staged_study_matches_its_charging_with_the_plants(staged):
    res = staged
    after = res.kpis_after
    for k in ("co2_charging_kg", "renewable_share_charging", "energy_renewable_kwh"):
        assert k in after and math.isfinite(after[k]), k
    assert after["co2_charging_kg"] > 0  # the last stage's plan charges
    assert any(n.startswith("Renewables: ") for n in res.notes)
    energy = res.tables["station_energy_after"]
    # the station rows carry the seed run's CO2, the energy table's
    assert {"co2_kg", "renewable_share", "plant"} <= set(res.selected.columns)
    rows = res.selected["co2_kg"].sum() + res.existing["co2_kg"].sum()
    assert rows == pytest.approx(energy["co2_kg"].sum())


@pytest.mark.slow
def test_a_staged_study_vehicle_matrix_says_its_year(staged):
    """tables/vehicle_matrix of a staged study is the last stage's (its demand and
    stations), but its rows carried no year: a carmaker reading the CSV could not tell
    which stage of the rollout the shares were for (only the report's caption said)."""
    vm = staged.vehicle_matrix
    assert len(vm) and "year" in vm.columns
    assert set(vm["year"]) == {2027}
    assert "year" in staged.tables["vehicle_matrix"].columns
