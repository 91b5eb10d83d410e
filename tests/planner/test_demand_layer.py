"""The report's demand layer counts the measured days' trip origins: with two warm-up days
the layer summed to three days of trips (51,539 against 17,486 measured; planner review,
2026-12-07)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from networks.road_network import RoadNetwork
from planner.config.study import config_from_dict
from planner.study.demand import demand_points
from planner.study.inputs import StudyNetwork


def _cfg(tmp_path, warmup_days: int):
    return config_from_dict(
        {
            "name": "layer",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "mclp", "p": 1},
            "simulation": {"warmup_days": warmup_days},
        },
        base_dir=tmp_path,
    )


def _synthetic_line() -> StudyNetwork:
    G = nx.MultiDiGraph(name="line", crs="EPSG:4326")
    for n in range(2):
        G.add_node(n, x=76.9 + n * 0.01, y=43.2)
    G.add_edge(0, 1, length=800.0, travel_time=60.0, highway="primary")
    G.add_edge(1, 0, length=800.0, travel_time=60.0, highway="primary")
    return StudyNetwork(RoadNetwork.from_graph(G, name="line"), None, pd.DataFrame(), "synthetic")


def test_the_demand_layer_counts_the_measured_days_only(tmp_path):
    # synthetic trips: one a day from node 0 and two a day from node 1, over three days
    day = np.repeat([0, 1, 2], 3) * 86_400.0
    trips = pd.DataFrame(
        {"origin": [0, 1, 1] * 3, "destination": [1, 0, 0] * 3, "depart_s": day + 8 * 3600.0}
    )
    sn = _synthetic_line()
    layer = demand_points(_cfg(tmp_path, 2), sn, trips).set_index("node")
    assert layer["weight"].to_dict() == {0: 1.0, 1: 2.0}
    layer = demand_points(_cfg(tmp_path, 0), sn, trips).set_index("node")
    assert layer["weight"].sum() == 9.0
