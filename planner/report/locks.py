"""Process locks on files: :func:`pid_lock`, an exclusive ``flock`` holding the owner's
pid (the OS releases it when the process dies), and :func:`clear_stale_lock` for a lock
file a killed run left behind. Output folders (:mod:`planner.report.atomic`) and batch
folders (:mod:`planner.batch.folder`) lock through them.

An ``flock`` belongs to the open file, which a forked child shares: it lasts until the last
process holding the file closes it. A run's forked workers (the Dijkstra pool, the
replications) would keep its lock after the run itself was killed, so the next run into
the folder was refused as "being written by another evplan run" of a dead pid (review of
2026-12-07). Every forked child therefore closes its copies of the locks held at the
fork (:func:`_drop_in_child`): closing, not unlocking, which would free the parent's lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

#: the lock files this process holds (:func:`pid_lock`), closed in forked children
_HELD: set[IO[str]] = set()


def _drop_in_child() -> None:
    """In a forked child: close the copies of the parent's lock files (the parent keeps its
    locks; the child never held them)."""
    for fh in list(_HELD):
        with contextlib.suppress(OSError):
            fh.close()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


@contextlib.contextmanager
def pid_lock(
    path: Path, busy: Callable[[str], Exception], *, remove: bool = False
) -> Iterator[None]:
    """An exclusive ``flock`` on the file ``path`` holding this process's pid, for as long as
    the block runs (the OS releases it when a process dies). A second holder gets
    ``busy(pid_of_the_first)`` raised. ``remove`` deletes the file afterwards."""
    import fcntl

    while True:
        # (again on each try: a failed run's cleanup may have removed the folder meanwhile)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise busy(pid) from None
        # a holder that removed the file (``remove``, :func:`clear_stale_lock`) between our
        # open and our flock leaves us locking a file no one else can see: open it again
        try:
            same = os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()  # releases the flock
    _HELD.add(fh)
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            if remove:  # while still held: no one can take the lock on the file removed
                with contextlib.suppress(OSError):
                    path.unlink()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        _HELD.discard(fh)
        fh.close()


#: The lock file of an output folder ``X``: ``.evplan-lock.X`` beside it.
LOCK_PREFIX = ".evplan-lock."


def clear_stale_lock(path: Path) -> bool:
    """Remove the lock file ``path`` of :func:`pid_lock` unless a process holds it; True
    when one does (a run still going, here or on another machine sharing the folder).

    A lock nobody holds was left by a run that was killed or cancelled before it could
    remove it. It is removed while this process holds it, so that a run starting meanwhile
    either waits for this check or locks the file anew (:func:`pid_lock` checks it locked
    the file the path names)."""
    import fcntl

    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below; "r": never recreate
    except FileNotFoundError:
        return False  # gone meanwhile: its run ended
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return False
