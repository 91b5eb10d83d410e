"""Batch runs: many studies in parallel with Dask distributed, resumable, failure-isolated.

``run_batch(plan)`` executes the runs of a :class:`~planner.batch.plan.BatchPlan` (from a sweep
file or a list of study files) and writes, under the batch folder ``plan.output``::

    runs/<config_hash>/        one finished run: the study folder written atomically by the
                               pipeline, plus run.log and done.json (the "finished" marker)
    failed/<config_hash>/      run.log and error.txt of a run that failed (removed once it succeeds)
    summary.csv, summary.parquet   one row per run: status, swept parameters, KPIs, time
    failures.csv               failed runs and their error messages
    coverage_vs_budget.png     coverage after siting vs the budget parameter, one line per series

Resuming: a run whose ``runs/<hash>/done.json`` exists is skipped, so re-running a killed or
partly failed batch does only what is left. Hidden temporary folders and logs of the plan's
runs left by a killed batch are removed on start; nothing else under ``runs/`` is (a run
replaces only what it wrote: :func:`planner.batch.folder.clean_stale_runs`); a lock file keeps
two batches out of one folder. Before its first run a batch rewrites the summary as it
stands (the runs it has to do ``not_run``), so that one killed with no cleanup (SIGKILL)
leaves no earlier batch's summary that lists a run being done again as done.

Execution: ``workers=0`` runs in this process (no Dask; debugging); otherwise a
``distributed.LocalCluster`` of ``workers`` single-threaded processes, or an existing cluster
at ``scheduler`` (its workers must see the same file system). A run's exception is caught in
the worker and returned as a failure; a worker that dies mid-run is replaced and the run
retried (``retries`` times for a local cluster; an external scheduler uses its own
``allowed-failures``), then reported as failed, never lost. Library code never prints:
progress goes to the ``progress`` callback. The cluster or client, and the connection to an
external scheduler, are :mod:`planner.batch.cluster`'s (``local_cluster`` re-exported here).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planner.batch.cluster import connect_scheduler, local_cluster, running_runs
from planner.batch.folder import (
    batch_lock,
    clean_stale_runs,
    clear_failures,
    finished_outcome,
    finished_runs,
    mark_batch_folder,
)
from planner.batch.plan import BatchError, BatchPlan, RunOutcome, RunSpec, SchedulerError
from planner.batch.summary import write_batch_outputs
from planner.batch.worker import Runner, describe, execute_run, pipeline_runner, record_failure
from planner.config.study import input_files
from planner.report.atomic import (
    MARKER,
    check_output_target,
    missing_folders,
    remove_empty_folders,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "RunOutcome",
    "Runner",
    "SchedulerError",
    "check_batch_folder",
    "execute_run",
    "finished_runs",
    "local_cluster",
    "pipeline_runner",
    "run_batch",
]


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for progress display: counts over the whole batch and an ETA (seconds)."""

    total: int
    skipped: int
    done: int
    failed: int
    running: int
    queued: int
    elapsed_s: float
    eta_s: float | None
    last: RunOutcome | None = None

    @property
    def to_run(self) -> int:
        """Runs this session has to execute (total minus skipped)."""
        return self.total - self.skipped

    @property
    def finished(self) -> int:
        """Runs of this session that have finished, done or failed."""
        return self.done + self.failed


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`: one :class:`RunOutcome` per planned run and the files."""

    plan: BatchPlan
    outcomes: list[RunOutcome]
    summary: pd.DataFrame
    summary_csv: Path
    failures_csv: Path
    chart: Path | None
    elapsed_s: float

    def count(self, status: str) -> int:
        """Number of runs with ``status`` (done, skipped, failed)."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[RunOutcome]:
        """The failed runs."""
        return [o for o in self.outcomes if o.status == "failed"]


# --------------------------------------------------------------------------- execution


class _Tracker:
    """Counts and ETA; calls the progress callback (throttled, except on a finished run)."""

    def __init__(
        self, total: int, skipped: int, callback: Callable[[BatchProgress], None] | None
    ) -> None:
        self.total, self.skipped, self.callback = total, skipped, callback
        self.done = self.failed = self.running = 0
        self.outcomes: list[RunOutcome] = []
        self.t0 = self.t_runs = (
            time.perf_counter()
        )  # t_runs: when runs could start (after cluster start-up)
        self._last_emit = 0.0

    def finish(self, outcome: RunOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.status == "failed":
            self.failed += 1
            logger.warning("run %s failed: %s", outcome.label, outcome.error)
        else:
            self.done += 1
        self.emit(outcome, force=True)

    def emit(self, last: RunOutcome | None = None, *, force: bool = False) -> None:
        now = time.perf_counter()
        if self.callback is None or (not force and now - self._last_emit < 0.5):
            return
        self._last_emit = now
        finished, left = (
            self.done + self.failed,
            self.total - self.skipped - self.done - self.failed,
        )
        elapsed = now - self.t0
        eta = (now - self.t_runs) / finished * left if finished else None
        running = min(self.running, left)
        try:
            self.callback(
                BatchProgress(
                    total=self.total,
                    skipped=self.skipped,
                    done=self.done,
                    failed=self.failed,
                    running=running,
                    queued=left - running,
                    elapsed_s=elapsed,
                    eta_s=eta,
                    last=last,
                )
            )
        except Exception:  # a broken display must not stop a long batch
            logger.exception("progress callback failed; progress display disabled")
            self.callback = None


def _run_serial(
    todo: list[RunSpec], batch_dir: Path, runner: Runner | None, tracker: _Tracker
) -> None:
    for spec in todo:
        tracker.running = 1
        tracker.emit(force=True)
        tracker.finish(execute_run(spec, batch_dir, runner))


def _run_dask(
    todo: list[RunSpec],
    batch_dir: Path,
    runner: Runner | None,
    tracker: _Tracker,
    *,
    workers: int,
    scheduler: str | None,
    client: Any,
    retries: int,
    timeout: float,
) -> None:
    from distributed import as_completed

    with connect_scheduler(
        workers=workers, scheduler=scheduler, client=client, retries=retries, timeout=timeout
    ) as c:
        token = os.urandom(3).hex()
        futures = {
            c.submit(
                execute_run,
                spec,
                str(batch_dir),
                runner,
                key=f"evplan-run-{spec.key}-{token}",
                pure=False,
                retries=retries,
            ): spec
            for spec in todo
        }
        keys = {str(f.key) for f in futures}
        tracker.t_runs = time.perf_counter()
        logger.info(
            "submitted %d runs to %s",
            len(futures),
            getattr(c, "scheduler", None) and c.scheduler.address,
        )
        pending = as_completed(futures, loop=c.loop)
        last_poll = 0.0
        try:
            while not pending.is_empty():
                ready = pending.next_batch(block=False)
                for fut in ready:
                    keys.discard(str(fut.key))
                    tracker.finish(_outcome_of(fut, futures.pop(fut), batch_dir))
                    # recorded: released, so that Dask does not compute it again when the
                    # worker holding its result dies (the run is on disk, not in memory)
                    fut.release()
                if time.perf_counter() - last_poll > 1.0:
                    tracker.running, last_poll = running_runs(c, keys), time.perf_counter()
                    tracker.emit()
                if not ready:
                    time.sleep(0.1)
        except BaseException:
            c.cancel(list(futures))
            raise


def _outcome_of(fut: Any, spec: RunSpec, batch_dir: Path) -> RunOutcome:
    """The run's own outcome, or a failure record when Dask could not run it to the end."""
    if fut.status == "finished":
        return fut.result()
    if fut.status == "cancelled":
        error = "cancelled by Dask (the scheduler or client lost the task)"
    else:
        exc = fut.exception()
        if type(exc).__name__ == "KilledWorker":
            error = (
                f"the worker process died while running it, every time it was tried ({exc}); "
                "out of memory or a crash in native code?"
            )
        else:
            hint = " (is evplan installed on the workers?)" if isinstance(exc, ImportError) else ""
            error = f"Dask could not run it: {describe(exc)}{hint}"
    log = record_failure(spec, batch_dir, error, "")
    return RunOutcome(spec.key, spec.label, spec.params, "failed", log=log, error=error)


def check_batch_folder(plan: BatchPlan, *, overwrite: bool = False) -> Path:
    """Check, before any work, that ``plan.output`` may be the batch folder: the rules of
    :func:`planner.report.atomic.check_output_target` for a batch (not the sweep's or a
    study file's own folder or its parents, not the current folder, no input inside it,
    ...). :func:`run_batch` and ``evplan batch --dry-run`` both call it, so a dry run lists
    no folder the batch would refuse.

    Raises
    ------
    OutputFolderError
        The folder is refused; the message says why and what to do instead.
    """
    sources = [plan.source] if plan.source is not None else sorted({s.source for s in plan.runs})
    return check_output_target(
        plan.output,
        config_path=sources,
        overwrite=overwrite,
        what="batch folder",
        kind="batch",
        inputs=sorted({f for s in plan.runs for f in input_files(s.config)}),
    )


def run_batch(
    plan: BatchPlan,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    runner: Runner | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    retries: int = 1,
    connect_timeout: float = 10.0,
    overwrite: bool = False,
) -> BatchResult:
    """Run every unfinished run of ``plan`` and write the batch summary.

    Parameters
    ----------
    plan : BatchPlan
        From :func:`planner.batch.plan.plan_sweep` or :func:`planner.batch.plan.plan_configs` (validated).
    workers : int, optional
        Local worker processes (default: CPU count, at most the number of runs); 0 runs in this
        process without Dask. Ignored with ``scheduler`` or ``client``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``).
    client : distributed.Client, optional
        An existing client to submit to (not closed here).
    runner : callable, optional
        ``runner(cfg, *, out_dir) -> dict``; default :func:`pipeline_runner`. Must be importable
        by the workers (a module-level function).
    progress : callable, optional
        Called with a :class:`BatchProgress` when a run finishes and about twice a second.
    retries : int
        Extra attempts of a run whose worker died (local cluster) or whose task erred in Dask.
    connect_timeout : float
        Seconds to reach ``scheduler`` and to wait for its first worker.
    overwrite : bool
        Use a non-empty batch folder evplan did not write (``--overwrite``); a batch still
        never deletes files it did not write.

    Returns
    -------
    BatchResult
        Failed runs are in ``result.failed``; nothing is raised for them.

    Raises
    ------
    BatchError
        Folder locked by another batch, Dask missing, scheduler unreachable or without workers,
        or a negative ``workers`` / ``retries`` or a ``connect_timeout`` that is not > 0.
    """
    # (named as the command line's options, like the other messages here)
    if workers is not None and workers < 0:
        raise BatchError(
            f"--workers {workers} must be 0 (this process, no Dask) or a number of worker "
            "processes; omit it for one per core"
        )
    if retries < 0:
        raise BatchError(f"--retries {retries} must be 0 or more extra attempts")
    if not (math.isfinite(connect_timeout) and connect_timeout > 0):
        raise BatchError(
            f"--connect-timeout {connect_timeout:g} must be a positive number of seconds "
            "(e.g. --connect-timeout 10)"
        )
    t0 = time.perf_counter()
    out = plan.output
    if (workers != 0 or scheduler is not None) and client is None:
        if importlib.util.find_spec("distributed") is None:
            raise BatchError(
                "parallel batches need Dask: pip install 'evplan[dist]' "
                "(or run in this process with --workers 0)"
            )
    check_batch_folder(plan, overwrite=overwrite)
    created = missing_folders(out)  # the batch folder and parents this call creates
    runs_dir = out / "runs"
    with batch_lock(out):
        # (cleaned up only by the call holding the lock: never another batch's folder)
        try:
            mark_batch_folder(out)
            if clean_stale_runs(runs_dir, {s.key for s in plan.runs}):
                logger.warning("removed leftovers of an interrupted batch in %s", runs_dir)
            clear_failures(out)  # failures of the last batch; retried now
            previous = {
                s.key: o for s in plan.runs if (o := finished_outcome(s, runs_dir)) is not None
            }
            todo = [s for s in plan.runs if s.key not in previous]
            logger.info(
                "batch %s: %d runs, %d already finished, %d to run",
                plan.name,
                len(plan.runs),
                len(previous),
                len(todo),
            )
            if todo and (previous or (out / "summary.csv").is_file()):
                # the summary as it stands, the runs to do as not_run: a batch killed with
                # no cleanup (SIGKILL, a lost machine) left an earlier batch's summary and
                # chart, listing as done a run being done again (changed input)
                write_batch_outputs(plan, [previous.get(s.key) or _not_run(s) for s in plan.runs])
            tracker = _Tracker(len(plan.runs), len(previous), progress)
            tracker.emit(force=True)
            workers = (
                max(1, min(os.cpu_count() or 1, len(todo)))
                if workers is None
                else min(workers, max(1, len(todo)))
            )
            completed = False
            try:
                if todo and workers == 0 and scheduler is None and client is None:
                    _run_serial(todo, out, runner, tracker)
                elif todo:
                    _run_dask(
                        todo,
                        out,
                        runner,
                        tracker,
                        workers=workers,
                        scheduler=scheduler,
                        client=client,
                        retries=retries,
                        timeout=connect_timeout,
                    )
                completed = True
            finally:
                by_key = {**previous, **{o.key: o for o in tracker.outcomes}}
                for s in plan.runs:  # interrupted: runs that finished while the batch was stopping
                    if s.key not in by_key and (late := finished_outcome(s, runs_dir)) is not None:
                        late.status = "done"
                        by_key[s.key] = late
                ended = bool(by_key)
                outcomes = [by_key.get(s.key) or _not_run(s) for s in plan.runs]
                # an interrupted batch summarises what finished and lists the rest as not_run
                # (its summary must not read as a complete sweep); one that never ran anything
                # (e.g. no scheduler to connect to) writes no empty summary files, unless an
                # earlier batch's summary is there to be replaced (it would pass for this one's)
                if completed or ended or (out / "summary.csv").is_file():
                    files = write_batch_outputs(plan, outcomes)
        finally:
            _remove_unused(created)
    return BatchResult(
        plan=plan,
        outcomes=outcomes,
        summary=files.summary,
        summary_csv=files.summary_csv,
        failures_csv=files.failures_csv,
        chart=files.chart,
        elapsed_s=time.perf_counter() - t0,
    )


#: The ``error`` of a run an interrupted batch did not finish (summary.csv, failures.csv).
NOT_RUN_REASON = "not run: the batch stopped before this run finished; run the same command again"


def _not_run(spec: RunSpec) -> RunOutcome:
    """The outcome of a planned run the batch did not finish (it stopped first)."""
    return RunOutcome(spec.key, spec.label, spec.params, "not_run", error=NOT_RUN_REASON)


def _remove_unused(created: list[Path]) -> None:
    """Remove the batch folder (and the parents) this call created when nothing was written
    into it (a start that failed, e.g. no scheduler to connect to): its marker, lock and
    empty runs/ only. Called while holding the batch lock (a batch that opened the removed
    lock file opens it again: :func:`planner.report.atomic.pid_lock`)."""
    if not created:
        return
    out = created[0]
    with contextlib.suppress(OSError):
        names = {p.name for p in out.iterdir()}
        if not names <= {MARKER, ".batch.lock", "runs"}:
            return
        if "runs" in names:
            (out / "runs").rmdir()  # fails (and keeps everything) unless empty
        for name in (MARKER, ".batch.lock"):
            (out / name).unlink(missing_ok=True)
        remove_empty_folders(created)
