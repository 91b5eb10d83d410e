"""What a planner hands on, checked on a real (small) Almaty study: real road shapes with
OSM attributes in the GeoPackage, the verdict and the stations table in the report, and
numbers formatted the one way."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from tests.e2e.test_pipeline import SMALL_CITY, _cfg


@pytest.fixture(scope="module")
def almaty_run(tmp_path_factory, data_dir, net_cache_dir):
    import os

    os.environ.setdefault("EVPLAN_DATA_DIR", str(data_dir))
    os.environ["EVPLAN_CACHE_DIR"] = str(net_cache_dir)
    from planner.study.run import run_study

    out = tmp_path_factory.mktemp("outputs") / "almaty"
    cfg = _cfg("almaty", {**SMALL_CITY, "model.p": 3, "targets.max_iterations": 1})
    return run_study(cfg, out_dir=out), out


def test_roads_layer_has_real_shapes_and_osm_attributes(almaty_run):
    _, out = almaty_run
    roads = gpd.read_file(out / "study.gpkg", layer="roads")
    assert {"osmid", "highway", "name", "ref", "oneway", "length_m", "time_s"} <= set(roads.columns)
    assert roads["highway"].notna().mean() > 0.99 and roads["osmid"].notna().all()
    geod = Geod(ellps="WGS84")
    drawn = np.array([geod.geometry_length(g) for g in roads.geometry])
    ratio = roads["length_m"].to_numpy() / np.maximum(drawn, 1e-9)
    # osmnx's edge length is the great-circle length of the same shape: drawn == routed
    assert np.percentile(ratio, 99.9) < 1.01 and ratio.min() > 0.99
    assert (roads.geometry.count_coordinates() > 2).mean() > 0.2  # curved roads, not chords


def test_report_answers_first(almaty_run):
    res, out = almaty_run
    html = (out / "report.html").read_text()
    banner = html.index('id="verdict"')
    assert banner < html.index('id="stations-table"') < html.index('id="cards"')
    status = res.verdict["status"]
    assert f'data-verdict="{status}"' in html and status in ("met", "missed")
    if status == "missed":
        assert "Why:" in html and res.verdict["reasons"]
    rows = re.findall(r'<tr data-station="([^"]+)"', html)
    assert sorted(rows) == sorted(res.selected["station_id"].astype(str))
    kpis = (out / "kpis.json").read_text()
    assert '"targets_met"' in kpis and '"verdict"' in kpis
    # one number format: no scientific notation anywhere a person reads
    text = re.sub(r"<script.*?</script>|data:image/[^\"]*", "", html, flags=re.S)
    assert not re.search(r"\d\.?\d*e[+-]\d\d", text)


def test_json_summaries(monkeypatch, capsys, data_dir, net_cache_dir, tmp_path):
    import json

    from tests.e2e.test_bad_inputs import _run_cli, _study

    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    study = _study(tmp_path, data_dir)
    code, out, _ = _run_cli(monkeypatch, capsys, "validate", str(study), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and "input_files_exist" in doc["checks"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: {kind: mclp, p: 0}\n")
    code, out, _ = _run_cli(monkeypatch, capsys, "validate", str(bad), "--json")
    doc = json.loads(out)  # a schema error answers on stdout too (it printed nothing)
    assert code == 2 and doc["ok"] is False and "model.p" in doc["error"]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"base: {study.name}\nparameters:\n  model.p: [0]\n")
    code, out, _ = _run_cli(monkeypatch, capsys, "validate", str(sweep), "--json")
    doc = json.loads(out)  # and so does an invalid sweep file
    assert code == 2 and doc["ok"] is False and "model.p" in doc["error"]
    code, out, _ = _run_cli(
        monkeypatch, capsys, "simulate", str(study), "-o", str(tmp_path / "sim"), "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["output_folder"] == str(tmp_path / "sim")
    # manifest.json names the folder written, not the config's default (runs/<name>)
    man = json.loads((tmp_path / "sim" / "manifest.json").read_text())
    assert man["output_folder"] == str(tmp_path / "sim")
    assert man["config_resolved"]["outputs"]["folder"] == str(tmp_path / "sim")
    assert doc["kpis_before"]["trips"] > 0 and doc["new_stations"] == []
    _simulate_outputs_keep_their_columns(tmp_path / "sim")


def _simulate_outputs_keep_their_columns(out):
    """``evplan simulate`` fills no ``selected``/``candidates``: their layers and CSVs still
    have the documented columns (they had none, and pandas could not read the CSVs), and
    every table it writes (``vehicles`` included) is documented."""
    import pandas as pd
    import pyogrio

    from planner.report.columns import LAYER_COLUMNS, TABLE_COLUMNS

    for layer in ("selected", "candidates"):
        fields = list(pyogrio.read_info(out / "study.gpkg", layer=layer)["fields"])
        assert fields == list(LAYER_COLUMNS[layer]), layer
        csv = pd.read_csv(out / f"{layer}.csv")
        assert len(csv) == 0 and list(csv.columns) == list(LAYER_COLUMNS[layer]), layer
    tables = sorted((out / "tables").glob("*.parquet"))
    assert "vehicles" in {p.stem for p in tables}
    for path in tables:
        cols = set(pd.read_parquet(path).columns)
        assert cols <= set(TABLE_COLUMNS[path.stem]), (
            f"{path.name}: {sorted(cols - set(TABLE_COLUMNS.get(path.stem, {})))}"
        )


def test_coverage_curve_spans_the_proposal(almaty_run):
    res, _ = almaty_run
    curve = res.coverage_curve
    assert curve["new_stations"].max() >= len(res.selected)
    assert curve["coverage_share"].is_monotonic_increasing


def test_real_layers_and_tables_are_documented(almaty_run):
    import pandas as pd
    import pyogrio

    from planner.report.columns import LAYER_COLUMNS, TABLE_COLUMNS

    _, out = almaty_run
    for layer, documented in LAYER_COLUMNS.items():
        fields = set(pyogrio.read_info(out / "study.gpkg", layer=layer)["fields"])
        assert fields <= set(documented), (
            f"{layer}: undocumented {sorted(fields - set(documented))}"
        )
    for path in (out / "tables").glob("*.parquet"):
        table = path.stem.removesuffix("_before").removesuffix("_after")
        cols = set(pd.read_parquet(path).columns)
        assert cols <= set(TABLE_COLUMNS[table]), (
            f"{path.name}: {sorted(cols - set(TABLE_COLUMNS[table]))}"
        )


def test_missed_targets_are_said_plainly_and_strict_fails(
    monkeypatch, capsys, data_dir, net_cache_dir, tmp_path
):
    import json

    from tests.e2e.test_bad_inputs import _run_cli, _study

    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    study = _study(
        tmp_path,
        data_dir,
        **{
            "p: 2, solver": "p: 1, solver",
            "simulation: {replications: 1}": "vehicles: {fleet: {mitsubishi_imiev_2013: 1}}\n"
            "targets: {max_iterations: 1, trips_completed_share: 0.999}\n"
            "simulation: {replications: 1, temperature_c: -25, home_charging_share: 0}",
        },
    )
    code, out, err = _run_cli(
        monkeypatch, capsys, "run", str(study), "-o", str(tmp_path / "o"), "--json", "--strict"
    )
    err = " ".join(err.split())
    assert code == 3 and "targets missed:" in err and "below the target of 99.9 %" in err
    summary = json.loads(out)  # --json says it too (it held only the KPIs)
    assert summary["targets_met"] is False and summary["verdict"]["status"] == "missed"
    assert any("below the target of 99.9 %" in r for r in summary["verdict"]["reasons"])
    kpis = json.loads((tmp_path / "o" / "kpis.json").read_text())
    assert kpis["targets_met"] is False and kpis["verdict"]["status"] == "missed"
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["targets_met"] is False
    code, _, err = _run_cli(monkeypatch, capsys, "run", str(study), "-o", str(tmp_path / "o"))
    assert code == 0 and "targets missed" in err  # without --strict: said, not failed
    # a batch says which finished runs missed their targets (it read as "1 done", exit 0),
    # and --strict fails it with 3 (here on the resumed run)
    batch = ("batch", str(study), "-o", str(tmp_path / "b"), "--workers", "0")
    code, out, err = _run_cli(monkeypatch, capsys, *batch)
    said = " ".join((out + err).split())
    assert code == 0 and "1 of 1 finished runs missed their service targets" in said, said
    assert "missed" in out  # the table's targets column
    # summary.csv says why (the verdict's first reason, from the run's kpis.json)
    fresh = pd.read_csv(tmp_path / "b" / "summary.csv")
    assert (
        list(fresh.columns).index("verdict_reason") == list(fresh.columns).index("targets_met") + 1
    )
    assert "above the target of 10.0 min" in fresh["verdict_reason"].iloc[0]
    kpis = json.loads((tmp_path / "b" / fresh["folder"].iloc[0] / "kpis.json").read_text())
    assert fresh["verdict_reason"].iloc[0] == kpis["verdict"]["reasons"][0]
    code, out, err = _run_cli(monkeypatch, capsys, *batch, "--strict")
    assert code == 3 and "1 resumed" in " ".join(out.split())
    resumed = pd.read_csv(tmp_path / "b" / "summary.csv")  # the same summary, resumed
    varying = ["resumed", "elapsed_s", "worker"]
    pd.testing.assert_frame_equal(fresh.drop(columns=varying), resumed.drop(columns=varying))


def test_charts_show_the_runs_the_kpi_table_summarises(almaty_run):
    """The waits chart pools every replication (its count is the KPI's mean visits x runs)
    and the utilisation chart is the mean over the replications with their spread."""
    res, _ = almaty_run
    reps = res.manifest["replications_proposal"]
    n_after = int((res.waits["scenario"] == "after").sum())
    factor = res.kpis_after.get("demand_expansion_factor", 1.0)  # totals scaled to the fleet
    assert reps >= 2 and n_after == round(res.kpis_after["station_visits"] / factor * reps)
    u = res.utilisation_by_hour[res.utilisation_by_hour["scenario"] == "after"]
    assert {"utilisation_min", "utilisation_max"} <= set(u.columns)
    assert (u["utilisation_min"] <= u["utilisation"] + 1e-12).all()
    assert (u["utilisation"] <= u["utilisation_max"] + 1e-12).all()


def test_an_unnamed_site_has_the_same_name_in_every_output(almaty_run):
    """An OSM site without a name was "unnamed amenity=fuel" in selected.csv after `run`
    but blank in the stations tables, in `optimize`'s selected.csv and in --json: every
    output now calls it by its kind."""
    _, out = almaty_run
    cand = pd.read_csv(out / "candidates.csv", keep_default_na=False)
    stations = pd.read_csv(out / "tables" / "stations_after.csv", keep_default_na=False)
    selected = pd.read_csv(out / "selected.csv", keep_default_na=False)
    for table in (cand, stations, selected):
        assert (table["name"].astype(str).str.strip() != "").all()
        assert not table["name"].astype(str).eq("nan").any()
    # the real extract has unnamed candidates (139 of 262 in the full study): named by kind
    unnamed = cand[cand["name"].str.startswith("unnamed ")]
    assert len(unnamed) and (unnamed["name"] == "unnamed " + unnamed["kind"]).all()
    same = selected.merge(stations, on="station_id", suffixes=("_sel", "_st"))
    assert len(same) == len(selected) and (same["name_sel"] == same["name_st"]).all()


def test_manifest_counts_edges_as_network_info_does(almaty_run):
    """manifest.json's network edges are the graph's (as `evplan network info` reports
    them), with the routable arcs (parallel edges collapsed) beside them."""
    import json

    _, out = almaty_run
    net = json.loads((out / "manifest.json").read_text())["network"]
    assert net["edges"] + net["scc_edges_dropped"] == net["edges_before_scc"]
    assert 0 < net["routable_arcs"] < net["edges"]


def test_manifest_and_report_name_the_commit_of_the_checkout(almaty_run):
    """A run is tied to the code that made it: the checkout's commit in manifest.json
    and the report's header (the package version stays the same across commits)."""
    import json
    import shutil

    from planner.study.provenance import CHECKOUT

    if shutil.which("git") is None or not (CHECKOUT / ".git").exists():
        pytest.skip("evplan does not run from a git checkout here")
    _, out = almaty_run
    src = json.loads((out / "manifest.json").read_text())["evplan_source"]
    assert len(src["commit"]) == 40 and isinstance(src["modified"], bool)
    assert f"(commit {src['commit'][:12]}" in (out / "report.html").read_text()


def test_the_runs_warnings_are_kept_in_its_outputs(almaty_run):
    """What the console warned about during the run (here: candidate sites too far from
    the network, dropped) is in manifest.json and the report's notes, not only on the
    console (a review found 80 corridor towns dropped with a console warning only)."""
    import json

    _, out = almaty_run
    warned = json.loads((out / "manifest.json").read_text())["warnings"]
    assert any("candidate site(s) farther than 300 m from the network" in w for w in warned)
    assert "Warning during the run: " in (out / "report.html").read_text()


def test_no_grid_limit_is_written_empty_in_every_format(almaty_run):
    """`grid_kw` "empty: no limit" (docs/report.md): the CSVs and the GeoPackage wrote
    `inf` where the GeoJSON wrote null."""
    import json

    _, out = almaty_run
    for layer in ("candidates", "selected", "existing"):
        csv = pd.read_csv(out / f"{layer}.csv")
        gpkg = gpd.read_file(out / "study.gpkg", layer=layer)
        if "grid_kw" in csv.columns and len(csv):
            assert csv["grid_kw"].isna().all()  # no grid configured: no limit anywhere
            assert gpkg["grid_kw"].isna().all()
    for layer in ("selected", "existing"):
        doc = json.loads((out / f"{layer}.geojson").read_text())
        for f in doc["features"]:
            assert f["properties"].get("grid_kw") is None


def test_the_vehicle_models_used_are_listed_with_their_figures(almaty_run):
    """A reader checks the models' figures and sources without the catalogue (carmaker
    review, 2026-12-07: the report named models by key only)."""
    from sim import builtin_models

    res, out = almaty_run
    table = pd.read_csv(out / "tables" / "vehicle_models.csv")
    cfg_v = res.manifest["config_resolved"]["vehicles"]
    assert set(table["vehicle_model"]) == set(cfg_v["fleet"]) | set(cfg_v["compare"])
    crozz = table.set_index("vehicle_model").loc["vw_id4_crozz_pro"]
    built = builtin_models()["vw_id4_crozz_pro"]
    assert crozz["connectors"] == "GB/T" and crozz["battery_kwh"] == built.battery_kwh
    assert crozz["role"].startswith("fleet 47.0%") and not crozz["user_defined"]
    assert table["source"].str.len().min() > 20  # every model says where its figures come from
    html = (out / "report.html").read_text()
    assert 'id="vehicle-models"' in html and f"{built.consumption_kwh_per_km:g}" in html


def test_stations_after_marks_the_existing_stations(almaty_run):
    """stations_after had every station ``existing=False``, the hotel KazZhol included: the
    study's simulator dropped the column and the engine's default filled it in."""
    res, out = almaty_run
    after = pd.read_csv(out / "tables" / "stations_after.csv", keep_default_na=False)
    flag = after.set_index("station_id")["existing"].astype(str).str.lower().eq("true")
    existing = {str(s) for s in res.existing["station_id"]}
    assert existing and set(flag[flag].index.astype(str)) == existing
    assert not flag[[str(s) for s in res.selected["station_id"]]].any()
