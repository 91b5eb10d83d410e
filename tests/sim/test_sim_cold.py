"""Cold-weather physics per model against published figures: DC charging at -10 C (IONIQ 5,
ID.4), chemistry defaults, usable-capacity derating, preconditioning, truck winter energy
and the ICE winter penalty (sources in sim/catalogue.yaml and docs/simulation.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim import SimSettings, SimSettingsError, builtin_models
from sim.vehicles import COLD_DC_FACTOR, PRECONDITION_PACK_C

CATALOGUE = builtin_models()


def _ten_to_eighty_min(key: str, temp_c: float, *, pack_c: float | None = None) -> float:
    m = CATALOGUE[key]
    prof = m.charge_profile(350.0, dc=True, temp_c=temp_c, pack_temp_c=pack_c)
    return prof.time_s(0.1 * prof.capacity, 0.8 * prof.capacity) / 60.0


def _avg_kw_ten_to_eighty(key: str, temp_c: float) -> float:
    cap = CATALOGUE[key].usable_kwh(temp_c)
    return 0.7 * cap / (_ten_to_eighty_min(key, temp_c) / 60.0)


def test_ioniq5_cold_fast_charge_matches_tests():
    # InsideEVs (2022): 10-80 % in 30 min at -5, -2 and 0 C without preconditioning
    assert _ten_to_eighty_min("hyundai_ioniq5_lr", -2.5) == pytest.approx(30.0, rel=0.15)
    # CAA EV Winter Test (2025, -7 to -15 C): 80 kW session average
    assert _avg_kw_ten_to_eighty("hyundai_ioniq5_lr", -11.0) == pytest.approx(80.0, rel=0.15)
    # Hyundai: 18 min warm at a 350 kW charger (the warm curve's taper is fitted to it)
    assert _ten_to_eighty_min("hyundai_ioniq5_lr", 25.0) == pytest.approx(18.0, rel=0.03)


def test_ioniq5_warm_fast_charge_matches_the_independent_test():
    # Battery Life / autoevolution: 80 % after 21 min from 6 %, ~220 kW around 30 %
    m = CATALOGUE["hyundai_ioniq5_lr"]
    prof = m.charge_profile(350.0, dc=True, temp_c=25.0)
    minutes = prof.time_s(0.06 * prof.capacity, 0.8 * prof.capacity) / 60.0
    assert minutes == pytest.approx(21.0, rel=0.15)
    assert m.dc_power_kw(0.3, 25.0) == pytest.approx(220.0, rel=0.05)


def _soc_after_30_min_from_20(key: str, temp_c: float) -> float:
    m = CATALOGUE[key]
    prof = m.charge_profile(50.0, dc=True, temp_c=temp_c)
    return prof.energy_after(0.2 * prof.capacity, 1800.0) / prof.capacity


def test_imiev_cold_charging_matches_inl():
    # Motoaki, Yi & Salisbury (2018), INL release 2018-08-01: passively cooled Nissan Leaf
    # packs starting at 20 % on a 50 kW charger: after 30 min, a 36 % lower state of charge
    # at 0 C than at 25 C. The i-MiEV's pack is passively cooled too.
    warm = _soc_after_30_min_from_20("mitsubishi_imiev_2013", 25.0)
    cold = _soc_after_30_min_from_20("mitsubishi_imiev_2013", 0.0)
    assert cold / warm == pytest.approx(0.64, abs=0.03)
    # and INL's warm session reached 80 % (the i-MiEV, a smaller pack, a little more)
    assert 0.8 <= warm <= 0.95


def test_id4_cold_charging_matches_caa_test():
    # CAA EV Winter Test (2025, -7 to -15 C): average 104 kW = 61.2 % of the tested car's
    # rated peak; this (earlier, 128 kW) model transfers the ratio
    m = CATALOGUE["vw_id4_pro"]
    ratio = _avg_kw_ten_to_eighty("vw_id4_pro", -11.0) / m.max_dc_kw
    assert ratio == pytest.approx(0.612, rel=0.15)
    # InsideEVs at +5 C: the full warm peak (128 kW) was reached
    assert m.dc_power_kw(0.3, 5.0) == pytest.approx(128.0, rel=0.1)


def test_lfp_charges_slower_than_nmc_when_cold():
    lfp, nmc = dict(COLD_DC_FACTOR["LFP"]), dict(COLD_DC_FACTOR["NMC"])
    assert all(lfp[t] < nmc[t] for t in (-20.0, -10.0, 0.0))
    assert CATALOGUE["byd_atto3"].chemistry == "LFP"
    assert CATALOGUE["byd_atto3"].cold_factor(-10.0) == pytest.approx(lfp[-10.0])


def test_usable_capacity_shrinks_only_below_minus_15():
    for key in ("byd_atto3", "vw_id4_pro"):
        m = CATALOGUE[key]
        assert m.usable_kwh(-10.0) == m.battery_kwh
        assert m.usable_kwh(-25.0) < m.usable_kwh(-15.0) == m.battery_kwh
    # LFP loses more than NMC
    assert (
        CATALOGUE["byd_atto3"].usable_kwh(-30.0) / CATALOGUE["byd_atto3"].battery_kwh
        < CATALOGUE["vw_id4_pro"].usable_kwh(-30.0) / CATALOGUE["vw_id4_pro"].battery_kwh
    )


def test_preconditioning_restores_warm_charging_at_an_energy_cost():
    m = CATALOGUE["hyundai_ioniq5_lr"]
    assert m.preconditioning
    cold = _ten_to_eighty_min("hyundai_ioniq5_lr", -10.0)
    pre = _ten_to_eighty_min(
        "hyundai_ioniq5_lr", -10.0, pack_c=m.pack_temp_c(-10.0, precondition=True)
    )
    assert pre < 0.7 * cold
    # heating 74 kWh of pack by 30 K: ~3.7 kWh (6 kg/kWh x 1 kJ/(kg K))
    assert m.precondition_kwh(-10.0, precondition=True) == pytest.approx(
        m.battery_kwh * 6.0 / 3600.0 * (PRECONDITION_PACK_C + 10.0)
    )
    assert m.precondition_kwh(-10.0, precondition=False) == 0.0
    assert CATALOGUE["byd_atto3"].precondition_kwh(-10.0, precondition=True) == 0.0


def test_truck_winter_energy_in_fleet_band():
    # NACFE Run on Less: at least +15 % energy; Norwegian carriers (Bring): up to 30 % less
    # range in cold weather
    t = CATALOGUE["mercedes_eactros_600"]
    ratio = t.consumption_kwh_per_km_at(80.0, -20.0) / t.consumption_kwh_per_km_at(80.0, 20.0)
    assert 1.15 <= float(ratio)
    assert 0.15 <= 1.0 - 1.0 / float(ratio) <= 0.30


def test_gbt_model_in_catalogue():
    m = CATALOGUE["vw_id4_crozz_pro"]
    assert m.connectors == ("GB/T",) and m.source
    assert m.can_use(dc=True, connectors=frozenset({"GB/T"}))
    assert not m.can_use(dc=True, connectors=frozenset({"CCS2", "CHAdeMO"}))


def test_ice_winter_penalty_is_fueleconomy_gov_figure():
    """fueleconomy.gov: a petrol car's fuel *economy* (km per litre) is about 15 % lower at
    20 F (-6.7 C) than at 77 F (25 C). The model's factor multiplies fuel *use*, so the
    published figure is 1 / factor = 0.85 (the old factor 1.15 gave economy 0.87). The
    figure is not extrapolated below its temperature, and it is a car figure: a truck's
    penalty is its own setting (0 by default, no sourced figure)."""
    s = SimSettings()
    economy = {t: 1.0 / s.ice_factor(t) for t in (25.0, 30.0, -6.7, -20.0, -40.0)}
    assert economy[25.0] == economy[30.0] == 1.0
    assert economy[-6.7] == pytest.approx(0.85, abs=1e-9)
    assert economy[-20.0] == economy[-40.0] == economy[-6.7]  # held below the tested point
    assert s.ice_factor(-20.0, truck=True) == 1.0
    sourced = SimSettings(ice_truck_cold_penalty_per_c=0.002, ice_cold_floor_c=-30.0)
    assert sourced.ice_factor(-20.0, truck=True) == pytest.approx(1.0 + 0.002 * 45)
    with pytest.raises(SimSettingsError, match="ice_cold_floor_c"):
        SimSettings(ice_cold_floor_c=30.0)  # above the reference temperature


def _range_ratio(m, speed_kph: float, temp_c: float, mild_c: float = 23.9) -> float:
    """Range at ``temp_c`` over range at ``mild_c`` (consumption and usable capacity)."""
    c = m.consumption_kwh_per_km_at(speed_kph, mild_c) / m.consumption_kwh_per_km_at(
        speed_kph, temp_c
    )
    return float(c) * m.usable_kwh(temp_c) / m.usable_kwh(mild_c)


def _of_rated(m, speed_kph: float, temp_c: float) -> float:
    """Range at ``temp_c`` over the *rated* range (usable energy / the rating's
    consumption), as Geotab reports it."""
    rated = m.battery_kwh / m.consumption_kwh_per_km
    return m.usable_kwh(temp_c) / float(m.consumption_kwh_per_km_at(speed_kph, temp_c)) / rated


CARS = [k for k, m in CATALOGUE.items() if not m.is_truck]
HEAT_PUMP = {"hyundai_ioniq5_lr", "tesla_model_y_lr", "byd_atto3"}


@pytest.mark.parametrize("key", CARS)
def test_winter_range_matches_aaa_heater_off_and_on(key):
    """AAA (2019), combined city/highway cycles (~48 km/h), 20 F (-6.7 C) against 75 F
    (23.9 C): 88 % of the range with the heater off, 59 % with it on (resistive heaters;
    a heat pump keeps more). The heater-off part is per km whatever the speed, so the
    highway penalty is not only the heater's power spread over more km."""
    import dataclasses

    m = CATALOGUE[key]
    off = dataclasses.replace(m, heat_kw_per_c=0.0)
    # (on a road the denser cold air adds 1-2 pp of drag that AAA's dyno does not have)
    assert _range_ratio(off, 48.0, -6.7) == pytest.approx(0.88, abs=0.025)
    on = _range_ratio(m, 48.0, -6.7)
    if key in HEAT_PUMP:
        assert 0.59 < on < 0.75
    else:
        assert on == pytest.approx(0.59, abs=0.01)
    # at 90 km/h the winter penalty stays large: at least the heater-off loss plus heating
    assert _range_ratio(m, 90.0, -6.7) < 0.80


