"""Study configs: the shipped studies validate; bad input gets file, line, field and hint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from planner.config.checks import run_checks
from planner.config.study import ConfigFileError, config_hash, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = ["almaty", "corridor-kaz01", "astana", "karaganda"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_studies_validate(name, data_dir, monkeypatch):
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.name == name
    problems = run_checks(cfg)
    assert not any(problems.values()), problems


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(text)
    return p


BASE = """\
name: t
network:
  source: x.osm.pbf
demand:
  kind: city
  zones: z.geojson
model:
  kind: mclp
  p: 3
"""


def test_unknown_key_names_file_line_and_hint(tmp_path):
    p = _write(tmp_path, BASE.replace("  kind: city\n", "  kind: city\n  colour: blue\n"))
    with pytest.raises(ConfigFileError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert f"{p}:6: demand.colour" in msg and "check its spelling" in msg


def test_bad_value_shows_the_value(tmp_path):
    p = _write(tmp_path, BASE.replace("  p: 3", "  p: -2"))
    with pytest.raises(
        ConfigFileError, match=r"study.yaml:9: model.p: .*greater than or equal to 1 \(got -2\)"
    ):
        load_config(p)


def test_download_must_be_explicit(tmp_path):
    p = _write(tmp_path, BASE.replace("  source: x.osm.pbf", '  place: "Astana, Kazakhstan"'))
    with pytest.raises(ConfigFileError, match="download: true"):
        load_config(p)


def test_not_yaml_and_not_mapping(tmp_path):
    p = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        load_config(p)
    p.write_text("- just\n- a list\n")
    with pytest.raises(ConfigFileError, match="must be a mapping"):
        load_config(p)


def test_paths_relative_to_config_and_env_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("MYDATA", "/data/here")
    p = _write(
        tmp_path,
        BASE.replace("x.osm.pbf", "${MYDATA}/a.osm.pbf").replace(
            "z.geojson", "${NOPE:-sub}/z.geojson"
        ),
    )
    cfg = load_config(p)
    assert cfg.network.source == Path("/data/here/a.osm.pbf")
    assert cfg.demand.zones == tmp_path / "sub" / "z.geojson"


def test_overrides_and_hash(tmp_path):
    p = _write(tmp_path, BASE)
    a, b = load_config(p), load_config(p, overrides={"model.p": 4})
    assert b.model.p == 4 and config_hash(a) != config_hash(b)
    assert config_hash(a) == config_hash(load_config(p, overrides={"outputs.folder": "elsewhere"}))
    with pytest.raises(ConfigFileError, match="model.nonsense"):
        load_config(p, overrides={"model.nonsense": 1})


def test_missing_files_are_reported_by_checks(tmp_path):
    cfg = load_config(_write(tmp_path, BASE))
    problems = run_checks(cfg)["input_files_exist"]
    assert any("network.source: file not found" in x for x in problems)


def test_cli_validate_exit_codes(tmp_path, monkeypatch, capsys, data_dir):
    from planner import cli

    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setattr(sys, "argv", ["evplan", "validate", str(CONFIGS / "almaty.yaml")])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 0
    monkeypatch.setattr(sys, "argv", ["evplan", "validate", str(_write(tmp_path, BASE))])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = capsys.readouterr().err
    assert exc.value.code != 0 and "file not found" in err and "Traceback" not in err


def test_unknown_vehicle_model_is_reported(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + "vehicles:\n  fleet: {tesla_cybertruck_9000: 1.0}\n"))
    problems = run_checks(cfg)["vehicle_models_known"]
    assert problems and "tesla_cybertruck_9000" in problems[0] and "known:" in problems[0]


def test_cli_validate_recognises_a_sweep_file(tmp_path, monkeypatch, capsys, data_dir):
    """`evplan validate` on a sweep checks every run it expands to (not the study schema)."""
    from planner import cli

    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setattr(sys, "argv", ["evplan", "validate", str(CONFIGS / "sweep-kaz01.yaml")])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    text = " ".join(capsys.readouterr().out.split())  # rich wraps to the terminal width
    assert exc.value.code == 0, text
    assert "sweep 'sweep-kaz01', 30 runs" in text and "p=10 range_km=350 temperature_c=-20" in text
    bad = tmp_path / "bad-sweep.yaml"
    bad.write_text(f"base: {CONFIGS / 'corridor-kaz01.yaml'}\nparameters:\n  model.p: [2, -1]\n")
    monkeypatch.setattr(sys, "argv", ["evplan", "validate", str(bad)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code != 0 and "1 of 2 runs are invalid" in err and "p=-1" in err, err
    assert "Traceback" not in err and "Extra inputs" not in err


def test_frlm_with_a_budget_is_refused_not_ignored(tmp_path):
    p = _write(tmp_path, BASE.replace("  kind: mclp\n  p: 3", "  kind: frlm\n  budget: 500000"))
    with pytest.raises(ConfigFileError, match=r"model: .*budget .*not supported.*'frlm'.*set p"):
        load_config(p)
