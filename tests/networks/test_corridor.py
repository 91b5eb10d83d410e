"""National corridor network: real KAZ01-KAZ23 data, named synthetic cases, errors, offline."""

from __future__ import annotations

import time

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, MultiLineString

from networks import RoadNetwork
from networks.corridor import (
    build_national_network,
    corridor_graph_from_lines,
    corridor_graph_from_osm,
    read_national_roads,
)
from networks.errors import ConfigError, EmptyAreaError, InputFileError, OfflineError
from networks.graph_edit import coordinate_node_ids, split_edge
from networks.kz import HOTEL_CHARGERS, PLANNED_RENEWABLES, known_sites
from networks.places import attach_places, read_places

GEOD = Geod(ellps="WGS84")
KAZ01_KM = 1214.0


def _refs(d) -> list[str]:
    r = d.get("ref")
    return r if isinstance(r, list) else [r]


def _node_of(net: RoadNetwork, name: str) -> int:
    hit = np.flatnonzero(net.node_table["name"].to_numpy() == name)
    assert hit.size == 1, f"{name}: {hit}"
    return int(hit[0])


def _min_km_to(net: RoadNetwork, path: np.ndarray, lon: float, lat: float) -> float:
    d = GEOD.inv(np.full(path.size, lon), np.full(path.size, lat), net.lon[path], net.lat[path])[2]
    return float(d.min()) / 1000.0


@pytest.fixture(scope="module")
def kz(data_dir):
    kzd = data_dir / "kz"
    G, net = build_national_network(
        kzd / "kz-republic-roads.geojson",
        kzd / "kz-places-geonames.csv",
        official_population_csv=kzd / "kz-city-population.csv",
    )
    places = read_places(kzd / "kz-places-geonames.csv")
    return G, net, places.set_index("name")


# ----------------------------------------------------------------------------- real data
def test_astana_almaty_along_kaz01_via_karaganda_and_balkhash(kz):
    G, net, places = kz
    a, b = _node_of(net, "Astana"), _node_of(net, "Almaty")
    _, length = net.route_matrices([a], [b])
    km = length[0, 0] / 1000.0
    assert abs(km - KAZ01_KM) / KAZ01_KM < 0.02, km
    path = net.path(a, b)
    for town in ("Karagandy", "Balqash"):  # GeoNames names of Karaganda and Balkhash
        assert _min_km_to(net, path, places.loc[town, "lon"], places.loc[town, "lat"]) < 5.0, town
    # The fastest route runs on KAZ01 except for place connectors at both ends.
    ids = net.node_ids[path]
    on_kaz01 = total = 0.0
    for u, v in zip(ids[:-1], ids[1:], strict=True):
        d = min(G[u][v].values(), key=lambda e: e["travel_time"])
        if d.get("connector"):
            continue
        total += d["length"]
        on_kaz01 += d["length"] if "KAZ01" in _refs(d) else 0.0
    assert on_kaz01 / total > 0.99


@pytest.mark.parametrize("snap_m", [50.0, 500.0])
def test_kaz01_length_robust_to_snap_tolerance(data_dir, snap_m):
    roads = read_national_roads(data_dir / "kz" / "kz-republic-roads.geojson")
    G = corridor_graph_from_lines(roads, snap_tolerance_m=snap_m)
    net = RoadNetwork.from_graph(G)
    start, end = np.asarray(roads.loc[roads["ref"] == "KAZ01", "geometry"].iloc[0].coords)[[0, -1]]
    snap = net.snap([start[0], end[0]], [start[1], end[1]])
    assert snap.within.all()
    _, length = net.route_matrices([snap.node[0]], [snap.node[1]])
    assert abs(length[0, 0] / 1000.0 - KAZ01_KM) / KAZ01_KM < 0.02


