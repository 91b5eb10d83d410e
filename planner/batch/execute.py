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
partly failed batch does only what is left. Hidden temporary folders and logs left by a
killed batch are removed on start; a lock file keeps two batches out of one folder.

Execution: ``workers=0`` runs in this process (no Dask; debugging); otherwise a
``distributed.LocalCluster`` of ``workers`` single-threaded processes, or an existing cluster
at ``scheduler`` (its workers must see the same file system). A run's exception is caught in
the worker and returned as a failure; a worker that dies mid-run is replaced and the run
retried (``retries`` times for a local cluster; an external scheduler uses its own
``allowed-failures``), then reported as failed, never lost. Library code never prints:
progress goes to the ``progress`` callback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from networks._errors import EvplanError
from planner.batch.plan import BatchPlan, RunOutcome, RunSpec
from planner.batch.summary import write_batch_outputs
from planner.config.study import StudyConfig
from planner.report.atomic import atomic_dir, write_text_atomic

logger = logging.getLogger(__name__)

__all__ = [
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "RunOutcome",
    "Runner",
    "SchedulerError",
    "execute_run",
    "finished_runs",
    "local_cluster",
    "pipeline_runner",
    "run_batch",
]

Runner = Callable[..., Mapping[str, Any]]
"""``runner(cfg, *, out_dir) -> summary row``: runs one study and writes its folder atomically."""

DONE = "done.json"
_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_PACKAGES = ("planner", "sim", "networks")


class BatchError(EvplanError):
    """A batch cannot run (folder locked, no workers, Dask missing); the message says why."""


class SchedulerError(BatchError):
    """The Dask scheduler given with ``--scheduler`` cannot be reached or has no workers."""


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


# --------------------------------------------------------------------------- the worker side


def pipeline_runner(cfg: StudyConfig, *, out_dir: Path) -> Mapping[str, Any]:
    """The default runner: the real study pipeline; returns its summary row."""
    from planner.study.run import run_study, summary_row

    return summary_row(run_study(cfg, out_dir=out_dir))


