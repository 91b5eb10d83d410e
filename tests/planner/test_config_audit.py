"""Gaps a bad-input audit found in study configs: each bad value is caught by ``evplan
validate`` (schema or named check) with the file, line, field path, value and fix, instead
of passing and failing later in ``run`` or ``optimize``.

The configs are small YAML files in ``tmp_path`` read by the loader ``evplan validate``
uses (:func:`planner.config.study.load_config` and :func:`planner.config.checks.run_checks`);
the command-line cases run the CLI entry point in-process, as tests/e2e/test_bad_inputs.py does.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from planner.config.checks import run_checks
from planner.config.study import ConfigFileError, StudyConfig, load_config
from planner.config.sweep import SweepError, read_sweep

BASE = """\
name: audit
seed: 3
network:
  source: net.osm.pbf
demand:
  kind: city
  population: 100000
model:
  kind: mclp
  p: 2
"""


def _write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> str:
    """The message ``load_config`` raises for ``text`` (which must be refused)."""
    with pytest.raises(ConfigFileError) as exc:
        load_config(_write(tmp_path, text))
    return str(exc.value)


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), cap.out + cap.err


# --------------------------------------------------------------------------- 1. time zone


def test_unknown_time_zone_is_refused_with_field_line_and_hint(tmp_path):
    msg = _refused(tmp_path, BASE + "renewables:\n  timezone: Mars/Olympus\n")
    assert "study.yaml:12: renewables.timezone" in msg
    assert "Mars/Olympus" in msg and "Asia/Almaty" in msg  # the value and an example


@pytest.mark.parametrize("zone", ["asia/almaty", "Asia", "", "../etc/passwd", "/etc/localtime"])
def test_malformed_time_zones_are_refused(tmp_path, zone):
    msg = _refused(tmp_path, BASE + f"renewables:\n  timezone: '{zone}'\n")
    assert "renewables.timezone" in msg and "IANA time zone" in msg


def test_a_near_miss_time_zone_gets_a_suggestion(tmp_path):
    msg = _refused(tmp_path, BASE + "renewables:\n  timezone: asia/almaty\n")
    assert "did you mean 'Asia/Almaty'" in msg


def test_valid_time_zones_pass(tmp_path):
    for zone in ("Asia/Almaty", "UTC", "Europe/Moscow"):
        cfg = load_config(_write(tmp_path, BASE + f"renewables:\n  timezone: {zone}\n"))
        assert cfg.renewables.timezone == zone


# --------------------------------------------------------------------------- 2. date


@pytest.mark.parametrize("day", ["2024-13-45", "2023-02-29", "2024-00-10", "2024-06-31"])
def test_impossible_date_is_refused(tmp_path, day):
    msg = _refused(tmp_path, BASE + f"renewables:\n  day: '{day}'\n")
    assert "study.yaml:12: renewables.day" in msg and day in msg
    assert "YYYY-MM-DD" in msg


def test_real_dates_pass(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + "renewables:\n  day: '2024-02-29'\n"))
    assert cfg.renewables.day == "2024-02-29"


# --------------------------------------------------------------------------- 3. ci_half_width


def test_unknown_ci_half_width_kpi_is_refused_naming_the_known_ones(tmp_path):
    msg = _refused(tmp_path, BASE + "simulation:\n  ci_half_width:\n    bogus: 1\n")
    assert "study.yaml:13: simulation.ci_half_width.bogus" in msg and "'bogus'" in msg
    assert "wait_p95_min" in msg and "share_trips_completed" in msg  # the allowed names


def test_plan_level_kpi_has_no_replication_interval(tmp_path):
    # capex, n_stations, ... are fixed by the plan, identical in every replication
    msg = _refused(tmp_path, BASE + "simulation:\n  ci_half_width: {capex: 10}\n")
    assert "simulation.ci_half_width" in msg and "'capex'" in msg


@pytest.mark.parametrize("width", ["-1", "0", "true", ".nan", ".inf"])
def test_non_positive_ci_half_width_is_refused(tmp_path, width):
    msg = _refused(tmp_path, BASE + f"simulation:\n  ci_half_width:\n    wait_p95_min: {width}\n")
    assert "simulation.ci_half_width" in msg and "wait_p95_min" in msg


def test_valid_ci_half_widths_pass(tmp_path):
    text = BASE + "simulation:\n  ci_half_width: {wait_p95_min: 1.5, plug_utilisation: 0.02}\n"
    cfg = load_config(_write(tmp_path, text))
    assert cfg.simulation.ci_half_width == {"wait_p95_min": 1.5, "plug_utilisation": 0.02}


# --------------------------------------------------------------------------- 4. duplicate keys


def test_duplicate_key_in_a_section_names_file_line_and_key(tmp_path):
    msg = _refused(tmp_path, BASE + "simulation:\n  days: 1\n  replications: 2\n  days: 5\n")
    assert "study.yaml:14: simulation.days: duplicate key 'days'" in msg
    assert "line 12" in msg  # where the first one is


def test_duplicate_top_level_key_is_refused(tmp_path):
    msg = _refused(tmp_path, BASE + "seed: 99\n")
    assert "study.yaml:11: seed: duplicate key 'seed'" in msg and "line 2" in msg


def test_duplicate_key_in_a_flow_mapping_is_refused(tmp_path):
    msg = _refused(
        tmp_path, BASE.replace("  p: 2\n", "  p: 2\n  solver: {threads: 1, threads: 4}\n")
    )
    assert "model.solver.threads: duplicate key 'threads'" in msg


def test_keys_equal_once_read_are_duplicates(tmp_path):
    # 'seed' and "seed" are the same key once parsed: the second would replace the first
    msg = _refused(tmp_path, BASE + '"seed": 4\n')
    assert "duplicate key 'seed'" in msg


def test_a_merge_key_may_be_overridden(tmp_path):
    # '<<: *anchor' followed by a key of the anchor is YAML's override, not a duplicate
    text = BASE.replace("model:\n", "model: &m\n") + "targets:\n  <<: {max_iterations: 2}\n"
    text += "  max_iterations: 4\n"
    cfg = load_config(_write(tmp_path, text))
    assert cfg.targets.max_iterations == 4


def test_duplicate_key_in_a_sweep_file_is_refused(tmp_path):
    base = _write(tmp_path, BASE)
    sweep = _write(
        tmp_path,
        f"base: {base}\noutput: out\nparameters:\n  model.p: [1, 2]\n  model.p: [3]\n",
        "sweep.yaml",
    )
    with pytest.raises(SweepError, match=r"sweep.yaml:5: parameters.model.p: duplicate key"):
        read_sweep(sweep)


# --------------------------------------------------------------------------- 5. input files


def _problems(tmp_path: Path, extra: str) -> list[str]:
    (tmp_path / "net.osm.pbf").write_bytes(b"")
    cfg = load_config(_write(tmp_path, BASE + extra))
    return run_checks(cfg)["input_files_exist"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("grid:\n  substations: nothere.geojson\n", "grid.substations"),
        ("renewables:\n  plants: nothere.csv\n", "renewables.plants"),
        ("renewables:\n  places: nothere.csv\n", "renewables.places"),
    ],
)
def test_missing_grid_and_renewables_files_are_reported(tmp_path, extra, field):
    problems = _problems(tmp_path, extra)
    assert len(problems) == 1 and problems[0].startswith(f"{field}: file not found")
    assert "nothere" in problems[0]


def test_a_folder_is_not_an_input_file(tmp_path):
    (tmp_path / "plants").mkdir()
    problems = _problems(tmp_path, "renewables:\n  plants: plants\n")
    assert problems and "renewables.plants" in problems[0] and "folder" in problems[0]


def _path_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of every Path field of the schema (sections, lists and mappings of them)."""
    out = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for leaf in [arg, *typing.get_args(arg)]:
                if leaf is Path:
                    out.append(dotted)
                elif isinstance(leaf, type) and issubclass(leaf, BaseModel):
                    out += _path_fields(leaf, dotted + ".")
    return sorted(set(out))


