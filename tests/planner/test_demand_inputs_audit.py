"""Bad demand inputs found by the input audit: zones, OD tables, population tables, places.

Every input here is SYNTHETIC (a small grid network, hand-made polygons and tables written
to ``tmp_path``); nothing is real data. Each test feeds one malformed input to the public
function the study pipeline calls and checks that the error is one of the project's
:class:`~networks.errors.EvplanError` types (so the CLI exits with code 2, no traceback)
and that its message names the file, the row or feature, the column and the value.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from networks.errors import EvplanError
from planner.config.study import config_from_dict
from planner.study.demand import build_trips, city_zones
from planner.study.inputs import StudyNetwork
from sim import DemandError, DemandTableError, demand
from sim.catalogue import builtin_models
from sim.synthetic import grid_network

# ----------------------------------------------------------------------------- synthetic inputs


def _synthetic_net():
    """A synthetic 6 x 6 grid (500 m spacing) near (76.9, 43.2); not a real road network."""
    return grid_network(6, 6)


def _synthetic_zone_boxes(net) -> list:
    """Two synthetic rectangles splitting the grid west / east."""
    x0, y0, x1, y1 = net.lon.min(), net.lat.min(), net.lon.max(), net.lat.max()
    xm, d = (x0 + x1) / 2, 0.001
    return [box(x0 - d, y0 - d, xm, y1 + d), box(xm, y0 - d, x1 + d, y1 + d)]


def _synthetic_zones_geojson(path: Path, net, *, null_second: bool = False) -> Path:
    """A synthetic district GeoJSON with ``name_ru`` and ``name_kz``; optionally the second
    feature has ``geometry: null`` (as in a broken GIS export)."""
    feats = []
    for k, (geom, name) in enumerate(
        zip(_synthetic_zone_boxes(net), ("West", "East"), strict=True)
    ):
        g = None if null_second and k == 1 else json.loads(gpd.GeoSeries([geom]).to_json())
        feats.append(
            {
                "type": "Feature",
                "properties": {"name_ru": f"{name} rayon", "name_kz": f"{name} audany"},
                "geometry": None if g is None else g["features"][0]["geometry"],
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _synthetic_population_csv(path: Path, pops=("1000", "2000")) -> Path:
    """A synthetic population table in the layout of almaty-district-population.csv."""
    pd.DataFrame(
        {
            "district_name": ["West", "East"],
            "osm_match_tokens": ["West rayon", "East rayon"],
            "official_population": list(pops),
        }
    ).to_csv(path, index=False)
    return path


def _study(tmp_path: Path, demand_cfg: dict):
    """A synthetic study config (the network file is never read: the tests pass a network)."""
    return config_from_dict(
        {
            "name": "synthetic-audit",
            "network": {"source": str(tmp_path / "synthetic.osm.pbf")},
            "demand": demand_cfg,
            "model": {"kind": "mclp", "p": 1},
            "simulation": {"warmup_days": 0},
        }
    )


def _sn(net) -> StudyNetwork:
    return StudyNetwork(net, None, pd.DataFrame(columns=["lon", "lat"]), "synthetic grid")


def _od_csv(tmp_path: Path, **cols) -> Path:
    """A synthetic OD table by coordinates inside the synthetic grid: one trip, or as many
    as the longest column given."""
    n = max((len(v) for v in cols.values()), default=1)
    base = {
        "origin_lon": [76.901] * n,
        "origin_lat": [43.201] * n,
        "destination_lon": [76.91] * n,
        "destination_lat": [43.21] * n,
        "depart_time": ["08:00"] * n,
    }
    base.update(cols)
    p = tmp_path / "synthetic_od.csv"
    pd.DataFrame(base).to_csv(p, index=False)
    return p


def _read(p: Path, net, **kw) -> pd.DataFrame:
    return demand.read_od_table(p, network=net, rng=np.random.default_rng(0), **kw)


# ----------------------------------------------------------------------------- 1: null geometry


def test_zone_nodes_null_geometry_names_the_feature():
    net = _synthetic_net()
    zones = gpd.GeoDataFrame(
        {"name_ru": ["West rayon", "East rayon"]},
        geometry=[_synthetic_zone_boxes(net)[0], None],
        crs=4326,
    )
    with pytest.raises(DemandError) as exc:
        demand.zone_nodes(net, zones, zone_col="name_ru")
    msg = str(exc.value)
    assert "feature 1" in msg and "East rayon" in msg and "no geometry" in msg


def test_city_zones_null_geometry_names_file_and_feature(tmp_path):
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net, null_second=True)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert str(zp) in msg and "feature 1" in msg and "East rayon" in msg


def test_city_zone_far_from_the_network_names_the_file(tmp_path):
    """A district the network does not reach: the error names the zones file and the zone."""
    from shapely.affinity import translate

    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    far = gpd.read_file(zp)
    far.loc[1, "geometry"] = translate(far.geometry.iloc[1], xoff=5.0)  # ~400 km east
    far.to_file(zp, driver="GeoJSON")
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert msg.startswith(f"demand.zones {zp}: ") and "contains no node" in msg


def _repeat_first_feature(path: Path, *, shift: float = 0.0) -> None:
    """Append a copy of the synthetic zones' first feature, as a GIS paste would, with the
    same ``id`` property (GDAL warns "Several features with id = 6"); ``shift`` moves its
    polygon east by that many degrees (an edited copy)."""
    doc = json.loads(path.read_text())
    for k, f in enumerate(doc["features"]):
        f["properties"]["id"] = 6 + k
    copy = json.loads(json.dumps(doc["features"][0]))
    ring = copy["geometry"]["coordinates"][0]
    copy["geometry"]["coordinates"][0] = [[x + shift, y] for x, y in ring]
    doc["features"].append(copy)
    path.write_text(json.dumps(doc))


def test_repeated_zone_feature_names_file_field_names_and_features(tmp_path, recwarn):
    """A district pasted twice into a synthetic zones GeoJSON: the error was "population
    row(s) ['West'] match more than one zone; make the names distinct" (no file, no
    features) after pyogrio's raw RuntimeWarning "Several features with id = 6". Now one
    message names the file, the name field, the names and the features; no warning
    escapes."""
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    _repeat_first_feature(zp)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert msg.startswith(f"demand.zones {zp}: "), msg
    assert "features 0 and 2 (name_ru 'West rayon', 'West rayon')" in msg, msg
    assert "delete the repeated feature" in msg
    assert not [w for w in recwarn if "Several features" in str(w.message)]


def test_zones_matching_one_population_row_name_file_features_and_row(tmp_path, recwarn):
    """Two synthetic zones of the same name but different polygons match one population
    row: the message names the zones file, the name field, the features and the row."""
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    _repeat_first_feature(zp, shift=0.0005)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        city_zones(cfg, net)
    msg = str(exc.value)
    assert msg.startswith(f"demand.zones {zp}: "), msg
    assert "features 0 and 2 (name_ru 'West rayon', 'West rayon')" in msg, msg
    assert "row 2 (district_name 'West')" in msg and str(pop) in msg
    assert not [w for w in recwarn if "Several features" in str(w.message)]


def test_repeated_zone_ids_name_file_and_features():
    """Synthetic zones whose id column repeats a name (an OD table's zones): the message
    names the zones' file and the features (it listed the names only)."""
    net = _synthetic_net()
    zones = gpd.GeoDataFrame(
        {"name_ru": ["West", "East", "West"]},
        geometry=[*_synthetic_zone_boxes(net), _synthetic_zone_boxes(net)[0]],
        crs=4326,
    )
    zones.attrs["source"] = "demand.zones synthetic.geojson"
    with pytest.raises(DemandError) as exc:
        demand.zone_nodes(net, zones, zone_col="name_ru")
    msg = str(exc.value)
    assert msg.startswith("demand.zones synthetic.geojson: ") and "'name_ru'" in msg
    assert "features 0 and 2 (name_ru 'West', 'West')" in msg


def _zones_with(tmp_path: Path, net, transform, *, name: str) -> Path:
    """The synthetic zones with ``transform(x, y) -> (x, y)`` applied to every vertex,
    written as GeoJSON without a CRS member (as RFC 7946 files are)."""
    import shapely

    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    doc = json.loads(zp.read_text())
    for f in doc["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        moved = shapely.transform(geom, lambda xy: np.array([transform(*p) for p in xy]))
        f["geometry"] = shapely.geometry.mapping(moved)
    out = tmp_path / name
    out.write_text(json.dumps(doc))
    return out


@pytest.mark.parametrize(
    ("kind", "needles"),
    [
        ("metres", ("are not longitude/latitude degrees", "EPSG:3857")),
        ("swapped", ("longitude and latitude swapped", "(lat, lon)")),
    ],
)
def test_zones_in_the_wrong_crs_or_order_say_so(tmp_path, kind, needles):
    """Synthetic zones in EPSG:3857 metres (read as degrees: GeoJSON declares no CRS) or
    with (lat, lon) gave "zone 0 ... nearest node is 14034191 m away" (or a bare "not WGS84"
    from snapping) with no word on the cause. The message names the file and says the CRS
    or the order is likely wrong and what GeoJSON must be."""
    from pyproj import Transformer

    net = _synthetic_net()
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True).transform
    move = to_3857 if kind == "metres" else (lambda x, y: (y, x))
    zp = _zones_with(tmp_path, net, move, name=f"synthetic_{kind}.geojson")
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert msg.startswith(f"demand.zones {zp}: "), msg
    for needle in (*needles, "WGS84 longitude, latitude in that order (RFC 7946)"):
        assert needle in msg, msg


def test_non_utf8_zones_file_says_save_it_as_utf8(tmp_path):
    """A synthetic zones GeoJSON saved as Latin-1: "cannot read ...: 'utf-8' codec can't
    decode byte 0xe9" said nothing of the fix."""
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    doc = json.loads(zp.read_text())
    doc["features"][0]["properties"]["name_kz"] = "Batys café"
    zp.write_bytes(json.dumps(doc, ensure_ascii=False).encode("latin-1"))
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "population": 1000})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert str(zp) in msg and "save it as UTF-8" in msg, msg


