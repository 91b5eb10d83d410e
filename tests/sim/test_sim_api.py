"""Public API: input validation errors, replications, horizon, home charging, CO2."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from networks.errors import EvplanError
from sim import (
    DemandError,
    SimSettings,
    SimSettingsError,
    StationError,
    StationOffNetworkError,
    UnknownVehicleModelError,
    prepare_stations,
    replicate,
    simulate,
)
from sim.synthetic import grid_network, line_network

NET = grid_network(6, 6, spacing_m=1000.0)


def _trips(n=4, model="byd_atto3"):
    rows = []
    for v in range(n):
        rows += [
            (v, model, v, 35 - v, 7 * 3600 + 60 * v, 0),
            (v, model, 35 - v, v, 17 * 3600 + 60 * v, 1),
        ]
    return pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )


STATIONS = pd.DataFrame(
    {"station_id": ["A", "B"], "node": [0, 21], "plugs": [1, 2], "power_kw": [50.0, 22.0]}
)


def test_station_off_network_is_named():
    bad = STATIONS.assign(node=[0, 999])
    with pytest.raises(StationOffNetworkError) as exc:
        simulate(NET, bad, _trips(), seed=1)
    assert "'B'" in str(exc.value) and "999" in str(exc.value)
    assert isinstance(exc.value, EvplanError)


def test_station_table_errors():
    with pytest.raises(StationError, match="plugs"):
        simulate(NET, STATIONS.assign(plugs=[1, 0]), _trips(), seed=1)
    with pytest.raises(StationError, match="power_kw"):
        simulate(NET, STATIONS.assign(power_kw=[50.0, -3.0]), _trips(), seed=1)
    with pytest.raises(StationError, match="duplicate"):
        simulate(NET, STATIONS.assign(station_id=["A", "A"]), _trips(), seed=1)
    with pytest.raises(StationError, match="lacks column"):
        simulate(NET, STATIONS.drop(columns="plugs"), _trips(), seed=1)


def test_prepare_stations_snaps_and_rejects_far_points():
    df = pd.DataFrame(
        {
            "station_id": ["near", "far"],
            "lon": [NET.lon[7] + 1e-4, 0.0],
            "lat": [NET.lat[7], 0.0],
            "plugs": 1,
            "power_kw": 50.0,
        }
    )
    with pytest.raises(StationOffNetworkError, match="'far'"):
        prepare_stations(NET, df)
    ok = prepare_stations(NET, df.iloc[:1])
    assert ok["node"].tolist() == [7]


def test_unknown_vehicle_model():
    with pytest.raises(UnknownVehicleModelError) as exc:
        simulate(NET, STATIONS, _trips(model="tesla_cybertruck"), seed=1)
    assert "tesla_cybertruck" in str(exc.value) and "byd_atto3" in str(exc.value)


def test_trip_table_errors():
    with pytest.raises(DemandError, match="not node indices"):
        simulate(NET, STATIONS, _trips().assign(origin=-1), seed=1)
    broken = _trips()
    broken.loc[1, "origin"] = 3
    with pytest.raises(DemandError, match="continuous"):
        simulate(NET, STATIONS, broken, seed=1)
    with pytest.raises(DemandError, match="lacks column"):
        simulate(NET, STATIONS, _trips().drop(columns="depart_s"), seed=1)
    with pytest.raises(DemandError, match="empty"):
        simulate(NET, STATIONS, _trips().iloc[:0], seed=1)
    soc = _trips().assign(initial_soc=0.5)
    soc.loc[1, "initial_soc"] = 1.7
    with pytest.raises(DemandError, match=r"initial_soc .*index 1 = 1\.7"):
        simulate(NET, STATIONS, soc, seed=1)


def test_settings_errors_name_the_field():
    with pytest.raises(SimSettingsError, match="initial_soc"):
        SimSettings(initial_soc=(0.9, 0.2))
    with pytest.raises(SimSettingsError, match="charging_efficiency"):
        SimSettings(charging_efficiency=0.0)
    with pytest.raises(SimSettingsError, match="home_charging_share"):
        SimSettings(home_charging_share=1.5)


def test_no_stations_and_reproducibility():
    a = simulate(NET, None, _trips(), seed=5)
    b = simulate(NET, None, _trips(), seed=5)
    pd.testing.assert_frame_equal(a.trips, b.trips)
    assert a.kpis()["sessions_public"] == 0 and math.isnan(a.kpis()["wait_mean_min"])
    c = simulate(NET, None, _trips(), seed=6)
    assert not np.allclose(a.vehicles["energy_start_kwh"], c.vehicles["energy_start_kwh"])


def test_home_charging_refills_overnight_and_is_counted():
    trips = _trips()
    day2 = trips.assign(depart_s=trips["depart_s"] + 86400, chain_seq=trips["chain_seq"] + 2)
    res = simulate(
        NET, None, pd.concat([trips, day2]), settings=SimSettings(home_charging_share=1.0), seed=1
    )
    home = res.sessions[res.sessions["kind"] == "home"]
    assert len(home) > 0 and (home["soc_end"] <= 0.9 + 1e-9).all()
    assert res.kpis()["energy_home_kwh"] == pytest.approx(home["energy_kwh"].sum())
    # vehicles start at the home target and end the first evening back at it
    assert np.allclose(res.vehicles["energy_start_kwh"] / res.vehicles["capacity_kwh"], 0.9)


def test_horizon_cuts_the_run():
    res = simulate(NET, None, _trips(), settings=SimSettings(horizon_s=12 * 3600), seed=1)
    st = res.trips["status"].value_counts()
    assert st["completed"] == 4 and st["not_started"] == 4
    assert res.kpis()["trips"] == 4  # trips planned after the horizon are not counted


def test_co2_avoided_uses_grid_factor_and_ice_baseline():
    res = simulate(NET, None, _trips(), seed=1)
    k = res.kpis()
    s = SimSettings()
    # well-to-wheel on both sides: petrol tank-to-wheel + well-to-tank, with the winter
    # penalty at the run's temperature (20 C: +2.8 %); grid generation plus 7 % losses
    winter = 1 + s.ice_cold_penalty_per_c * (25 - s.ambient_temp_c)
    per_l = s.petrol_kg_co2_per_l + s.petrol_wtt_kg_co2_per_l
    assert k["co2_ice_kg"] == pytest.approx(k["ev_km"] * 7.0 / 100 * per_l * winter)
    consumed = res.vehicles["consumed_kwh"].sum()
    assert k["co2_ev_kg"] == pytest.approx(consumed / 0.9 / (1 - 0.07) * 0.641)
    clean = simulate(
        NET, None, _trips(), settings=SimSettings(grid_kg_co2_per_kwh=0.0), seed=1
    ).kpis()
    assert clean["co2_avoided_kg"] == pytest.approx(clean["co2_ice_kg"])


def test_unreachable_trip_cancels_rest_of_chain():
    import networkx as nx

    from networks.road_network import RoadNetwork

    G = nx.MultiDiGraph(crs="EPSG:4326")
    for i in range(4):
        G.add_node(i, x=71.0 + i * 0.01, y=51.0)
    for u, v in ((0, 1), (1, 0), (2, 3), (3, 2)):  # two islands
        G.add_edge(
            u,
            v,
            length=700.0,
            travel_time=50.0,
            speed_kph=50,
            highway="primary",
            oneway=True,
            osmid=1,
        )
    net = RoadNetwork.from_graph(G, name="two islands (synthetic)")
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 0, 0],
            "vehicle_model": "byd_atto3",
            "origin": [0, 1, 2],
            "destination": [1, 2, 3],
            "depart_s": [0.0, 100.0, 200.0],
            "chain_seq": [0, 1, 2],
        }
    )
    res = simulate(net, None, trips, seed=0)
    assert res.trips["status"].tolist() == ["completed", "unroutable", "cancelled"]
    # the leg with no road path and the leg it cancelled: no charger could complete them
    assert res.trips["strand_cause"].tolist() == ["", "no_road_path", "no_road_path"]
    k = res.kpis()
    assert k["trips_no_road_path"] == 2 and k["trips_completed"] == 1
    assert k["stranded_vehicles"] == 0  # not a stranding
    # nor is it demand a new site could serve
    from planner.study.simulate import unserved_demand

    bad = unserved_demand(res, wait_target_min=None, detour_limit_min=30.0)
    assert bad.empty


def test_replicate_gives_mean_and_interval():
    stations = pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [1], "power_kw": [50.0]})
    net = line_network([20_000.0] * 3, speed_kph=60.0)
    rows = [(v, "byd_atto3", 0, 3, 600.0 * v, 0) for v in range(30)]
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    cfg = SimSettings(initial_soc=(0.05, 0.4))
    summary, runs = replicate(
        net, stations, trips, replications=4, settings=cfg, seed=9, return_runs=True
    )
    assert list(summary.columns) == ["mean", "std", "ci_low", "ci_high", "n"]
    assert len(runs) == 4
    row = summary.loc["wait_mean_min"]
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    again = replicate(net, stations, trips, replications=4, settings=cfg, seed=9)
    pd.testing.assert_frame_equal(summary, again)

    def demand(rng):
        t = trips.copy()
        t["depart_s"] = np.sort(rng.uniform(0, 6 * 3600, len(t)))
        return t

    regen = replicate(net, stations, demand, replications=3, settings=cfg, seed=9)
    assert regen.loc["trips", "mean"] == 30
    with pytest.raises(SimSettingsError, match="replications"):
        replicate(net, stations, trips, replications=0)
