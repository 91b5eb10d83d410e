"""End-to-end: the KAZ01 corridor closed loop with its real report rendered in headless
Chromium, and clean CLI errors for run / optimize / simulate (exit code, no traceback,
nothing written)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.config.study import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
from tests.planner.test_report import dump_dom, js_error, map_attrs  # noqa: E402


def test_run_corridor_closed_loop_and_render_its_report(data_env, tmp_path):
    from planner.study.run import run_study

    cfg = load_config(
        CONFIGS / "corridor-kaz01.yaml",
        overrides={
            "demand.trips_per_day": 80,
            "simulation.days": 1,
            "simulation.replications": 1,
            "model.solver.time_limit_s": 20,
            "targets.max_iterations": 2,
            "vehicles.compare": ["mitsubishi_imiev_2013", "byd_atto3"],
        },
    )
    out = tmp_path / "run"
    res = run_study(cfg, out_dir=out)
    for name in ("report.html", "study.gpkg", "kpis.json", "manifest.json", "selected.geojson"):
        assert (out / name).is_file(), name
    assert res.kpis_before["n_stations"] == 3  # the three hotels
    assert res.kpis_after["n_stations"] > 3  # corridor chargers were added
    assert res.kpis_after["share_trips_completed"] >= res.kpis_before["share_trips_completed"]
    assert set(res.vehicle_matrix["season"]) == {"summer", "winter"}
    # the real report, not a synthetic one, renders in the browser
    dom = dump_dom(out / "report.html", tmp_path)
    assert js_error(dom) is None, js_error(dom)
    attrs = map_attrs(dom)
    assert attrs.get("rendered") == "true"
    assert int(attrs["road-lines"]) > 100 and int(attrs["stations"]) == res.kpis_after["n_stations"]
    assert int(attrs["inked-samples"]) > 500
    assert 'id="chart-soc_trace"' in dom and 'id="chart-coverage"' in dom


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "command, edit, needle",
    [
        ("run", "fleet_unknown", "no_such_ev"),
        ("optimize", "unknown_key", "colour"),
        ("simulate", "missing_file", "does-not-exist.osm.pbf"),
        ("run", "missing_file", "does-not-exist.osm.pbf"),
    ],
)
def test_cli_errors_are_clean_and_write_nothing(data_env, tmp_path, command, edit, needle):
    text = (CONFIGS / "almaty.yaml").read_text()
    if edit == "fleet_unknown":
        assert "    mitsubishi_imiev_2013: 0.005" in text  # the edit must take
        text = text.replace("    mitsubishi_imiev_2013: 0.005", "    no_such_ev: 0.005", 1)
    elif edit == "unknown_key":
        text = text.replace("demand:\n", "demand:\n  colour: blue\n", 1)
    else:
        import re

        text = re.sub(
            r"source: .*almaty-2012\.osm\.pbf", "source: does-not-exist.osm.pbf", text, count=1
        )
    assert needle in text
    cfg = tmp_path / "study.yaml"
    # paths in the study are relative to the file: keep them pointing at the real data
    cfg.write_text(text.replace("${EVPLAN_DATA_DIR:-../../shared/data}", str(data_env)))
    out = tmp_path / "out"
    proc = _cli(command, str(cfg), "-o", str(out), cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert needle in proc.stderr + proc.stdout
    assert not out.exists()


@pytest.mark.parametrize(
    "edit, needle",
    [
        ("negative_battery", "battery_kwh"),
        ("station_off_network", "Far Away Charger"),
    ],
)
def test_cli_simulate_rejects_bad_vehicles_and_stations(data_env, tmp_path, edit, needle):
    text = (
        (CONFIGS / "almaty.yaml")
        .read_text()
        .replace("${EVPLAN_DATA_DIR:-../../shared/data}", str(data_env))
    )
    if edit == "negative_battery":
        (tmp_path / "cars.yaml").write_text(
            "models:\n  broken_ev:\n    extends: byd_atto3\n    name: Broken EV\n    battery_kwh: -5\n"
        )
        text = text.replace("vehicles:\n", "vehicles:\n  catalogue: cars.yaml\n", 1)
        text = text.replace("    mitsubishi_imiev_2013: 0.15", "    broken_ev: 0.15", 1)
    else:
        text = text.replace(
            "existing_stations:\n",
            "existing_stations:\n  - {name: Far Away Charger, lon: 10.0, lat: 50.0, plugs: 2}\n",
            1,
        )
    cfg = tmp_path / "study.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    proc = _cli("simulate", str(cfg), "-o", str(out), cwd=tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert needle in proc.stderr + proc.stdout, proc.stderr
    assert not out.exists()
