"""Atomic writes and output-folder ownership: an interrupted or failed run never leaves a
half-written file or folder, and evplan only ever replaces a folder it wrote itself.

Files are written by evplan's one file writer, :mod:`networks.atomic` (re-exported here):
a hidden temporary sibling moved into place with ``os.replace``. Whole output folders are assembled in a hidden
temporary sibling folder (``.NAME.XXXX.partial``) and renamed into place at the end.

Every folder evplan assembles carries a marker file, :data:`MARKER`. Before a run starts,
:func:`claim_output` checks the target and takes a lock on it:

* a target that is a file, ``.``/``..``, the current folder or one of its parents, or the
  study file's own folder or one of its parents is refused;
* a batch folder or anything inside it (its ``runs/``, a run folder) is refused, even with
  ``overwrite``: only the batch's own run writes there (:func:`batch_run_output`);
* a batch (``kind="batch"``) is refused in a study's output folder or inside another batch
  folder, even with ``overwrite``;
* a non-empty folder without the marker (a folder evplan did not write) is refused unless
  the user passes ``overwrite=True`` (``--overwrite``);
* the nearest existing parent must accept a file (a write probe: read-only or full
  locations are reported before any computation);
* a second run into the same target while the first holds the lock is refused;
* hidden ``.partial`` / ``.old-*`` leftovers of killed runs into the same target (they carry
  the marker) are removed.

The marker lists the files the run wrote. When a run replaces an evplan folder, anything in
it that is not on that list (a user's notes or analysis saved into the folder) is carried
over into the new folder (hard-linked, or copied); a file the new output would replace
fails the run with the previous folder untouched. A study folder written before the list
existed is refused like a foreign one unless ``overwrite``: the files a user added there
could not be told from evplan's own and would be lost (they were, until 2026-12-07).

The marker, the ownership questions asked of a folder and the batch-folder boundaries live
in :mod:`planner.report.ownership` (with the two errors of output folders); this module
claims targets and writes folders, and re-exports those public names.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from networks.atomic import (
    atomic_path,
    nearest_existing,
    probe_new_file,
    write_bytes_atomic,
    write_text_atomic,
)
from planner.report.locks import LOCK_PREFIX, clear_stale_lock, pid_lock
from planner.report.ownership import (
    MARKER,
    OutputFolderError,
    OutputWriteError,
    batch_run_output,
    carry_over_user_files,
    check_batch_target,
    check_not_in_batch,
    folder_files,
    is_batch_folder,
    is_batch_run,
    is_evplan_output,
    marker_text,
    records_its_files,
    unlisted_files,
)

__all__ = [
    "BATCH_OWN_NAMES",
    "LOCK_PREFIX",
    "MARKER",
    "OutputFolderError",
    "OutputWriteError",
    "atomic_dir",
    "atomic_path",
    "batch_run_output",
    "check_output_target",
    "claim_output",
    "clear_stale_lock",
    "is_batch_folder",
    "is_evplan_output",
    "missing_folders",
    "pid_lock",
    "remove_empty_folders",
    "unlisted_files",
    "write_bytes_atomic",
    "write_text_atomic",
]

logger = logging.getLogger(__name__)

#: What a batch writes at the root of its folder (``batch --overwrite`` replaces these
#: names in a folder evplan did not write, and keeps every other file).
BATCH_OWN_NAMES = (
    "runs/",
    "failed/",
    "summary.csv",
    "summary.parquet",
    "failures.csv",
    "coverage_vs_budget.png",
)

#: Output folders :func:`atomic_dir` put in place in this process (the CLI reports a stop
#: after one of them as "complete", not as "nothing was written").
_COMMITTED: list[Path] = []


def committed_outputs() -> list[Path]:
    """The output folders this process has completed (moved into place), oldest first."""
    return list(_COMMITTED)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the previous output is swapped for the new one: a stop
    between moving the old folder aside and removing it would leave both, or neither, in
    place. Delivered (to the handlers in force before) once the swap is done. Only the main
    thread has Python signal handlers; elsewhere (a Dask worker's thread) nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in held}
    for s in held:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(caught):  # (each once: a second Ctrl-C adds nothing)
            signal.raise_signal(signum)


#: Free space below which a write location is reported as full before any work starts.
MIN_FREE_BYTES = 20 * 1024 * 1024


def _within(path: Path, folder: Path) -> bool:
    """Is ``folder`` equal to ``path`` or one of its parents?"""
    return folder == path or folder in path.parents


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove a small file in the nearest existing ancestor of ``folder``
    (:func:`networks.atomic.probe_new_file`), then check its free space."""
    base = nearest_existing(folder)
    if not base.is_dir():
        raise OutputFolderError(f"{what}: {base} is a file, not a folder; choose another -o/--out")
    try:
        probe_new_file(base)
    except OSError as exc:
        reason = {
            errno.EROFS: "is on a read-only file system",
            errno.EACCES: "is not writable (permission denied)",
            errno.EPERM: "is not writable (permission denied)",
            errno.ENOSPC: "has no space left",
            errno.EDQUOT: "is over its disk quota",
        }.get(exc.errno or 0, f"cannot be written ({exc.strerror or exc})")
        raise OutputFolderError(
            f"{what}: {base} {reason}; choose another output folder with -o/--out"
        ) from None
    free = shutil.disk_usage(base).free
    if free < MIN_FREE_BYTES:
        raise OutputFolderError(
            f"{what}: {base} has only {free / 1e6:.1f} MB free (evplan needs at least "
            f"{MIN_FREE_BYTES / 1e6:.0f} MB for its outputs); free space or choose another -o/--out"
        )