def test_all_23_routes_present_and_strongly_connected(kz):
    G, net, _ = kz
    refs = {r for *_, d in G.edges(data=True) for r in _refs(d) if d.get("connector") is not True}
    assert {f"KAZ{i:02d}" for i in range(1, 24)} <= refs
    assert nx.is_strongly_connected(G)
    assert np.isfinite(net.travel_time_matrix([0])).all()
    report = G.graph["corridor_build"]
    assert report["routes"] == 23 and report["refs_dropped"] == []


def test_graph_convention(kz):
    G, _, _ = kz
    assert G.graph["crs"] == "EPSG:4326"
    for n, d in G.nodes(data=True):
        assert isinstance(n, int) and 46 < d["x"] < 88 and 40 < d["y"] < 56
    for u, v, d in G.edges(data=True):
        assert d["oneway"] is False and d["length"] > 0 and d["speed_kph"] > 0
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
        assert d["osmid"] < 0 and d["highway"] in ("trunk", "unclassified")
        c = np.asarray(d["geometry"].coords)
        assert d["length"] == pytest.approx(GEOD.line_length(c[:, 0], c[:, 1]), rel=1e-9)
        assert any(dd["osmid"] == d["osmid"] for dd in G[v][u].values())  # both directions


def test_road_node_ids_encode_coordinates(kz):
    G, _, _ = kz
    road = [n for n, d in G.nodes(data=True) if "geonameid" not in d or d["road_node"] == n]
    xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in road])
    assert (coordinate_node_ids(xy[:, 0], xy[:, 1]) == np.array(road)).all()


def test_build_is_deterministic(data_dir, kz):
    G, _, _ = kz
    kzd = data_dir / "kz"
    G2, _ = build_national_network(
        kzd / "kz-republic-roads.geojson",
        kzd / "kz-places-geonames.csv",
        official_population_csv=kzd / "kz-city-population.csv",
    )
    assert sorted(G.nodes) == sorted(G2.nodes)
    assert sorted(
        (u, v, d["osmid"], round(d["length"], 6)) for u, v, d in G.edges(data=True)
    ) == sorted((u, v, d["osmid"], round(d["length"], 6)) for u, v, d in G2.edges(data=True))


def test_places_attached_with_official_population_and_far_ones_reported(kz):
    G, net, _ = kz
    attached = {d["geonameid"]: d for _, d in G.nodes(data=True) if "geonameid" in d}
    assert (
        attached[1526384]["population"] == 2_351_424 and attached[1526384]["place"] == "city"
    )  # Almaty
    assert (
        attached[608668]["population"] == 372_742
    )  # Oral: official 'Uralsk' matched via the alias
    assert all(d["road_distance_m"] <= 15_000 for d in attached.values())
    far = {f["name"]: f for f in G.graph["places_unattached"]}
    assert "Zhanaozen" in far and far["Zhanaozen"]["distance_km"] > 15
    assert len(attached) + len(far) == 205  # every place is attached or reported
    assert set(net.node_table.columns) >= {"name", "population", "place"}


def test_speeds_per_ref(data_dir):
    roads = read_national_roads(data_dir / "kz" / "kz-republic-roads.geojson")
    G = corridor_graph_from_lines(roads, speeds_kph={"KAZ01": 110, "default": 80})
    for *_, d in G.edges(data=True):
        assert d["speed_kph"] == (110 if "KAZ01" in _refs(d) else 80)


# ----------------------------------------------------------------------------- synthetic
def _lines(*rows, crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"ref": [r for r, _ in rows], "geometry": [g for _, g in rows]}, crs=crs
    )


def test_synthetic_near_duplicate_vertices_merge_within_tolerance():
    # B starts 30 m east of A's end (0.0004 deg lon at 50 N ~ 29 m).
    a = LineString([(70.0, 50.0), (70.1, 50.0)])
    b = LineString([(70.1004, 50.0), (70.2, 50.0)])
    G = corridor_graph_from_lines(
        _lines(("A", a), ("B", b)), snap_tolerance_m=50, gap_tolerance_m=0
    )
    assert G.number_of_nodes() == 3 and nx.is_strongly_connected(G)
    G0 = corridor_graph_from_lines(
        _lines(("A", a), ("B", b)), snap_tolerance_m=10, gap_tolerance_m=0
    )
    assert G0.number_of_nodes() == 2 and G0.graph["corridor_build"]["components_dropped"] == 1


