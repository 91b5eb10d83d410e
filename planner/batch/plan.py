"""A batch plan: the runs a sweep file (or a list of study files) expands to, each
validated before anything runs, keyed by its config hash (its folder name; what makes a
batch resumable)."""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from networks.errors import EvplanError
from planner.config.study import StudyConfig, config_hash, load_config
from planner.config.sweep import MAX_ERRORS_SHOWN, SweepError, read_sweep, run_label

logger = logging.getLogger(__name__)

__all__ = [
    "BatchError",
    "BatchPlan",
    "RunOutcome",
    "RunSpec",
    "SchedulerError",
    "check_runs",
    "plan_configs",
    "plan_sweep",
]


class BatchError(EvplanError):
    """A batch cannot run (folder locked, no workers, Dask missing); the message says why."""


class SchedulerError(BatchError):
    """The Dask scheduler given with ``--scheduler`` cannot be reached or has no workers."""


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
class RunOutcome:
    """What happened to one run.

    ``status`` is ``done`` (finished now), ``skipped`` (finished by an earlier batch),
    ``failed``, or ``not_run`` (the batch stopped before the run finished: an interrupted
    batch's summary lists it so that it does not read as complete); ``error`` is the
    one-line reason of a failure (or of ``not_run``) and ``log`` its log file.
    """

    key: str
    label: str
    params: dict[str, Any]
    status: Literal["done", "skipped", "failed", "not_run"]
    folder: Path | None = None
    log: Path | None = None
    error: str = ""
    elapsed_s: float = 0.0
    worker: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


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
    mode : {"grid", "zip"}
        How the sweep combined its parameters (``grid`` for study files): in a ``zip``
        sweep the parameters vary together, one run per position.
    """

    name: str
    output: Path
    runs: list[RunSpec]
    parameters: list[str] = field(default_factory=list)
    source: Path | None = None
    mode: Literal["grid", "zip"] = "grid"


# --------------------------------------------------------------------------- planning


def _expand(values: dict[str, list[Any]], mode: str) -> list[dict[str, Any]]:
    keys = list(values)
    combos = (
        zip(*values.values(), strict=True) if mode == "zip" else itertools.product(*values.values())
    )
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def _validated(cfg: StudyConfig, key: str, raw: Any) -> Any:
    """The value the validated study holds at dotted ``key`` when it is a number or a flag
    (``3e5``, which YAML reads as text, is 300000.0 in the study), else ``raw`` as written:
    the summary's parameter columns get one type each and sort as numbers."""
    value: Any = cfg
    for part in key.split("."):
        if isinstance(value, BaseModel):
            value = getattr(value, part, None)
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return raw
    return value if isinstance(value, bool | int | float) else raw


def _validate_runs(
    base: Path,
    combos: list[dict[str, Any]],
    *,
    fixed: dict[str, Any],
    origin: str,
    places: dict[str, str] | None = None,
) -> list[RunSpec]:
    """Load every run with its overrides; one error listing all invalid runs (grouped). An
    invalid swept value is reported at its line of the sweep file (``places``)."""
    runs: dict[str, RunSpec] = {}
    failures: dict[str, list[str]] = {}
    for params in combos:
        label = run_label(params)
        try:
            cfg = load_config(base, overrides={**fixed, **params}, override_where=places)
        except EvplanError as exc:
            failures.setdefault(str(exc), []).append(label)
            continue
        params = {k: _validated(cfg, k, v) for k, v in params.items()}
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
        raise SweepError(
            f"{origin}: {n_bad} of {len(combos)} runs are invalid; nothing was run:\n"
            + "\n".join(_grouped_problems(failures, len(combos)))
        )
    return list(runs.values())


