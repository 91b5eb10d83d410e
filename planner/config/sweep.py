"""Sweep files: many study runs from one base study and a few swept parameters.

A sweep file is YAML, validated with pydantic (unknown keys rejected)::

    name: sweep-kaz01                    # optional; default: the file name without .yaml
    base: corridor-kaz01.yaml            # the study every run starts from (relative to this file)
    mode: grid                           # grid (every combination) or zip (i-th with i-th)
    output: ../runs/sweep-kaz01          # batch folder (relative to this file)
    fixed:                               # optional: set in every run, not swept
      simulation.replications: 1
    parameters:                          # dotted study-config keys -> values
      model.range_km: [150, 250, 350]
      model.p: {start: 2, stop: 10, step: 2}       # inclusive: 2, 4, 6, 8, 10
      simulation.temperature_c: [25, -20]

:func:`planner.batch.plan.plan_sweep` expands the parameters into runs, applies each run's values with
:func:`planner.config.study.load_config` and validates *every* run before anything is executed,
so a bad sweep fails at once with one message naming the sweep file, the parameter and the
runs at fault. Each run is identified by :func:`planner.config.study.config_hash` of its
validated config; that hash is its folder name and what makes batches resumable.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from networks.errors import ConfigError
from planner.config._strict import StrictSection as _Strict
from planner.config._strict import unknown_key_hint
from planner.config.study import StudyConfig
from planner.config.yaml_reader import line_of, read_yaml

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

__all__ = ["SweepError", "SweepFile", "SweepRange", "check_parameter", "read_sweep"]

#: Most errors one message lists (a sweep file's, a batch's invalid runs or study files).
MAX_ERRORS_SHOWN = 6
#: Most runs one batch may expand to (a grid multiplies the parameters' value counts).
MAX_RUNS = 10_000
#: A range count beyond which values are not counted exactly (only "more than MAX_RUNS").
_HUGE = 2**53


class SweepError(ConfigError):
    """A sweep file (or a run it expands to) is invalid; the message names file and parameter."""


class SweepRange(_Strict):
    """``{start, stop, step}``: ``start, start + step, ...`` up to and including ``stop``."""

    start: float
    stop: float
    step: float = Field(1, gt=0)

    @model_validator(mode="after")
    def _bounded(self) -> SweepRange:
        n = self.count()
        if n > MAX_RUNS:
            many = f"{n:,}" if n < _HUGE else f"more than {MAX_RUNS:,}"
            raise ValueError(
                f"range {self.start:g}..{self.stop:g} step {self.step:g} has {many} values "
                f"(limit {MAX_RUNS:,} runs per batch); use a larger step"
            )
        return self

    def count(self) -> int:
        """How many values the range has (computed without building them); a huge range
        (``0..1e308`` step ``1e-10``: infinitely many steps in floats) counts as ``_HUGE``."""
        if self.stop < self.start:
            return 0
        steps = (self.stop - self.start) / self.step
        if not steps < _HUGE:  # (inf or beyond exact float counting: no int of it)
            return _HUGE
        return int(math.floor(steps + 1e-9)) + 1

    def values(self) -> list[float | int]:
        """The values of the range (ints when start, stop and step are whole numbers)."""
        n = self.count()
        if n == 0:
            return []
        whole = all(float(v).is_integer() for v in (self.start, self.stop, self.step))
        vals = [round(self.start + i * self.step, 10) for i in range(n)]
        return [int(v) for v in vals] if whole else vals


#: A sweep's name, as a study's: a file-name-safe id that is never "." or "..".
_SWEEP_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class SweepFile(_Strict):
    """A sweep file as written (see the module docstring for the format)."""

    name: str | None = None
    base: Path
    mode: Literal["grid", "zip"] = "grid"
    output: Path | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, list[Any] | SweepRange]

    @field_validator("name")
    @classmethod
    def _file_name_safe(cls, value: str | None) -> str | None:
        # it names the batch folder (<outputs.folder's parent>/<name>): "." and ".." were
        # allowed, and ".." made the batch folder a parent of the study's outputs
        if value is not None and not _SWEEP_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a file-name-safe id: use letters, digits, '_', '-' and '.', "
                "not starting with '.' (it names the batch folder), e.g. sweep-kaz01"
            )
        return value

    @model_validator(mode="after")
    def _some(self) -> SweepFile:
        if not self.parameters:
            raise ValueError(
                "'parameters' is empty: give at least one dotted config key and its values"
            )
        return self


# --------------------------------------------------------------------------- parameters


def _union_args(annotation: Any) -> tuple[Any, ...]:
    """The members of a union annotation, or the annotation alone."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _union_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def _is_mapping(annotation: Any) -> bool:
    return any(typing.get_origin(a) is dict or a is dict for a in _union_args(annotation))


