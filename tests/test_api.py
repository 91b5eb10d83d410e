"""``import evplan``: the public API in one package, as a notebook user meets it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import evplan


def test_every_public_name_resolves_and_is_documented():
    for name in evplan.__all__:
        obj = getattr(evplan, name)
        if callable(obj) or isinstance(obj, type(evplan)):  # functions, classes, modules
            assert obj.__doc__, f"evplan.{name} has no docstring"
    assert "MCLP" in dir(evplan) and evplan.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        evplan.nope  # noqa: B018


def test_import_evplan_is_quick_and_loads_nothing_heavy():
    code = "import sys, evplan; print(sorted(m for m in ('ortools', 'simpy', 'osmnx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_study_in_ten_lines(data_dir, net_cache_dir, monkeypatch, tmp_path):
    """The README's notebook example, on the real Almaty extract with small settings."""
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    from tests.e2e.test_pipeline import CONFIGS, SMALL_CITY

    cfg = evplan.load_config(CONFIGS / "almaty.yaml", overrides={**SMALL_CITY, "model.p": 2})
    result = evplan.run_study(cfg, write=False)
    assert result.kpis_after["n_stations"] > result.kpis_before["n_stations"]
    assert {"name", "plugs", "lon", "lat"} <= set(result.selected.columns)
    folder = evplan.write_study(result, tmp_path / "notebook")
    assert (folder / "report.html").is_file() and (folder / "kpis.json").is_file()
    with pytest.raises(evplan.EvplanError, match="did not write"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("x")
        evplan.write_study(result, tmp_path / "mine")
    # a folder holding one of the study's inputs: refused, overwrite or not (a stand-in
    # input in tmp_path, never the real data)
    data = tmp_path / "data"
    data.mkdir()
    (data / "zones.geojson").write_text("{}")
    result.manifest = {**result.manifest, "inputs": {str(data / "zones.geojson"): "0" * 64}}
    with pytest.raises(evplan.EvplanError, match="holds an input of the study"):
        evplan.write_study(result, data, overwrite=True)
    assert (data / "zones.geojson").read_text() == "{}"


def test_siting_and_checker_from_the_package():
    import numpy as np

    cost = np.array([[100.0, 900.0], [900.0, 100.0], [500.0, 700.0]])
    model = evplan.MCLP.from_cost_matrix(cost, np.array([1.0, 2.0, 3.0]), threshold=600, p=1)
    res = model.solve(time_limit_s=5)
    assert res.objective == 4.0
    report = model.check(res)  # the independent checker (evplan.check_result underneath)
    assert report is not None