def test_every_input_path_field_of_the_schema_is_checked(tmp_path):
    """A study where every path field points nowhere: each input file field is reported
    (outputs and the network cache are folders evplan writes, not inputs)."""
    fields = _path_fields(StudyConfig)
    assert "grid.substations" in fields and "renewables.plants" in fields  # the walk works
    text = """\
name: audit
network:
  corridor: {roads: r.geojson, places: p.csv, official_population: o.csv}
  cache_dir: cache
demand: {kind: od_table, od_table: od.csv, zones: z.geojson, zone_population: zp.csv}
vehicles: {catalogue: cat.yaml}
grid: {substations: s.geojson}
renewables: {plants: pl.csv, places: pp.csv}
model: {kind: frlm}
outputs: {folder: out}
"""
    cfg = load_config(_write(tmp_path, text))
    reported = {p.split(":", 1)[0] for p in run_checks(cfg)["input_files_exist"]}
    inputs = {f for f in fields if not f.startswith("outputs.") and f != "network.cache_dir"}
    # network.source is the one path not set here (corridor instead); it is checked when given
    assert reported == inputs - {"network.source"}, (reported, inputs)


# --------------------------------------------------------------------------- 6. tag rules


@pytest.mark.parametrize("rule", ["amenity", "=fuel", "amenity=", " = "])
def test_malformed_tag_rule_is_refused_by_the_schema(tmp_path, rule):
    msg = _refused(tmp_path, BASE + f"candidates:\n  tags: [amenity=fuel, '{rule}']\n")
    assert "study.yaml:12: candidates.tags.1" in msg
    assert repr(rule) in msg and "amenity=fuel" in msg


