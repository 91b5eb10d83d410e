"""Roadside candidates are named after the road at their node; an edge two national roads
share carries a list of refs, and the cargo study named a site ``['KAZ07', 'KAZ08']
roadside`` (2026-12-07)."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from networks.road_network import RoadNetwork
from planner.study.inputs import StudyNetwork, _node_refs


def _line_with_refs() -> tuple[StudyNetwork, nx.MultiDiGraph]:
    """Synthetic three-node line: edge 0-1 on one road, edge 1-2 shared by two."""
    G = nx.MultiDiGraph(name="refs", crs="EPSG:4326")
    for n in range(3):
        G.add_node(n, x=71.0 + n * 0.1, y=51.0)
    G.add_edge(0, 1, length=7000.0, travel_time=280.0, highway="trunk", ref="KAZ04")
    G.add_edge(1, 2, length=7000.0, travel_time=280.0, highway="trunk", ref=["KAZ08", "KAZ07"])
    net = RoadNetwork.from_graph(G, name="refs")
    return StudyNetwork(net, G, pd.DataFrame(), "synthetic refs"), G


def test_a_shared_edge_names_both_roads_in_plain_text():
    sn, _ = _line_with_refs()
    refs = _node_refs(sn)
    names = {int(sn.network.node_ids[i]): r for i, r in refs.items()}
    assert names[0] == "KAZ04"
    assert names[1] == "KAZ07 / KAZ08"
    assert not any("[" in r for r in refs.values())
