"""The corridor strategy of the optimisation step (:class:`CorridorOptimizer`) on tiny
synthetic networks: OD pairs with no route are left out of the coverage and the FRLM, as
in the staged model (planner/study/rollout_models.py), and the count is reported."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from networks.road_network import RoadNetwork
from planner.config.study import config_from_dict
from planner.siting import FRLM
from planner.study.inputs import StudyNetwork
from planner.study.optimize_corridor import CorridorOptimizer, with_bay_draw

_M_PER_DEG_LAT = 111_320.0


def _two_islands() -> RoadNetwork:
    """A 2 x 40 km two-way line 0-1-2 and, apart from it, a 10 km line 3-4: nothing on
    the first island reaches the second."""
    G = nx.MultiDiGraph(name="two islands", crs="EPSG:4326")
    for n, (lat_km, lon) in enumerate([(0, 71.4), (40, 71.4), (80, 71.4), (0, 75.0), (10, 75.0)]):
        G.add_node(n, x=lon, y=51.0 + lat_km * 1000 / _M_PER_DEG_LAT)
    for u, v, km in ((0, 1, 40.0), (1, 2, 40.0), (3, 4, 10.0)):
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, length=km * 1000, travel_time=km * 1000 / 25.0, highway="trunk")
    return RoadNetwork.from_graph(G, name="two islands")


@pytest.fixture
def corridor(tmp_path):
    net = _two_islands()
    cfg = config_from_dict(
        {
            "name": "islands",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "corridor", "trips_per_day": 6},
            "vehicles": {"fleet": {"byd_atto3": 1.0}},
            "model": {"kind": "frlm", "range_km": 100, "p": 1},
            "targets": {"wait_p95_min": None},
        },
        base_dir=tmp_path,
    )
    sn = StudyNetwork(net, None, pd.DataFrame(), "two islands")
    # one trip 0 -> 2 (80 km: a round trip of 160 km needs the station at km 40) and five
    # trips 0 -> 4, which has no route: no station can refuel them
    trips = pd.DataFrame(
        {
            "origin": [0] * 6,
            "destination": [2] + [4] * 5,
            "depart_s": np.full(6, 8 * 3600.0),
            "vehicle_model": "byd_atto3",
        }
    )
    cand = pd.DataFrame(
        {
            "site_id": ["mid", "island"],
            "name": ["mid", "island"],
            "node": [1, 3],
            "lon": net.lon[[1, 3]],
            "lat": net.lat[[1, 3]],
            "site_cost": [1000.0, 1000.0],
            "plug_cost": [100.0, 100.0],
            "power_kw": [100.0, 100.0],
            "connectors": "",
        }
    )
    return CorridorOptimizer(cfg, sn, cand, trips, {}), cand


def test_unreachable_pairs_are_left_out_of_coverage(corridor):
    opt, _ = corridor
    fl = opt.flows()
    assert fl.od[["node", "destination"]].values.tolist() == [[0, 2]]
    assert fl.unreachable[["node", "destination", "weight"]].values.tolist() == [[0, 4, 5]]
    none = pd.DataFrame({"node": pd.Series([], dtype=np.int64)})
    mid = pd.DataFrame({"node": [1]})
    # the reachable trip needs the station at km 40; the unreachable ones count nowhere
    assert opt.coverage_share(none) == 0.0
    assert opt.coverage_share(mid) == pytest.approx(1.0)
    assert opt.unreachable_summary() == {
        "coverage_unreachable_od_pairs": 1,
        "coverage_unreachable_trips": 5.0,
        "coverage_unreachable_trip_share": pytest.approx(5 / 6),
    }
    assert any("1 OD pair" in n and "no route" in n for n in opt.notes)


def test_frlm_objective_counts_no_unreachable_flow(corridor):
    """Before the fix an unreachable pair entered the FRLM as a 0-km route, which every
    convention refuels for free, so the solve reported 6 trips refuelled of which 5 cannot
    be driven at all; the independent checker agreed because the route it was given was
    0 km long. Now the pair is left out and the solve counts the one real trip."""
    opt, cand = corridor
    fixed = pd.DataFrame(columns=["station_id", "node", "plugs", "power_kw"])
    chosen, plugs = opt.solve_sites(opt.all_demand(), fixed, 1, None)
    assert cand["site_id"].iloc[chosen].tolist() == ["mid"] and plugs.tolist() == [1]
    rec = opt.solves[-1]
    assert rec["objective"] == pytest.approx(1.0)
    assert rec["unreachable_flows"] == 1 and rec["unreachable_trips"] == pytest.approx(5.0)
    # the same flow, built by the siting package from the network, checked independently
    model = FRLM.from_network(
        opt.net, [0], [2], [1.0], cand["node"].to_numpy(), range_km=100.0, p=1
    )
    res = model.solve(time_limit_s=10)
    model.check(res)
    assert math.isclose(res.objective, rec["objective"])


def test_all_pairs_unreachable_site_nothing(corridor):
    opt, _ = corridor
    fixed = pd.DataFrame(columns=["station_id", "node", "plugs", "power_kw"])
    only_far = pd.DataFrame({"node": [0], "destination": [4], "weight": [5]})
    chosen, plugs = opt.solve_sites(only_far, fixed, 1, None)
    assert chosen.size == 0 and plugs.size == 0 and not opt.solves  # nothing to solve


def test_bay_draw_of_sited_and_of_grown_bays():
    """One helper gives the grid draw of the bays as sited and after the design loop added
    some (planner.study.result.assemble): row draw = bays x kW per bay, site draw = the sum
    over the rows at the node."""
    sited = pd.DataFrame(
        {
            "station_id": ["a:mcs", "a:ccs", "b:mcs"],
            "node": [1, 1, 2],
            "plugs": [4, 1, 1],
            "bay_draw_kw": [1100.0, 400.0, 1000.0],
        }
    )
    st = with_bay_draw(sited)
    assert st["draw_kw"].tolist() == [4400.0, 400.0, 1000.0]
    assert st["site_draw_kw"].tolist() == [4800.0, 4800.0, 1000.0]
    assert "draw_kw" not in sited  # the input is left as it was
    grown = with_bay_draw(st.assign(plugs=[5, 1, 2]))  # the loop added an MCS bay at each
    assert grown["draw_kw"].tolist() == [5500.0, 400.0, 2000.0]
    assert grown["site_draw_kw"].tolist() == [5900.0, 5900.0, 2000.0]
    assert list(grown.columns) == [*sited.columns, "draw_kw", "site_draw_kw"]


def test_the_coverage_measure_names_the_planning_range(corridor):
    opt, _ = corridor
    assert opt.coverage_measure() == (
        "trips with a route whose round trip the stations refuel within a 100 km planning range"
    )
