"""Machine-readable outputs of a study run (planner.report.export) on a small synthetic study.

``synthetic_result`` is also used by ``test_report.py``. All its data are made up (a road
grid and stations near Almaty); the names say so.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point, Polygon

from planner.report.atomic import atomic_dir
from planner.report.export import as_wgs84, json_safe, kpi_table, write_outputs
from planner.study.result import StudyResult

LON0, LAT0 = 76.90, 43.22  # synthetic grid origin, near central Almaty


def _grid_roads(n: int = 8, step: float = 0.01) -> gpd.GeoDataFrame:
    rows, k = [], 0
    for i in range(n):
        for j in range(n):
            x, y = LON0 + i * step, LAT0 + j * step
            for dx, dy in ((step, 0.0), (0.0, step)):
                if (
                    x + dx <= LON0 + (n - 1) * step + 1e-9
                    and y + dy <= LAT0 + (n - 1) * step + 1e-9
                ):
                    hw = (
                        "primary" if (i == 3 and dx == 0) or (j == 3 and dy == 0) else "residential"
                    )
                    rows.append(
                        {
                            "u": k,
                            "v": k + 1,
                            "length_m": 800.0,
                            "time_s": 60.0,
                            "highway": hw,
                            "geometry": LineString([(x, y), (x + dx, y + dy)]),
                        }
                    )
                    k += 2
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def _stations(names: list[str], offsets: list[tuple[float, float]], **cols) -> gpd.GeoDataFrame:
    df = pd.DataFrame({"site_id": [f"synthetic/{n}" for n in names], "name": names, **cols})
    geom = [Point(LON0 + dx, LAT0 + dy) for dx, dy in offsets]
    return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")


def synthetic_result(name: str = "synthetic-almaty-grid") -> StudyResult:
    """A complete StudyResult built from made-up data (every field filled)."""
    rng = np.random.default_rng(7)
    roads = _grid_roads()
    demand = gpd.GeoDataFrame(
        {"weight": rng.integers(50, 500, 30).astype(float), "kind": "zone"},
        geometry=[Point(LON0 + x, LAT0 + y) for x, y in rng.uniform(0, 0.07, (30, 2))],
        crs="EPSG:4326",
    )
    candidates = _stations(
        [f"Synthetic candidate {k}" for k in range(6)],
        [(0.01 * k, 0.012 * k) for k in range(6)],
        kind="fuel",
        renewable=[False, False, True, False, False, False],
        cost=[1e6] * 6,
    )
    existing = _stations(
        ["Synthetic hotel charger", "Synthetic mall charger"],
        [(0.02, 0.05), (0.06, 0.01)],
        plugs=[2, 4],
        power_kw=[22.0, 50.0],
        utilisation=[0.55, 0.31],
        mean_wait_min=[6.5, 1.2],
    )
    selected = _stations(
        ["Synthetic new A", "Synthetic new B", "Synthetic solar site"],
        [(0.03, 0.03), (0.05, 0.06), (0.01, 0.02)],
        plugs=[4, 2, 6],
        power_kw=[150.0, 50.0, 50.0],
        utilisation=[0.42, 0.18, 0.35],
        mean_wait_min=[2.1, 0.0, 0.8],
        renewable=[False, False, True],
    )
    selected["tags"] = [{"amenity": "fuel"}, {}, {"power": "solar"}]  # a dict column, as from OSM
    before = {
        "share_trips_completed": 0.81,
        "stranded_vehicles": 12,
        "wait_mean_min": 7.5,
        "wait_p95_min": 24.0,
        "detour_km_mean": 3.4,
        "plug_utilisation": 0.61,
        "energy_delivered_kwh": 5400.0,
        "peak_kw_station_max": 180.0,
        "co2_avoided_kg": 2100.0,
        "coverage_share": 0.42,
        "n_stations": 2,
        "n_plugs": 6,
        "capex": 0.0,
    }
    after = {
        **before,
        "share_trips_completed": 0.97,
        "stranded_vehicles": np.int64(1),
        "wait_mean_min": 1.9,
        "wait_p95_min": 8.0,
        "detour_km_mean": 1.2,
        "plug_utilisation": 0.33,
        "energy_delivered_kwh": 6900.0,
        "coverage_share": np.float64(0.93),
        "n_stations": 5,
        "n_plugs": 18,
        "capex": 3.2e6,
    }
    waits = pd.DataFrame(
        {
            "scenario": ["before"] * 200 + ["after"] * 300,
            "wait_min": np.r_[rng.exponential(7.5, 200), rng.exponential(1.9, 300)],
        }
    )
    hours = np.arange(24)
    util = pd.DataFrame(
        {
            "scenario": np.repeat(["before", "after"], 24),
            "hour": np.tile(hours, 2),
            "utilisation": np.r_[
                0.3 + 0.3 * np.sin(hours / 24 * np.pi), 0.15 + 0.2 * np.sin(hours / 24 * np.pi)
            ],
        }
    )
    km = np.array([0, 120, 240, 240, 380, 520, 520, 700])
    soc = pd.DataFrame(
        {
            "series": np.repeat(["Synthetic EV / summer", "Synthetic EV / winter"], 8),
            "km": np.tile(km, 2),
            "soc": np.r_[
                [0.9, 0.7, 0.5, 0.85, 0.6, 0.35, 0.8, 0.5],
                [0.9, 0.6, 0.3, 0.8, 0.45, 0.1, 0.8, 0.35],
            ],
            "event": np.tile(
                ["drive", "drive", "drive", "charge", "drive", "drive", "charge", "drive"], 2
            ),
        }
    )
    models, seasons = (
        ["Synthetic compact 40 kWh", "Synthetic SUV 80 kWh"],
        {"summer": 25.0, "winter": -15.0},
    )
    vm = pd.DataFrame(
        [
            {
                "vehicle_model": m,
                "season": s,
                "temperature_c": t,
                "trips_feasible_share": 0.95 - 0.3 * (t < 0) + 0.04 * k,
                "share_before": 0.7 - 0.35 * (t < 0) + 0.04 * k,
                "share_after": 0.95 - 0.3 * (t < 0) + 0.04 * k,
            }
            for k, m in enumerate(models)
            for s, t in seasons.items()
        ]
    )
    intervals = pd.DataFrame(
        {
            "scenario": ["before", "after", "after"],
            "kpi": ["wait_p95_min"] * 2 + ["share_trips_completed"],
            "mean": [24.0, 8.0, 0.97],
            "ci_low": [21.0, 6.5, 0.95],
            "ci_high": [27.0, 9.5, 0.99],
            "n": [5, 5, 5],
        }
    )
    return StudyResult(
        name=name,
        title="Synthetic grid study (made-up data)",
        question="Where should three new chargers go on a synthetic grid near Almaty?",
        roads=roads,
        demand=demand,
        candidates=candidates,
        existing=existing,
        selected=selected,
        kpis_before=before,
        kpis_after=after,
        kpi_intervals=intervals,
        coverage_curve=pd.DataFrame(
            {"n_stations": range(1, 8), "coverage_share": [0.3, 0.5, 0.65, 0.78, 0.87, 0.93, 0.96]}
        ),
        waits=waits,
        utilisation_by_hour=util,
        soc_trace=soc,
        vehicle_matrix=vm,
        iterations=[
            {
                "iteration": 1,
                "added": ["Synthetic new A", "Synthetic new B"],
                "missed_targets": ["wait_p95_min"],
            },
            {"iteration": 2, "added": ["Synthetic solar site"], "missed_targets": []},
        ],
        tables={
            "trips_before": pd.DataFrame(
                {
                    "trip": range(5),
                    "ok": [True] * 4 + [False],
                    "depart": pd.date_range("2024-01-01", periods=5, freq="h"),
                }
            ),
            "sessions after": pd.DataFrame(
                {
                    "station": ["synthetic/a", "synthetic/b"],
                    "wait_min": [0.0, 3.5],
                    "extra": [{"x": 1}, [1, 2]],
                }
            ),
        },
        manifest={
            "study": name,
            "seed": np.int64(42),
            "config_file": Path("/tmp/synthetic.yaml"),
            "started_at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
            "timings_s": {"solve": np.float32(1.5)},
            "packages": {"evplan": "0.1.0"},
            "bad": float("nan"),
        },
        notes=[
            "All data in this study are synthetic.",
            "Chargers <assumed> to be available 24 h & 7 days.",
        ],
    )


@pytest.fixture
def result() -> StudyResult:
    return synthetic_result()


def test_write_outputs_files_and_layers(tmp_path: Path, result: StudyResult) -> None:
    written = write_outputs(result, tmp_path)
    for rel in (
        "study.gpkg",
        "selected.geojson",
        "existing.geojson",
        "candidates.csv",
        "selected.csv",
        "existing.csv",
        "kpis.json",
        "kpis.csv",
        "manifest.json",
        "tables/trips_before.parquet",
        "tables/trips_before.csv",
        "tables/sessions_after.parquet",
    ):
        assert rel in written and (tmp_path / rel).is_file(), rel
    assert not [p for p in tmp_path.rglob(".*")], "temporary files left behind"
    layers = dict(pyogrio.list_layers(tmp_path / "study.gpkg"))
    assert list(layers)[:5] == ["roads", "demand", "candidates", "existing", "selected"]
    assert list(layers)[5:] == ["layer_styles"]  # QGIS' style table (attributes, no geometry)
    assert layers["roads"] == "LineString" and layers["selected"] == "Point"
    sel = gpd.read_file(tmp_path / "study.gpkg", layer="selected")
    assert sel.crs.to_epsg() == 4326
    assert list(sel["name"]) == list(result.selected["name"])
    assert {"plugs", "power_kw", "utilisation", "mean_wait_min"} <= set(sel.columns)
    assert json.loads(sel["tags"].iloc[2]) == {"power": "solar"}  # dict column -> JSON text
    assert len(gpd.read_file(tmp_path / "study.gpkg", layer="roads")) == len(result.roads)
    gj = gpd.read_file(tmp_path / "selected.geojson")
    assert (
        len(gj) == 3
        and gj.geometry.x.round(5).tolist() == result.selected.geometry.x.round(5).tolist()
    )
    cand = pd.read_csv(tmp_path / "candidates.csv")
    assert {"lon", "lat", "site_id"} <= set(cand.columns) and len(cand) == 6
    back = pd.read_parquet(tmp_path / "tables/trips_before.parquet")
    pd.testing.assert_frame_equal(back, result.tables["trips_before"])


def test_kpis_round_trip(tmp_path: Path, result: StudyResult) -> None:
    write_outputs(result, tmp_path)
    kpis = json.loads((tmp_path / "kpis.json").read_text())
    assert kpis["before"] == json_safe(result.kpis_before)
    assert kpis["after"]["coverage_share"] == pytest.approx(0.93)
    assert kpis["delta"]["wait_p95_min"] == pytest.approx(-16.0)
    assert kpis["units"]["coverage_share"] == "share"
    assert len(kpis["intervals"]) == 3
    csv = pd.read_csv(tmp_path / "kpis.csv").set_index("kpi")
    assert csv.loc["stranded_vehicles", "delta"] == -11
    assert csv.loc["wait_p95_min", "after_ci_low"] == 6.5
    assert csv.loc["wait_p95_min", "before_ci_high"] == 27.0
    assert list(csv.index[:3]) == ["share_trips_completed", "stranded_vehicles", "wait_mean_min"]


def test_manifest_is_strict_json(tmp_path: Path, result: StudyResult) -> None:
    write_outputs(result, tmp_path)
    text = (tmp_path / "manifest.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert m["seed"] == 42 and m["config_file"] == "/tmp/synthetic.yaml" and m["bad"] is None
    assert m["started_at"].startswith("2024-05-01T12:00:00")
    assert m["timings_s"]["solve"] == 1.5
    assert m["export"]["layers"]["selected"] == 3 and "skipped_layers" not in m["export"]


def test_empty_study_keeps_layers(tmp_path: Path) -> None:
    empty = StudyResult(name="synthetic-empty")
    empty.selected = gpd.GeoDataFrame(
        {"site_id": pd.Series([], dtype=str), "plugs": pd.Series([], dtype="int64")},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    write_outputs(empty, tmp_path)
    layers = dict(pyogrio.list_layers(tmp_path / "study.gpkg"))
    assert set(layers) - {"layer_styles"} == {
        "roads",
        "demand",
        "candidates",
        "existing",
        "selected",
    }
    assert {"site_id", "plugs"} <= set(
        pyogrio.read_info(tmp_path / "study.gpkg", layer="selected")["fields"]
    )
    assert json.loads((tmp_path / "selected.geojson").read_text())["features"] == []
    assert json.loads((tmp_path / "kpis.json").read_text())["after"] == {}


def test_polygon_demand_and_lonlat_frames(tmp_path: Path, result: StudyResult) -> None:
    # Zones as polygons mixed with points, and stations handed over as a plain lon/lat table.
    square = Polygon([(LON0, LAT0), (LON0 + 0.01, LAT0), (LON0 + 0.01, LAT0 + 0.01)])
    result.demand = gpd.GeoDataFrame(
        {"weight": [1.0, 2.0], "kind": ["zone", "place"]},
        geometry=[square, Point(LON0, LAT0)],
        crs="EPSG:4326",
    )
    result.existing = pd.DataFrame(
        {
            "site_id": ["synthetic/x"],
            "name": ["x"],
            "lon": [LON0],
            "lat": [LAT0],
            "plugs": [2],
            "power_kw": [22.0],
        }
    )
    result.candidates = result.candidates.to_crs(32643)  # UTM: must come back in WGS84
    write_outputs(result, tmp_path)
    dem = gpd.read_file(tmp_path / "study.gpkg", layer="demand")
    assert len(dem) == 2 and set(dem.geom_type) == {"Polygon", "Point"}
    ex = gpd.read_file(tmp_path / "existing.geojson")
    assert ex.geometry.x.iloc[0] == pytest.approx(LON0)
    cand = gpd.read_file(tmp_path / "study.gpkg", layer="candidates")
    assert cand.geometry.x.min() == pytest.approx(LON0, abs=1e-7)


def test_kpi_table_handles_missing_and_non_numeric() -> None:
    r = StudyResult(
        name="synthetic-kpis",
        kpis_before={"n_stations": 2, "label": "a"},
        kpis_after={"n_stations": 4, "custom_score": float("nan"), "label": "b"},
    )
    kt = kpi_table(r).set_index("kpi")
    assert kt.loc["n_stations", "delta"] == 2
    assert pd.isna(kt.loc["custom_score", "delta"]) and pd.isna(kt.loc["label", "delta"])
    assert kt.loc["custom_score", "label"] == "Custom score"


def test_atomic_dir_leaves_nothing_on_failure(tmp_path: Path, result: StudyResult) -> None:
    target = tmp_path / "runs" / "synthetic"
    with pytest.raises(RuntimeError, match="boom"), atomic_dir(target) as tmp:
        write_outputs(result, tmp)
        assert (tmp / "study.gpkg").is_file()
        raise RuntimeError("boom")  # e.g. the report failing after the exports
    assert not target.exists()
    assert list((tmp_path / "runs").iterdir()) == []
    with atomic_dir(target) as tmp:
        write_outputs(result, tmp)
    assert (target / "kpis.json").is_file() and list((tmp_path / "runs").iterdir()) == [target]


def test_write_outputs_needs_existing_folder(tmp_path: Path, result: StudyResult) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_outputs(result, tmp_path / "missing")


def test_as_wgs84_without_geometry() -> None:
    g = as_wgs84(pd.DataFrame({"a": [1, 2]}))
    assert g.crs.to_epsg() == 4326 and g.geometry.isna().all()


def test_gpkg_false_leaves_the_geopackage_out(tmp_path: Path, result: StudyResult) -> None:
    written = write_outputs(result, tmp_path, gpkg=False)
    assert "study.gpkg" not in written and not (tmp_path / "study.gpkg").exists()
    assert (tmp_path / "selected.geojson").is_file() and (tmp_path / "kpis.json").is_file()


def test_geopackage_is_version_1_2_and_opens_styled(tmp_path: Path, result: StudyResult) -> None:
    import sqlite3

    write_outputs(result, tmp_path)
    con = sqlite3.connect(tmp_path / "study.gpkg")
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200  # GeoPackage 1.2
        rows = con.execute(
            "SELECT f_table_name, useAsDefault, styleQML, styleSLD FROM layer_styles"
        ).fetchall()
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
    finally:
        con.close()
    styled = {r[0] for r in rows}
    assert styled == {"roads", "demand", "candidates", "existing", "selected"}
    assert all(r[1] == 1 and "<qgis" in r[2] and "StyledLayerDescriptor" in r[3] for r in rows)
    qml = {r[0]: r[2] for r in rows}
    assert "230,85,13,255" in qml["selected"] and "&quot;plugs&quot;" in qml["selected"]
    assert "RuleRenderer" in qml["roads"] and kinds["layer_styles"] == "attributes"
    import xml.dom.minidom

    for r in rows:  # well-formed XML
        xml.dom.minidom.parseString(r[2].split(">", 1)[1])
        xml.dom.minidom.parseString(r[3].encode())


def test_geojson_coordinates_have_six_decimals(tmp_path: Path, result: StudyResult) -> None:
    write_outputs(result, tmp_path)
    text = (tmp_path / "selected.geojson").read_text()
    coords = json.loads(text)["features"][0]["geometry"]["coordinates"]
    assert all(len(repr(c).split(".")[1]) <= 6 for c in coords)


def test_located_tables_are_also_geoparquet(tmp_path: Path, result: StudyResult) -> None:
    import pyarrow.parquet as pq

    tables = dict(result.tables)
    tables["stations_after"] = pd.DataFrame(
        {"station_id": ["a", "b"], "lon": [76.9, 77.0], "lat": [43.2, 43.3], "plugs": [2, 4]}
    )
    write_outputs(StudyResult(**{**result.__dict__, "tables": tables}), tmp_path)
    path = tmp_path / "tables" / "stations_after.geoparquet"
    meta = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert meta["primary_column"] == "geometry" and "4326" in json.dumps(meta["columns"])
    gdf = gpd.read_parquet(path)
    assert gdf.crs.to_epsg() == 4326 and list(gdf.geometry.x) == [76.9, 77.0]


def test_rerun_keeps_the_files_a_user_added_to_an_output_folder(tmp_path: Path) -> None:
    """Replacing an evplan folder replaces only what evplan wrote: notes and analysis the
    user saved into it (top level and inside evplan's own subfolders) are kept, and a user
    file the new output would overwrite fails the run with the old folder unchanged."""
    import json

    from planner.report.atomic import MARKER, OutputWriteError

    target = tmp_path / "out"

    def run(files: dict[str, str]) -> None:
        with atomic_dir(target) as tmp:
            for rel, text in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_text(text)

    run({"kpis.json": "1", "figures/a.png": "a"})
    assert json.loads((target / MARKER).read_text())["files"] == ["figures/a.png", "kpis.json"]
    (target / "my-notes.txt").write_text("mine")
    (target / "analysis").mkdir()
    (target / "analysis" / "a.py").write_text("print(1)")
    (target / "figures" / "mine.png").write_text("m")
    run({"kpis.json": "2", "figures/b.png": "b"})
    assert (target / "kpis.json").read_text() == "2"
    assert not (target / "figures" / "a.png").exists()  # evplan's own: replaced
    assert (target / "my-notes.txt").read_text() == "mine"
    assert (target / "analysis" / "a.py").read_text() == "print(1)"
    assert (target / "figures" / "mine.png").read_text() == "m"
    # the new marker lists only what evplan wrote: the user's files stay theirs next time
    assert json.loads((target / MARKER).read_text())["files"] == ["figures/b.png", "kpis.json"]
    run({"kpis.json": "3"})
    assert (target / "my-notes.txt").read_text() == "mine"
    # a user file where the new output writes one: the run fails, nothing changes
    (target / "report.html").write_text("my own report")
    before = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    with pytest.raises(OutputWriteError, match="report.html"):
        run({"kpis.json": "4", "report.html": "evplan's"})
    assert (target / "report.html").read_text() == "my own report"
    assert (target / "kpis.json").read_text() == "3"
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == before
    assert not list(tmp_path.glob(".out.*"))  # no temporaries left


def test_an_output_folder_that_refuses_changes_is_reported_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing target folder is renamed away when replaced: one that refuses changes
    (read-only, immutable) is refused up front, with exit code 2, not after the run."""
    import errno
    import tempfile

    from planner.report.atomic import OutputFolderError, check_output_target

    target = tmp_path / "ro"
    target.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # the file system's answer inside the locked folder
        if Path(kwargs.get("dir", "")) == target:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(OutputFolderError, match="not writable") as err:
        check_output_target(target, what="--out")
    assert err.value.exit_code == 2 and str(target) in str(err.value)
    check_output_target(tmp_path / "new", what="--out")  # a new folder beside it is fine


def test_an_interrupted_swap_puts_the_previous_output_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between moving the old folder aside and moving the new one in: the old one is
    put back at once, and a leftover of a harder kill is restored by the next run, not
    deleted (with the files the user added)."""
    import os

    from planner.report import atomic
    from planner.report.atomic import claim_output

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text("1")
    (target / "notes.txt").write_text("mine")
    real = os.replace

    def interrupted(src, dst):  # the second move of the swap: tmp -> target
        if str(src).endswith(".partial") and Path(dst) == target:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text("2")
    monkeypatch.setattr(atomic.os, "replace", real)
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "kpis.json").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # a kill that left only the moved-aside folder: the next claim restores it
    real(target, tmp_path / ".out.old-999")
    with claim_output(target):
        pass
    assert (target / "notes.txt").read_text() == "mine"
    assert not (tmp_path / ".out.old-999").exists()


def test_a_user_file_under_a_name_the_new_output_uses_as_a_file_fails_cleanly(
    tmp_path: Path,
) -> None:
    from planner.report.atomic import OutputWriteError

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "maps").mkdir()
        (tmp / "maps" / "a.png").write_text("a")
    (target / "maps" / "mine").mkdir()
    (target / "maps" / "mine" / "deep.txt").write_text("mine")
    with pytest.raises(OutputWriteError, match="deep.txt"), atomic_dir(target) as tmp:
        (tmp / "maps").mkdir()
        (tmp / "maps" / "mine").write_text("evplan's new file")
    assert (target / "maps" / "mine" / "deep.txt").read_text() == "mine"


def test_an_unlistable_subfolder_fails_the_run_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder the user added that evplan cannot list (permissions) would be lost on
    replace: the run fails instead, the old folder unchanged."""
    import errno
    import os

    from planner.report.atomic import OutputWriteError

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text("1")
    (target / "private").mkdir()
    (target / "private" / "secret.txt").write_text("mine")
    real = os.scandir

    def scandir(path="."):  # the file system's answer for a folder without read permission
        if isinstance(path, str | os.PathLike) and Path(path) == target / "private":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(OutputWriteError, match="private"), atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text("2")
    monkeypatch.setattr(os, "scandir", real)
    assert (target / "private" / "secret.txt").read_text() == "mine"
    assert (target / "kpis.json").read_text() == "1"
