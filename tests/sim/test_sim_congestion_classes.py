"""Congestion per road class (issue 13): road classes from OSM ``highway``, the per-class
split of route times along the fastest-route tree, and the per-class hourly factors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from networks.road_network import ROAD_CLASSES, RoadNetwork, road_class_of
from sim import SimSettings, simulate
from sim._errors import SimSettingsError
from sim.routes import RouteTables, congested, pair_routes
from sim.synthetic import grid_network

# A line 0-1-2-3 plus a slow local shortcut 0-3: the fastest route 0 -> 3 runs over a
# motorway (100 s), a primary road (50 s) and a residential street (30 s).
_EDGES = [
    (0, 1, 2000.0, 100.0, "motorway"),
    (1, 2, 700.0, 50.0, ["secondary", "primary"]),
    (2, 3, 300.0, 30.0, "residential"),
    (0, 3, 900.0, 400.0, "tertiary"),
]


def _two_class_network() -> RoadNetwork:
    G = nx.MultiDiGraph(name="classes", crs="EPSG:4326")
    for i in range(4):
        G.add_node(i, x=76.9 + 0.01 * i, y=43.2)
    for u, v, length, t, hw in _EDGES:
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, length=length, travel_time=t, highway=hw)
    return RoadNetwork.from_graph(G, name="classes")


def test_road_class_of_osm_highway():
    assert [road_class_of(h) for h in ("motorway", "trunk_link", "primary", "secondary_link")] == [
        0,
        0,
        1,
        1,
    ]
    assert road_class_of("residential") == road_class_of(None) == road_class_of("track") == 2
    assert road_class_of(["primary", "residential"]) == 1  # merged ways: the first value
    assert ROAD_CLASSES == ("motorway", "arterial", "local")


def test_per_class_split_of_a_known_route_by_hand(tmp_path):
    net = _two_class_network()
    t, length, tc = net.route_matrices([0, 3], [3, 0], by_class=True)
    assert t[0, 0] == 180.0 and length[0, 0] == 3000.0
    assert tc[:, 0, 0].tolist() == [100.0, 50.0, 30.0]  # motorway, arterial, local
    assert tc[:, 1, 1].tolist() == [100.0, 50.0, 30.0]  # the way back
    assert tc[:, 0, 1].tolist() == [0.0, 0.0, 0.0]  # 0 -> 0: no road
    # saved and loaded networks keep their classes; the reversed tables agree
    net.save(tmp_path / "n.npz")
    again = RoadNetwork.load(tmp_path / "n.npz")
    assert (again.road_class != net.road_class).nnz == 0
    rt = RouteTables(net, np.array([0, 1, 2, 3]), np.array([3]), by_class=True)
    assert rt.to_tc is not None and rt.from_tc is not None
    assert rt.to_tc[:, rt.prow[0], 0].tolist() == [100.0, 50.0, 30.0]
    assert rt.from_tc[:, rt.prow[0], 0].tolist() == [100.0, 50.0, 30.0]
    t_l, _, c_l = pair_routes(net, np.array([0, 1]), np.array([3, 1]), by_class=True)
    assert t_l.tolist() == [180.0, 0.0] and c_l[:, 0].tolist() == [100.0, 50.0, 30.0]


def test_split_adds_up_on_a_random_network():
    net = grid_network(6, 6)  # all residential: everything is local
    t, _, tc = net.route_matrices(np.arange(36), np.arange(36), by_class=True)
    assert np.allclose(tc.sum(axis=0), t) and (tc[:2] == 0).all()
    assert net.classes_present.tolist() == [2]


def test_congested_time_formula():
    t, tc = np.array([180.0]), np.array([[100.0], [50.0], [30.0]])
    table = np.ones((3, 24))
    assert congested(t, tc, table, 8)[0] == 180.0  # factors of 1: free flow exactly
    table[0, 8], table[2, 8] = 1.5, 2.0
    assert congested(t, tc, table, 8)[0] == 180.0 + 50.0 + 30.0


def _line_trips(depart_h: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "vehicle_id": [1, 1],
            "vehicle_model": "byd_atto3",
            "origin": [0, 3],
            "destination": [3, 0],
            "depart_s": [depart_h * 3600.0, (depart_h + 2) * 3600.0],
            "chain_seq": [0, 1],
        }
    )


def test_factors_of_one_reproduce_free_flow_exactly():
    net = _two_class_network()
    trips = _line_trips(8.0)
    kw = dict(ambient_temp_c=-5.0, initial_soc=0.8)
    free = simulate(net, None, trips, settings=SimSettings(**kw), seed=0).trips
    ones = {c: [1.0] * 24 for c in ROAD_CLASSES}
    same = simulate(net, None, trips, settings=SimSettings(**kw, time_factors=ones), seed=0).trips
    pd.testing.assert_frame_equal(free, same)


def test_motorway_congestion_slows_only_its_share_and_costs_heater_energy():
    net = _two_class_network()
    # a resistive heater: the 100 s more in the jam cost more heating than the slower
    # motorway saves in drag (a heat pump's 2 kW need not; the i-MiEV draws 5 kW at -20 C)
    trips = _line_trips(8.0).assign(vehicle_model="mitsubishi_imiev_2013")
    kw = dict(ambient_temp_c=-20.0, initial_soc=0.8)
    jam = {"motorway": [2.0 if h == 8 else 1.0 for h in range(24)]}
    free = simulate(net, None, trips, settings=SimSettings(**kw), seed=0).trips
    slow = simulate(net, None, trips, settings=SimSettings(**kw, time_factors=jam), seed=0).trips
    dur = lambda t: (t["arrived_s"] - t["departed_s"]).to_numpy()  # noqa: E731
    # 8 h: + the motorway's 100 s; 10 h: free flow (the motorway is congested at 8 h only)
    assert dur(slow)[0] - dur(free)[0] == pytest.approx(100.0)
    assert dur(slow)[1] == dur(free)[1]
    assert slow["energy_kwh"].iloc[0] > free["energy_kwh"].iloc[0]


def test_time_factor_settings_errors():
    with pytest.raises(SimSettingsError, match=r"unknown road class.*'motorway', 'arterial'"):
        SimSettings(time_factors={"freeway": [1.5] * 24})
    with pytest.raises(SimSettingsError, match=r"\['local'\] must be 24"):
        SimSettings(time_factors={"local": [1.5] * 23})
    with pytest.raises(SimSettingsError, match="time_factors"):
        SimSettings(time_factors=[0.5] * 24)
    s = SimSettings(time_factors={"local": [1.2] * 24, "motorway": [1.5] * 24})
    assert s.per_class and [c for c, _ in s.time_factors] == ["motorway", "local"]  # type: ignore[union-attr]
    table = s.factor_table()
    assert table is not None and table.shape == (3, 24) and (table[1] == 1.0).all()
    assert SimSettings(time_factors={}).time_factors is None


def test_corridor_network_roads_are_classed_from_their_highway_tag(data_dir):
    from networks.corridor import build_national_network

    _, net = build_national_network(
        data_dir / "kz" / "kz-republic-roads.geojson",
        data_dir / "kz" / "kz-places-geonames.csv",
        official_population_csv=data_dir / "kz" / "kz-city-population.csv",
    )
    # national roads are built as highway=trunk (the motorway class), the connectors of
    # places to them as highway=unclassified (local)
    assert net.classes_present.tolist() == [0, 2]
    code = net.road_class.data - 1
    assert (code == 0).mean() > 0.8
