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

:func:`plan_sweep` expands the parameters into runs, applies each run's values with
:func:`planner.config.study.load_config` and validates *every* run before anything is executed,
so a bad sweep fails at once with one message naming the sweep file, the parameter and the
runs at fault. Each run is identified by :func:`planner.config.study.config_hash` of its
validated config; that hash is its folder name and what makes batches resumable.
"""

from __future__ import annotations

import difflib
import io
import itertools
import json
import logging
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from networks._errors import ConfigError, EvplanError
from planner.config.study import StudyConfig, _line_of, config_hash, load_config
from planner.report.atomic import write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    from planner.batch import RunOutcome

logger = logging.getLogger(__name__)

__all__ = [
    "BatchFiles",
    "BatchPlan",
    "RunSpec",
    "SweepError",
    "SweepFile",
    "check_parameter",
    "coverage_chart",
    "plan_configs",
    "plan_sweep",
    "read_sweep",
    "summary_table",
    "write_batch_outputs",
]

_MAX_ERRORS = 6


class SweepError(ConfigError):
    """A sweep file (or a run it expands to) is invalid; the message names file and parameter."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepRange(_Strict):
    """``{start, stop, step}``: ``start, start + step, ...`` up to and including ``stop``."""

    start: float
    stop: float
    step: float = Field(1, gt=0)

    def values(self) -> list[float | int]:
        """The values of the range (ints when start, stop and step are whole numbers)."""
        if self.stop < self.start:
            return []
        n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        whole = all(float(v).is_integer() for v in (self.start, self.stop, self.step))
        vals = [round(self.start + i * self.step, 10) for i in range(n)]
        return [int(v) for v in vals] if whole else vals


