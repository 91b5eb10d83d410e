"""The batch folder: its lock, what a killed batch left behind, and which runs are finished
(``runs/<key>/done.json`` with the SHA-256 of every input file the run read)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from networks.errors import EvplanError
from planner.batch.plan import BatchError, BatchPlan, RunOutcome, RunSpec
from planner.config.study import StudyConfig
from planner.report.atomic import (
    LOCK_PREFIX,
    MARKER,
    clear_stale_lock,
    pid_lock,
    unlisted_files,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DONE",
    "batch_lock",
    "clean_stale_runs",
    "clear_failures",
    "finished_outcome",
    "finished_runs",
    "input_digests",
    "mark_batch_folder",
]

#: The marker of a finished run (``runs/<key>/done.json``).
DONE = "done.json"


def batch_lock(folder: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock on the batch folder (``.batch.lock``, kept: it also marks the folder
    as a batch's for evplan versions before the marker file)."""

    def busy(pid: str) -> Exception:
        return BatchError(
            f"another batch is running in {folder} (pid {pid}); "
            "wait for it or use another output folder"
        )

    return pid_lock(folder / ".batch.lock", busy)


def _key_of(name: str) -> str:
    """The run key an entry under ``runs/`` is named for: a run folder ``<key>``, its
    hidden temporaries ``.<key>.*`` and its output lock ``.evplan-lock.<key>``."""
    if name.startswith(LOCK_PREFIX):
        return name[len(LOCK_PREFIX) :]
    if name.startswith("."):
        return name[1:].split(".", 1)[0]
    return name


def clean_stale_runs(runs: Path, keys: set[str]) -> int:
    """Remove what a killed batch left of the runs of this plan (``keys``): their hidden
    temporaries (``.<key>.*.partial`` folders carrying :data:`MARKER`, ``.<key>.*.run.log``
    files), output locks no process holds, and unfinished run folders holding only what the
    batch wrote. A run folder ``.<key>.old-*`` moved aside by
    a run killed mid-swap is put back when ``<key>`` is missing (it is the previous output,
    with the user's files). A run whose output lock a process still holds goes on elsewhere
    (a cancelled Dask task keeps running): none of its files is touched.

    Nothing else is removed: an unfinished run folder of this plan holding files the user
    added is replaced by its run (:func:`planner.report.atomic.atomic_dir` carries them
    over), and anything else under ``runs/`` (another plan's runs, a user's study or files)
    is not this batch's and is left alone (logged)."""
    n = 0
    if not runs.is_dir():
        return 0
    entries = sorted(runs.iterdir())
    live: set[str] = set()
    for entry in entries:
        key = _key_of(entry.name)
        if entry.name.startswith(LOCK_PREFIX) and key in keys and entry.is_file():
            if clear_stale_lock(entry):
                live.add(key)
                logger.warning("leaving run %s's files alone: a run still holds %s", key, entry)
            else:
                logger.info("removed %s left by an interrupted batch", entry)
                n += 1
    for entry in entries:
        key = _key_of(entry.name)
        if key in live or (entry.name.startswith(LOCK_PREFIX) and key in keys):
            continue  # a live run's, or a lock handled above
        if not entry.name.startswith("."):
            if key in keys and not (entry / DONE).is_file() and _only_batch_files(entry):
                logger.info("removing %s, an unfinished run of this batch", entry)
                shutil.rmtree(entry, ignore_errors=True)
                n += 1
            elif key not in keys and not (entry / DONE).is_file():
                logger.warning("leaving %s alone: not a run of this batch", entry)
            continue  # a run folder with the user's files (its run replaces only its own)
        if key not in keys or not _temporary(entry):
            logger.warning("leaving %s alone: not a temporary of this batch's runs", entry)
            continue
        if ".old-" in entry.name and not (runs / key).exists():
            os.replace(entry, runs / key)
            logger.warning("restored %s, moved aside by a run that was killed", runs / key)
            continue
        logger.info("removing %s left by an interrupted batch", entry)
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        n += 1
    return n


