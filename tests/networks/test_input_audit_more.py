"""Bad-input audit, second round: corridor speeds, empty places and road files, and
repeated districts in a zone population table. Each bad input ends in an
:class:`~networks.errors.EvplanError` whose message names the file or parameter, the
offending value and the fix."""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from networks.corridor import build_national_network, corridor_graph_from_lines
from networks.errors import ConfigError, EvplanError, InputFileError
from networks.places import read_places

_HEADER = "geonameid,name,latitude,longitude,population,admin1code,timezone,alternatenames_ru_kk\n"


def _lines(*refs_geoms) -> gpd.GeoDataFrame:
    refs, geoms = zip(*refs_geoms, strict=True)
    return gpd.GeoDataFrame({"ref": list(refs)}, geometry=list(geoms), crs="EPSG:4326")


def _synthetic_roads() -> gpd.GeoDataFrame:
    return _lines(
        ("SYN01", LineString([(70.0, 50.0), (71.0, 50.0)])),
        ("SYN02", LineString([(71.0, 50.0), (71.0, 51.0)])),
    )


def _write_geojson(path, features) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def _run_cli(monkeypatch, capsys, *args) -> tuple[int, str]:
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return exc.value.code, " ".join(capsys.readouterr().err.split())


# --------------------------------------------------------------------------- 1. speed values
@pytest.mark.parametrize("value", [-10, 0, float("nan"), "fast"])
def test_bad_corridor_speed_names_the_parameter_ref_and_value(value):
    with pytest.raises(ConfigError) as exc:
        corridor_graph_from_lines(_synthetic_roads(), speeds_kph={"SYN01": value})
    msg = str(exc.value)
    assert "speeds_kph['SYN01']" in msg and f"got {value!r}" in msg and "km/h" in msg


def test_bad_corridor_speed_through_build_national_network(tmp_path):
    roads = tmp_path / "synthetic-roads.geojson"
    _synthetic_roads().to_file(roads)
    with pytest.raises(ConfigError, match=r"speeds_kph\['SYN01'\] must be a positive number"):
        build_national_network(roads, speeds_kph={"default": 90.0, "SYN01": -10.0})


# --------------------------------------------------------------------------- 2. unknown refs
def test_speed_for_unknown_road_ref_is_an_error_listing_known_refs():
    with pytest.raises(ConfigError) as exc:
        corridor_graph_from_lines(_synthetic_roads(), speeds_kph={"SYN99": 100, "SYN01": 80})
    msg = str(exc.value)
    assert "speeds_kph" in msg and "'SYN99'" in msg
    assert "SYN01" in msg and "SYN02" in msg  # the refs the network has
    assert "'SYN01'" not in msg.split("not carried")[0]  # a known ref is not reported


def test_speed_refs_that_exist_and_default_are_accepted():
    G = corridor_graph_from_lines(_synthetic_roads(), speeds_kph={"SYN01": 110, "default": 80})
    speeds = {d["ref"]: d["speed_kph"] for *_, d in G.edges(data=True)}
    assert speeds == {"SYN01": 110.0, "SYN02": 80.0}


def test_unknown_ref_on_the_real_roads_file(data_dir):
    roads = data_dir / "kz" / "kz-republic-roads.geojson"
    with pytest.raises(ConfigError) as exc:
        build_national_network(roads, speeds_kph={"default": 90.0, "KAZ99": 100.0})
    msg = str(exc.value)
    assert "'KAZ99'" in msg and "KAZ01" in msg and str(roads.name) in msg


# --------------------------------------------------------------------------- 3. empty places
def test_places_csv_with_header_but_no_rows(tmp_path):
    p = tmp_path / "synthetic-places-header-only.csv"
    p.write_text(_HEADER)
    with pytest.raises(InputFileError) as exc:
        read_places(p)
    msg = str(exc.value)
    assert str(p) in msg and "no rows" in msg and "geonameid" in msg


def test_places_csv_with_one_row_is_read(tmp_path):
    p = tmp_path / "synthetic-places-one.csv"
    p.write_text(_HEADER + "1,Synthtown,50.0,70.5,12000,01,Asia/Almaty,\n")
    assert read_places(p)["name"].tolist() == ["Synthtown"]