class SweepFile(_Strict):
    """A sweep file as written (see the module docstring for the format)."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    base: Path
    mode: Literal["grid", "zip"] = "grid"
    output: Path | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, list[Any] | SweepRange]

    @model_validator(mode="after")
    def _some(self) -> SweepFile:
        if not self.parameters:
            raise ValueError(
                "'parameters' is empty: give at least one dotted config key and its values"
            )
        return self


@dataclass(frozen=True)
class RunSpec:
    """One planned run of a batch.

    Attributes
    ----------
    key : str
        :func:`~planner.config.study.config_hash` of ``config``: the run's folder name.
    label : str
        Short human label, e.g. ``"range_km=250 p=4 temperature_c=-20"``.
    params : dict
        The swept values of this run (dotted key -> value), in sweep order.
    config : StudyConfig
        The validated config of this run (overrides applied).
    source : Path
        The study file the run was loaded from.
    """

    key: str
    label: str
    params: dict[str, Any]
    config: StudyConfig
    source: Path


@dataclass
class BatchPlan:
    """All runs of a batch, validated, and where the batch writes.

    Attributes
    ----------
    name : str
        Batch name (sweep ``name`` or file stem).
    output : Path
        Batch folder: ``runs/<key>/`` per finished run, summary files at its root.
    runs : list of RunSpec
        Unique runs in sweep order.
    parameters : list of str
        The swept dotted keys (the summary table's parameter columns).
    source : Path or None
        The sweep file, when the plan came from one.
    """

    name: str
    output: Path
    runs: list[RunSpec]
    parameters: list[str] = field(default_factory=list)
    source: Path | None = None


# --------------------------------------------------------------------------- parameters


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    return [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]


def _is_mapping(annotation: Any) -> bool:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    return any(typing.get_origin(a) is dict or a is dict for a in args)


def check_parameter(key: str) -> str | None:
    """Why ``key`` is not a settable dotted study-config field, or ``None`` when it is.

    Sections descend into nested models (``model.solver.threads``); mapping fields accept one
    more free key (``simulation.seasons.winter``, ``vehicles.fleet.hyundai_ioniq_5``).
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
            return f"{'.'.join(parts[: i + 2])!r} is a single value, not a section"
        if typing.get_origin(annotation) is list:
            return f"{'.'.join(parts[: i + 1])!r} is a list: sweep whole lists, not their items"
        return f"{'.'.join(parts[: i + 1])!r} is a single value, not a section"
    return None  # pragma: no cover - loop always returns


def _short(key: str, keys: list[str]) -> str:
    last = key.rsplit(".", 1)[-1]
    return last if sum(k.rsplit(".", 1)[-1] == last for k in keys) == 1 else key


def _label(params: dict[str, Any]) -> str:
    keys = list(params)
    return " ".join(f"{_short(k, keys)}={v}" for k, v in params.items()) or "base"


# --------------------------------------------------------------------------- reading


def read_sweep(path: str | Path) -> tuple[SweepFile, dict[str, list[Any]]]:
    """Read and check a sweep file; return it and each parameter's list of values.

    Raises
    ------
    SweepError
        Unreadable file, unknown key, unknown parameter, empty range, zip of unequal lengths.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise SweepError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: a sweep file must be a mapping with 'base' and 'parameters'")

    def where(*loc: Any) -> str:
        line = _line_of(root, loc)
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
        for err in errors[:_MAX_ERRORS]:
            loc = tuple(
                x
                for x in err["loc"]
                if not str(x).startswith(("function-after", "list[", "SweepRange"))
            )
            hint = " (remove it or check its spelling)" if err["type"] == "extra_forbidden" else ""
            lines.append(
                f"{where(*loc)}: {'.'.join(map(str, loc)) or '(top level)'}: "
                f"{err['msg'].removeprefix('Value error, ')}{hint}"
            )
        raise SweepError(f"invalid sweep file {path}:\n  " + "\n  ".join(lines)) from None

    problems = []
    values: dict[str, list[Any]] = {}
    for section in ("fixed", "parameters"):
        for key in getattr(sweep, section):
            why = check_parameter(key)
            if why:
                problems.append(f"{where(section, key)}: {section}.{key}: {why}")
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
    if sweep.mode == "zip" and not problems:
        lengths = {k: len(v) for k, v in values.items()}
        if len(set(lengths.values())) > 1:
            problems.append(
                f"{where('mode')}: mode 'zip' needs every parameter to have as many values; "
                f"got {', '.join(f'{k}: {n}' for k, n in lengths.items())} (or use mode 'grid')"
            )
    if problems:
        raise SweepError(f"invalid sweep file {path}:\n  " + "\n  ".join(problems))
    return sweep, values


# --------------------------------------------------------------------------- planning


def _expand(values: dict[str, list[Any]], mode: str) -> list[dict[str, Any]]:
    keys = list(values)
    combos = (
        zip(*values.values(), strict=True) if mode == "zip" else itertools.product(*values.values())
    )
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def _validate_runs(
    base: Path, combos: list[dict[str, Any]], *, fixed: dict[str, Any], origin: str
) -> list[RunSpec]:
    """Load every run with its overrides; one error listing all invalid runs (grouped)."""
    runs: dict[str, RunSpec] = {}
    failures: dict[str, list[str]] = {}
    for params in combos:
        label = _label(params)
        try:
            cfg = load_config(base, overrides={**fixed, **params})
        except EvplanError as exc:
            failures.setdefault(str(exc), []).append(label)
            continue
        key = config_hash(cfg)
        if key in runs:
            logger.warning(
                "%s: run %s is the same study as run %s; it runs once",
                origin,
                label,
                runs[key].label,
            )
            continue
        runs[key] = RunSpec(key=key, label=label, params=params, config=cfg, source=base)
    if failures:
        n_bad = sum(len(v) for v in failures.values())
        parts = []
        for msg, labels in list(failures.items())[:_MAX_ERRORS]:
            more = f" (and {len(labels) - 1} more runs)" if len(labels) > 1 else ""
            parts.append(f"run {labels[0]}{more}: {msg}")
        raise SweepError(
            f"{origin}: {n_bad} of {len(combos)} runs are invalid; nothing was run:\n"
            + "\n".join(parts)
        )
    return list(runs.values())


def plan_sweep(path: str | Path, *, output: str | Path | None = None) -> BatchPlan:
    """Read a sweep file, expand it and validate every run (nothing is executed).

    Parameters
    ----------
    path : path
        The sweep YAML file.
    output : path, optional
        Batch folder; overrides the file's ``output``. Default when neither is given: beside the
        base study's output folder (``<its parent>/<sweep name>``), else ``<sweep dir>/runs/<name>``.

    Raises
    ------
    SweepError
        The file or any run is invalid (all runs are checked before returning).
    """
    path = Path(path)
    sweep, values = read_sweep(path)
    name = sweep.name or path.stem
    base = sweep.base if sweep.base.is_absolute() else (path.parent / sweep.base)
    if not base.is_file():
        raise SweepError(
            f"{path}: base study not found: {base} (paths are relative to the sweep file)"
        )
    runs = _validate_runs(
        base.resolve(), _expand(values, sweep.mode), fixed=sweep.fixed, origin=str(path)
    )
    if output is None and sweep.output is not None:
        output = sweep.output if sweep.output.is_absolute() else path.parent / sweep.output
    if output is None:
        folder = runs[0].config.outputs.folder
        output = folder.parent / name if folder is not None else path.parent / "runs" / name
    logger.info("sweep %s: %d runs over %s (%s)", name, len(runs), ", ".join(values), sweep.mode)
    return BatchPlan(
        name=name,
        output=Path(output).resolve(),
        runs=runs,
        parameters=list(values),
        source=path.resolve(),
    )


def plan_configs(paths: list[str | Path], *, output: str | Path, name: str = "batch") -> BatchPlan:
    """One run per study file (no sweep). Every file is validated before returning.

    Raises
    ------
    SweepError
        No file given, or a file is invalid (all are checked; the message lists each).
    """
    if not paths:
        raise SweepError("give at least one study file or a sweep file (--sweep)")
    runs: dict[str, RunSpec] = {}
    errors = []
    for p in map(Path, paths):
        try:
            cfg = load_config(p)
        except EvplanError as exc:
            errors.append(str(exc))
            continue
        key = config_hash(cfg)
        if key not in runs:
            runs[key] = RunSpec(
                key=key, label=p.stem, params={"config": p.name}, config=cfg, source=p.resolve()
            )
    if errors:
        raise SweepError(
            f"{len(errors)} of {len(paths)} study files are invalid; nothing was run:\n"
            + "\n".join(errors[:_MAX_ERRORS])
        )
    return BatchPlan(
        name=name, output=Path(output).resolve(), runs=list(runs.values()), parameters=["config"]
    )


# --------------------------------------------------------------------------- results

_BUDGET_KEYS = ("model.p", "model.budget")


@dataclass
class BatchFiles:
    """The summary files of a batch (``chart`` is None when there is nothing to plot)."""

    summary: pd.DataFrame
    summary_csv: Path
    summary_parquet: Path
    failures_csv: Path
    chart: Path | None


def _cell(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list | tuple) else value


def summary_table(plan: BatchPlan, outcomes: list[RunOutcome]) -> pd.DataFrame:
    """One row per run: ``run, label, status, resumed``, the swept parameters, the KPIs of the
    pipeline's summary row, ``elapsed_s, worker, folder, error``."""
    rows = []
    for o in outcomes:
        row: dict[str, Any] = {
            "run": o.key,
            "label": o.label,
            "status": "failed" if o.status == "failed" else "done",
            "resumed": o.status == "skipped",
        }
        row.update({k: _cell(o.params.get(k)) for k in plan.parameters})
        row.update({k: _cell(v) for k, v in o.summary.items() if k not in row})
        row.update(
            {
                "elapsed_s": round(o.elapsed_s, 3),
                "worker": o.worker,
                "folder": str(o.folder.relative_to(plan.output)) if o.folder else "",
                "error": o.error,
            }
        )
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in [
        c for c in df.columns if pd.api.types.is_object_dtype(df[c])
    ]:  # parquet: one type per column
        kinds = {type(v) for v in df[col] if v is not None and v == v}
        if len(kinds) > 1:
            df[col] = df[col].map(lambda v: v if v is None else str(v))
    return df


def _after_column(df: pd.DataFrame, word: str) -> str | None:
    cols = [c for c in df.columns if word in c.lower() and pd.api.types.is_numeric_dtype(df[c])]
    return ([c for c in cols if "after" in c.lower()] or cols or [None])[0]


def coverage_chart(plan: BatchPlan, summary: pd.DataFrame) -> bytes | None:
    """PNG of coverage after siting against the budget parameter, one line per other combination.

    The x axis is the first swept budget key (``model.p`` or ``model.budget``), else the number of
    stations the runs report. Colour follows the first other parameter, line style the second.
    When the runs report a trips-completed share, a second panel shows it the same way (the
    simulation's view, where temperature shows). ``None`` when there is nothing to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = summary[summary["status"] == "done"] if len(summary) else summary
    trips = _after_column(done, "share_trips_completed") or _after_column(done, "trips_completed")
    ys = [c for c in (_after_column(done, "coverage"), trips) if c]
    x = next((k for k in _BUDGET_KEYS if k in plan.parameters), None) or _after_column(
        done, "n_stations"
    )
    if not ys or x is None or done.empty:
        logger.info("no coverage-vs-budget chart: coverage column %s, budget column %s", ys, x)
        return None
    series = [k for k in plan.parameters if k != x]
    first = sorted(done[series[0]].astype(str).unique()) if series else []
    second = sorted(done[series[1]].astype(str).unique()) if len(series) >= 2 else []
    styles = ["-", "--", ":", "-."]
    fig = Figure(figsize=(7 * len(ys), 5), dpi=110)
    FigureCanvasAgg(fig)
    for i, y in enumerate(ys):
        ax = fig.add_subplot(1, len(ys), i + 1)
        groups = list(done.groupby(series, sort=True, dropna=False)) if series else [((), done)]
        for values, part in groups:
            values = values if isinstance(values, tuple) else (values,)
            part = part.sort_values(x)
            label = (
                ", ".join(f"{_short(k, series)}={v}" for k, v in zip(series, values, strict=True))
                or y
            )
            color = f"C{first.index(str(values[0])) % 10}" if series else "C0"
            style = styles[second.index(str(values[1])) % len(styles)] if second else "-"
            ax.plot(part[x], part[y], style, color=color, marker="o", ms=3, label=label)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        if series and i == len(ys) - 1:
            ax.legend(fontsize=7, ncol=2 if len(groups) > 8 else 1)
    fig.suptitle(f"{plan.name}: {' and '.join(ys)} vs {x} ({len(done)} runs)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def write_batch_outputs(plan: BatchPlan, outcomes: list[RunOutcome]) -> BatchFiles:
    """Write ``summary.csv``, ``summary.parquet``, ``failures.csv`` and the chart, atomically."""
    out = plan.output
    df = summary_table(plan, outcomes)
    write_text_atomic(out / "summary.csv", df.to_csv(index=False))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    write_bytes_atomic(out / "summary.parquet", buf.getvalue())
    failed = [o for o in outcomes if o.status == "failed"]
    fail = pd.DataFrame(
        [
            {
                "run": o.key,
                "label": o.label,
                **{k: _cell(o.params.get(k)) for k in plan.parameters},
                "error": o.error,
                "log": str(o.log.relative_to(out)) if o.log else "",
            }
            for o in failed
        ],
        columns=["run", "label", *plan.parameters, "error", "log"],
    )
    write_text_atomic(out / "failures.csv", fail.to_csv(index=False))
    png = coverage_chart(plan, df) if len(df) else None
    chart = write_bytes_atomic(out / "coverage_vs_budget.png", png) if png else None
    return BatchFiles(df, out / "summary.csv", out / "summary.parquet", out / "failures.csv", chart)
