"""docs/assumptions.md, the register of inputs with no published figure, names each default
by its import path: the values it states must be the code's (a default changed in one place
and not the other is the drift the sources audit of 2026-12-07 found in the docs)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

import planner.study.simulate as study_sim
import sim
from sim import vehicles
from sim.demand.city import DEFAULT_CHAIN_MIX, parse_chain

REGISTER = Path(__file__).resolve().parents[1] / "docs" / "assumptions.md"
ROW = re.compile(r"^\| `([a-z_.]+\.[A-Za-z_]+(?:\.[a-z_]+)?)` \| ([0-9.]+) \|", re.M)


def _rows() -> list[tuple[str, str]]:
    return ROW.findall(REGISTER.read_text(encoding="utf-8"))


def _default(path: str) -> object:
    """The default at ``path``: a module constant (``pkg.mod.NAME``), a field of a
    dataclass or pydantic model (``pkg.mod.Class.field``) or a parameter of a function
    (``pkg.mod.function.param``)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        rest = parts[cut:]
        break
    else:
        raise AssertionError(f"{path}: no module")
    for i, name in enumerate(rest):
        if i == len(rest) - 1 and inspect.isfunction(obj):  # a function's keyword default
            return inspect.signature(obj).parameters[name].default
        if i == len(rest) - 1 and isinstance(obj, type):
            fields = getattr(obj, "model_fields", None)
            if fields is not None:
                return fields[name].default
            if dataclasses.is_dataclass(obj):
                return {f.name: f.default for f in dataclasses.fields(obj)}[name]
        obj = getattr(obj, name)
    return obj


def test_register_lists_defaults():
    assert len(_rows()) >= 10


@pytest.mark.parametrize("path, stated", _rows())
def test_register_states_the_code_default(path, stated):
    assert float(_default(path)) == pytest.approx(float(stated)), (
        f"docs/assumptions.md says {path} = {stated}; the code has {_default(path)!r}"
    )


# --------------------------------------------------------------------------- tables
# The rows of "Tables and catalogue values" hold several numbers each: a reader per row
# turns its second cell into the structure the code holds, and the two must be equal.

TABLES = "Tables and catalogue values"


