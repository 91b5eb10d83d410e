"""The skeleton the three entry points of :mod:`planner.study.run` share: the timing of
their steps (:class:`StepTimer`; names from :mod:`planner.study.steps`), the inputs each
starts from (:func:`prepare`: network, existing stations, vehicle models, trips), the output
folder claimed before any work (:func:`claim_study_folder`, :func:`default_folder`) and the
manifest and folder written atomically at the end (:func:`finish_study`,
:func:`write_study`), and the optimisation strategy for the study (:func:`make_optimizer`).
:mod:`planner.study.run` re-exports the public names.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig, input_files
from planner.report.atomic import OutputWriteError, atomic_dir, claim_output
from planner.study.demand import build_trips
from planner.study.inputs import StudyNetwork, build_existing, build_network, manifest
from planner.study.optimize import StudyOptimizer
from planner.study.optimize_city import CityOptimizer
from planner.study.optimize_corridor import CorridorOptimizer
from planner.study.provenance import source_revision
from planner.study.result import StudyResult
from planner.study.simulate import study_vehicles
from planner.study.steps import STEPS
from sim.api import run_thread

# the entry points' logger, as before these pieces left run.py: a batch's run.log names the
# logger of each line ("planner.study.run: step: network")
logger = logging.getLogger("planner.study.run")

StepCallback = Callable[[str], None]


class StepTimer:
    """Times the steps of a run (names from :data:`~planner.study.steps.STEPS` only) and,
    used as a context manager, collects the warnings evplan logged during the run
    (:attr:`warnings`), which :func:`finish_study` puts in the report's notes and the
    manifest: a review found demand dropped (80 corridor towns too far from the roads, 15
    Almaty candidate sites) said only on the console, in no output of the run."""

    def __init__(self, on_step: StepCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self.on_step = on_step
        self._warnings = _WarningLog()
        self.source: dict[str, Any] | None = None  #: provenance.source_revision at the start

    @property
    def warnings(self) -> list[str]:
        """The distinct warnings logged so far (with a count when repeated), in order."""
        return self._warnings.lines()

    def __enter__(self) -> StepTimer:
        # the commit of the checkout evplan runs from, read as the run starts
        self.source = source_revision()
        # this run's records only: its thread's and its replication workers' (a Dask
        # worker with several threads runs several studies at once)
        ident = threading.get_ident()
        self._warnings.filters.clear()
        self._warnings.addFilter(lambda record: run_thread(record) == ident)
        for name in _OWN_LOGGERS:
            logging.getLogger(name).addHandler(self._warnings)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in _OWN_LOGGERS:
            logging.getLogger(name).removeHandler(self._warnings)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name not in STEPS:  # pragma: no cover - a programming error, not a user error
            raise ValueError(f"unknown study step {name!r}; steps are {STEPS}")
        if self.on_step:
            self.on_step(name)
        logger.info("step: %s", name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
            logger.info("step: %s done in %.2f s", name, self.timings[name])


#: evplan's loggers whose warnings a run keeps (its workers' records are relayed to them)
_OWN_LOGGERS = ("networks", "sim", "planner")

#: Distinct warnings a run keeps; a run with more says how many were left out
MAX_WARNINGS = 30


class _WarningLog(logging.Handler):
    """The distinct WARNING-or-worse messages logged while a run collects them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(record.getMessage().split())  # the console's line breaks
        except Exception:  # a bad format string must not break the run
            return
        self.seen[text] = self.seen.get(text, 0) + 1

    def lines(self) -> list[str]:
        out = [t if n == 1 else f"{t} ({n} times)" for t, n in self.seen.items()]
        if len(out) > MAX_WARNINGS:
            out = out[:MAX_WARNINGS] + [f"... and {len(out) - MAX_WARNINGS} more warnings"]
        return out


@dataclass
class Prepared:
    """The inputs every entry point starts from."""

    sn: StudyNetwork
    existing: pd.DataFrame
    vehicles: dict
    trips: pd.DataFrame


