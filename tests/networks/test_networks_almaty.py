"""The real Almaty 2012 extract (clipped at its bbox): loading, routing, sites, CLI errors."""

from __future__ import annotations

import json
import os
import sys

import networkx as nx
import numpy as np
import pytest

from networks.load import load_network
from networks.sites import StationSpec, candidate_sites, existing_stations

KAZZHOL_WAY = 50655465


def test_almaty_loads_with_clipped_ways_reported(almaty):
    rep = almaty.report
    assert rep.clipped_ways > 0 and rep.missing_node_refs > 0
    assert 6_000 < almaty.network.n_nodes < 10_000  # largest strongly connected drive component
    assert rep.scc_nodes_dropped > 0
    assert nx.is_strongly_connected(almaty.graph)
    assert almaty.network.n_nodes == almaty.graph.number_of_nodes()
    assert almaty.network.crs == "EPSG:32643"  # UTM 43N holds Almaty


def test_cache_roundtrip(data_dir, tmp_path):
    a = load_network(data_dir / "osm" / "almaty-2012.osm.pbf", cache_dir=tmp_path)
    b = load_network(data_dir / "osm" / "almaty-2012.osm.pbf", cache_dir=tmp_path)
    assert not a.from_cache and b.from_cache
    np.testing.assert_array_equal(a.network.node_ids, b.network.node_ids)
    # options are part of the key: another speed table is another network
    c = load_network(
        data_dir / "osm" / "almaty-2012.osm.pbf", cache_dir=tmp_path, speeds_kph={"residential": 20}
    )
    assert not c.from_cache


def test_travel_times_match_networkx_on_random_pairs(almaty):
    net, G = almaty.network, almaty.graph
    rng = np.random.default_rng(2012)
    org = rng.choice(net.n_nodes, 8, replace=False)
    dst = rng.choice(net.n_nodes, 40, replace=False)
    T = net.travel_time_matrix(org, dst)
    for a, oi in enumerate(org):
        ref = nx.single_source_dijkstra_path_length(G, int(net.node_ids[oi]), weight="travel_time")
        got = T[a]
        want = np.array([ref[int(net.node_ids[d])] for d in dst])
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.isfinite(T).all()  # one strongly connected component


def test_kazzhol_hotel_found_by_osm_id(almaty):
    ex = existing_stations(
        almaty.network,
        almaty.pois,
        [StationSpec(name="KazZhol Hotel", osm_id=KAZZHOL_WAY)],
        source="almaty-2012",
    )
    row = ex.iloc[0]
    assert row["site_id"] == f"way/{KAZZHOL_WAY}" and row["name"] == "KazZhol Hotel"
    assert row["lon"] == pytest.approx(76.9336, abs=1e-3) and row["lat"] == pytest.approx(
        43.2602, abs=1e-3
    )
    assert row["snap_m"] < 300
    assert 0 <= row["node"] < almaty.network.n_nodes


def test_candidate_sites_default_tags(almaty):
    c = candidate_sites(almaty.network, almaty.pois)
    kinds = c["kind"].value_counts()
    # The data README lists 117 fuel, 109 parking, 27 hotels; a few lie beyond the snap limit.
    assert 100 <= kinds["amenity=fuel"] <= 117
    assert 95 <= kinds["amenity=parking"] <= 109
    assert 20 <= kinds["tourism=hotel"] <= 27
    assert (c["snap_m"] <= 300).all() and c.attrs["dropped"] > 0
    assert c["site_id"].is_unique


def _run_cli(monkeypatch, capsys, *args):
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    return exc.value.code, cap.out, cap.err


def test_cli_info_and_sites(monkeypatch, capsys, data_dir, tmp_path, net_cache_dir, almaty):
    src = str(data_dir / "osm" / "almaty-2012.osm.pbf")
    code, out, _ = _run_cli(
        monkeypatch, capsys, "network", "info", src, "--json", "--cache-dir", str(net_cache_dir)
    )
    assert code == 0 and '"clipped_ways_cut"' in out
    info = json.loads(out)
    # edges are the graph's, as its dropped count is (20776 + 266 != 21168 when "edges"
    # was the routable arcs, parallel edges collapsed, and the study's manifest said 20902)
    assert info["edges"] == almaty.report.edges
    assert (
        info["edges"] + info["edges_dropped_outside_largest_scc"] == almaty.report.edges_before_scc
    )
    assert info["routable_arcs"] == almaty.network.n_edges < info["edges"]
    dest = tmp_path / "sites.geojson"
    code, _, _ = _run_cli(
        monkeypatch,
        capsys,
        "network",
        "sites",
        src,
        "--cache-dir",
        str(net_cache_dir),
        "--existing",
        f"KazZhol Hotel=way/{KAZZHOL_WAY}",
        "--format",
        "geojson",
        "-o",
        str(dest),
    )
    assert code == 0
    import geopandas as gpd

    gdf = gpd.read_file(dest)
    assert (gdf["name"] == "KazZhol Hotel").sum() == 1 and len(gdf) > 300


