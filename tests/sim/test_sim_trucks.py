"""The catalogue's heavy trucks against their published figures (sim/catalogue.yaml)."""

from __future__ import annotations

import pytest

from sim import builtin_models

CATALOGUE = builtin_models()
TRUCKS = ("mercedes_eactros_600", "windrose_r700")


def test_at_least_two_truck_models_with_sources():
    trucks = [k for k, m in CATALOGUE.items() if m.category == "truck"]
    assert set(TRUCKS) <= set(trucks)
    for k in TRUCKS:
        assert CATALOGUE[k].source.strip() and "MCS" in CATALOGUE[k].connectors


@pytest.mark.parametrize(
    ("key", "range_km"), [("mercedes_eactros_600", 500.0), ("windrose_r700", 670.0)]
)
def test_loaded_range_is_the_makers(key, range_km):
    """eActros 600: 500 km at 40 t; Windrose R700: 670 km at 49 t (at 80 km/h, 20 C)."""
    m = CATALOGUE[key]
    km = m.battery_kwh / float(m.consumption_kwh_per_km_at(80.0, 20.0))
    assert km == pytest.approx(range_km, rel=0.03)


def test_windrose_charging_times_at_one_megawatt():
    """Published: 20-80 % in about 38 min; 51-97 % in 38.6 min on MCS in China."""
    m = CATALOGUE["windrose_r700"]
    prof = m.charge_profile(1000.0, dc=True, temp_c=20.0)
    c = m.battery_kwh
    assert prof.time_s(0.2 * c, 0.8 * c) / 60 == pytest.approx(38.0, rel=0.1)
    assert prof.time_s(0.51 * c, 0.97 * c) / 60 == pytest.approx(38.6, rel=0.15)


def test_eactros_mcs_twenty_to_eighty_in_about_thirty_minutes():
    """Mercedes-Benz Trucks: 20-80 % in about 30 min at ~1 MW (MCS)."""
    m = CATALOGUE["mercedes_eactros_600"]
    prof = m.charge_profile(1000.0, dc=True, temp_c=20.0)
    assert prof.time_s(0.2 * m.battery_kwh, 0.8 * m.battery_kwh) / 60 == pytest.approx(30, rel=0.2)


@pytest.mark.parametrize("key", TRUCKS)
def test_truck_winter_energy_in_fleet_band(key):
    """Issue 13 calibration: +15-30 % drive energy at -20 C (NACFE; Norwegian carriers)."""
    t = CATALOGUE[key]
    ratio = t.consumption_kwh_per_km_at(80.0, -20.0) / t.consumption_kwh_per_km_at(80.0, 20.0)
    assert 1.15 <= float(ratio) <= 1.30


@pytest.mark.parametrize("key", TRUCKS)
def test_truck_winter_range_loss_in_fleet_band(key):
    """The fleet figures are *range* losses (NACFE: at least 15 %; Bring: up to 30 %). The
    range the model gives at -20 C also loses the cold LFP pack's usable capacity (0.9),
    which the energy test above leaves out: 25 % less range, not the 16.5 % the docs said."""
    t = CATALOGUE[key]

    def range_km(temp_c: float) -> float:
        return t.usable_kwh(temp_c) / float(t.consumption_kwh_per_km_at(80.0, temp_c))

    loss = 1.0 - range_km(-20.0) / range_km(20.0)
    assert 0.15 <= loss <= 0.30


def test_trucks_follow_no_rules_unless_a_study_says_so():
    assert all(CATALOGUE[k].driving_rules == "" for k in TRUCKS)