def test_synthetic_snap_does_not_collapse_dense_line():
    # A dense line (vertices every ~36 m) beside a parallel copy 20 m away: snapping merges
    # the copy onto it but must not chain A's own vertices into one point.
    lon = np.linspace(70.0, 70.05, 101)
    a = LineString(np.column_stack([lon, np.full(lon.size, 50.0)]))
    b = LineString(np.column_stack([lon[::5], np.full(lon[::5].size, 50.00018)]))
    G = corridor_graph_from_lines(
        _lines(("A", a), ("A", b)), snap_tolerance_m=100, gap_tolerance_m=0
    )
    net = RoadNetwork.from_graph(G)
    end = net.snap([70.0, 70.05], [50.0, 50.0])
    expected = GEOD.inv(70.0, 50.0, 70.05, 50.0)[2]
    assert net.distance_matrix([end.node[0]], [end.node[1]])[0, 0] == pytest.approx(
        expected, rel=0.01
    )


def test_synthetic_crossing_becomes_junction():
    x = _lines(
        ("A", LineString([(70.0, 50.0), (70.2, 50.1)])),
        ("B", LineString([(70.0, 50.1), (70.2, 50.0)])),
    )
    G = corridor_graph_from_lines(x, gap_tolerance_m=0)
    assert G.number_of_nodes() == 5
    assert sorted(d["street_count"] for _, d in G.nodes(data=True)) == [1, 1, 1, 1, 4]


def test_synthetic_t_junction_gap_closed_and_target_split():
    a = LineString([(70.0, 50.0), (70.2, 50.0)])
    b = LineString([(70.1, 50.004), (70.1, 50.1)])  # ends ~445 m north of A
    G = corridor_graph_from_lines(_lines(("A", a), ("B", b)), gap_tolerance_m=1000)
    assert nx.is_strongly_connected(G) and G.number_of_nodes() == 4
    total = sum(d["length"] for *_, d in G.edges(data=True) if not d["reversed"])
    raw = GEOD.inv(70.0, 50.0, 70.2, 50.0)[2] + GEOD.inv(70.1, 50.0, 70.1, 50.1)[2]
    assert total == pytest.approx(raw, abs=10.0)  # the connector adds the gap (A's chord bows ~5 m)
    assert (
        corridor_graph_from_lines(_lines(("A", a), ("B", b)), gap_tolerance_m=300).number_of_nodes()
        == 2
    )


def test_synthetic_shared_stretch_lists_both_refs_and_takes_faster_speed():
    common = [(70.0, 50.0), (70.1, 50.0)]
    x = _lines(("A", MultiLineString([common])), ("B", LineString(common + [(70.2, 50.1)])))
    G = corridor_graph_from_lines(x, speeds_kph={"A": 60, "B": 100})
    shared = [d for *_, d in G.edges(data=True) if isinstance(d["ref"], list)]
    assert shared and all(d["ref"] == ["A", "B"] and d["speed_kph"] == 100 for d in shared)


def test_synthetic_projected_input_and_geodesic_length():
    line = LineString([(70.0, 50.0), (71.0, 50.0)])
    G = corridor_graph_from_lines(_lines(("A", line)).to_crs("EPSG:32642"))
    ((_, _, d),) = [e for e in G.edges(data=True) if not e[2]["reversed"]]
    assert d["length"] == pytest.approx(GEOD.inv(70.0, 50.0, 71.0, 50.0)[2], rel=1e-6)


