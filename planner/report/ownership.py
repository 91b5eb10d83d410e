"""Who owns an output folder: the marker file evplan puts in every folder it assembles
(:data:`MARKER`, with the list of the files the run wrote), the questions asked of it (did
evplan write this folder, is it a batch folder, which files did the user add) and the
batch-folder boundaries (a study never writes into a batch folder but for the batch's own
run, :func:`batch_run_output`; a batch never writes into a study's folder or another
batch). Also the two errors of output folders. :mod:`planner.report.atomic` claims and
writes output folders with these (and re-exports the public names).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from networks.errors import EvplanError

#: Marker file inside every folder evplan assembles; its presence means "evplan wrote this".
MARKER = ".evplan-output"


class OutputFolderError(EvplanError):
    """The output location cannot be used (foreign folder, a file, the config's folder,
    read-only, full, or in use by another run); nothing was computed or written."""


class OutputWriteError(EvplanError):
    """Writing the outputs failed; the previous output at the target is unchanged."""

    exit_code = 1


# --------------------------------------------------------------------------- ownership


def marker_text(kind: str, files: list[str] | None = None) -> str:
    """The content of :data:`MARKER` for a folder of ``kind`` (with the files evplan wrote)."""
    data: dict[str, Any] = {"tool": "evplan", "kind": kind}
    if files is not None:
        data["files"] = files
    return json.dumps(data) + "\n"


def folder_files(folder: Path) -> list[str]:
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


def records_its_files(folder: str | Path) -> bool:
    """Does the marker of ``folder`` list the files evplan wrote there? (Folders of older
    versions do not: what a user added to them cannot be told from evplan's own files.)"""
    return _written_files(Path(folder)) is not None


def unlisted_files(folder: str | Path) -> list[str]:
    """Files under ``folder`` (relative POSIX paths) its marker does not list as written by
    evplan: the user's, or, for a folder without a list (older), every file but the marker.
    Raises :class:`OutputWriteError` when a subfolder cannot be listed."""
    folder = Path(folder)
    written = _written_files(folder) or set()
    return [rel for rel in folder_files(folder) if rel not in written]


def carry_over_user_files(old: Path, new: Path) -> list[str]:
    """Put into ``new`` the files of ``old`` evplan did not write (by ``old``'s marker list),
    at the same relative paths: hard links (same file system: instant, no copy), else copies.
    ``old`` is not changed. Raises :class:`OutputWriteError` when the
    new output has a file of the same name or a file where the user's file has a folder
    (the user's file would be lost)."""
    written = _written_files(old)
    if written is None:
        return []
    foreign = [rel for rel in folder_files(old) if rel not in written]
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


def is_batch_run(target: str | Path) -> bool:
    """Is ``target`` the run folder the batch's own run may write now
    (:func:`batch_run_output`)? The batch owns it: it replaces it whole when the run is
    done again (a run folder of an older evplan, without a file list, included)."""
    return _BATCH_RUN.get() == Path(target).resolve()


def _enclosing_batch(target: Path) -> Path | None:
    """The batch folder ``target`` is, or lies inside (resolved), or ``None``."""
    for folder in (target, *target.parents):
        with contextlib.suppress(OSError):  # an unreadable folder: not a batch we can see
            if is_batch_folder(folder):
                return folder
    return None


def check_not_in_batch(what: str, target: Path) -> None:
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


def check_batch_target(what: str, target: Path) -> None:
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
