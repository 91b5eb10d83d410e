"""Queueing correctness: a hand-checkable single-plug station and M/M/c against Erlang C."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import ChargingPolicy, SimSettings, SocThreshold, TargetSoc, VehicleModel, simulate
from sim.synthetic import line_network

# A flat 60 kW DC curve and a 50 kWh battery: charging 0.2 -> 0.8 takes exactly 30 kWh / 60 kW = 1800 s.
FLAT = VehicleModel(
    key="flat60",
    name="test car (flat 60 kW)",
    category="car",
    battery_kwh=50.0,
    consumption_kwh_per_km=0.15,
    max_ac_kw=11,
    dc_curve=((0.0, 60.0), (1.0, 60.0)),
    connectors=("CCS2",),
)
VEHICLES = {"flat60": FLAT}
NET = line_network([1000.0, 1000.0], speed_kph=36.0)  # 100 s per km
POLICY = ChargingPolicy(
    when=SocThreshold(threshold_soc=0.5, reserve_soc=0.0), how_much=TargetSoc(0.8)
)


def _trips(departs, origin=0, destination=1):
    n = len(departs)
    return pd.DataFrame(
        {
            "vehicle_id": range(n),
            "vehicle_model": "flat60",
            "origin": origin,
            "destination": destination,
            "depart_s": departs,
            "chain_seq": 0,
            "initial_soc": 0.2,
        }
    )


def _station(plugs=1, power=60.0):
    return pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [plugs], "power_kw": [power]})


def test_single_plug_exact_waits():
    """Arrivals at 0, 600, 1200 s, each charging 1800 s on one plug: waits 0, 1200, 2400 s."""
    res = simulate(
        NET,
        _station(),
        _trips([0.0, 600.0, 1200.0]),
        vehicles=VEHICLES,
        settings=SimSettings(policy=POLICY, max_wait_s=math.inf),
        seed=0,
    )
    s = res.sessions.sort_values("arrive_s")
    np.testing.assert_allclose(s["arrive_s"], [0, 600, 1200])
    np.testing.assert_allclose(s["start_s"], [0, 1800, 3600])
    np.testing.assert_allclose(s["end_s"], [1800, 3600, 5400])
    np.testing.assert_allclose(s["wait_s"], [0, 1200, 2400])
    np.testing.assert_allclose(s["energy_kwh"], 30.0)
    np.testing.assert_allclose(s["soc_end"], 0.8)
    # then 1 km at 36 km/h = 100 s to the destination
    t = res.trips.sort_values("vehicle_id")
    np.testing.assert_allclose(t["arrived_s"], [1900, 3700, 5500])
    k = res.kpis()
    assert k["wait_mean_min"] == pytest.approx(20.0)
    assert k["sessions_public"] == 3 and k["share_trips_completed"] == 1.0
    assert k["peak_kw_station_max"] == pytest.approx(60.0)
    # utilisation over the one-day span: 5400 busy plug-seconds of 86,400
    assert k["plug_utilisation"] == pytest.approx(5400 / 86400)
    ts = res.station_timeseries
    assert ts["energy_kwh"].sum() == pytest.approx(90.0)
    # 900-1800 s: driver 2 waits the whole bin, driver 3 from 1200 s -> 1 + 600/900
    assert ts.loc[ts["t_s"] == 900, "queue"].iloc[0] == pytest.approx(1 + 600 / 900)
    assert ts.loc[ts["t_s"] == 0, "busy_plugs"].iloc[0] == pytest.approx(1.0)


def test_two_plugs_exact_waits():
    """Four arrivals 300 s apart, 1800 s each, two plugs: starts 0, 300, 1800, 2100."""
    res = simulate(
        NET,
        _station(plugs=2),
        _trips([0.0, 300.0, 600.0, 900.0]),
        vehicles=VEHICLES,
        settings=SimSettings(policy=POLICY, max_wait_s=math.inf),
        seed=0,
    )
    s = res.sessions.sort_values("arrive_s")
    np.testing.assert_allclose(s["start_s"], [0, 300, 1800, 2100])
    np.testing.assert_allclose(s["wait_s"], [0, 0, 1200, 1200])
    assert res.stations["peak_busy_plugs"].iloc[0] == 2
    assert res.kpis()["peak_kw_network"] == pytest.approx(120.0)


def test_balking_after_max_wait_then_driving_on():
    """With a 1500 s limit the third driver (would wait 2400 s) leaves at 1200 + 1500 s and,
    able to reach the destination, drives on without charging."""
    res = simulate(
        NET,
        _station(),
        _trips([0.0, 600.0, 1200.0]),
        vehicles=VEHICLES,
        settings=SimSettings(policy=POLICY, max_wait_s=1500.0),
        seed=0,
    )
    s = res.sessions.sort_values("arrive_s").reset_index(drop=True)
    assert s["status"].tolist() == ["charged", "charged", "balked"]
    assert s.loc[2, "wait_s"] == pytest.approx(1500.0)
    assert s.loc[2, "end_s"] == pytest.approx(2700.0)
    t = res.trips.set_index("vehicle_id")
    assert t.loc[2, "arrived_s"] == pytest.approx(2800.0)
    assert t.loc[2, "soc_depart"] == pytest.approx(0.2)
    k = res.kpis()
    assert k["sessions_balked"] == 1 and k["share_trips_completed"] == 1.0


def test_stranded_when_no_station_and_too_far():
    """An empty-ish car with no station on a 100 km leg runs dry part-way and is counted."""
    far = line_network([100_000.0], speed_kph=90.0)
    trips = _trips([0.0], origin=0, destination=1).assign(initial_soc=0.05)  # 2.5 kWh, ~15 km
    res = simulate(far, None, trips, vehicles=VEHICLES, settings=SimSettings(policy=POLICY), seed=0)
    t = res.trips.iloc[0]
    assert t["status"] == "stranded" and t["soc_arrive"] == 0.0
    assert 0 < t["distance_km"] < 100
    v = res.vehicles.iloc[0]
    assert v["stranded"] and v["energy_end_kwh"] == 0.0
    assert res.kpis()["stranded_vehicles"] == 1 and res.kpis()["share_trips_completed"] == 0.0


def erlang_c_wait(lam: float, mu: float, c: int) -> tuple[float, float]:
    """Erlang-C probability of waiting and mean wait in queue for M/M/c."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def test_mm_c_matches_erlang_c():
    """3 plugs, Poisson arrivals every 600 s on average, exponential service with mean
    1500 s (a = 2.5, rho = 0.83). Service time is set through the initial state of charge of
    a 1000 kWh battery charged to 100 % at a flat 100 kW. Tolerance: 3 standard errors of
    the mean wait estimated by batch means (20 batches after a 300-customer warm-up), i.e.
    a ~99.7 % interval; a fixed seed makes the test deterministic."""
    rng = np.random.default_rng(12345)
    n, c, lam, mu = 4000, 3, 1 / 600.0, 1 / 1500.0
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = rng.exponential(1 / mu, n)
    big = VehicleModel(
        key="mmc",
        name="M/M/c test vehicle",
        category="car",
        battery_kwh=1000.0,
        consumption_kwh_per_km=0.15,
        max_ac_kw=11,
        dc_curve=((0.0, 100.0), (1.0, 100.0)),
        connectors=("CCS2",),
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": range(n),
            "vehicle_model": "mmc",
            "origin": 0,
            "destination": 1,
            "depart_s": arrivals,
            "chain_seq": 0,
            "initial_soc": 1.0 - service * 100.0 / 3600.0 / 1000.0,
        }
    )
    assert (trips["initial_soc"] > 0).all()
    policy = ChargingPolicy(
        when=SocThreshold(threshold_soc=1.0, reserve_soc=0.0), how_much=TargetSoc(1.0)
    )
    res = simulate(
        NET,
        _station(plugs=c, power=100.0),
        trips,
        vehicles={"mmc": big},
        settings=SimSettings(policy=policy, max_wait_s=math.inf),
        seed=0,
    )
    s = res.sessions.sort_values("arrive_s")
    np.testing.assert_allclose(s["charge_s"].to_numpy(), service, rtol=1e-6, atol=1e-6)
    waits = s["wait_s"].to_numpy()[300:]
    batches = np.array_split(waits, 20)
    means = np.array([b.mean() for b in batches])
    se = means.std(ddof=1) / np.sqrt(means.size)
    p_wait, wq = erlang_c_wait(lam, mu, c)
    assert abs(waits.mean() - wq) < 3 * se, (waits.mean(), wq, se)
    assert np.mean(waits > 0) == pytest.approx(p_wait, abs=0.06)
