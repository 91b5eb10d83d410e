"""Vehicle physics, the built-in catalogue and user YAML models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networks.errors import EvplanError
from sim import VehicleModel, VehicleSpecError, builtin_models, load_vehicle_models
from sim.vehicles import DEFAULT_COLD_DC_FACTOR

CATALOGUE = builtin_models()


def test_catalogue_has_required_models_with_sources():
    assert "mitsubishi_imiev_2013" in CATALOGUE
    cars = [k for k, m in CATALOGUE.items() if m.category == "car" and not k.endswith("2013")]
    trucks = [k for k, m in CATALOGUE.items() if m.category == "truck"]
    assert len(cars) >= 3 and len(trucks) >= 1
    for m in CATALOGUE.values():
        assert len(m.source) > 40, m.key  # a real citation, not a placeholder
        assert m.connectors


def test_imiev_2013_matches_published_figures():
    m = CATALOGUE["mitsubishi_imiev_2013"]
    # press kit: 16 kWh gross; the usable share is an assumption (~90 %)
    assert 0.85 * 16 <= m.battery_kwh < 16
    assert m.max_ac_kw == pytest.approx(3.3)
    assert "CHAdeMO" in m.connectors
    # "80 % in under 30 minutes" on a 50 kW quick charger, mild weather
    t = m.charge_profile(50, dc=True, temp_c=20).time_s(0.0, 0.8 * m.battery_kwh)
    assert 15 * 60 < t < 30 * 60
    # owner's manual: ~2 h longer at -15 C
    t_cold = m.charge_profile(50, dc=True, temp_c=-15).time_s(0.0, 0.8 * m.battery_kwh)
    assert t_cold - t == pytest.approx(2 * 3600, rel=0.35)


def test_imiev_consumption_consistent_with_epa_city_and_highway():
    """EPA 2012-2013 i-MiEV label: 126 MPGe city, 99 highway (33.7 kWh a gallon, at the
    wall; x 0.90 to the battery side, the catalogue's convention)."""
    m = CATALOGUE["mitsubishi_imiev_2013"]
    city = 33.7 / 126 / 1.609344 * 0.90
    hwy = 33.7 / 99 / 1.609344 * 0.90
    assert m.consumption_kwh_per_km_at(31.5, 22.0) == pytest.approx(city, rel=0.05)
    assert m.consumption_kwh_per_km_at(77.7, 22.0) == pytest.approx(hwy, rel=0.05)


def test_atto3_dc_curve_matches_byd_charging_time():
    """BYD Europe (2023): 30-80 % in about 29 min at its 88 kW peak."""
    m = CATALOGUE["byd_atto3"]
    prof = m.charge_profile(150, dc=True, temp_c=25)
    t = prof.time_s(0.3 * prof.capacity, 0.8 * prof.capacity) / 60
    assert t == pytest.approx(29.0, rel=0.05)


def test_id4_dc_curve_reproduces_insideevs_timestamps():
    m = CATALOGUE["vw_id4_pro"]
    prof = m.charge_profile(150, dc=True, temp_c=15)
    assert prof.time_s(0.02 * 77, 0.80 * 77) / 60 == pytest.approx(38, abs=2.5)
    assert prof.time_s(0.80 * 77, 0.90 * 77) / 60 == pytest.approx(10, abs=1.5)


def test_ioniq5_consumption_consistent_with_epa_city_and_highway():
    """EPA 2023 IONIQ 5 RWD LR label: 344 mi city, 254 mi highway on ~74 kWh usable."""
    m = CATALOGUE["hyundai_ioniq5_lr"]
    city = m.battery_kwh / (344 * 1.609344)
    hwy = m.battery_kwh / (254 * 1.609344)
    assert m.consumption_kwh_per_km_at(31.5, 22.0) == pytest.approx(city, rel=0.12)
    assert m.consumption_kwh_per_km_at(80.0, 22.0) == pytest.approx(hwy, rel=0.12)


def test_consumption_grows_with_speed_and_cold_and_heat():
    m = CATALOGUE["byd_atto3"]
    c = m.consumption_kwh_per_km_at(np.array([60.0, 90.0, 120.0]), 20.0)
    assert (np.diff(c) > 0).all()
    assert (
        m.consumption_kwh_per_km_at(50, -20)
        > m.consumption_kwh_per_km_at(50, 0)
        > m.consumption_kwh_per_km_at(50, 20)
    )
    assert m.consumption_kwh_per_km_at(50, 38) > m.consumption_kwh_per_km_at(50, 22)
    # AAA 2019: -6.7 C with heater ~ +69 % consumption on combined driving (resistive heater)
    imiev = CATALOGUE["mitsubishi_imiev_2013"]
    ratio = imiev.consumption_kwh_per_km_at(48, -6.7) / imiev.consumption_kwh_per_km_at(48, 20)
    assert ratio == pytest.approx(1.69, abs=0.15)


def test_energy_handles_zero_and_unreachable_legs():
    m = CATALOGUE["tesla_model_y_lr"]
    e = m.energy_kwh([0.0, 1000.0, np.inf], [0.0, 60.0, np.inf], 20.0)
    assert e[0] == 0.0 and 0 < e[1] < 1 and math.isinf(e[2])


def test_truck_speed_cap():
    m = CATALOGUE["mercedes_eactros_600"]
    t = m.drive_time_s(np.array([100_000.0]), np.array([3000.0]))  # 120 km/h on the network
    assert t[0] == pytest.approx(100_000 / (80 / 3.6))


def test_cold_derating_of_dc_power():
    m = CATALOGUE["tesla_model_y_lr"]  # NMC, no table of its own: the chemistry default
    warm = m.dc_power_kw(0.1, 20.0)
    assert m.dc_power_kw(0.1, 0.0) == pytest.approx(warm * dict(DEFAULT_COLD_DC_FACTOR)[0.0])
    assert m.dc_power_kw(0.1, -20.0) == pytest.approx(warm * 0.5)
    assert m.dc_power_kw(0.1, 20.0, station_kw=50) == 50


def test_flat_profile_is_exact():
    m = VehicleModel(
        key="flat",
        name="flat",
        category="car",
        battery_kwh=50,
        consumption_kwh_per_km=0.2,
        max_ac_kw=11,
        dc_curve=((0, 60), (1, 60)),
        connectors=("CCS2",),
    )
    prof = m.charge_profile(60, dc=True, temp_c=20)
    assert prof.time_s(10, 40) == pytest.approx(1800.0, abs=1e-9)
    assert prof.energy_after(10, 1800.0) == pytest.approx(40.0, abs=1e-9)
    assert m.charge_profile(60, dc=False, temp_c=20).time_s(0, 11) == pytest.approx(3600.0)


def _write(tmp_path, text):
    p = tmp_path / "vehicles.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_user_yaml_adds_and_extends_models(tmp_path):
    p = _write(
        tmp_path,
        """
models:
  my_van:
    category: van
    battery_kwh: 75
    consumption_kwh_per_km: 0.25
    max_ac_kw: 11
    dc_curve: [[0, 100], [0.8, 100], [1.0, 20]]
    connectors: CCS2; Type2
    source: data sheet
  id4_china:
    extends: vw_id4_pro
    connectors: [GB/T]
""",
    )
    models = load_vehicle_models(p)
    assert "vw_id4_pro" in models and models["my_van"].battery_kwh == 75
    assert models["my_van"].connectors == ("CCS2", "Type2")
    assert models["id4_china"].connectors == ("GB/T",)
    assert models["id4_china"].battery_kwh == CATALOGUE["vw_id4_pro"].battery_kwh


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("battery_kwh", "-5", "battery_kwh"),
        ("consumption_kwh_per_km", "0", "consumption_kwh_per_km"),
        ("max_ac_kw", "-1", "max_ac_kw"),
        ("dc_curve", "[[0.5, 50], [0.2, 60]]", "dc_curve"),
        ("dc_curve", "[[0, 0], [1, 50]]", "dc_curve"),
        ("category", "spaceship", "category"),
        ("battery_kwh", "lots", "battery_kwh"),
    ],
)
def test_impossible_specs_name_model_and_field(tmp_path, field, value, needle):
    base = {
        "category": "car",
        "battery_kwh": "40",
        "consumption_kwh_per_km": "0.15",
        "max_ac_kw": "7",
        "connectors": "[Type2]",
    }
    base[field] = value
    body = "\n".join(f"    {k}: {v}" for k, v in base.items())
    p = _write(tmp_path, f"models:\n  bad_car:\n{body}\n")
    with pytest.raises(VehicleSpecError) as exc:
        load_vehicle_models(p)
    msg = str(exc.value)
    assert "bad_car" in msg and needle in msg and str(p) in msg
    assert isinstance(exc.value, EvplanError)


