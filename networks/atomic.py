"""evplan's one atomic file writer, at the bottom of the package graph so that every layer
(network cache, study outputs, batch records, benchmarks) writes through it.

A file is written to a hidden temporary sibling and moved into place with ``os.replace``
(atomic on POSIX within one filesystem): readers see the old file or the new one, never a
half-written one, and a failed or interrupted write leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "atomic_open",
    "atomic_path",
    "nearest_existing",
    "probe_new_file",
    "write_bytes_atomic",
    "write_text_atomic",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a free temporary sibling path (for libraries that create the file themselves,
    such as GDAL); move it to ``path`` on success, delete it on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # the library wants to create the file itself
    try:
        yield Path(tmp)
        if Path(tmp).exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary file handle whose content replaces ``path`` only when the block
    finishes without an error (data flushed and synced first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would have.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path) as fh:
        fh.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def nearest_existing(path: str | Path) -> Path:
    """``path`` or its nearest ancestor that exists (where a new file or folder would go)."""
    base = Path(path)
    while not base.exists() and base.parent != base:
        base = base.parent
    return base


def probe_new_file(folder: str | Path) -> None:
    """Create and remove a small (4 KiB) hidden file in ``folder``: the place an atomic write
    will use accepts new files, checked before any work. Raises the ``OSError`` the file
    system gives (read-only, permission denied, full, not a folder)."""
    fd, tmp = tempfile.mkstemp(prefix=".evplan-probe.", dir=folder)
    try:
        os.write(fd, b"x" * 4096)
    finally:
        os.close(fd)
        os.unlink(tmp)