def _mapping_value_models(annotation: Any) -> list[type[BaseModel]]:
    """The models a mapping field's values may be (``dict[str, float | Scenario]``)."""
    out: list[type[BaseModel]] = []
    for a in _union_args(annotation):
        if typing.get_origin(a) is dict and len(typing.get_args(a)) == 2:
            out += _models_in(typing.get_args(a)[1])
    return out


def _field_of(models: list[type[BaseModel]], rest: list[str], *, prefix: str) -> str | None:
    """Why ``rest`` is not a plain field of one of ``models`` (one level), or ``None``."""
    if len(rest) != 1:
        return f"{prefix + '.' + '.'.join(rest)!r}: only one field of a mapping entry can be swept"
    known = [f for m in models for f in m.model_fields]
    if rest[0] in known:
        return None
    close = difflib.get_close_matches(rest[0], known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return f"unknown field {rest[0]!r} in {prefix!r}{hint}"


def check_parameter(key: str) -> str | None:
    """Why ``key`` is not a settable dotted study-config field, or ``None`` when it is.

    Sections descend into nested models (``model.solver.threads``); mapping fields accept one
    more free key (``simulation.seasons.winter``, ``vehicles.fleet.hyundai_ioniq_5``) and,
    where the entries are sections, one field of an entry
    (``rollout.scenarios.severe_winter.temperature_c``).
    List items (``existing_stations.0.plugs``) are not addressable.
    """
    parts = key.split(".")
    if not all(parts):
        return f"{key!r} is not a dotted key like 'model.range_km'"
    model: type[BaseModel] = StudyConfig
    for i, part in enumerate(parts):
        fields = model.model_fields
        where = f" in section {'.'.join(parts[:i])!r}" if i else ""
        if part not in fields:
            close = difflib.get_close_matches(part, list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
            return f"unknown field {part!r}{where}{hint}"
        if i == len(parts) - 1:
            return None
        annotation = fields[part].annotation
        sub = _models_in(annotation)
        if sub:
            model = sub[0]
            continue
        if _is_mapping(annotation):
            if i == len(parts) - 2:
                return None
            values = _mapping_value_models(annotation)
            if values:  # e.g. rollout.scenarios.<name>.temperature_c: one field of an entry
                reason = _field_of(values, parts[i + 2 :], prefix=".".join(parts[: i + 2]))
                return reason
            return f"{'.'.join(parts[: i + 2])!r} is a single value, not a section"
        if typing.get_origin(annotation) is list:
            return f"{'.'.join(parts[: i + 1])!r} is a list: sweep whole lists, not their items"
        return f"{'.'.join(parts[: i + 1])!r} is a single value, not a section"
    return None  # pragma: no cover - loop always returns


def short_key(key: str, keys: list[str]) -> str:
    """``key``'s last part (``model.p`` -> ``p``) when no other key of ``keys`` ends the same
    way, else the whole dotted ``key``."""
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def label_value(value: Any) -> str:
    """A swept value as a label shows it: a whole float as an integer (``-20``, not the
    ``-20.0`` of a range with a fractional step or of a float field), anything else as is.

    Labels are for reading only: the run folder is named by the config hash, so this
    renames no run of an existing batch."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def run_label(params: dict[str, Any]) -> str:
    """A run's label from its swept values: ``p=4 range_km=250`` (keys by :func:`short_key`,
    values by :func:`label_value`); ``base`` when nothing is swept."""
    keys = list(params)
    return " ".join(f"{short_key(k, keys)}={label_value(v)}" for k, v in params.items()) or "base"


# --------------------------------------------------------------------------- reading


def _overlaps(sweep: SweepFile, where: Callable[..., str]) -> list[str]:
    """Keys of ``fixed`` and ``parameters`` that set the same field: the same key twice
    (``fixed: {model.p: 7}`` with ``parameters: {model.p: [2, 3]}`` dropped the 7), or a
    section and a field inside it (``simulation`` and ``simulation.days``: which one wins
    depends on the order). A swept field inside a fixed section is not one: the section is
    set first and the swept value refines it, in every run."""
    entries = [("fixed", k) for k in sweep.fixed] + [("parameters", k) for k in sweep.parameters]
    out = []
    for i, (sec_a, a) in enumerate(entries):
        for sec_b, b in entries[i + 1 :]:
            if not (a == b or b.startswith(a + ".") or a.startswith(b + ".")):
                continue
            outer, inner = (
                ((sec_a, a), (sec_b, b)) if len(a) <= len(b) else ((sec_b, b), (sec_a, a))
            )
            if outer[0] == "fixed" and inner[0] == "parameters" and a != b:
                continue
            out.append(
                f"{where(sec_b, b)}: {sec_b}.{b} and {sec_a}.{a} (at {where(sec_a, a)}) set the "
                "same field: one would silently replace the other; give each field once"
            )
    return out


def read_sweep(path: str | Path) -> tuple[SweepFile, dict[str, list[Any]], dict[str, str]]:
    """Read and check a sweep file; return it, each parameter's list of values and where each
    ``fixed`` and ``parameters`` key stands in it (``"<file>:<line>"``, for the messages
    about values the study rejects).

    Raises
    ------
    SweepError
        Unreadable file, unknown key, unknown parameter, empty range, zip of unequal lengths.
    """
    path = Path(path)
    data, root = read_yaml(path, what="sweep file", error=SweepError)

    def where(*loc: Any) -> str:
        line = line_of(root, loc)
        return f"{path}:{line}" if line else str(path)

    try:
        sweep = SweepFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        errors = [
            e
            for e in exc.errors()
            if not (e["type"] == "list_type" and isinstance(e["input"], dict))
        ]
        said: set[tuple[Any, ...]] = set()
        for err in errors[:MAX_ERRORS_SHOWN]:
            loc = tuple(
                x
                for x in err["loc"]
                if not str(x).startswith(("function-after", "list[", "SweepRange"))
            )
            msg = err["msg"].removeprefix("Value error, ")
            if (
                len(loc) == 2
                and loc[0] in ("parameters",)
                and not isinstance(err["input"], (list, dict))
            ):
                # one value where a list or a range belongs: pydantic reports both shapes
                if loc in said:
                    continue
                said.add(loc)
                value = err["input"]
                msg = (
                    f"give a list of values ([{value}]) or a range ({{start: .., stop: .., "
                    f"step: ..}}), got {value!r}; a single value belongs under fixed:"
                )
            hint = unknown_key_hint(SweepFile, loc) if err["type"] == "extra_forbidden" else ""
            lines.append(f"{where(*loc)}: {'.'.join(map(str, loc)) or '(top level)'}: {msg}{hint}")
        if isinstance(data, dict) and "base" not in data and {"network", "demand"} <= set(data):
            lines.append(
                f"{path} looks like a study config (it has 'network' and 'demand'): run it "
                f"with: evplan run {path} (or list study files: evplan batch {path} ...)"
            )
        raise SweepError(f"invalid sweep file {path}:\n  " + "\n  ".join(lines)) from None

    problems = []
    values: dict[str, list[Any]] = {}
    for section in ("fixed", "parameters"):
        for key in getattr(sweep, section):
            why = check_parameter(key)
            if why:
                problems.append(f"{where(section, key)}: {section}.{key}: {why}")
    problems += _overlaps(sweep, where)
    for key, spec in sweep.parameters.items():
        vals = spec.values() if isinstance(spec, SweepRange) else list(spec)
        if not vals:
            what = (
                f"range start {spec.start:g} > stop {spec.stop:g}"
                if isinstance(spec, SweepRange)
                else "empty list"
            )
            problems.append(
                f"{where('parameters', key)}: parameters.{key}: empty range ({what}); "
                "give at least one value"
            )
        values[key] = vals
    total = math.prod(len(v) for v in values.values()) if sweep.mode == "grid" else 0
    if total > MAX_RUNS and not problems:
        counts = " x ".join(f"{len(v)}" for v in values.values())
        problems.append(
            f"{where('parameters')}: parameters: the grid has {counts} = {total:,} runs "
            f"(limit {MAX_RUNS:,}); sweep fewer values or use mode 'zip'"
        )
    if sweep.mode == "zip" and not problems:
        lengths = {k: len(v) for k, v in values.items()}
        if len(set(lengths.values())) > 1:
            problems.append(
                f"{where('mode')}: mode 'zip' needs every parameter to have as many values; "
                f"got {', '.join(f'{k}: {n}' for k, n in lengths.items())} (or use mode 'grid')"
            )
    if problems:
        raise SweepError(f"invalid sweep file {path}:\n  " + "\n  ".join(problems))
    places = {key: where("fixed", key) for key in sweep.fixed}
    places.update({key: where("parameters", key) for key in sweep.parameters})
    return sweep, values, places
