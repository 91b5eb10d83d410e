"""Network loading and routing on small *synthetic* hand-made OSM files and graphs.

Nothing here is real data: the files are written by the tests to check one-way rules,
clipped ways, formats and routing against networkx on known inputs.
"""

from __future__ import annotations

import bz2
import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks import NoDrivableRoadsError, RoadNetwork, SnapDistanceError, UnknownNodeError
from networks.drive_graph import graph_from_osm_data, is_drivable
from networks.load import load_network
from networks.osm_read import read_osm

# A synthetic 3x2 grid near Almaty. Node 6 is referenced by way 13 but absent (clipped).
_NODES = {
    1: (76.900, 43.200),
    2: (76.905, 43.200),
    3: (76.910, 43.200),
    4: (76.900, 43.205),
    5: (76.905, 43.205),
    7: (76.910, 43.205),
}
_WAYS = [
    (10, [1, 2, 3], {"highway": "residential", "name": "Two-way St"}),
    (11, [4, 5], {"highway": "primary", "oneway": "yes", "maxspeed": "60"}),
    (12, [7, 5], {"highway": "primary", "oneway": "-1"}),  # reversed: travel 5 -> 7
    (13, [3, 7, 6], {"highway": "secondary"}),  # clipped: node 6 missing from the file
    (14, [1, 4], {"highway": "tertiary"}),
    (15, [2, 5], {"highway": "footway"}),  # not drivable
    (16, [5, 2], {"highway": "unclassified", "oneway": "yes"}),
]


def _osm_xml(nodes=_NODES, ways=_WAYS) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<osm version="0.6" generator="evplan-test">',
    ]
    for i, (lon, lat) in nodes.items():
        parts.append(f'<node id="{i}" version="1" lat="{lat}" lon="{lon}"/>')
    parts.append(
        '<node id="99" version="1" lat="43.2021" lon="76.9051"><tag k="amenity" v="fuel"/>'
        '<tag k="name" v="Synthetic Fuel"/></node>'
    )
    for wid, refs, tags in ways:
        parts.append(f'<way id="{wid}" version="1">')
        parts += [f'<nd ref="{r}"/>' for r in refs]
        parts += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        parts.append("</way>")
    parts.append("</osm>")
    return "\n".join(parts)


@pytest.fixture
def synthetic_osm(tmp_path):
    path = tmp_path / "synthetic-grid.osm"
    path.write_text(_osm_xml())
    return path


def _edges(G):
    return {(u, v) for u, v in G.edges()}


def test_oneway_reverse_and_clipped_semantics(synthetic_osm):
    data = read_osm(synthetic_osm)
    G, report = graph_from_osm_data(data, simplify=False, largest_component=False)
    e = _edges(G)
    assert (4, 5) in e and (5, 4) not in e  # oneway=yes
    assert (5, 7) in e and (7, 5) not in e  # oneway=-1 reverses the node order
    assert (1, 2) in e and (2, 1) in e  # two-way street
    assert (2, 5) not in e  # footway is not drivable; (5, 2) comes from the one-way way 16
    assert (5, 2) in e
    assert (3, 7) in e and (7, 3) in e and 6 not in G  # clipped way cut at the last present node
    assert (
        report.clipped_ways == 1
        and report.missing_node_refs == 1
        and report.clipped_ways_dropped == 0
    )
    assert all(d["travel_time"] > 0 and d["length"] > 0 for _, _, d in G.edges(data=True))
    # maxspeed=60 wins over the primary default; length / speed gives travel time
    d45 = G.get_edge_data(4, 5)[0]
    assert d45["speed_kph"] == pytest.approx(60.0)
    assert d45["travel_time"] == pytest.approx(d45["length"] / (60 / 3.6), rel=1e-3)


def test_largest_scc_drops_dead_ends(synthetic_osm):
    G, report = graph_from_osm_data(read_osm(synthetic_osm), simplify=False, largest_component=True)
    assert nx.is_strongly_connected(G)
    assert report.nodes == G.number_of_nodes() and report.nodes_before_scc >= report.nodes