#: A study folder of an older evplan, whose marker lists no files (or that has none)
_UNLISTED = (
    "{what} was written by an older evplan that did not record which files are its own, so "
    "files you added there could not be kept: move them out, then pass --overwrite to "
    "replace it (it was left as it was)"
)


def check_output_target(
    path: str | Path,
    *,
    config_path: str | Path | Sequence[str | Path] | None = None,
    overwrite: bool = False,
    what: str = "output folder",
    kind: str = "study",
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Check, before any work, that ``path`` may become (or replace) an evplan output folder.

    Parameters
    ----------
    path : path
        The output folder as the user gave it.
    config_path : path or list of paths, optional
        The study (or sweep) file(s): their folders and those folders' parents are refused.
    overwrite : bool
        Allow replacing a non-empty folder evplan did not write (``--overwrite``).
    what : str
        How to name the target in messages (e.g. ``"--out"``, ``"outputs.folder"``).
    kind : str
        What will be written there: ``"study"`` (a batch folder or a folder inside one is
        refused) or ``"batch"``.
    inputs : list of paths
        The files the run reads (:func:`planner.config.study.input_files`): a target that
        is or holds one is refused, ``overwrite`` or not (``evplan simulate --overwrite -o
        <data>/kz`` replaced the folder with the very district files it had read).

    Returns
    -------
    Path
        The resolved target.

    Raises
    ------
    OutputFolderError
        The target is refused; the message says why and what to do instead.
    """
    raw = str(path)
    given = Path(path)
    if raw.strip() == "":
        raise OutputFolderError(
            f"{what} is empty (an unset shell variable?); give a new or empty folder such as "
            "runs/<study>"
        )
    if given.name in ("", ".", ".."):
        raise OutputFolderError(
            f"{what} {raw!r} names the current folder or a parent; give a new or empty "
            "folder such as runs/<study>"
        )
    target = given.resolve()
    cwd = Path.cwd().resolve()
    if _within(cwd, target):
        raise OutputFolderError(
            f"{what} {raw!r} is the current folder or one of its parents ({target}); "
            "evplan replaces its output folder whole, so give a new folder such as runs/<study>"
        )
    sources = (
        []
        if config_path is None
        else [config_path]
        if isinstance(config_path, str | Path)
        else list(config_path)
    )
    for source in sources:
        cfg_dir = Path(source).resolve().parent
        if _within(cfg_dir, target):
            raise OutputFolderError(
                f"{what} {raw!r} is the study file's own folder or one of its parents "
                f"({target}; study file {source}); give a new folder such as runs/<study>"
            )
    held = sorted(str(f) for f in (Path(i).resolve() for i in inputs) if _within(f, target))
    if held:
        more = f" and {len(held) - 1} more" if len(held) > 1 else ""
        raise OutputFolderError(
            f"{what} {raw!r} ({target}) holds an input of the study ({held[0]}{more}); "
            "evplan replaces its output folder whole, even with --overwrite it will not "
            "replace its own inputs: give a new folder such as runs/<study>"
        )
    if target.exists() and not target.is_dir():
        raise OutputFolderError(
            f"{what} {raw!r} is an existing file ({target}), not a folder; evplan will not "
            "replace it: give a folder name"
        )
    if kind != "batch":
        check_not_in_batch(f"{what} {raw!r}", target)
    else:
        check_batch_target(f"{what} {raw!r}", target)
    if (
        kind != "batch"
        and not overwrite
        and not is_batch_run(target)
        and target.is_dir()
        and is_evplan_output(target)
        and not records_its_files(target)
    ):
        raise OutputFolderError(_UNLISTED.format(what=f"{what} {raw!r} ({target})"))
    if target.is_dir() and any(target.iterdir()) and not is_evplan_output(target):
        if not overwrite:
            # a batch's --overwrite keeps the folder's other files: say so, not "replace it"
            what_overwrite = (
                f"pass --overwrite to write the batch there: it keeps your files, except any "
                f"named like its own ({', '.join(BATCH_OWN_NAMES)}), which it replaces"
                if kind == "batch"
                else "pass --overwrite to replace it and everything in it"
            )
            raise OutputFolderError(
                f"{what} {raw!r} ({target}) is a non-empty folder evplan did not write; "
                f"choose a new or empty folder, or {what_overwrite}"
            )
    _probe_writable(target.parent, f"{what} {raw!r}")
    if target.is_dir():  # it is renamed away when replaced: it must accept changes too
        _probe_writable(target, f"{what} {raw!r}")
    return target


def _leftover_pattern(name: str) -> re.Pattern[str]:
    """The names of the hidden temporaries a run into a target called ``name`` makes: its
    folder being assembled, ``.NAME.XXXX.partial`` (``XXXX`` from :func:`tempfile.mkdtemp`,
    never a dot), and the previous output moved aside, ``.NAME.old-PID``. Matched whole,
    with ``name`` taken literally: a glob ``.NAME.*`` also took the temporaries of a target
    ``NAME.v2`` (``.NAME.v2.XXXX.partial``), which another run, not holding this target's
    lock, was still writing (review of 2026-12-07), and a ``*`` in the name matched any."""
    return re.compile(re.escape(f".{name}.") + r"(?:[^./]+\.partial|old-(\d+))")


def _clean_leftovers(target: Path) -> int:
    """Remove hidden temporaries of earlier, killed runs into ``target`` (only those that
    carry the marker, i.e. that evplan created, and are named for this target exactly:
    :func:`_leftover_pattern`). A previous output moved aside by a run killed before the
    new one took its place (``target`` missing) is put back instead.

    Called while this run holds ``target``'s lock, so no live run is writing them: a run
    makes them only while it holds that lock."""
    n = 0
    parent = target.parent
    if not parent.is_dir():
        return 0
    pattern = _leftover_pattern(target.name)
    for entry in sorted(parent.iterdir()):
        match = pattern.fullmatch(entry.name)
        if match is None or not (entry.is_dir() and (entry / MARKER).is_file()):
            continue
        old = match.group(1) is not None
        if old and not target.exists():
            os.replace(entry, target)
            logger.warning("restored %s, moved aside by a run that was killed", target)
            continue
        shutil.rmtree(entry, ignore_errors=True)
        n += 1
    return n


def _lock(target: Path, what: str) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock on ``target`` for the whole run (a lock file beside it)."""

    def busy(pid: str) -> Exception:
        return OutputFolderError(
            f"{what} {target} is being written by another evplan run (pid {pid}); "
            "wait for it to finish or choose another output folder"
        )

    return pid_lock(target.parent / f"{LOCK_PREFIX}{target.name}", busy, remove=True)


@contextlib.contextmanager
def claim_output(
    path: str | Path,
    *,
    config_path: str | Path | None = None,
    overwrite: bool = False,
    what: str = "output folder",
    inputs: Sequence[str | Path] = (),
) -> Iterator[Path]:
    """Check ``path`` (:func:`check_output_target`), lock it and clean leftovers of killed
    runs; yields the resolved target. Use :func:`atomic_dir` inside to write it. Parent
    folders created for the lock are removed again when the run wrote nothing (it failed)."""
    target = check_output_target(
        path, config_path=config_path, overwrite=overwrite, what=what, inputs=inputs
    )
    created = missing_folders(target.parent)
    try:
        with _lock(target, what):
            _clean_leftovers(target)
            yield target
    finally:
        if not target.exists():
            remove_empty_folders(created)


def missing_folders(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first: the folders a
    ``mkdir(parents=True)`` of ``path`` would create (for :func:`remove_empty_folders`)."""
    return [p for p in (path, *path.parents) if not p.exists()]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as :func:`missing_folders` lists them) while they
    are empty: the first that is not (or is gone) stops it, its parents hold it."""
    with contextlib.suppress(OSError):
        for folder in folders:
            folder.rmdir()


def _check_same_folder(tmp: Path, path: Path) -> None:
    """Raise :class:`OutputWriteError` unless ``tmp`` still holds the :data:`MARKER` written
    at its start. Removed meanwhile by another process, its files written before are gone,
    and a writer that creates its parent folders may have made a new ``tmp`` holding only
    the later ones, which must not become ``path`` (a run whose temporary folder another run
    removed committed a folder without its tables: review of 2026-12-07). No writer makes
    the marker, so a new folder lacks it (its inode number may well be the old one's)."""
    if not (tmp / MARKER).is_file():
        raise OutputWriteError(
            f"could not write {path}: its temporary folder {tmp} was removed by another "
            f"process while the run wrote it; {path} is unchanged. Run again, and make sure "
            "no other program cleans that folder meanwhile"
        )


@contextlib.contextmanager
def atomic_dir(
    path: str | Path,
    *,
    overwrite: bool = True,
    kind: str = "study",
    foreign_ok: bool = False,
) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``path`` only on success.

    Yields the temporary folder to write into (it already holds :data:`MARKER`). On any
    exception (including ``KeyboardInterrupt``) the temporary folder is removed and
    ``path`` is untouched. An existing ``path`` is replaced only when it is empty or evplan
    wrote it (or ``foreign_ok``, the user's explicit ``--overwrite``); ``overwrite=False``
    refuses any existing ``path``. Files in an evplan-written ``path`` that its marker does
    not list (added by the user) are carried over into the new folder (module docstring). An
    interruption between moving the old folder aside and moving the new one in puts the
    old one back.
    """
    path = Path(path)
    if kind != "batch":
        check_not_in_batch(str(path), path.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        (tmp / MARKER).write_text(marker_text(kind), encoding="utf-8")
        yield tmp
        _check_same_folder(tmp, path)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp creates 0700
        # the marker lists the files this run wrote (anything else in a later look is not ours)
        (tmp / MARKER).write_text(marker_text(kind, folder_files(tmp)), encoding="utf-8")
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise FileExistsError(path)
            if not path.is_dir() or path.is_symlink():
                raise OutputFolderError(f"{path} is not a folder; evplan will not replace it")
            if any(path.iterdir()) and not is_evplan_output(path) and not foreign_ok:
                raise OutputFolderError(
                    f"{path} is a non-empty folder evplan did not write; it was left as it "
                    "was (pass --overwrite to replace it)"
                )
            if (
                kind != "batch"
                and not foreign_ok
                and not is_batch_run(path)
                and any(path.iterdir())
                and not records_its_files(path)
            ):
                raise OutputFolderError(_UNLISTED.format(what=str(path)))
            # what the user added to the previous folder goes into the new one (nothing for a
            # folder without a marker file list: older, or foreign with --overwrite)
            kept = carry_over_user_files(path, tmp)
            if kept:
                logger.warning(
                    "kept %d file(s) evplan did not write in %s: %s",
                    len(kept),
                    path,
                    ", ".join(kept[:5]) + (" ..." if len(kept) > 5 else ""),
                )
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            if not (path / MARKER).is_file():
                # a folder the user asked to replace (--overwrite): marked so that a crash
                # after the swap leaves a leftover the next run may remove; an evplan
                # folder keeps its own marker (its file list says what the user added)
                with contextlib.suppress(OSError):
                    (path / MARKER).write_text(marker_text(kind), encoding="utf-8")
            with _signals_held():
                os.replace(path, old)
                try:
                    os.replace(tmp, path)
                except BaseException:
                    os.replace(old, path)  # put the previous output back
                    raise
                _COMMITTED.append(path)
                shutil.rmtree(old, ignore_errors=True)
        else:
            with _signals_held():
                os.replace(tmp, path)
                _COMMITTED.append(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