def test_valid_tag_rules_pass(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + "candidates:\n  tags: [amenity=fuel, shop=*]\n"))
    assert cfg.candidates.tags == ["amenity=fuel", "shop=*"]


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ("renewables:\n  timezone: Mars/Olympus\n", ("renewables.timezone", "Mars/Olympus")),
        ("renewables:\n  day: '2024-13-45'\n", ("renewables.day", "2024-13-45")),
        ("simulation:\n  ci_half_width: {bogus: 1}\n", ("ci_half_width", "bogus")),
        ("seed: 7\n", ("study.yaml:11", "duplicate key 'seed'")),
        ("grid:\n  substations: nothere.geojson\n", ("grid.substations", "nothere.geojson")),
        ("candidates:\n  tags: [amenity]\n", ("candidates.tags", "'amenity'")),
    ],
)
def test_validate_exits_2_without_traceback(tmp_path, monkeypatch, capsys, extra, needles):
    (tmp_path / "net.osm.pbf").write_bytes(b"")
    code, text = _run_cli(monkeypatch, capsys, "validate", str(_write(tmp_path, BASE + extra)))
    flat = " ".join(text.split())  # rich wraps long lines
    assert code == 2, text
    assert "Traceback" not in text
    for needle in needles:
        assert needle in flat, (needle, text)


# ------------------------------------------------------------- a check across sections


def test_a_check_across_sections_points_at_the_field_it_names(tmp_path):
    """An OD-table study that keeps warm-up days was refused at line 2 ("name:"), where the
    check sits (the top level), not at the warmup_days line the message names."""
    text = BASE.replace(
        "  kind: city\n  population: 100000\n", "  kind: od_table\n  od_table: od.csv\n"
    )
    text += "simulation:\n  days: 1\n  warmup_days: 2\n"
    msg = _refused(tmp_path, text)
    line = text.splitlines().index("  warmup_days: 2") + 1
    assert f"study.yaml:{line}: " in msg and "simulation.warmup_days needs generated demand" in msg
    # the field is the one the message names, not "(top level)"
    assert f"study.yaml:{line}: simulation.warmup_days needs" in msg
    assert "(top level)" not in msg


def test_a_completed_share_target_of_one_is_refused_with_the_reason(tmp_path):
    """Review of 2026-12-07: 100 % completed can never be confirmed on a 95 % bound (N of N
    trips: 0.025^(1/N) < 1), so such a study was missed whatever the plan, with advice to
    add runs that could never help. Refused when the file is read, saying why."""
    msg = _refused(tmp_path, BASE + "targets:\n  trips_completed_share: 1.0\n")
    assert "targets.trips_completed_share" in msg and "can never be confirmed" in msg
    assert "0.99" in msg