def _grouped_problems(failures: dict[str, list[str]], n_runs: int) -> list[str]:
    """One line per distinct problem, naming the runs it concerns (the first, and how many
    more; "every run" when all of several), at most :data:`MAX_ERRORS_SHOWN` lines and a
    count of the rest."""
    parts = []
    for msg, labels in list(failures.items())[:MAX_ERRORS_SHOWN]:
        runs = (
            "every run"
            if len(labels) == n_runs > 1
            else f"run {labels[0]}"
            + (f" (and {len(labels) - 1} more runs)" if len(labels) > 1 else "")
        )
        parts.append(f"{runs}: {msg}")
    if len(failures) > MAX_ERRORS_SHOWN:
        parts.append(f"... and {len(failures) - MAX_ERRORS_SHOWN} more problems")
    return parts


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
    sweep, values, places = read_sweep(path)
    name = sweep.name or path.stem
    base = sweep.base if sweep.base.is_absolute() else (path.parent / sweep.base)
    if not base.is_file():
        raise SweepError(
            f"{path}: base study not found: {base} (paths are relative to the sweep file)"
        )
    runs = _validate_runs(
        base.resolve(),
        _expand(values, sweep.mode),
        fixed=sweep.fixed,
        origin=str(path),
        places=places,
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
        mode=sweep.mode,
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
    names = _study_names([Path(p) for p in paths])
    for p in map(Path, paths):
        try:
            cfg = load_config(p)
        except EvplanError as exc:
            errors.append(str(exc))
            continue
        key = config_hash(cfg)
        if key not in runs:
            name = names[p.resolve()]
            runs[key] = RunSpec(
                key=key,
                label=name.removesuffix(p.suffix),
                params={"config": name},
                config=cfg,
                source=p.resolve(),
            )
    if errors:
        raise SweepError(
            f"{len(errors)} of {len(paths)} study files are invalid; nothing was run:\n"
            + "\n".join(errors[:MAX_ERRORS_SHOWN])
        )
    return BatchPlan(
        name=name, output=Path(output).resolve(), runs=list(runs.values()), parameters=["config"]
    )


def _study_names(paths: list[Path]) -> dict[Path, str]:
    """Each study file's name in a batch (by resolved path): its file name, or, for files
    sharing one (``low/study.yaml``, ``high/study.yaml``), its path from the folder they
    share, so that no two runs have the same label and ``config`` (summary, chart)."""
    resolved = sorted({p.resolve() for p in paths})
    by_name: dict[str, list[Path]] = {}
    for p in resolved:
        by_name.setdefault(p.name, []).append(p)
    out = {}
    for name, group in by_name.items():
        try:
            common: Path | None = Path(os.path.commonpath([p.parent for p in group]))
        except ValueError:  # (no common folder: paths on different drives)
            common = None
        for p in group:
            if len(group) == 1:
                out[p] = name
            else:
                out[p] = p.relative_to(common).as_posix() if common else p.as_posix()
    return out


def check_runs(plan: BatchPlan) -> None:
    """Run the config checks of ``evplan run`` (:func:`planner.config.checks.run_checks`:
    input files exist, vehicle models known, budget, seasons) on every run of ``plan``.

    The plan's schema validation does not look at the files a study names: a base study
    whose data file is missing passed, and then every run failed at run time. Each run is
    checked, since a swept value can change what a check sees (an input path, the budget,
    the fleet); the problems are grouped as in :func:`plan_sweep`'s errors.

    Raises
    ------
    SweepError
        Some run has problems; the message names each problem (field, value, fix) and the
        runs it concerns. Nothing is run or written.
    """
    from planner.config.checks import run_checks

    origin = str(plan.source) if plan.source is not None else "the study files"
    failures: dict[str, list[str]] = {}
    for spec in plan.runs:
        results = run_checks(spec.config, source=str(spec.source), log=False)
        for name, problems in results.items():
            for problem in problems:
                failures.setdefault(f"[{name}] {problem}", []).append(_run_name(plan, spec))
    if not failures:
        return
    bad = {label for labels in failures.values() for label in labels}
    raise SweepError(
        f"{origin}: {len(bad)} of {len(plan.runs)} runs fail the config checks of "
        "'evplan run'; nothing was run:\n  "
        + "\n  ".join(_grouped_problems(failures, len(plan.runs)))
    )


def _run_name(plan: BatchPlan, spec: RunSpec) -> str:
    """A run as named in messages: its label, and its study file when the batch has several."""
    return spec.label if plan.source is not None else f"{spec.label} ({spec.source})"