def test_attach_places_on_road_connector_and_far():
    lon = np.linspace(70.0, 71.0, 101)  # dense, so the road follows the parallel
    G = corridor_graph_from_lines(
        _lines(("A", LineString(np.column_stack([lon, np.full(101, 50.0)]))))
    )
    places = pd.DataFrame(
        {
            "geonameid": [1, 2, 3, 4],
            "name": ["OnRoad", "Offroad", "Faraway", "Hamlet"],
            "lon": [70.3, 70.6, 70.5, 70.8],
            "lat": [50.002, 50.045, 50.5, 50.0],
            "population": [20_000, 8_000, 9_000, 50],
        }
    )
    G2, far = attach_places(G, places, max_distance_km=10, min_population=5_000, on_road_m=1_000)
    assert [f["name"] for f in far] == ["Faraway"] and far[0]["distance_km"] > 50
    names = {d.get("name"): (n, d) for n, d in G2.nodes(data=True)}
    n_on, on = names["OnRoad"]
    assert on["road_node"] == n_on and G2.degree(n_on) == 4 and on["place"] == "town"
    n_off, off = names["Offroad"]
    assert off["place"] == "village" and off["road_distance_m"] == pytest.approx(5_000, rel=0.01)
    (conn,) = [d for d in G2[n_off][off["road_node"]].values()]
    assert conn["connector"] is True and conn["length"] == pytest.approx(
        off["road_distance_m"], abs=0.1
    )
    assert "Hamlet" not in names and G.number_of_nodes() == 2  # input graph untouched
    road_m = sum(d["length"] for *_, d in G2.edges(data=True) if not d.get("connector")) / 2
    assert road_m == pytest.approx(sum(d["length"] for *_, d in G.edges(data=True)) / 2, rel=1e-6)


def test_split_edge_keeps_length_and_reuses_end_nodes():
    G = corridor_graph_from_lines(
        _lines(("A", LineString([(70.0, 50.0), (70.5, 50.1), (71.0, 50.0)])))
    )
    ((u, v, k),) = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not d["reversed"]]
    before = G.edges[u, v, k]["length"]
    crs = G.graph["corridor_build"]["metric_crs"]
    nodes = split_edge(G, u, v, k, [10.0, 20_000.0, 50_000.0], crs=crs, min_split_m=100)
    assert nodes[0] == u and len(set(nodes)) == 3 and G.number_of_edges() == 6
    after = sum(d["length"] for *_, d in G.edges(data=True) if not d["reversed"])
    assert after == pytest.approx(before, rel=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 80_000.0), min_size=1, max_size=6))
def test_split_edge_property_length_conserved(alongs):
    G = corridor_graph_from_lines(
        _lines(("A", LineString([(70.0, 50.0), (70.5, 50.1), (71.0, 50.0)])))
    )
    ((u, v, k),) = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not d["reversed"]]
    before = G.edges[u, v, k]["length"]
    nodes = split_edge(
        G, u, v, k, alongs, crs=G.graph["corridor_build"]["metric_crs"], min_split_m=100
    )
    assert len(nodes) == len(alongs) and all(n in G for n in nodes)
    assert sum(d["length"] for *_, d in G.edges(data=True)) / 2 == pytest.approx(before, rel=1e-6)
    assert nx.is_strongly_connected(G)


