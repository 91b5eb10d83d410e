"""Forked worker processes that end with the process that forked them.

A pool's worker waits on its task queue for as long as the pipe is open, and a forked
worker holds both ends of it: when its parent is killed (``SIGKILL``, the OOM killer),
nobody closes the pipe and the worker waits for ever, with a copy of the parent's memory
(the review of 2026-12-07 found the Dijkstra pool's workers of a killed run still alive a
minute later). :func:`exit_with_parent`, a pool's worker initialiser, ends the worker
shortly after its parent is gone. The parent's normal exit and a SIGTERM it handles stop
the workers themselves (pool shutdown, :mod:`planner._terminate`); this is the fallback for
the exit nobody can handle.
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between two looks at the parent process (a sleeping thread: no measurable cost).
POLL_S = 0.5


def exit_with_parent(*, poll_s: float = POLL_S) -> None:
    """Start a daemon thread that ends this process (``os._exit(1)``) once the process that
    was its parent when this was called has died (the child is then re-parented, so
    :func:`os.getppid` changes). Call it first in a forked worker's initialiser."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)  # no cleanup: the work was the dead parent's

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


__all__ = ["POLL_S", "exit_with_parent"]
