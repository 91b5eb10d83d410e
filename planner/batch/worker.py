"""The worker side of a batch: one run executed in isolation, its log captured, its
outcome recorded (``done.json`` on success, ``failed/<key>/`` on failure)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from networks.errors import EvplanError
from planner.batch.folder import DONE, finished_outcome, input_digests
from planner.batch.plan import RunOutcome, RunSpec
from planner.config.study import StudyConfig
from planner.report.atomic import MARKER, atomic_dir, batch_run_output, write_text_atomic
from planner.report.export import json_safe
from sim.api import run_thread

logger = logging.getLogger(__name__)

__all__ = ["Runner", "execute_run", "pipeline_runner", "record_failure", "describe"]

Runner = Callable[..., Mapping[str, Any]]
"""``runner(cfg, *, out_dir) -> summary row``: runs one study and writes its folder atomically."""

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_PACKAGES = ("planner", "sim", "networks")


def pipeline_runner(cfg: StudyConfig, *, out_dir: Path) -> Mapping[str, Any]:
    """The default runner: the real study pipeline; returns its summary row."""
    from planner.study.run import run_study, summary_row

    return summary_row(run_study(cfg, out_dir=out_dir))


class _RunLogHandler(logging.FileHandler):
    """The run log's handler. A record it cannot write to the file (a full disk) is dropped
    quietly: logging's default prints a traceback per record on stderr, and the run's
    outcome (a failed write) is reported anyway."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handleError(record)  # a bad record (a format error) is reported as usual


