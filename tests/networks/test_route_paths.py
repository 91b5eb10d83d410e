"""``RoadNetwork.route_paths`` (fastest OD paths with cumulative km) and the truly
shortest ``distance_matrix`` over parallel edges; synthetic graphs and the real extract."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from scipy.sparse import csgraph

from networks import RoadNetwork, UnknownNodeError


def _reference_od_paths(net, origins, destinations):
    """Verbatim semantics of the former ``planner.siting_step.od_paths``."""
    origins = np.asarray(origins, dtype=np.int64)
    destinations = np.asarray(destinations, dtype=np.int64)
    uniq, inv = np.unique(origins, return_inverse=True)
    _, pred = csgraph.dijkstra(net.time, directed=True, indices=uniq, return_predecessors=True)
    length = net.length.tocsr()
    out = []
    for k, d in enumerate(destinations):
        row, o = pred[inv[k]], origins[k]
        nodes = [int(d)]
        while nodes[-1] != o and row[nodes[-1]] >= 0:
            nodes.append(int(row[nodes[-1]]))
        if nodes[-1] != o:
            out.append((np.empty(0, dtype=np.int64), np.empty(0)))
            continue
        nodes_a = np.asarray(nodes[::-1], dtype=np.int64)
        seg = np.asarray(length[nodes_a[:-1], nodes_a[1:]]).ravel() / 1000.0
        out.append((nodes_a, np.concatenate([[0.0], np.cumsum(seg)])))
    return out


def _assert_identical(got, want):
    assert len(got) == len(want)
    for (gn, gk), (wn, wk) in zip(got, want, strict=True):
        assert gn.dtype == np.int64 and gk.dtype == np.float64
        np.testing.assert_array_equal(gn, wn)
        assert gk.tobytes() == wk.tobytes()  # the very same floats


def _grid_with_island(seed: int = 11) -> nx.MultiDiGraph:
    """A synthetic one-way-rich random digraph plus two nodes nothing reaches."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs="EPSG:4326")
    n = 40
    for i in range(n + 2):
        G.add_node(500 + i, x=76.9 + rng.random() * 0.05, y=43.2 + rng.random() * 0.05)
    for i in range(n):
        for j in rng.choice(n, 3, replace=False):
            if i != j:
                G.add_edge(
                    500 + i,
                    500 + int(j),
                    length=float(rng.uniform(10, 900)),
                    travel_time=float(rng.uniform(1, 90)),
                )
    # island: n <-> n+1, reachable from nowhere else and reaching nothing else
    G.add_edge(500 + n, 500 + n + 1, length=120.0, travel_time=9.0)
    G.add_edge(500 + n + 1, 500 + n, length=130.0, travel_time=9.5)
    return G


def test_route_paths_match_networkx_and_reference():
    G = _grid_with_island()
    net = RoadNetwork.from_graph(G, name="synthetic")
    rng = np.random.default_rng(3)
    org = rng.integers(0, 40, 120)  # duplicates on purpose
    dst = rng.integers(0, 40, 120)
    org[:3], dst[:3] = [5, 40, 7], [5, 3, 41]  # o == d; island -> grid; grid -> island
    got = net.route_paths(org, dst)
    same = org != dst  # the former helper returned an object array for origin == destination
    _assert_identical(
        [g for g, s in zip(got, same, strict=True) if s],
        _reference_od_paths(net, org[same], dst[same]),
    )
    assert got[0][0].tolist() == [5] and got[0][1].tolist() == [0.0]
    assert got[0][1].dtype == np.float64
    assert got[1][0].size == 0 and got[1][1].size == 0 and got[1][0].dtype == np.int64
    assert got[2][0].size == 0
    ids = net.node_ids
    for k in range(3, org.size):
        nodes, km = got[k]
        try:
            want = nx.shortest_path(G, int(ids[org[k]]), int(ids[dst[k]]), weight="travel_time")
        except nx.NetworkXNoPath:
            assert nodes.size == 0
            continue
        assert ids[nodes].tolist() == want
        legs = zip(want[:-1], want[1:], strict=True)
        lengths = [min(G[a][b].values(), key=lambda d: d["travel_time"])["length"] for a, b in legs]
        assert km[0] == 0.0 and km.size == nodes.size
        np.testing.assert_allclose(km[-1], sum(lengths) / 1000.0, rtol=1e-12)