def _only_batch_files(folder: Path) -> bool:
    """Did a batch write everything in the run folder ``folder``: it carries the marker
    and holds only the files the marker lists, ``run.log`` and ``done.json``?"""
    if not folder.is_dir() or folder.is_symlink() or not (folder / MARKER).is_file():
        return False
    try:
        return not [f for f in unlisted_files(folder) if f not in (DONE, "run.log")]
    except (OSError, EvplanError):  # a subfolder that cannot be listed: not known to be ours
        return False


def _temporary(entry: Path) -> bool:
    """Is the hidden ``entry`` a temporary evplan makes for a run: its log while it runs,
    or a partial or moved-aside run folder (they carry the marker)?"""
    if entry.is_file():
        return entry.name.endswith(".run.log")
    return (
        entry.is_dir()
        and (entry.name.endswith(".partial") or ".old-" in entry.name)
        and (entry / MARKER).is_file()
    )


def clear_failures(batch_dir: Path) -> None:
    """Remove the failure records of the last batch (``failed/<key>/`` folders evplan
    wrote: they hold its ``error.txt`` and ``run.log`` only); their runs are retried."""
    failed = batch_dir / "failed"
    if not failed.is_dir():
        return
    for entry in failed.iterdir():
        if entry.is_dir() and {p.name for p in entry.iterdir()} <= {"error.txt", "run.log"}:
            shutil.rmtree(entry, ignore_errors=True)
    with contextlib.suppress(OSError):
        failed.rmdir()  # only when empty


def mark_batch_folder(folder: Path) -> None:
    """Put the evplan marker at the root of a batch folder (once)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MARKER).is_file():
        (folder / MARKER).write_text(
            json.dumps({"tool": "evplan", "kind": "batch"}) + "\n", encoding="utf-8"
        )


_DIGESTS: dict[tuple[str, int, int], str] = {}


def input_digests(cfg: StudyConfig) -> dict[str, str]:
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


def _record(data: object, key: str) -> dict[str, Any] | None:
    """``data`` when it is a done.json as the batch writes it for run ``key``: an object with
    that key, the input digests (path -> hex text), a summary object and a number of
    seconds; else ``None``."""
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    inputs, elapsed = data.get("inputs"), data.get("elapsed_s", 0.0)
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        return None
    if not isinstance(data.get("summary", {}), dict) or not isinstance(data.get("worker", ""), str):
        return None
    if isinstance(elapsed, bool) or not isinstance(elapsed, int | float):
        return None
    return data


def finished_outcome(spec: RunSpec, runs: Path, *, quiet: bool = False) -> RunOutcome | None:
    """The recorded outcome of ``spec`` when ``runs/<key>/done.json`` is the record the batch
    wrote for it and its inputs are those it would read now; ``None`` otherwise (the run is
    done again; ``quiet``: without logging why)."""
    marker = runs / spec.key / DONE
    try:
        raw = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data = _record(raw, spec.key)
    if data is None:
        # anything else (edited, copied from another run, from an older evplan without the
        # input digests) is not trusted: its summary could be anyone's
        if not quiet:
            logger.warning(
                "run %s: %s is not the record this batch writes for it; running it again",
                spec.label,
                marker,
            )
        return None
    # the key hashes the config, not the data it names: a changed input file makes a run stale
    recorded = data["inputs"]
    try:
        now = input_digests(spec.config)
    except OSError:
        now = {}
    if now != recorded:
        if not quiet:
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
        worker=data.get("worker", ""),
        summary=dict(data.get("summary", {})),
    )


def finished_runs(plan: BatchPlan) -> set[str]:
    """Keys of the runs of ``plan`` already finished in its folder (what a batch would skip)."""
    return {s.key for s in plan.runs if finished_outcome(s, plan.output / "runs") is not None}