def test_unknown_field_and_unknown_parent(tmp_path):
    p = _write(tmp_path, "models:\n  x:\n    extends: vw_id4_pro\n    batery_kwh: 50\n")
    with pytest.raises(VehicleSpecError, match="batery_kwh"):
        load_vehicle_models(p)
    p = _write(tmp_path, "models:\n  x:\n    extends: nope\n")
    with pytest.raises(VehicleSpecError, match="nope"):
        load_vehicle_models(p)
    with pytest.raises(VehicleSpecError, match="does not exist"):
        load_vehicle_models(tmp_path / "missing.yaml")


def test_no_way_to_charge_is_rejected():
    with pytest.raises(VehicleSpecError, match="no way to charge"):
        VehicleModel(
            key="x",
            name="x",
            category="car",
            battery_kwh=10,
            consumption_kwh_per_km=0.1,
            max_ac_kw=0,
            connectors=("Type2",),
        )


def test_a_user_model_replacing_a_built_in_says_so(tmp_path, caplog):
    """Allowed, but not silently: the report shows the built-in's key and name."""
    p = _write(tmp_path, "models:\n  byd_atto3:\n    extends: byd_atto3\n    battery_kwh: 200\n")
    with caplog.at_level("WARNING", logger="sim.catalogue"):
        models = load_vehicle_models(p)
    assert models["byd_atto3"].battery_kwh == 200
    (msg,) = [r.getMessage() for r in caplog.records]
    assert str(p) in msg and "'byd_atto3' replaces" in msg and "battery_kwh" in msg
    caplog.clear()
    p = _write(tmp_path, "models:\n  big_atto:\n    extends: byd_atto3\n    battery_kwh: 200\n")
    with caplog.at_level("WARNING", logger="sim.catalogue"):
        load_vehicle_models(p)
    assert not caplog.records  # a key of its own: nothing replaced