@pytest.mark.parametrize(
    "make_args, needle",
    [
        (lambda d, t: ["network", "info", str(t / "missing.osm.pbf")], "not found"),
        (lambda d, t: ["network", "info", str(t / "trunc.osm.pbf")], "truncated or corrupt"),
        (lambda d, t: ["network", "info", str(t / "notes.txt")], "unknown OSM file type"),
        (
            lambda d, t: [
                "network",
                "sites",
                str(d / "osm" / "almaty-2012.osm.pbf"),
                "--existing",
                "Ghost=way/1",
            ],
            "OSM way 1 is not in",
        ),
        (
            lambda d, t: [
                "network",
                "sites",
                str(d / "osm" / "almaty-2012.osm.pbf"),
                "--existing",
                "Far=70.0,43.0",
            ],
            "farther than 300 m",
        ),
    ],
)
def test_cli_errors_are_clean(
    monkeypatch, capsys, data_dir, tmp_path, net_cache_dir, almaty, make_args, needle
):
    (tmp_path / "trunc.osm.pbf").write_bytes(
        (data_dir / "osm" / "almaty-2012.osm.pbf").read_bytes()[:300_000]
    )
    (tmp_path / "notes.txt").write_text("not osm")
    code, out, err = _run_cli(
        monkeypatch, capsys, *make_args(data_dir, tmp_path), "--cache-dir", str(net_cache_dir)
    )
    assert code != 0
    assert needle in " ".join(err.split())
    assert "Traceback" not in err + out


def test_cli_info_on_national_roads_geojson(monkeypatch, capsys, data_dir):
    code, out, _ = _run_cli(
        monkeypatch,
        capsys,
        "network",
        "info",
        str(data_dir / "kz" / "kz-republic-roads.geojson"),
        "--json",
    )
    import json

    info = json.loads(out)
    assert code == 0 and info["nodes"] > 400 and 30_000 < info["road_km_directed"] < 40_000


def test_osmnx_functions_work_on_the_loaded_graph(almaty):
    import osmnx as ox

    G = almaty.graph
    stats = ox.stats.basic_stats(G)
    assert stats["n"] == G.number_of_nodes() and stats["street_length_total"] > 1_000_000  # metres
    nodes, edges = ox.graph_to_gdfs(G)
    assert len(nodes) == G.number_of_nodes() and {"travel_time", "speed_kph"} <= set(edges.columns)
    a, b = list(G.nodes)[:2]
    route = ox.routing.shortest_path(G, a, b, weight="travel_time")
    assert route[0] == a and route[-1] == b


def test_energy_matrix_is_route_length_times_rate(almaty):
    net = almaty.network
    rng = np.random.default_rng(4)
    o, d = rng.choice(net.n_nodes, 20, replace=False), rng.choice(net.n_nodes, 30, replace=False)
    _, length = net.route_matrices(o, d)
    energy = net.energy_matrix(o, d, kwh_per_km=0.18)
    np.testing.assert_allclose(energy, length / 1000.0 * 0.18)
    assert np.isfinite(energy).all() and (energy >= 0).all()
    with pytest.raises(ValueError, match="kwh_per_km"):
        net.energy_matrix(o, d, kwh_per_km=0.0)


def test_process_pool_matrix_equals_serial(almaty, monkeypatch):
    """The forked-worker path (used for large matrices) returns exactly the serial result."""
    import networks._dijkstra_pool as pool

    net = almaty.network
    rng = np.random.default_rng(7)
    o, d = rng.choice(net.n_nodes, 64), rng.choice(net.n_nodes, 50)
    monkeypatch.setenv("EVPLAN_THREADS", "1")
    serial = net.travel_time_matrix(o, d, cutoff=900)
    monkeypatch.setenv("EVPLAN_THREADS", "2")
    monkeypatch.setattr(pool, "MIN_PARALLEL_VALUES", 0)
    parallel = net.travel_time_matrix(o, d, cutoff=900)
    assert pool._pool is not None  # the pool really ran
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(
        net.travel_time_matrix(o), net.travel_time_matrix(o)[:, np.arange(net.n_nodes)]
    )


def test_network_build_does_not_depend_on_the_hash_seed(data_dir):
    """osmnx merges way attributes with list(set(...)); evplan sorts them, so two processes
    with different string-hash seeds build the same travel times from the same extract."""
    import subprocess

    code = (
        "import hashlib, sys\n"
        "from networks.load import load_network\n"
        "n = load_network(sys.argv[1], cache_dir=None).network\n"
        "print(hashlib.sha256(n.time.data.tobytes() + n.time.indices.tobytes()"
        " + n.length.data.tobytes()).hexdigest())\n"
    )
    pbf = str(data_dir / "osm" / "almaty-2012.osm.pbf")
    digests = {
        subprocess.run(
            [sys.executable, "-c", code, pbf],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1


@pytest.mark.parametrize("via", ["same path", "symlink"])
def test_cli_sites_never_replaces_its_input_file(
    monkeypatch, capsys, data_dir, tmp_path, net_cache_dir, via
):
    """``network sites X.osm.pbf --format geojson -o X.osm.pbf --overwrite`` replaced the
    user's OSM extract with the sites' GeoJSON. It is refused, --overwrite or not, as the
    study commands refuse an output folder holding their inputs. The extract is a copy of
    the real one in tmp_path."""
    src = tmp_path / "almaty.osm.pbf"
    src.write_bytes((data_dir / "osm" / "almaty-2012.osm.pbf").read_bytes())
    before = src.read_bytes()
    out = src
    if via == "symlink":
        out = tmp_path / "sites.geojson"
        out.symlink_to(src)
    code, stdout, err = _run_cli(
        monkeypatch,
        capsys,
        "network",
        "sites",
        str(src),
        "--cache-dir",
        str(net_cache_dir),
        "--format",
        "geojson",
        "-o",
        str(out),
        "--overwrite",
    )
    text = " ".join((stdout + err).split())
    assert code == 2, text
    assert f"--output {out} is the network file being read" in text, text
    assert "will not replace its own inputs" in text and "Traceback" not in text
    assert src.read_bytes() == before