# --------------------------------------------------------------------------- 4. empty roads
def test_network_info_on_empty_feature_collection(monkeypatch, capsys, tmp_path):
    path = tmp_path / "synthetic-empty.geojson"
    _write_geojson(path, [])
    code, err = _run_cli(monkeypatch, capsys, "network", "info", path, "--cache-dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert path.name in err and "no features" in err
    assert "ref_col=" not in err  # not a command-line option
    assert "LineString" in err and "'ref'" in err  # what a usable file looks like


def test_network_info_on_points_only_geojson(monkeypatch, capsys, tmp_path):
    path = tmp_path / "synthetic-points.geojson"
    geom = {"type": "Point", "coordinates": [70.0, 50.0]}
    point = {"type": "Feature", "properties": {"ref": "SYN01"}, "geometry": geom}
    _write_geojson(path, [point])
    code, err = _run_cli(monkeypatch, capsys, "network", "info", path, "--cache-dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert path.name in err and "no road lines" in err and "ref_col=" not in err


def test_non_utf8_roads_file_says_save_it_as_utf8(monkeypatch, capsys, tmp_path):
    """A synthetic roads GeoJSON saved as Latin-1 ("Almaty café"): the message was the
    codec's "'utf-8' codec can't decode byte 0xe9" and "Is it valid GeoJSON?"."""
    path = tmp_path / "synthetic-latin1.geojson"
    geom = {"type": "LineString", "coordinates": [[70.0, 50.0], [71.0, 50.0]]}
    feat = {"type": "Feature", "properties": {"ref": "SYN01", "name": "Almaty café"}}
    doc = {"type": "FeatureCollection", "features": [{**feat, "geometry": geom}]}
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("latin-1"))
    code, err = _run_cli(monkeypatch, capsys, "network", "info", path, "--cache-dir", tmp_path)
    assert code == 2 and "Traceback" not in err, err
    assert path.name in err and "save it as UTF-8" in err, err


def test_non_utf8_places_csv_says_save_it_as_utf8(tmp_path):
    p = tmp_path / "synthetic-places.csv"
    p.write_bytes(
        (_HEADER + "1,Synthtown café,50.0,70.5,12000,01,Asia/Almaty,\n").encode("latin-1")
    )
    with pytest.raises(InputFileError, match="save it as UTF-8"):
        read_places(p)


def test_network_info_on_lines_without_ref(monkeypatch, capsys, tmp_path):
    path = tmp_path / "synthetic-noref.geojson"
    _synthetic_roads().rename(columns={"ref": "id"}).to_file(path)
    code, err = _run_cli(monkeypatch, capsys, "network", "info", path, "--cache-dir", tmp_path)
    assert code == 2 and "Traceback" not in err
    assert path.name in err and "no 'ref' column" in err and "ref_col=" not in err


# --------------------------------------------------------------------------- 5. zone duplicates
def _synthetic_zones() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name_ru": ["Synth-A", "Synth-B"]},
        geometry=[box(70, 50, 70.1, 50.1), box(70.1, 50, 70.2, 50.1)],
        crs="EPSG:4326",
    )


def test_zone_population_repeated_district_is_an_error(tmp_path):
    from sim.demand import join_population

    p = tmp_path / "synthetic-zone-population.csv"
    p.write_text("district_name,official_population\nSynth-A,100\nSynth-B,200\nsynth-a ,300\n")
    with pytest.raises(EvplanError) as exc:
        join_population(_synthetic_zones(), pd.read_csv(p), source=p)
    msg = str(exc.value)
    assert str(p) in msg and "Synth-A" in msg and "rows 2 and 4" in msg
    assert "Synth-B" not in msg


def test_zone_population_blank_lines_are_not_repeats(tmp_path):
    """Empty lines of a spreadsheet export name no district: not an error, as before."""
    from sim.demand import join_population

    p = tmp_path / "synthetic-zone-population.csv"
    p.write_text("district_name,official_population\nSynth-A,100\nSynth-B,200\n,\n,\n")
    table = pd.read_csv(p)
    out = join_population(_synthetic_zones(), table.iloc[:2], source=p)
    # the blank rows may fail for their missing population, but never as repeated names
    try:
        join_population(_synthetic_zones(), table, source=p)
    except EvplanError as exc:
        assert "name each zone once" not in str(exc)
    assert out["population"].tolist() == [100, 200]


def test_zone_population_repeated_district_in_real_table(tmp_path, data_dir):
    from sim.demand import join_population

    real = pd.read_csv(data_dir / "kz" / "almaty-district-population.csv")
    table = pd.concat([real, real.iloc[[0]]], ignore_index=True)
    p = tmp_path / "almaty-district-population-with-repeat.csv"
    table.to_csv(p, index=False)
    zones = gpd.read_file(data_dir / "kz" / "almaty-districts.geojson")
    with pytest.raises(EvplanError) as exc:
        join_population(zones, pd.read_csv(p), source=p)
    msg = str(exc.value)
    first = real["district_name"].iloc[0]
    assert str(p) in msg and repr(first) in msg and f"rows 2 and {len(table) + 1}" in msg


def test_zone_population_without_repeats_still_joins():
    from sim.demand import join_population

    table = pd.DataFrame({"district_name": ["Synth-A", "Synth-B"], "official_population": [1, 2]})
    out = join_population(_synthetic_zones(), table)
    assert out["population"].tolist() == [1.0, 2.0]


def test_routing_and_snapping_arguments_that_gave_wrong_answers_or_crashes():
    """API audit: a weight typo routed by length, a fractional OSM id was read as another,
    NaN / out-of-range coordinates and unequal lon/lat ended in scipy/pyproj errors."""
    import numpy as np

    from networks.errors import UnknownNodeError
    from sim.synthetic import grid_network

    net = grid_network(4, 4)  # synthetic network
    with pytest.raises(ConfigError, match=r'weight must be "time" or "length", got \'tiem\''):
        net.path(0, 15, weight="tiem")
    assert net.path(0, 15, weight="length").tolist()[0] == 0
    with pytest.raises(UnknownNodeError, match=r"whole numbers .*1\.9"):
        net.index_of([1.9])
    assert net.index_of([float(net.node_ids[1])]).tolist() == [1]
    for lon, lat, why in (
        ([np.nan], [43.0], "not WGS84 coordinates"),
        ([200.0], [43.0], "not WGS84 coordinates"),
        ([1.0, 2.0], [3.0], "same length"),
        (["a"], [1.0], "must be numbers"),
    ):
        with pytest.raises(ConfigError, match=why):
            net.snap(lon, lat)
    with pytest.raises(ConfigError, match="2 labels for 3 points"):
        net.snap_strict(net.lon[:3], net.lat[:3], labels=["a", "b"])