def test_way_cut_into_present_runs(tmp_path):
    nodes = {i: (76.9 + 0.001 * i, 43.2) for i in (1, 2, 4, 5)}  # 3 is outside the extract
    path = tmp_path / "synthetic-gap.osm"
    path.write_text(_osm_xml(nodes, [(20, [1, 2, 3, 4, 5], {"highway": "primary"})]))
    G, report = graph_from_osm_data(read_osm(path), simplify=False, largest_component=False)
    assert _edges(G) == {(1, 2), (2, 1), (4, 5), (5, 4)}
    assert report.missing_node_refs == 1


def test_osm_bz2_and_overpass_json_read_the_same(tmp_path, synthetic_osm):
    bz = tmp_path / "synthetic-grid.osm.bz2"
    bz.write_bytes(bz2.compress(synthetic_osm.read_bytes()))
    elements = [
        {"type": "node", "id": i, "lon": lon, "lat": lat} for i, (lon, lat) in _NODES.items()
    ]
    elements += [{"type": "way", "id": w, "nodes": r, "tags": t} for w, r, t in _WAYS]
    js = tmp_path / "synthetic-grid.json"
    js.write_text(json.dumps({"version": 0.6, "elements": elements}))
    ref = graph_from_osm_data(read_osm(synthetic_osm), simplify=False, largest_component=False)[0]
    for p in (bz, js):
        G = graph_from_osm_data(read_osm(p), simplify=False, largest_component=False)[0]
        assert _edges(G) == _edges(ref)


def test_no_drivable_roads(tmp_path):
    path = tmp_path / "synthetic-footways.osm"
    path.write_text(_osm_xml(_NODES, [(30, [1, 2, 3], {"highway": "footway"})]))
    with pytest.raises(NoDrivableRoadsError, match="no drivable roads"):
        load_network(path, cache_dir=None)


def test_drive_filter_matches_osmnx_rules():
    assert is_drivable({"highway": "primary"})
    assert not is_drivable({"highway": "service"})
    assert not is_drivable({"highway": "residential", "access": "private"})
    assert not is_drivable({"highway": "residential", "motor_vehicle": "no"})
    assert not is_drivable({"highway": "residential", "area": "yes"})
    assert (
        is_drivable({"highway": "service", "service": "parking_aisle"}, network_type="drive")
        is False
    )
    assert is_drivable({"highway": "service"}, network_type="drive_service")


# ---------------------------------------------------------------- routing vs networkx


