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
fails the run with the previous folder untouched. Folders written before the list existed
are replaced whole, as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from networks.atomic import (
    atomic_path,
    nearest_existing,
    probe_new_file,
    write_bytes_atomic,
    write_text_atomic,
)
from networks.errors import EvplanError
from planner.report.locks import LOCK_PREFIX, clear_stale_lock, pid_lock

__all__ = [
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

#: Marker file inside every folder evplan assembles; its presence means "evplan wrote this".
MARKER = ".evplan-output"

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


class OutputFolderError(EvplanError):
    """The output location cannot be used (foreign folder, a file, the config's folder,
    read-only, full, or in use by another run); nothing was computed or written."""


class OutputWriteError(EvplanError):
    """Writing the outputs failed; the previous output at the target is unchanged."""

    exit_code = 1


# --------------------------------------------------------------------------- ownership


def _marker_text(kind: str, files: list[str] | None = None) -> str:
    data: dict[str, Any] = {"tool": "evplan", "kind": kind}
    if files is not None:
        data["files"] = files
    return json.dumps(data) + "\n"


def _tree(folder: Path) -> list[str]:
    """Relative POSIX paths of every file (and symlink) under ``folder``, the marker aside.
    A subfolder that cannot be listed fails the run (its files could not be kept)."""

    def unreadable(exc: OSError) -> None:
        raise OutputWriteError(
            f"cannot list {exc.filename} ({exc.strerror or exc}); evplan keeps the files you add "
            "to its output folders and cannot see these: make the folder readable or move it "
            "away (the previous output folder is unchanged)"
        )

    out = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        base = Path(root).relative_to(folder)
        # a symlink to a folder is listed, not followed
        links = [d for d in dirs if (Path(root) / d).is_symlink()]
        for name in (*files, *links):
            rel = (base / name).as_posix()
            if rel != MARKER:
                out.append(rel)
    return sorted(out)


def _marker_data(folder: Path) -> dict[str, Any] | None:
    """The marker of ``folder``: ``None`` when it has none, ``{}`` when it cannot be read."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(marker.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


def _written_files(folder: Path) -> set[str] | None:
    """The files the marker of ``folder`` says evplan wrote (None: no list, an older folder)."""
    files = (_marker_data(folder) or {}).get("files")
    return {str(f) for f in files} if isinstance(files, list) else None


def unlisted_files(folder: str | Path) -> list[str]:
    """Files under ``folder`` (relative POSIX paths) its marker does not list as written by
    evplan: the user's, or, for a folder without a list (older), every file but the marker.
    Raises :class:`OutputWriteError` when a subfolder cannot be listed."""
    folder = Path(folder)
    written = _written_files(folder) or set()
    return [rel for rel in _tree(folder) if rel not in written]


def _carry_over(old: Path, new: Path) -> list[str]:
    """Put into ``new`` the files of ``old`` evplan did not write (by ``old``'s marker list),
    at the same relative paths: hard links (same file system: instant, no copy), else copies.
    ``old`` is not changed. Raises :class:`OutputWriteError` when the
    new output has a file of the same name or a file where the user's file has a folder
    (the user's file would be lost)."""
    written = _written_files(old)
    if written is None:
        return []
    foreign = [rel for rel in _tree(old) if rel not in written]
    for rel in foreign:
        blocked = any((new / p).exists() and not (new / p).is_dir() for p in Path(rel).parents)
        if blocked or (new / rel).exists() or (new / rel).is_symlink():
            raise OutputWriteError(
                f"{old / rel} was not written by evplan and the new output has a file of the "
                "same name; move or rename it, then run again (the previous output folder is "
                "unchanged)"
            )
    for rel in foreign:
        src, dst = old / rel, new / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
            continue
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return foreign


def is_evplan_output(folder: str | Path) -> bool:
    """Did evplan write ``folder``? (It holds :data:`MARKER`, or, for folders written before
    the marker existed, a ``manifest.json`` that names evplan's package versions.)"""
    folder = Path(folder)
    marker = _marker_data(folder)
    if marker is not None:
        return marker.get("tool") == "evplan"
    if (folder / ".batch.lock").is_file():  # a batch folder from before the marker
        return True
    manifest = folder / "manifest.json"
    if manifest.is_file():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            data: Any = json.loads(manifest.read_text(encoding="utf-8"))
            return "evplan" in (data.get("packages") or {})
    return False


def is_batch_folder(folder: str | Path) -> bool:
    """Is ``folder`` a batch folder (``evplan batch`` wrote it: its ``runs/`` and summaries)?"""
    folder = Path(folder)
    data = _marker_data(folder)
    if data is not None:
        return data.get("tool") == "evplan" and data.get("kind") == "batch"
    return (folder / ".batch.lock").is_file()  # a batch folder from before the marker


#: The run folder the batch's own run in this thread (or task) may write inside its batch
#: folder (:func:`batch_run_output`); every other output there is refused.
_BATCH_RUN: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "evplan_batch_run", default=None
)


@contextlib.contextmanager
def batch_run_output(folder: str | Path) -> Iterator[None]:
    """Let the run of a batch write its folder ``runs/<key>`` inside the batch folder while
    the block runs (in this thread only: a Dask worker runs one task per thread)."""
    token = _BATCH_RUN.set(Path(folder).resolve())
    try:
        yield
    finally:
        _BATCH_RUN.reset(token)


def _enclosing_batch(target: Path) -> Path | None:
    """The batch folder ``target`` is, or lies inside (resolved), or ``None``."""
    for folder in (target, *target.parents):
        with contextlib.suppress(OSError):  # an unreadable folder: not a batch we can see
            if is_batch_folder(folder):
                return folder
    return None


def _check_not_in_batch(what: str, target: Path) -> None:
    """Refuse a study output that is a batch folder or lies inside one (its ``runs/``, a
    run folder, ``failed/``), unless it is the batch's own run (:func:`batch_run_output`):
    replacing a finished run left its done.json describing the old run, and the batch
    summarised stale values (and replacing the batch folder lost every run)."""
    batch = _enclosing_batch(target)
    if batch is None or target == _BATCH_RUN.get():
        return
    where = "is a batch folder" if batch == target else f"is inside the batch folder {batch}"
    raise OutputFolderError(
        f"{what} ({target}) {where} (evplan batch wrote it: its runs and summaries); a study "
        "never writes into one, even with --overwrite: choose another -o/--out outside it"
    )


def _check_batch_target(what: str, target: Path) -> None:
    """Refuse a batch into a study's output folder (the batch would mix its runs into it,
    and a later study run into that folder replaced the batch), or into a folder inside
    another batch folder; even with --overwrite: the study's files are the user's results."""
    batch = _enclosing_batch(target)
    if batch is not None and batch != target:
        raise OutputFolderError(
            f"{what} ({target}) is inside the batch folder {batch}; a batch never writes into "
            "another one: choose another -o/--output outside it"
        )
    if batch is None and target.is_dir() and is_evplan_output(target):
        raise OutputFolderError(
            f"{what} ({target}) is the output folder of a study (evplan run/simulate/optimize "
            "wrote it); a batch never writes into one, even with --overwrite: choose a new or "
            "empty folder with -o/--output"
        )


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


def check_output_target(
    path: str | Path,
    *,
    config_path: str | Path | Sequence[str | Path] | None = None,
    overwrite: bool = False,
    what: str = "output folder",
    kind: str = "study",
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
    if target.exists() and not target.is_dir():
        raise OutputFolderError(
            f"{what} {raw!r} is an existing file ({target}), not a folder; evplan will not "
            "replace it: give a folder name"
        )
    if kind != "batch":
        _check_not_in_batch(f"{what} {raw!r}", target)
    else:
        _check_batch_target(f"{what} {raw!r}", target)
    if target.is_dir() and any(target.iterdir()) and not is_evplan_output(target):
        if not overwrite:
            raise OutputFolderError(
                f"{what} {raw!r} ({target}) is a non-empty folder evplan did not write; "
                "choose a new or empty folder, or pass --overwrite to replace it and everything in it"
            )
    _probe_writable(target.parent, f"{what} {raw!r}")
    if target.is_dir():  # it is renamed away when replaced: it must accept changes too
        _probe_writable(target, f"{what} {raw!r}")
    return target


def _clean_leftovers(target: Path) -> int:
    """Remove hidden temporaries of earlier, killed runs into ``target`` (only those that
    carry the marker, i.e. that evplan created). A previous output moved aside by a run
    killed before the new one took its place (``target`` missing) is put back instead."""
    n = 0
    parent = target.parent
    if not parent.is_dir():
        return 0
    for entry in sorted(parent.glob(f".{target.name}.*")):
        ours = entry.is_dir() and (entry / MARKER).is_file()
        if ours and ".old-" in entry.name and not target.exists():
            os.replace(entry, target)
            logger.warning("restored %s, moved aside by a run that was killed", target)
            continue
        if ours and (entry.name.endswith(".partial") or ".old-" in entry.name):
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
) -> Iterator[Path]:
    """Check ``path`` (:func:`check_output_target`), lock it and clean leftovers of killed
    runs; yields the resolved target. Use :func:`atomic_dir` inside to write it. Parent
    folders created for the lock are removed again when the run wrote nothing (it failed)."""
    target = check_output_target(path, config_path=config_path, overwrite=overwrite, what=what)
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
        _check_not_in_batch(str(path), path.resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        (tmp / MARKER).write_text(_marker_text(kind), encoding="utf-8")
        yield tmp
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp creates 0700
        # the marker lists the files this run wrote (anything else in a later look is not ours)
        (tmp / MARKER).write_text(_marker_text(kind, _tree(tmp)), encoding="utf-8")
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
            # what the user added to the previous folder goes into the new one (nothing for a
            # folder without a marker file list: older, or foreign with --overwrite)
            kept = _carry_over(path, tmp)
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
                    (path / MARKER).write_text(_marker_text(kind), encoding="utf-8")
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