@contextlib.contextmanager
def _run_logging(path: Path) -> Iterator[None]:
    """Send this thread's INFO+ records of evplan's packages to ``path`` while the run lasts.

    Other handlers keep their previous threshold, so running in-process does not make the
    console chattier.
    """
    root = logging.getLogger()
    handler = _RunLogHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(logging.INFO)
    ident = threading.get_ident()
    # this run's records: its thread's, and its replication workers' relayed for it
    handler.addFilter(lambda record: run_thread(record) == ident)
    lowered = {
        n: logging.getLogger(n).level
        for n in _PACKAGES
        if logging.getLogger(n).getEffectiveLevel() > logging.INFO
    }
    level = min((logging.getLogger(n).getEffectiveLevel() for n in lowered), default=0)

    def floor(record: logging.LogRecord) -> bool:
        return record.levelno >= level and not getattr(record, "run_log_only", False)

    others = list(root.handlers)
    for h in others:
        h.addFilter(floor)
    for n in lowered:
        logging.getLogger(n).setLevel(logging.INFO)
    root.addHandler(handler)
    ended = False
    try:
        yield
        ended = True
    finally:
        root.removeHandler(handler)
        for n, level in lowered.items():
            logging.getLogger(n).setLevel(level)
        for h in others:
            h.removeFilter(floor)
        if ended:  # closing flushes: a full disk's error here fails the run (its log is cut)
            handler.close()
        else:  # (an interruption in flight is the error to report, not a failed flush)
            with contextlib.suppress(OSError):
                handler.close()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def describe(exc: BaseException) -> str:
    """One line: the message of a user error, type and message of anything else (a bug)."""
    text = str(exc).strip()
    if isinstance(exc, EvplanError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays as plain values; anything else JSON cannot hold as text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def record_failure(spec: RunSpec, batch_dir: Path, error: str, detail: str) -> Path:
    """Keep a failed run's log and error under ``failed/<key>/``; return the log path."""
    target = batch_dir / "failed" / spec.key
    target.mkdir(parents=True, exist_ok=True)
    for log in sorted(
        (batch_dir / "runs").glob(f".{spec.key}.*.run.log")
    ):  # this and killed attempts
        with open(target / "run.log", "ab") as dst, open(log, "rb") as src:
            shutil.copyfileobj(src, dst)
        log.unlink()
    write_text_atomic(target / "error.txt", f"run {spec.label} ({spec.key})\n{error}\n\n{detail}")
    return target / "run.log"


def execute_run(spec: RunSpec, batch_dir: str | Path, runner: Runner | None = None) -> RunOutcome:
    """Run one study (in a Dask worker or in-process) and never raise for the run's own errors.

    The runner writes ``runs/<key>/`` atomically; this adds ``run.log`` (written beside it,
    hidden, while the run lasts) and finally ``done.json``, the marker a resumed batch trusts.
    On failure the log and traceback go to ``failed/<key>/``. A run already finished with the
    same inputs (a valid ``done.json``) is returned as recorded, untouched: Dask may execute
    a task again after it finished.
    """
    runner = runner or pipeline_runner
    batch_dir = Path(batch_dir)
    runs = batch_dir / "runs"
    final, log_path = (
        runs / spec.key,
        runs / f".{spec.key}.{os.getpid()}-{os.urandom(2).hex()}.run.log",
    )
    worker = _worker_name()
    done = finished_outcome(spec, runs, quiet=True)
    if done is not None:
        # Dask runs a finished task again when the worker holding its result dies: the run
        # recorded on disk stands; nothing of it is removed or recomputed (idempotent)
        logger.info("run %s is already finished in %s; not run again", spec.label, final)
        done.status = "done"
        return done
    t0 = time.perf_counter()
    error = detail = ""
    summary: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    try:
        runs.mkdir(parents=True, exist_ok=True)
        # a run being executed is not finished: a done.json or run.log in its folder (a kill
        # just before the batch recorded it) is stale, and evplan's own, not a user's file
        if (final / MARKER).is_file():
            for name in (DONE, "run.log"):
                (final / name).unlink(missing_ok=True)
        with _run_logging(log_path):
            summary, inputs, error, detail = _attempt(spec, runner, final, worker, t0)
    except OSError as exc:  # read-only runs/, a full disk (the run log): this run's failure
        summary, error = (
            {},
            (
                f"could not write the run's files in {runs}: {exc.strerror or exc}"
                f"{f' ({exc.filename})' if exc.filename else ''}"
            ),
        )
        detail = traceback.format_exc()
    elapsed = time.perf_counter() - t0
    if not error:
        try:
            return _record_done(spec, batch_dir, final, log_path, inputs, elapsed, worker, summary)
        except (OSError, EvplanError) as exc:  # a full disk: unfinished (retried on resume)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            error = f"could not record the finished run in {final}: {reason}"
            detail = traceback.format_exc()
    try:
        log: Path | None = record_failure(spec, batch_dir, error, detail)
    except OSError as exc:
        log = None
        error += f" (its failure record could not be written either: {exc.strerror or exc})"
    return RunOutcome(
        spec.key,
        spec.label,
        spec.params,
        "failed",
        log=log,
        error=error,
        elapsed_s=elapsed,
        worker=worker,
    )


def _attempt(
    spec: RunSpec, runner: Runner, final: Path, worker: str, t0: float
) -> tuple[dict[str, Any], dict[str, str], str, str]:
    """Run the study: ``(summary, input digests, error, traceback)``; any exception of the
    runner is the run's error (isolation), never raised."""
    logger.info("run %s (%s) of %s started on %s", spec.label, spec.key, spec.source.name, worker)
    try:
        inputs = input_digests(spec.config)  # before the run: what it read
        with batch_run_output(final):  # the one study folder allowed in a batch folder
            summary = dict(runner(spec.config, out_dir=final) or {})
        # a summary done.json cannot hold is the run's error, not the batch's
        json.dumps(summary, default=_json_default)
        # the values done.json holds (NaN and infinities as null): a resumed run reads the
        # same summary as a fresh one, so a no-op resume leaves the batch summary unchanged
        summary = json_safe(summary)
    except Exception as exc:  # noqa: BLE001 - isolation: any failure becomes a record
        error, detail = describe(exc), traceback.format_exc()
        logger.error(
            "run %s failed: %s\n%s", spec.label, error, detail, extra={"run_log_only": True}
        )
        return {}, {}, error, detail
    logger.info("run %s finished in %.1f s", spec.label, time.perf_counter() - t0)
    return summary, inputs, "", ""


def _record_done(
    spec: RunSpec,
    batch_dir: Path,
    final: Path,
    log_path: Path,
    inputs: dict[str, str],
    elapsed: float,
    worker: str,
    summary: dict[str, Any],
) -> RunOutcome:
    """Move the run log into the finished run's folder and write its ``done.json``."""
    if not final.is_dir():  # a runner that wrote nothing still gets a folder, atomically
        with batch_run_output(final), atomic_dir(final):
            pass
    marker = {
        "key": spec.key,
        "label": spec.label,
        "params": spec.params,
        "source": str(spec.source),
        "inputs": inputs,
        "elapsed_s": round(elapsed, 3),
        "worker": worker,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "summary": summary,
    }
    os.replace(log_path, final / "run.log")
    try:
        # strict JSON (NaN and infinities as null), as every other JSON evplan writes: an
        # undefined KPI (a wait with no session, grid upgrades not assessed) wrote NaN
        write_text_atomic(final / DONE, json.dumps(json_safe(marker), indent=1, allow_nan=False))
    except OSError:
        # not finished after all: the log goes back where the failure record looks for it
        with contextlib.suppress(OSError):
            os.replace(final / "run.log", log_path)
        raise
    shutil.rmtree(batch_dir / "failed" / spec.key, ignore_errors=True)
    return RunOutcome(
        spec.key,
        spec.label,
        spec.params,
        "done",
        folder=final,
        log=final / "run.log",
        elapsed_s=elapsed,
        worker=worker,
        summary=summary,
    )