def prepare(cfg: StudyConfig, timer: StepTimer) -> Prepared:
    """Network, existing stations, vehicle models and the study's trips (seeded)."""
    (demand_seed,) = np.random.SeedSequence(cfg.seed).spawn(1)
    with timer.step("network"):
        sn = build_network(cfg)
    with timer.step("sites"):
        existing = build_existing(cfg, sn)
    with timer.step("demand"):
        vehicles = study_vehicles(cfg)
        trips = build_trips(cfg, sn, vehicles, rng=np.random.default_rng(demand_seed))
    return Prepared(sn, existing, vehicles, trips)


def claim_study_folder(
    cfg: StudyConfig,
    *,
    write: bool,
    out_dir: str | Path | None,
    config_path: str | Path | None,
    overwrite: bool,
    suffix: str,
) -> Any:
    """The output folder, checked and locked before any work starts (nothing when not
    writing). See :func:`planner.report.atomic.claim_output` for the rules."""
    if not write:
        return nullcontext(None)
    folder = Path(out_dir) if out_dir is not None else default_folder(cfg, suffix)
    what = (
        "--out"
        if out_dir is not None
        else ("outputs.folder" if cfg.outputs.folder is not None else "output folder")
    )
    return claim_output(
        folder, config_path=config_path, overwrite=overwrite, what=what, inputs=input_files(cfg)
    )


def finish_study(
    cfg: StudyConfig,
    result: StudyResult,
    timer: StepTimer,
    *,
    sn: StudyNetwork,
    folder: Path | None,
    config_path: str | Path | None,
    overwrite: bool,
    html: bool,
) -> StudyResult:
    """Manifest, then (when ``folder`` is given) the study folder, atomically. Any failed
    write fails the run and leaves the previous output at ``folder`` as it was."""
    base = manifest(cfg, sn, timer.timings, config_path=Path(config_path) if config_path else None)
    result.manifest = {**base, **result.manifest}
    if timer.source is not None:  # the commit of the checkout evplan ran from
        result.manifest["evplan_source"] = timer.source
    warned = timer.warnings
    if warned:  # what the console said during the run, kept with its outputs
        result.manifest["warnings"] = warned
        result.notes = [*result.notes, *(f"Warning during the run: {w}" for w in warned)]
    if folder is not None:
        # the folder written (``--out`` overrides outputs.folder): in manifest.json too
        result.manifest["output_folder"] = str(folder)
        resolved = result.manifest.get("config_resolved")
        if isinstance(resolved, dict) and isinstance(resolved.get("outputs"), dict):
            resolved["outputs"]["folder"] = str(folder)
        try:
            with timer.step("outputs"), atomic_dir(folder, foreign_ok=overwrite) as tmp:
                write_study(result, tmp, html=html, gpkg=cfg.outputs.gpkg)
        except OSError as exc:
            raise OutputWriteError(
                f"could not write the outputs of study {cfg.name!r} to {folder}: "
                f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}; "
                "nothing was replaced (the previous output, if any, is unchanged)"
            ) from exc
        result.manifest["timings_s"] = {k: round(v, 3) for k, v in timer.timings.items()}
        logger.info("study %s written to %s", cfg.name, folder)
    return result


def make_optimizer(
    cfg: StudyConfig,
    sn: StudyNetwork,
    candidates: pd.DataFrame,
    trips: pd.DataFrame,
    vehicles: dict,
) -> StudyOptimizer:
    """The study's optimisation strategy: corridor (FRLM) or city (every other model)."""
    strategy = CorridorOptimizer if cfg.model.kind == "frlm" else CityOptimizer
    return strategy(cfg, sn, candidates, trips, vehicles)


def default_folder(cfg: StudyConfig, suffix: str = "") -> Path:
    """``outputs.folder`` or ``runs/<name>`` (``-simulate`` / ``-optimize`` for those commands)."""
    base = cfg.outputs.folder or Path("runs") / cfg.name
    return base.with_name(f"{base.name}-{suffix}") if suffix else base


def write_study(result: StudyResult, folder: Path, *, html: bool = True, gpkg: bool = True) -> None:
    """Write tables, layers, KPIs, manifest and (optionally) the GeoPackage and the HTML
    report into ``folder``."""
    from planner.report.export import write_outputs

    write_outputs(result, folder, gpkg=gpkg)
    if html:
        from planner.report.html import write_report

        write_report(result, folder)
