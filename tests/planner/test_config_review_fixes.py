"""Config gaps a review found: each bad value below passed ``evplan validate`` (or failed
without naming the file, line or field) and is now refused with the file, the line, the
dotted field, the value and the fix.

1. a stage's ``fleet`` (staged rollout) is checked as ``vehicles.fleet`` is;
2. ``true`` is refused for a number inside mappings and lists, as for a scalar field;
3. an unknown road class in ``network.speeds_kph`` is refused (it was ignored);
4. an unquoted date that is no date (``day: 2025-02-30``) names its line and field;
5. ``candidates.truck_bays.<class>.min_bays`` above ``max_bays`` (or ``max_plugs``);
6. ``model.p`` above ``candidates.max_candidates``, and ``p`` with a model that ignores it.

The configs are small YAML files in ``tmp_path`` read with
:func:`planner.config.study.load_config` (what ``evplan validate`` uses); the command-line
case runs the CLI entry point in-process, as tests/e2e/test_bad_inputs.py does.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, BeforeValidator

from planner.config.checks import run_checks
from planner.config.study import ConfigFileError, StudyConfig, load_config

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
name: review
seed: 3
network:
  source: net.osm.pbf
demand:
  kind: city
  population: 100000
vehicles:
  fleet: {byd_atto3: 0.6, tesla_model_y_lr: 0.4}
model:
  kind: mclp
  p: 2
"""

STAGES = """\
stages:
  - {year: 2025, budget: 300000}
  - {year: 2030, budget: 300000, fleet: FLEET}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> str:
    """The message ``load_config`` raises for ``text`` (which must be refused)."""
    with pytest.raises(ConfigFileError) as exc:
        load_config(_write(tmp_path, text))
    return str(exc.value)


def _line(text: str, needle: str) -> int:
    """The 1-based line of ``text`` that holds ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), cap.out + cap.err


# --------------------------------------------------------------- 1. a stage's fleet


@pytest.mark.parametrize(
    ("fleet", "model", "share"),
    [
        ("{byd_atto3: -1, tesla_model_y_lr: 1}", "byd_atto3", "-1"),
        ("{byd_atto3: 0, tesla_model_y_lr: 0}", "byd_atto3", "0"),  # all zero
    ],
)
def test_stage_fleet_shares_are_checked_like_vehicles_fleet(tmp_path, fleet, model, share):
    text = BASE + STAGES.replace("FLEET", fleet)
    msg = _refused(tmp_path, text)
    line = _line(text, "year: 2030")
    assert f"study.yaml:{line}: stages.1.fleet:" in msg
    assert f"fleet share of {model!r} must be > 0, got {share}" in msg
    assert "leave a model out" in msg


def test_empty_stage_fleet_is_refused_not_read_as_the_studys_fleet(tmp_path):
    msg = _refused(tmp_path, BASE + STAGES.replace("FLEET", "{}"))
    assert "stages.1.fleet: an empty fleet names no vehicle model" in msg
    assert "leave fleet out to keep the study's vehicles.fleet" in msg


def test_stage_without_fleet_keeps_the_studys_fleet(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + STAGES.replace(", fleet: FLEET", "")))
    assert cfg.stages[1].fleet is None


def test_unknown_model_in_a_stage_fleet_is_a_validate_problem(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + STAGES.replace("FLEET", "{nope_car: 1}")))
    problems = run_checks(cfg, log=False)["vehicle_models_known"]
    assert len(problems) == 1
    assert problems[0].startswith("stages.1.fleet: unknown vehicle model 'nope_car'; known: ")
    assert "byd_atto3" in problems[0]


def test_validate_refuses_the_rollout_study_with_a_negative_stage_share(
    tmp_path, monkeypatch, capsys, data_env
):
    """The shipped Almaty rollout with ``byd_atto3: -1`` in its 2027 stage: exit 2 naming
    the file, the line and ``stages.1.fleet`` (it passed, and the run failed later with
    "passenger vehicle mix needs non-negative shares", naming neither)."""
    text = (ROOT / "configs" / "almaty-rollout.yaml").read_text()
    old = "fleet: {vw_id4_crozz_pro: 0.47, byd_atto3: 0.293"
    assert old in text
    text = text.replace(old, "fleet: {vw_id4_crozz_pro: 0.47, byd_atto3: -1")
    path = _write(tmp_path, text)
    code, out = _run_cli(monkeypatch, capsys, "validate", str(path))
    assert code == 2
    assert f"study.yaml:{_line(text, 'byd_atto3: -1')}: stages.1.fleet" in out
    assert "'byd_atto3' must be > 0" in out
    assert "Traceback" not in out


# ------------------------------------------------ 2. no true for a number, inside too