@pytest.mark.parametrize("key", [k for k in CARS if k not in HEAT_PUMP])
def test_winter_range_matches_geotab_against_the_rated_range(key):
    """Geotab (2020, 4,200 EVs): about 54 % of *rated* range at -15 C and about 115 % at
    its 21.5 C sweet spot. The test compared the model's -15 C range with its own 20 C
    range, which on city legs already exceeds the rated one: the like-for-like figure is
    the range over the rated range."""
    m = CATALOGUE[key]
    assert _of_rated(m, 44.0, 21.5) == pytest.approx(1.15, abs=0.1)
    assert _of_rated(m, 44.0, -15.0) == pytest.approx(0.54, abs=0.07)


@pytest.mark.parametrize("key", CARS)
def test_summer_range_matches_aaa_with_air_conditioning(key):
    """AAA (2019): at 95 F (35 C) with the A/C on, range fell 17 % against 75 F (23.9 C) on
    the combined cycles (~48 km/h), averaged over the cars tested (model: 78-83 %)."""
    assert _range_ratio(CATALOGUE[key], 48.0, 35.0) == pytest.approx(0.83, abs=0.05)


@pytest.mark.parametrize("key", CARS)
def test_mild_weather_range_reaches_geotab_rated_range(key):
    """Geotab (2020): at or above 100 % of the rated range in mild weather. The model holds
    it from 15 to 25 C; outside, heating (below 15 C) and cooling (above 25 C) start, and at
    10 and 30 C the model is 2-10 pp under Geotab's curve (docs/simulation.md)."""
    for temp_c in (15.0, 20.0, 25.0):
        assert _of_rated(CATALOGUE[key], 44.0, temp_c) >= 1.0


@pytest.mark.parametrize(("speed_kph", "winter_factor"), [(30.0, 1.0 / 0.85), (90.0, 1.0)])
def test_the_car_winter_penalty_is_for_city_driving_only(speed_kph, winter_factor):
    """fueleconomy.gov's 15 % is a city-driving figure: a 10 km trip at 30 km/h gets it in
    winter, the same trip at 90 km/h none (until 2026-12-07 every car km did, corridor
    trips included). Trips settle in the simulator; the ICE baseline's litres follow."""
    from sim import simulate
    from sim.synthetic import line_network

    net = line_network([10_000.0], speed_kph=speed_kph)
    trips = pd.DataFrame(
        {
            "vehicle_id": [0],
            "vehicle_model": ["byd_atto3"],
            "origin": [0],
            "destination": [1],
            "depart_s": [3600.0],
            "chain_seq": [0],
            "initial_soc": [0.9],
        }  # fmt: skip
    )
    co2 = {
        t: simulate(net, None, trips, settings=SimSettings(ambient_temp_c=t), seed=0).kpis()[
            "co2_ice_kg"
        ]
        for t in (25.0, -20.0)
    }
    assert co2[-20.0] / co2[25.0] == pytest.approx(winter_factor)