def _random_graph(seed: int, n: int = 60, k: int = 3) -> nx.MultiDiGraph:
    """A synthetic random digraph with parallel edges and one-way links."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for i in range(n):
        G.add_node(1000 + i, x=76.9 + rng.random() * 0.1, y=43.2 + rng.random() * 0.1)
    for i in range(n):
        for j in rng.choice(n, k, replace=False):
            if i != j:
                G.add_edge(
                    1000 + i,
                    1000 + int(j),
                    length=float(rng.uniform(5, 500)),
                    travel_time=float(rng.uniform(0.5, 60)),
                )
    return G


def _nx_simple(G):
    H = nx.DiGraph()
    H.add_nodes_from(G.nodes)
    for u, v, d in G.edges(data=True):
        if not H.has_edge(u, v) or d["travel_time"] < H[u][v]["travel_time"]:
            H.add_edge(u, v, travel_time=d["travel_time"], length=d["length"])
    return H


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_matrices_match_networkx(seed):
    G = _random_graph(seed)
    net = RoadNetwork.from_graph(G, name="synthetic")
    H = _nx_simple(G)
    org, dst = np.arange(0, 20), np.arange(10, 60)
    T, L = net.route_matrices(org, dst)
    D = net.distance_matrix(org, dst)
    np.testing.assert_allclose(net.travel_time_matrix(org, dst), T)
    for a, oi in enumerate(org):
        times, paths = nx.single_source_dijkstra(H, net.node_ids[oi], weight="travel_time")
        lengths = nx.single_source_dijkstra_path_length(H, net.node_ids[oi], weight="length")
        for b, dj in enumerate(dst):
            nid = net.node_ids[dj]
            if nid not in times:
                assert np.isinf(T[a, b]) and np.isinf(L[a, b]) and np.isinf(D[a, b])
                continue
            assert T[a, b] == pytest.approx(times[nid])
            assert D[a, b] == pytest.approx(lengths[nid])
            # random float weights make the fastest route unique, so the length along it
            # must equal the length of networkx's fastest path exactly
            p = paths[nid]
            plen = sum(H[x][y]["length"] for x, y in zip(p[:-1], p[1:], strict=True))
            assert L[a, b] == pytest.approx(plen)
            assert L[a, b] >= D[a, b] - 1e-6


def test_cutoff_and_duplicates():
    net = RoadNetwork.from_graph(_random_graph(3), name="synthetic")
    full = net.travel_time_matrix([0, 5, 0], None)
    cut = net.travel_time_matrix([0, 5, 0], None, cutoff=60.0)
    assert np.array_equal(full[0], full[2])  # duplicate origins give identical rows
    np.testing.assert_array_equal(cut[full <= 60.0], full[full <= 60.0])
    assert np.isinf(cut[full > 60.0]).all()


def test_path_and_geometry_consistent_with_matrix():
    net = RoadNetwork.from_graph(_random_graph(7), name="synthetic")
    T = net.travel_time_matrix([2], [40])[0, 0]
    p = net.path(2, 40)
    if np.isfinite(T):
        legs = sum(net.time[a, b] for a, b in zip(p[:-1], p[1:], strict=True))
        assert legs == pytest.approx(T)
        assert net.path_geometry(2, 40).coords[0] == (net.lon[2], net.lat[2])
    with pytest.raises(UnknownNodeError):
        net.travel_time_matrix([10_000])
    with pytest.raises(UnknownNodeError, match="not in road network"):
        net.index_of([42])


def test_snap_and_limit():
    net = RoadNetwork.from_graph(_random_graph(1), name="synthetic")
    res = net.snap(net.lon[[3, 8]], net.lat[[3, 8]])
    assert res.node.tolist() == [3, 8] and np.allclose(res.distance_m, 0, atol=1e-6)
    far_lon, far_lat = [net.lon[0], 70.0], [net.lat[0], 43.0]
    res = net.snap(far_lon, far_lat, max_distance_m=100)
    assert res.within.tolist() == [True, False]
    with pytest.raises(SnapDistanceError, match="Far Away"):
        net.snap_strict(far_lon, far_lat, max_distance_m=100, labels=["ok", "Far Away"])


def test_save_load_roundtrip(tmp_path):
    G = _random_graph(5)
    nx.set_node_attributes(G, {1000: "Alpha"}, "name")
    net = RoadNetwork.from_graph(G, name="synthetic")
    net.save(tmp_path / "n.npz")
    back = RoadNetwork.load(tmp_path / "n.npz")
    np.testing.assert_array_equal(back.node_ids, net.node_ids)
    np.testing.assert_allclose(back.travel_time_matrix([0, 1]), net.travel_time_matrix([0, 1]))
    assert back.node_table.loc[0, "name"] == "Alpha" and back.node_table["name"].isna().sum() == 59


def test_a_far_point_with_swapped_lon_lat_is_named_as_such():
    """A planner typed ``lon: 43.2017, lat: 76.8926`` for an Almaty charger and was told to
    raise the snap limit for a point 4,028 km away (review, 2026-12-07)."""
    net = RoadNetwork.from_graph(_random_graph(1), name="synthetic")
    assert -90 <= net.lon[5] <= 90  # the synthetic network's lon reads as a latitude
    with pytest.raises(SnapDistanceError) as err:
        net.snap_strict([net.lat[5]], [net.lon[5]], max_distance_m=100, labels=["Mega"])
    text = str(err.value)
    assert "Mega at" in text and "km away (lon and lat look swapped" in text
    assert text.endswith("Swap lon and lat where marked.")
    assert "raise the snap limit" not in text
    # far off, not swapped: the coordinates are wrong, the snap limit is not the fix
    with pytest.raises(SnapDistanceError) as err:
        net.snap_strict([net.lon[5] + 5.0], [net.lat[5]], max_distance_m=100, labels=["Far"])
    assert str(err.value).endswith("outside the network's area.")
    # a little off the roads: move it or raise the limit, as before
    with pytest.raises(SnapDistanceError) as err:
        net.snap_strict([net.lon[5] + 0.01], [net.lat[5]], max_distance_m=10, labels=["Near"])
    assert str(err.value).endswith("Move the point(s) or raise the snap limit.")