BOOL_CASES = [
    ("simulation:\n  seasons: {summer: true}\n", "simulation.seasons.summer"),
    ("vehicles:\n  fleet: {byd_atto3: true}\n", "vehicles.fleet.byd_atto3"),
    ("demand:\n  kind: city\n  population: 100000\n  border_weights: {Khorgos: true}\n", None),
    ("network:\n  source: net.osm.pbf\n  speeds_kph: {primary: true}\n", None),
    ("simulation:\n  congestion: [" + ", ".join(["1.0"] * 23) + ", true]\n", None),
    ("simulation:\n  congestion: {arterial: [true" + ", 1.0" * 23 + "]}\n", None),
    ("simulation:\n  start_soc: [true, 1]\n", "simulation.start_soc: expected a number at [0]"),
    ("grid:\n  hourly_kg_co2_per_kwh: [true" + ", 0.5" * 23 + "]\n", None),
    ("rollout:\n  scenarios: {cold: {seasons: {winter: true}}}\n", None),
]
BOOL_FIELDS = {
    2: "demand.border_weights.Khorgos",
    3: "network.speeds_kph.primary",
    4: "simulation.congestion: expected a number at [23], got true",
    5: "simulation.congestion: expected a number at arterial[0], got true",
    7: "grid.hourly_kg_co2_per_kwh.0",
    8: "rollout.scenarios.cold.seasons.winter",
}


def _with_section(section: str) -> str:
    """``BASE`` with the top-level section of ``section`` replaced by it (or added)."""
    key = section.split(":", 1)[0]
    lines, out, skip = BASE.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith(key + ":"):
            skip = True
            continue
        if skip and line.startswith(" "):
            continue
        skip = False
        out.append(line)
    return "".join(out) + section


@pytest.mark.parametrize("case", range(len(BOOL_CASES)))
def test_true_is_refused_for_a_number_inside_maps_and_lists(tmp_path, case):
    section, field = BOOL_CASES[case]
    field = field or BOOL_FIELDS[case]
    msg = _refused(tmp_path, _with_section(section))
    assert field in msg, msg
    assert "expected a number" in msg and "got true" in msg
    # one line for the one bad value: not one per shape a field may take
    assert msg.count("\n") == 1, msg


def _models(annotation: typing.Any) -> list[type[BaseModel]]:
    found = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found += _models(arg)
    return found


def _refuses_true(meta: typing.Any) -> bool:
    """Whether ``meta`` (an ``Annotated`` entry) is a validator that refuses ``true``."""
    func = getattr(meta, "func", None)
    if not isinstance(meta, BeforeValidator) or func is None:
        return False
    try:
        func(True)
    except ValueError:
        return True
    return False


def _bare_numbers_in_containers(annotation: typing.Any, inside: bool = False) -> list[str]:
    """Numbers in ``annotation`` that sit in a mapping, list or tuple without the
    ``true``-refusing validator (:data:`planner.config._strict.Number`)."""
    if annotation in (int, float):
        return [repr(annotation)] if inside else []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        if base in (int, float):
            ok = any(_refuses_true(m) for m in meta)
            return [] if ok or not inside else [repr(annotation)]
        return _bare_numbers_in_containers(base, inside)
    container = origin in (dict, list, tuple)
    out = []
    for arg in typing.get_args(annotation):
        out += _bare_numbers_in_containers(arg, inside or container)
    return out


def test_every_number_in_a_mapping_or_list_of_the_schema_refuses_true():
    """The rule is in the types: a number field added inside a mapping or list as a bare
    ``float`` (which reads ``true`` as 1) fails here."""
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [StudyConfig]
    bare = []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            bare += [
                f"{model.__name__}.{name}: {b}"
                for b in _bare_numbers_in_containers(field.annotation)
            ]
            todo += _models(field.annotation)
    assert len(seen) > 10
    assert not bare, bare


def test_numbers_inside_maps_and_lists_still_read(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            _with_section(
                "simulation:\n  seasons: {summer: 25, winter: -20.5}\n  start_soc: [0.5, 1]\n"
            ),
        )
    )
    assert cfg.simulation.seasons == {"summer": 25.0, "winter": -20.5}
    assert cfg.simulation.start_soc == (0.5, 1.0)


# ------------------------------------------------------------ 3. unknown road class


def test_unknown_road_class_in_speeds_is_refused_with_a_suggestion(tmp_path):
    text = _with_section("network:\n  source: net.osm.pbf\n  speeds_kph: {primry: 50}\n")
    msg = _refused(tmp_path, text)
    assert f"study.yaml:{_line(text, 'primry')}: network.speeds_kph.primry:" in msg
    assert "unknown road class 'primry' (did you mean 'primary'?)" in msg
    assert "motorway, motorway_link, trunk" in msg and "residential" in msg