def test_no_crs_hint_for_a_zone_the_network_just_misses():
    """The hint is for coordinates that look wrong, not for a zone beyond a clipped
    network: zones whose bounds overlap the network's (synthetic bounds)."""
    from networks.validate import lonlat_hint

    net_bbox = (76.90, 43.20, 76.93, 43.22)
    assert lonlat_hint((76.92, 43.20, 76.97, 43.22), net_bbox, distance_m=2_000.0) == ""
    assert "do not overlap" in lonlat_hint((10.0, 50.0, 10.1, 50.1), net_bbox)
    assert "km from the road network" in lonlat_hint(net_bbox, net_bbox, distance_m=2e6)


# ----------------------------------------------------------------------------- 2: lon/lat + zones


def test_od_table_by_coordinates_with_zones_set(tmp_path):
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    od = _od_csv(tmp_path)
    cfg = _study(tmp_path, {"kind": "od_table", "od_table": str(od), "zones": str(zp)})
    trips = build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    assert len(trips) == 1
    assert trips["origin"].iloc[0] == net.snap(76.901, 43.201).node[0]


# ----------------------------------------------------------------------------- 3: coordinates


@pytest.mark.parametrize(
    ("col", "value"),
    [("origin_lat", 95.26), ("destination_lon", -200.0), ("origin_lon", "abc")],
)
def test_od_table_bad_coordinate_names_file_row_column_value(tmp_path, col, value):
    net = _synthetic_net()
    p = _od_csv(tmp_path, **{col: [value]})
    with pytest.raises(DemandTableError) as exc:
        _read(p, net)
    msg = str(exc.value)
    assert str(p) in msg and "row 2" in msg and repr(col) in msg and str(value) in msg