# ----------------------------------------------------------------------------- errors
def test_missing_and_corrupt_roads_files(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_national_roads(tmp_path / "nope.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputFileError, match="cannot read"):
        read_national_roads(bad)
    noref = tmp_path / "noref.geojson"
    _lines(("A", LineString([(70, 50), (71, 50)]))).rename(columns={"ref": "id"}).to_file(noref)
    with pytest.raises(InputFileError, match="no 'ref' column"):
        read_national_roads(noref)


def test_bad_places_and_speeds(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_places(tmp_path / "places.csv")
    p = tmp_path / "p.csv"
    p.write_text("geonameid,name,latitude\n1,X,50\n")
    with pytest.raises(InputFileError, match="longitude"):
        read_places(p)
    with pytest.raises(ConfigError, match="KAZ01"):
        corridor_graph_from_lines(
            _lines(("A", LineString([(70, 50), (71, 50)]))), speeds_kph={"KAZ01": 0}
        )


# ----------------------------------------------------------------------------- OSM download
@pytest.fixture
def offline(monkeypatch):
    # A proxy on a closed loopback port makes every HTTP request fail at once, online or not.
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.mark.parametrize("where", [(71.3, 51.0, 71.6, 51.3), "Astana, Kazakhstan"])
def test_osm_download_offline_fails_fast(offline, tmp_path, where):
    t0 = time.perf_counter()
    with pytest.raises(OfflineError, match="Build from a file instead"):
        corridor_graph_from_osm(where, cache_dir=tmp_path, timeout_s=3)
    assert time.perf_counter() - t0 < 10


def test_osmnx_graph_goes_through_the_same_builder(almaty):
    """What a trunk/primary download returns, taken from the real Almaty extract's osmnx graph."""
    from networks.corridor import corridor_graph_from_osmnx

    G = almaty.graph
    keep = [
        (u, v, k)
        for u, v, k, d in G.edges(keys=True, data=True)
        if str(d.get("highway")).startswith(("trunk", "primary", "['trunk", "['primary"))
    ]
    sub = G.edge_subgraph(keep).copy()
    out = corridor_graph_from_osmnx(
        sub, speeds_kph={"primary": 60, "default": 70}, largest_component=True
    )
    assert out.number_of_nodes() > 50 and nx.is_strongly_connected(out)
    speeds = {d["speed_kph"] for *_, d in out.edges(data=True)}
    assert speeds <= {60.0, 70.0} and 60.0 in speeds
    km_in = sum(d["length"] for *_, d in sub.edges(data=True)) / 1000
    km_out = sum(d["length"] for *_, d in out.edges(data=True)) / 1000
    assert 1.0 * km_in < km_out < 1.6 * km_in  # one-way carriageways come back two-way (1.33 here)


def test_osm_download_empty_bbox(tmp_path):
    with pytest.raises(EmptyAreaError):
        corridor_graph_from_osm((71.6, 51.0, 71.3, 51.3), cache_dir=tmp_path)


# ----------------------------------------------------------------------------- KAZ01 sites
def test_known_sites_match_their_sources(data_dir):
    places = read_places(data_dir / "kz" / "kz-places-geonames.csv").set_index("geonameid")
    for s in HOTEL_CHARGERS + PLANNED_RENEWABLES:
        if s.geonameid is not None:
            assert s.approximate and "APPROXIMATE" in s.location_source
            assert (s.lon, s.lat) == (
                places.loc[s.geonameid, "lon"],
                places.loc[s.geonameid, "lat"],
            )
        elif s.lon is None:
            assert "NOT LOCATED" in s.location_source
    assert len(known_sites()) == 7 and len(known_sites(include_unlocated=True)) == 9


def test_almaty_hotel_is_osm_way_50655465(data_dir):
    import osmium
    import shapely
    from osmium.geom import WKTFactory

    found = []

    class Hotel(osmium.SimpleHandler):
        def area(self, a):
            if a.from_way() and a.orig_id() == 50655465:
                found.append(shapely.from_wkt(WKTFactory().create_multipolygon(a)).centroid)

    Hotel().apply_file(str(data_dir / "osm" / "almaty-2012.osm.pbf"), locations=True)
    (hotel,) = [s for s in HOTEL_CHARGERS if s.osm_id == "way/50655465"]
    assert not hotel.approximate and len(found) == 1
    assert GEOD.inv(hotel.lon, hotel.lat, found[0].x, found[0].y)[2] < 5.0


def test_loaded_national_roads_count_the_graphs_edges(data_dir):
    """`network info` on the national-roads GeoJSON reported the routable arcs as its
    edges (1,510), unlike OSM sources and the study manifest (the graph's, 1,832)."""
    from networks.load import load_source

    loaded = load_source(data_dir / "kz" / "kz-republic-roads.geojson")
    assert loaded.report.edges == loaded.graph.number_of_edges()
    assert loaded.network.n_edges < loaded.report.edges  # parallel edges collapsed