@contextlib.contextmanager
def _run_logging(path: Path) -> Iterator[None]:
    """Send this thread's INFO+ records of evplan's packages to ``path`` while the run lasts.

    Other handlers keep their previous threshold, so running in-process does not make the
    console chattier.
    """
    root = logging.getLogger()
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(logging.INFO)
    ident = threading.get_ident()
    handler.addFilter(lambda record: record.thread == ident)
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
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for n, level in lowered.items():
            logging.getLogger(n).setLevel(level)
        for h in others:
            h.removeFilter(floor)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _describe(exc: BaseException) -> str:
    """One line: the message of a user error, type and message of anything else (a bug)."""
    text = str(exc).strip()
    if isinstance(exc, EvplanError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _record_failure(spec: RunSpec, batch_dir: Path, error: str, detail: str) -> Path:
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
    On failure the log and traceback go to ``failed/<key>/``.
    """
    runner = runner or pipeline_runner
    batch_dir = Path(batch_dir)
    runs = batch_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    final, log_path = (
        runs / spec.key,
        runs / f".{spec.key}.{os.getpid()}-{os.urandom(2).hex()}.run.log",
    )
    worker = _worker_name()
    t0 = time.perf_counter()
    error = detail = ""
    summary: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    with _run_logging(log_path):
        logger.info(
            "run %s (%s) of %s started on %s", spec.label, spec.key, spec.source.name, worker
        )
        try:
            inputs = input_digests(spec.config)  # before the run: what it read
            summary = dict(runner(spec.config, out_dir=final) or {})
        except Exception as exc:  # noqa: BLE001 - isolation: any failure becomes a record
            error, detail = _describe(exc), traceback.format_exc()
            logger.error(
                "run %s failed: %s\n%s", spec.label, error, detail, extra={"run_log_only": True}
            )
        else:
            logger.info("run %s finished in %.1f s", spec.label, time.perf_counter() - t0)
    elapsed = time.perf_counter() - t0
    if error:
        log = _record_failure(spec, batch_dir, error, detail)
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
    if not final.is_dir():  # a runner that wrote nothing still gets a folder, atomically
        with atomic_dir(final):
            pass
    os.replace(log_path, final / "run.log")
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
    write_text_atomic(final / DONE, json.dumps(marker, indent=1, default=_json_default))
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


# --------------------------------------------------------------------------- the batch folder


@contextlib.contextmanager
def _batch_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on the batch folder (released by the OS even if the process is killed)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".batch.lock"
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise BatchError(
                f"another batch is running in {folder} (pid {fh.read().strip() or '?'}); "
                "wait for it or use another output folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _clean_stale(runs: Path) -> int:
    """Remove what a killed batch left: hidden temporaries, logs, and folders with no marker."""
    n = 0
    if not runs.is_dir():
        return 0
    for entry in runs.iterdir():
        unfinished = (
            entry.is_dir() and not entry.name.startswith(".") and not (entry / DONE).is_file()
        )
        if entry.name.startswith(".") or unfinished:
            logger.info("removing %s left by an interrupted batch", entry)
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            n += 1
    return n


_DIGESTS: dict[tuple[str, int, int], str] = {}


def input_digests(cfg) -> dict[str, str]:
    """SHA-256 of every input file a study names (cached by path, size and mtime)."""
    from networks.load import file_sha256
    from planner.config.study import input_files

    out = {}
    for path in input_files(cfg):
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = file_sha256(path)
        out[str(path)] = _DIGESTS[key]
    return out


def _finished(spec: RunSpec, runs: Path) -> RunOutcome | None:
    marker = runs / spec.key / DONE
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    # the key hashes the config, not the data it names: a changed input file makes a run stale
    recorded = data.get("inputs")
    if isinstance(recorded, dict):
        try:
            now = input_digests(spec.config)
        except OSError:
            now = {}
        if now != recorded:
            changed = sorted(set(now.items()) ^ set(recorded.items()))
            logger.warning(
                "run %s: input %s changed since it finished; running it again",
                spec.label,
                changed[0][0] if changed else "?",
            )
            return None
    return RunOutcome(
        spec.key,
        spec.label,
        spec.params,
        "skipped",
        folder=marker.parent,
        log=marker.parent / "run.log",
        elapsed_s=float(data.get("elapsed_s", 0.0)),
        worker=str(data.get("worker", "")),
        summary=dict(data.get("summary", {})),
    )


def finished_runs(plan: BatchPlan) -> set[str]:
    """Keys of the runs of ``plan`` already finished in its folder (what a batch would skip)."""
    return {s.key for s in plan.runs if _finished(s, plan.output / "runs") is not None}


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


def local_cluster(workers: int, *, retries: int = 1) -> Any:
    """A ``distributed.LocalCluster`` for batches: ``workers`` single-threaded processes.

    Each worker takes one run at a time (worker-saturation 1.0), and a run whose worker process
    dies is rescheduled ``retries`` times before it is reported as failed (``KilledWorker``).
    """
    import dask
    from distributed import LocalCluster

    # Worker statistical profiler off: a sampling thread per worker costs CPU on pure-Python runs
    # and nobody reads a batch's profiles (the dashboard is on a free port if wanted).
    with dask.config.set(
        {
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.worker.profile.enabled": False,
        }
    ):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"allowed_failures": retries},
        )


def _client_within(client_cls, address: str, timeout: float):
    """Connect in a daemon thread with a hard deadline: a peer that accepts TCP but never
    answers the Dask handshake (an HTTP server, say) would otherwise hang the connect, and
    one that answers garbage raises arbitrary errors inside distributed."""
    import threading

    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_cls(address, timeout=timeout, set_as_default=False)
        except BaseException as exc:  # noqa: BLE001 - reported below as one clear error
            box["error"] = exc

    t = threading.Thread(target=connect, name="evplan-dask-connect", daemon=True)
    t.start()
    t.join(timeout + 5.0)
    hint = (
        "check the address and that a Dask scheduler (not another service) listens there, or omit "
        "--scheduler to start a local cluster"
    )
    if t.is_alive():
        raise SchedulerError(
            f"no Dask scheduler answered at {address} within {timeout + 5.0:g} s; {hint}"
        )
    if "error" in box:
        exc = box["error"]
        raise SchedulerError(
            f"cannot connect to a Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {str(exc)[:200]}); {hint}"
        )
    return box["client"]


@contextlib.contextmanager
def _connect(
    *, workers: int, scheduler: str | None, client: Any, retries: int, timeout: float
) -> Iterator[Any]:
    """A Dask client: the one given, one connected to ``scheduler``, or a new local cluster."""
    if client is not None:
        yield client
        return
    try:
        from distributed import Client
    except ImportError:
        raise BatchError(
            "parallel batches need Dask: pip install 'evplan[dist]' "
            "(or run in this process with --workers 0)"
        ) from None
    if scheduler:
        address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
        c = _client_within(Client, address, timeout)
        try:
            c.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            c.close()
            raise SchedulerError(
                f"the Dask scheduler at {address} has no workers after {timeout:g} s; "
                f"start some with 'dask worker {address}'"
            ) from None
        try:
            yield c
        finally:
            c.close()
        return
    cluster = local_cluster(workers, retries=retries)
    c = Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _running(client: Any, keys: set[str]) -> int:
    """Runs executing now: our tasks on each worker, at most its thread count."""
    try:
        processing, nthreads = client.processing(), client.nthreads()
    except Exception:  # noqa: BLE001 - progress only; never fail the batch for it
        return 0
    return sum(
        min(len(keys.intersection(map(str, ks))), nthreads.get(w, 1))
        for w, ks in processing.items()
    )


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

    with _connect(
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
                    tracker.finish(_outcome_of(fut, futures[fut], batch_dir))
                if time.perf_counter() - last_poll > 1.0:
                    tracker.running, last_poll = _running(c, keys), time.perf_counter()
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
            error = f"Dask could not run it: {_describe(exc)}{hint}"
    log = _record_failure(spec, batch_dir, error, "")
    return RunOutcome(spec.key, spec.label, spec.params, "failed", log=log, error=error)


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

    Returns
    -------
    BatchResult
        Failed runs are in ``result.failed``; nothing is raised for them.

    Raises
    ------
    BatchError
        Folder locked by another batch, Dask missing, scheduler unreachable or without workers.
    """
    t0 = time.perf_counter()
    out = plan.output
    runs_dir = out / "runs"
    with _batch_lock(out):
        if _clean_stale(runs_dir):
            logger.warning("removed leftovers of an interrupted batch in %s", runs_dir)
        shutil.rmtree(out / "failed", ignore_errors=True)  # failures of the last batch; retried now
        previous = {s.key: o for s in plan.runs if (o := _finished(s, runs_dir)) is not None}
        todo = [s for s in plan.runs if s.key not in previous]
        logger.info(
            "batch %s: %d runs, %d already finished, %d to run",
            plan.name,
            len(plan.runs),
            len(previous),
            len(todo),
        )
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
                if s.key not in by_key and (late := _finished(s, runs_dir)) is not None:
                    late.status = "done"
                    by_key[s.key] = late
            outcomes = [by_key[s.key] for s in plan.runs if s.key in by_key]
            # an interrupted batch summarises what finished; one that never ran anything (e.g. no
            # scheduler to connect to) writes no empty summary files
            if completed or outcomes:
                files = write_batch_outputs(plan, outcomes)
    return BatchResult(
        plan=plan,
        outcomes=outcomes,
        summary=files.summary,
        summary_csv=files.summary_csv,
        failures_csv=files.failures_csv,
        chart=files.chart,
        elapsed_s=time.perf_counter() - t0,
    )