def test_od_table_far_point_names_the_file_and_the_study_setting(tmp_path):
    """A point beyond the snap limit named neither the OD file nor a setting a study could
    change (the limit was fixed at 500 m): the file, the row and demand.od_snap_m now."""
    net = _synthetic_net()
    far = 77.0  # ~6 km east of the synthetic grid (2.5 km wide from 76.9)
    p = _od_csv(tmp_path, origin_lon=[76.901, far])
    cfg = _study(tmp_path, {"kind": "od_table", "od_table": str(p)})
    with pytest.raises(DemandTableError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert str(p) in msg and "origin row 3" in msg and "demand.od_snap_m" in msg
    # the setting is honoured: a wider limit snaps the point
    cfg = _study(tmp_path, {"kind": "od_table", "od_table": str(p), "od_snap_m": 20_000})
    trips = build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    assert len(trips) == 2


@pytest.mark.parametrize("value", [0, -2, 1.5, "x"])
def test_od_table_bad_count_names_row_and_value(tmp_path, value):
    net = _synthetic_net()
    p = _od_csv(tmp_path, count=[1, value])
    with pytest.raises(DemandTableError) as exc:
        _read(p, net)
    msg = str(exc.value)
    assert str(p) in msg and "'count'" in msg and f"row 3 = {value!r}" in msg
    assert "row 2" not in msg  # the good row is not blamed


# ----------------------------------------------------------------------------- 4: depart_time


@pytest.mark.parametrize("value", ["25:99", "08:60", "08:00:75", "24:00", "8h30", "-1:00"])
def test_od_table_bad_depart_time_names_row_value_and_format(tmp_path, value):
    net = _synthetic_net()
    p = tmp_path / "synthetic_od.csv"  # two rows: the bad one is file row 3 (header = 1)
    df = pd.DataFrame(
        {
            "origin_lon": [76.901, 76.901],
            "origin_lat": [43.201, 43.201],
            "destination_lon": [76.91, 76.91],
            "destination_lat": [43.21, 43.21],
            "depart_time": ["07:00", value],
        }
    )
    df.to_csv(p, index=False)
    with pytest.raises(DemandTableError) as exc:
        _read(p, net)
    msg = str(exc.value)
    assert str(p) in msg and "row 3" in msg and repr(value) in msg and "HH:MM" in msg


def test_od_table_valid_depart_times(tmp_path):
    net = _synthetic_net()
    p = _od_csv(tmp_path, depart_time=["7:05", "23:59:59", "00:00"], day=[0, 0, 1])
    t = _read(p, net)
    assert t["depart_s"].tolist() == [7 * 3600 + 300, 86_399, 86_400]


# ----------------------------------------------------------------------------- 5: messages


@pytest.mark.parametrize("value", ["-224600", "many"])
def test_join_population_bad_value_names_file_row_value(tmp_path, value):
    net = _synthetic_net()
    zones = gpd.read_file(_synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net))
    p = _synthetic_population_csv(tmp_path / "synthetic_pop.csv", pops=("1000", value))
    with pytest.raises(DemandError) as exc:
        demand.join_population(zones, pd.read_csv(p), source=p)
    msg = str(exc.value)
    assert str(p) in msg and "row 3" in msg and "East" in msg and value in msg
    assert "'official_population'" in msg