def test_known_road_classes_are_kept(tmp_path):
    text = _with_section(
        "network:\n  source: net.osm.pbf\n  speeds_kph: {primary: 50, residential: 20}\n"
    )
    cfg = load_config(_write(tmp_path, text))
    assert cfg.network.speeds_kph == {"primary": 50.0, "residential": 20.0}
    # drivable OSM classes without a default speed (code review: busway was refused)
    text = _with_section("network:\n  source: net.osm.pbf\n  speeds_kph: {busway: 40}\n")
    assert load_config(_write(tmp_path, text)).network.speeds_kph == {"busway": 40.0}


# ------------------------------------------------------------------- 4. no such date


def test_unquoted_date_that_is_no_date_names_line_and_field(tmp_path):
    text = BASE + "renewables:\n  timezone: Asia/Almaty\n  day: 2025-02-30\n"
    msg = _refused(tmp_path, text)
    assert f"study.yaml:{_line(text, '2025-02-30')}: renewables.day:" in msg
    assert "2025-02-30 is not a valid date (day is out of range for month)" in msg
    assert "quote it" in msg
    assert "tag" not in msg  # the user wrote no tag


def test_unquoted_real_date_is_read(tmp_path):
    cfg = load_config(_write(tmp_path, BASE + "renewables:\n  day: 2025-01-15\n"))
    assert cfg.renewables.day == "2025-01-15"


def test_tagged_value_of_the_wrong_form_names_line_and_field(tmp_path):
    text = BASE.replace("seed: 3", "seed: !!int abc")
    msg = _refused(tmp_path, text)
    assert "study.yaml:2: seed: a tagged value cannot be read" in msg


# ------------------------------------------------------------------ 5. truck bays

BAYS = """\
candidates:
  max_plugs: PLUGS
  truck_bays:
    mcs: {power_kw: 1000, plug_cost: 500000, connectors: [MCS], min_bays: LOW, max_bays: HIGH}
"""


def _bays(min_bays: int, max_bays: int, max_plugs: int = 6) -> str:
    text = BAYS.replace("LOW", str(min_bays)).replace("HIGH", str(max_bays))
    return BASE + text.replace("PLUGS", str(max_plugs))


def test_min_bays_above_max_bays_is_refused(tmp_path):
    text = _bays(5, 4)
    msg = _refused(tmp_path, text)
    assert f"study.yaml:{_line(text, 'mcs:')}: candidates.truck_bays.mcs:" in msg
    assert "min_bays (5) is above max_bays (4)" in msg
    assert "lower min_bays or raise max_bays" in msg


def test_min_bays_above_max_plugs_is_refused(tmp_path):
    msg = _refused(tmp_path, _bays(7, 8, max_plugs=6))
    assert "truck_bays.mcs.min_bays (7) is above max_plugs (6)" in msg
    assert "lower min_bays or raise max_plugs" in msg


def test_bays_within_both_caps_are_kept(tmp_path):
    cfg = load_config(_write(tmp_path, _bays(4, 4, max_plugs=4)))
    assert cfg.candidates.truck_bays["mcs"].min_bays == 4


# ------------------------------------------------------------------------ 6. model.p


def test_p_above_max_candidates_is_refused_before_the_run(tmp_path):
    """Almaty with ``candidates.max_candidates: 3`` and ``p: 8`` stopped only after the
    network was built, with a hint naming ``extra_sites``, which is no key."""
    text = BASE.replace("p: 2", "p: 8") + "candidates:\n  max_candidates: 3\n"
    msg = _refused(tmp_path, text)
    assert f"study.yaml:{_line(text, 'p: 8')}: model.p asks for 8 new stations" in msg
    assert "candidates.max_candidates keeps at most 3 candidate sites" in msg
    assert "lower model.p or raise candidates.max_candidates" in msg
    assert "extra_sites" not in msg


@pytest.mark.parametrize("kind", ["capacitated", "cover"])
def test_p_is_refused_for_models_that_choose_the_number_of_sites(tmp_path, kind):
    text = BASE.replace("kind: mclp", f"kind: {kind}").replace("p: 2", "p: 8")
    msg = _refused(tmp_path, text)
    assert f"model: model.p (8) is not used by model {kind!r}" in msg
    assert "remove p" in msg and "'mclp' or 'pmedian'" in msg
    # without p the model is accepted as before
    assert load_config(_write(tmp_path, text.replace("  p: 8\n", ""))).model.p is None


def test_shipped_configs_still_validate():
    from planner.config.checks import _vehicles

    for path in sorted((ROOT / "configs").glob("*.yaml")):
        if path.name.startswith("sweep-"):
            continue
        cfg = load_config(path)
        assert _vehicles(cfg) == [], path.name