def _table_rows() -> dict[str, str]:
    """First cell -> second cell of the rows of the table under ``## Tables and ...``."""
    text = REGISTER.read_text(encoding="utf-8")
    body = text.split(f"\n## {TABLES}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        if line.startswith("| ") and not line.startswith("| table |"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows[cells[0]] = cells[1]
    return rows


def _num(s: str) -> float:
    return float(s.replace("\u2212", "-"))  # the page writes minus signs as U+2212


def _points(cell: str) -> dict[float, float]:
    """``"0.7 at \u221210 °C, ..."`` -> ``{-10.0: 0.7, ...}``."""
    pairs = re.findall(r"([0-9.]+) at ([\u2212-]?[0-9.]+) °C", cell)
    return {_num(t): _num(v) for v, t in pairs}


def _named(cell: str) -> dict[str, float]:
    """``"motorway 1.25, ..."`` or ``"`key` 0.114, ..."`` -> ``{"motorway": 1.25, ...}``."""
    return {k: _num(v) for k, v in re.findall(r"`?([a-z][a-z0-9_]*)`? ([0-9.]+)\b", cell)}


def _pair(cell: str) -> tuple[float, float]:
    """``"uniform 0.5 to 0.9"`` -> ``(0.5, 0.9)``."""
    lo, hi = re.search(r"([0-9.]+) to ([0-9.]+)", cell).groups()
    return float(lo), float(hi)


def _hourly(cell: str) -> list[float]:
    """``"1.0 (0-5 h), 1.1, 1.5 (6-7 h)"`` -> 8 factors: a single number fills its hours."""
    out: list[float] = []
    for nums, lo, hi in re.findall(r"((?:[0-9.]+, )*[0-9.]+) \((\d+)-(\d+) h\)", cell):
        vals = [float(x) for x in nums.split(", ")]
        assert int(lo) == len(out), f"{lo} h follows {len(out)} hourly factors"
        out += vals * (int(hi) - int(lo) + 1) if len(vals) == 1 else vals
        assert len(out) == int(hi) + 1, f"{nums} ({lo}-{hi} h): one number, or one per hour"
    return out


def _chain_mix(cell: str) -> dict[str, float]:
    """Shares by chain, and the trips per active EV the row states."""
    mix = {k: float(v) / 100 for v, k in re.findall(r"([0-9.]+) % (H(?:-[WO])+-H)", cell)}
    mix["trips"] = float(re.search(r"([0-9.]+) trips per active EV", cell)[1])
    return mix


def _code_chain_mix() -> dict[str, float]:
    mix = dict(DEFAULT_CHAIN_MIX)
    mix["trips"] = sum(s * (len(parse_chain(k)) + 1) for k, s in DEFAULT_CHAIN_MIX.items())
    return mix


def _code_nmc_dc() -> dict[float, float]:
    assert vehicles.COLD_DC_FACTOR["NMC"] == vehicles.DEFAULT_COLD_DC_FACTOR  # the row says so
    return dict(vehicles.DEFAULT_COLD_DC_FACTOR)


HEAT_PUMP_CARS = ("hyundai_ioniq5_lr", "tesla_model_y_lr", "byd_atto3")

TABLE_CHECKS = [  # (first cell of the row, its reader, the code's values)
    pytest.param(
        "`sim.demand.city.DEFAULT_CHAIN_MIX`", _chain_mix, _code_chain_mix, id="chain_mix"
    ),
    pytest.param(
        "`sim.settings.SimSettings.initial_soc`",
        _pair,
        lambda: _default("sim.settings.SimSettings.initial_soc"),
        id="initial_soc",
    ),
    pytest.param(
        '`sim.vehicles.COLD_DC_FACTOR["NMC"]` (`DEFAULT_COLD_DC_FACTOR`)',
        _points,
        _code_nmc_dc,
        id="cold_dc_nmc",
    ),
    pytest.param(
        '`sim.vehicles.COLD_DC_FACTOR["LFP"]`',
        _points,
        lambda: dict(vehicles.COLD_DC_FACTOR["LFP"]),
        id="cold_dc_lfp",
    ),
    pytest.param(
        '`sim.vehicles.COLD_CAPACITY_FACTOR["NMC"]`',
        _points,
        lambda: dict(vehicles.COLD_CAPACITY_FACTOR["NMC"]),
        id="cold_capacity_nmc",
    ),
    pytest.param(
        '`sim.vehicles.COLD_CAPACITY_FACTOR["LFP"]`',
        _points,
        lambda: dict(vehicles.COLD_CAPACITY_FACTOR["LFP"]),
        id="cold_capacity_lfp",
    ),
    pytest.param(
        "heat pumps, `heat_kw_per_c` in `sim/catalogue.yaml`",
        _named,
        lambda: {k: sim.builtin_models()[k].heat_kw_per_c for k in HEAT_PUMP_CARS},
        id="heat_pumps",
    ),
    pytest.param(
        "`planner.study.simulate.CITY_CONGESTION`",
        _hourly,
        lambda: list(study_sim.CITY_CONGESTION),
        id="city_congestion",
    ),
    pytest.param(
        "`planner.study.simulate.CITY_CLASS_SCALE`",
        _named,
        lambda: dict(study_sim.CITY_CLASS_SCALE),
        id="city_class_scale",
    ),
]


@pytest.mark.parametrize("row, read, code", TABLE_CHECKS)
def test_register_states_the_code_tables(row, read, code):
    rows = _table_rows()
    assert row in rows, f"docs/assumptions.md has no row {row} under '{TABLES}'"
    stated, actual = read(rows[row]), code()
    assert stated, f"no values read from {rows[row]!r}"
    assert stated == pytest.approx(actual), (
        f"docs/assumptions.md says {row} = {stated}; the code has {actual}"
    )