def test_join_population_missing_column_names_file_and_columns(tmp_path):
    net = _synthetic_net()
    zones = gpd.read_file(_synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net))
    p = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    pd.read_csv(p).drop(columns="official_population").to_csv(p, index=False)
    with pytest.raises(DemandError) as exc:
        demand.join_population(zones, pd.read_csv(p), source=p)
    msg = str(exc.value)
    assert str(p) in msg and "'official_population'" in msg and "osm_match_tokens" in msg


def test_city_zones_population_messages_name_the_file(tmp_path):
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv", pops=("1000", "-5"))
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError, match=str(pop)):
        city_zones(cfg, net)


def test_zero_population_table_names_file_field_and_column(tmp_path):
    """A synthetic population table whose figures are all 0 ended "zone population column
    'population' must be >= 0 with a positive total; bad zones []" (no file, an empty list)
    and `evplan validate` passed it. Both now name the file, the field and the column."""
    from planner.config.checks import run_checks

    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv", pops=("0", "0"))
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    for needle in (str(pop), "demand.zone_population", "'official_population'", "0 in every row"):
        assert needle in msg, msg
    assert "bad zones []" not in msg and "number of residents" in msg
    problems = run_checks(cfg, log=False)["input_file_values"]
    assert problems == [msg]  # validate reports what the run would