def test_route_paths_km_agree_with_route_matrices():
    net = RoadNetwork.from_graph(_grid_with_island(4), name="synthetic")
    org, dst = np.arange(0, 40), np.arange(39, -1, -1)
    _, L = net.route_matrices(org, dst)
    for k, (_, km) in enumerate(net.route_paths(org, dst)):
        if np.isfinite(L[k, k]):
            assert km[-1] * 1000.0 == pytest.approx(L[k, k], rel=1e-12)


def test_route_paths_validates_indices():
    net = RoadNetwork.from_graph(_grid_with_island(), name="synthetic")
    assert net.route_paths([], []) == []
    with pytest.raises(UnknownNodeError, match="origins"):
        net.route_paths([-1], [0])
    with pytest.raises(UnknownNodeError, match="destinations"):
        net.route_paths([0], [net.n_nodes])
    with pytest.raises(UnknownNodeError):
        net.route_paths([0.5], [1])
    with pytest.raises(ValueError, match="one destination per origin"):
        net.route_paths([0, 1], [2])


def test_route_paths_identical_on_almaty(almaty):
    net = almaty.network
    rng = np.random.default_rng(2012)
    org = rng.choice(net.n_nodes, 12)
    org = np.repeat(org, 5)
    dst = rng.choice(net.n_nodes, org.size)
    assert (org != dst).all()
    _assert_identical(net.route_paths(org, dst), _reference_od_paths(net, org, dst))


def _parallel_graph() -> nx.MultiDiGraph:
    """a -> b twice: a fast 1200 m motorway and a slow 800 m lane; b -> c once."""
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for i, (x, y) in enumerate([(76.90, 43.20), (76.91, 43.20), (76.92, 43.20)]):
        G.add_node(i + 1, x=x, y=y)
    G.add_edge(1, 2, length=1200.0, travel_time=40.0)
    G.add_edge(1, 2, length=800.0, travel_time=90.0)
    G.add_edge(2, 1, length=800.0, travel_time=90.0)
    G.add_edge(2, 3, length=500.0, travel_time=30.0)
    G.add_edge(3, 2, length=500.0, travel_time=30.0)
    return G


def test_distance_matrix_uses_the_shortest_parallel_edge(tmp_path):
    net = RoadNetwork.from_graph(_parallel_graph(), name="parallel")
    D = net.distance_matrix([0], [1, 2])
    T, L = net.route_matrices([0], [1, 2])
    assert D.tolist() == [[800.0, 1300.0]]  # shortest: the slow lane
    assert T.tolist() == [[40.0, 70.0]] and L.tolist() == [[1200.0, 1700.0]]  # fastest route
    assert net.length[0, 1] == 1200.0 and net.length_min[0, 1] == 800.0
    assert net.edges_frame()["length_m"].tolist().count(1200.0) == 1  # fastest-edge lengths
    net.save(tmp_path / "p.npz")
    back = RoadNetwork.load(tmp_path / "p.npz")
    assert back.distance_matrix([0], [1, 2]).tolist() == D.tolist()
    assert back.route_matrices([0], [1, 2])[1].tolist() == L.tolist()


def test_length_min_defaults_to_length():
    net = RoadNetwork.from_graph(_parallel_graph(), name="parallel")
    bare = RoadNetwork(
        node_ids=net.node_ids, lon=net.lon, lat=net.lat, time=net.time, length=net.length
    )
    assert bare.distance_matrix([0], [1]).tolist() == [[1200.0]]


def test_distance_matrix_not_longer_than_fastest_route_on_almaty(almaty):
    net = almaty.network
    org = np.arange(0, net.n_nodes, 997)
    D = net.distance_matrix(org, org)
    _, L = net.route_matrices(org, org)
    assert (D <= L + 1e-6).all()
    assert (net.length_min.data <= net.length.data).all()