def test_a_wait_target_at_or_above_the_give_up_limit_is_refused(tmp_path):
    """Waits are recorded up to simulation.balk_after_min (the driver then leaves), so a p95
    target at or above it could never be missed: refused when the file is read, at the
    target's line, naming both fields. Just below the limit is a real target."""
    text = BASE + "targets:\n  wait_p95_min: 30\nsimulation:\n  balk_after_min: 30\n"
    msg = _refused(tmp_path, text)
    line = text.splitlines().index("  wait_p95_min: 30") + 1
    assert f"study.yaml:{line}: " in msg
    assert "targets.wait_p95_min = 30 min can never be missed" in msg
    assert "simulation.balk_after_min = 30 min" in msg
    _refused(tmp_path, BASE + "targets:\n  wait_p95_min: 45\n")  # the default limit is 30
    # a limit below the default target: the message says the target is the default
    msg = _refused(tmp_path, BASE + "simulation:\n  balk_after_min: 8\n")
    assert "targets.wait_p95_min = 10 min (the default, as the file sets none)" in msg
    ok = tmp_path / "ok.yaml"
    ok.write_text(BASE + "targets:\n  wait_p95_min: 29.5\nsimulation:\n  balk_after_min: 30\n")
    assert load_config(ok).targets.wait_p95_min == 29.5


@pytest.mark.parametrize(
    "section",
    [
        "candidates:\n  connectors: [CCS2, GBT]\n",
        "existing_stations:\n  - {name: A, lon: 76.9, lat: 43.2, connectors: [GBT]}\n",
        "candidates:\n  truck_bays:\n    mcs: {power_kw: 1000, plug_cost: 1, connectors: [GBT]}\n",
    ],
)
def test_an_unknown_connector_standard_is_refused_with_the_one_it_means(tmp_path, section):
    """A misspelt standard matched no car, and the design loop bought plugs of it."""
    msg = _refused(tmp_path, BASE + section)
    assert "connectors" in msg and "'GBT'" in msg and "did you mean 'GB/T'" in msg
    assert "study.yaml:" in msg  # the line


@pytest.mark.parametrize(
    "section,said",
    [
        ("simulaton:\n  days: 2\n", "simulaton: Extra inputs are not permitted (did you mean 'simulation'?)"),
        ("candidates:\n  site_cst: 5\n", "candidates.site_cst: Extra inputs are not permitted (did you mean 'site_cost'?)"),
        ("existing_stations:\n  - {name: A, lon: 76.9, lat: 43.2, plug: 3}\n", "existing_stations.0.plug: Extra inputs are not permitted (did you mean 'plugs'?)"),
        ("candidates:\n  truck_bays:\n    mcs: {powr_kw: 1000, plug_cost: 1, connectors: [MCS]}\n", "candidates.truck_bays.mcs.powr_kw: Extra inputs are not permitted (did you mean 'power_kw'?)"),
        ("zzz: 1\n", "zzz: Extra inputs are not permitted (remove it or check its spelling)"),
    ],
)  # fmt: skip
def test_a_misspelt_key_is_named_with_the_key_it_most_likely_means(tmp_path, section, said):
    """At any depth: a section, a list item, a mapping of the user's own keys (analyst
    review, 2026-12-07: "remove it or check its spelling" and no suggestion)."""
    assert said in _refused(tmp_path, BASE + section)


def test_a_sweep_names_its_misspelt_keys_and_a_single_value_once(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    bad = _write(tmp_path, "base: base.yaml\nparameter:\n  model.p: [2]\n", "s1.yaml")
    with pytest.raises(SweepError) as exc:
        read_sweep(bad)
    assert "parameter: Extra inputs are not permitted (did you mean 'parameters'?)" in str(
        exc.value
    )
    one = _write(tmp_path, "base: base.yaml\nparameters:\n  model.p: 4\n", "s2.yaml")
    with pytest.raises(SweepError) as exc:
        read_sweep(one)
    said = str(exc.value)
    assert said.count("parameters.model.p") == 1 and "SweepRange" not in said
    assert "give a list of values ([4]) or a range" in said


def test_validate_reads_a_sweep_with_parameters_misspelt_as_a_sweep(monkeypatch, capsys, tmp_path):
    """It was read as a study: "output: did you mean 'outputs'?" for a valid sweep key."""
    (tmp_path / "base.yaml").write_text(BASE)
    bad = _write(tmp_path, "base: base.yaml\noutput: out\nparameter:\n  model.p: [2]\n", "s.yaml")
    code, said = _run_cli(monkeypatch, capsys, "validate", str(bad))
    said = " ".join(said.split())
    assert code == 2 and "did you mean 'parameters'" in said and "'outputs'" not in said