def test_tiny_population_empty_fleet_names_the_file(tmp_path):
    """Synthetic populations of 1e-300 pass the table checks but make no EV: the message
    said "fleet is empty (adoption_share=0.0036 x population 0); raise it", naming no file
    and showing the total as 0."""
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv", pops=("1e-300", "1e-300"))
    cfg = _study(
        tmp_path,
        {"kind": "city", "zones": str(zp), "zone_population": str(pop), "adoption_share": 0.0036},
    )
    with pytest.raises(DemandError) as exc:
        build_trips(cfg, _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert f"demand.zone_population {pop}" in msg and "2e-300" in msg, msg
    assert "rounds to 0 EVs" in msg and "population figures" in msg


def test_city_trips_zero_total_says_so():
    """The generator on synthetic zones whose populations are all 0: the message says the
    total is zero (it listed "bad zones []")."""
    net = _synthetic_net()
    zones = gpd.GeoDataFrame(
        {"name_ru": ["West", "East"], "population": [0.0, 0.0]},
        geometry=_synthetic_zone_boxes(net),
        crs=4326,
    )
    zones.attrs["population_source"] = "demand.zone_population synthetic.csv"
    with pytest.raises(DemandError) as exc:
        demand.city_trips(net, zones, rng=0, zone_col="name_ru")
    msg = str(exc.value)
    assert msg.startswith("demand.zone_population synthetic.csv: ") and "adds up to 0" in msg
    assert "[]" not in msg


def test_od_table_initial_soc_out_of_range_names_file_row_value(tmp_path):
    net = _synthetic_net()
    p = _od_csv(tmp_path, initial_soc=[1.7])
    with pytest.raises(DemandTableError) as exc:
        _read(p, net)
    msg = str(exc.value)
    assert str(p) in msg and "row 2" in msg and "1.7" in msg and "initial_soc" in msg


def test_od_table_blank_initial_soc_stays_allowed(tmp_path):
    net = _synthetic_net()
    p = _od_csv(tmp_path, depart_time=["07:00", "08:00"], initial_soc=[0.5, None])
    t = _read(p, net)
    assert t["initial_soc"].iloc[0] == 0.5 and np.isnan(t["initial_soc"].iloc[1])


# ----------------------------------------------------------------------------- 6: places


def test_places_negative_population_rejected(tmp_path):
    from networks.places import read_places

    p = tmp_path / "synthetic_places.csv"
    pd.DataFrame(
        {
            "geonameid": [1, 2],
            "name": ["Synthtown", "Negaville"],
            "latitude": [43.2, 44.0],
            "longitude": [76.9, 77.0],
            "population": [10_000, -500_000],
        }
    ).to_csv(p, index=False)
    with pytest.raises(EvplanError) as exc:
        read_places(p)
    msg = str(exc.value)
    assert str(p) in msg and "3" in msg and "-500000" in msg


# ----------------------------------------------------------------------------- 7: name field


@pytest.mark.parametrize("kind", ["city", "od_table"])
def test_unknown_zone_name_field_names_field_file_and_fields(tmp_path, kind):
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    d = {"kind": kind, "zones": str(zp), "zone_name_field": "nosuch"}
    d.update(
        {"zone_population": str(pop)} if kind == "city" else {"od_table": str(_od_csv(tmp_path))}
    )
    with pytest.raises(DemandError) as exc:
        build_trips(_study(tmp_path, d), _sn(net), builtin_models(), rng=np.random.default_rng(0))
    msg = str(exc.value)
    assert "'nosuch'" in msg and str(zp) in msg and "name_ru" in msg and "name_kz" in msg


def test_default_zone_name_field_may_fall_back(tmp_path):
    """``zone_name_field`` left at its default (name_ru) keeps the documented fallback to the
    other name fields when the polygons lack name_ru."""
    net = _synthetic_net()
    zp = _synthetic_zones_geojson(tmp_path / "synthetic_zones.geojson", net)
    z = gpd.read_file(zp).drop(columns="name_ru")
    z["name_kz"] = ["West rayon", "East rayon"]
    z.to_file(zp, driver="GeoJSON")
    pop = _synthetic_population_csv(tmp_path / "synthetic_pop.csv")
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "zone_population": str(pop)})
    assert city_zones(cfg, net)["population"].tolist() == [1000, 2000]


def test_all_audit_errors_are_evplan_errors():
    assert issubclass(DemandError, EvplanError) and issubclass(DemandTableError, EvplanError)


def test_read_zones_without_features_says_so(tmp_path):
    zp = tmp_path / "synthetic_empty_zones.geojson"
    zp.write_text('{"type": "FeatureCollection", "features": []}')
    cfg = _study(tmp_path, {"kind": "city", "zones": str(zp), "population": 1000})
    with pytest.raises(DemandError, match="has no features"):
        city_zones(cfg, _synthetic_net())
