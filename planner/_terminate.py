"""SIGTERM for the command line: a clean stop instead of Python's default (instant death).

A batch scheduler (SLURM's time limit, ``kill``, a container stop) sends SIGTERM. By default
the process dies on the spot: no ``finally`` block runs, so the output's temporary folder
(``planner.report.atomic``) stays behind, and worker processes (the simulation's
replication pool, the Dijkstra pool of ``networks``) are never told to stop and live on as
orphans. :func:`install` turns SIGTERM in the CLI's own process into :class:`Terminated`,
raised where the program is, so cleanup runs as for Ctrl-C; the CLI then stops its worker
processes (:func:`stop_children`: a worker in the middle of a long run would otherwise hold
the exit until that run ends) and exits with :data:`EXIT_TERMINATED` (128 + 15, the
shell's code for a SIGTERM death). Forked children
inherit the handler; in them it restores the default and re-sends the signal, so they die
as before (a pool stopping its workers relies on that). Further SIGTERMs are ignored once the
first is being handled.

A signal is handled when the main thread next runs Python code. Solver calls therefore run
in a helper thread that the stop interrupts (``planner.siting._interrupt``); only a HiGHS
solve, which ignores the request, holds the stop until it returns (at most its
``time_limit_s``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from types import FrameType

#: Exit code after SIGTERM (128 + signal number, as a shell reports it).
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM received by the CLI's process (a ``BaseException``, as ``KeyboardInterrupt``:
    ``except Exception`` blocks do not swallow it)."""


def install() -> None:
    """Raise :class:`Terminated` on SIGTERM in this process (only; see the module docstring).
    Call from the main thread."""
    owner = os.getpid()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked child: die as by default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        # once: a second SIGTERM (a scheduler repeating itself) must not break into the
        # cleanup the first one started; SIGKILL still ends the process
        signal.signal(signum, signal.SIG_IGN)
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)


def stop_children(*, timeout: float = 10.0) -> None:
    """SIGTERM to every worker process this process started (the CLI owns them all), and
    wait for them to end (``timeout`` seconds each; SIGKILL after that).

    Besides the processes :mod:`multiprocessing` knows, every other live fork of this
    process (Linux: ``/proc``; :func:`_child_pids`): a SIGTERM that arrives while a pool
    forks a worker is raised between the fork and the point where multiprocessing records
    the new process, so that worker was never stopped. It lived on (a replication worker busy for
    minutes), holding the command's output pipe open, so a caller waiting for the
    command's output hung although the command had exited (seen once in about 10 stops
    under load: ``tests/planner/test_sigterm.py``)."""
    children = mp.active_children()
    known = {c.pid for c in children}
    others = [pid for pid in _child_pids() if pid not in known]
    for child in children:
        child.terminate()
    for pid in others:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for child in children:
        child.join(timeout=timeout)
        if child.is_alive():
            child.kill()
            child.join(timeout=timeout)
    for pid in others:
        if not _reaped(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _reaped(pid, timeout)


def _child_pids() -> list[int]:
    """The live children of this process that are forks of it (``/proc``; none where there
    is no ``/proc``: there only the processes multiprocessing knows are stopped).

    A fork that did not exec has this process' command line; that is what a pool's worker
    is. Other children are left alone: multiprocessing's resource tracker (started by the
    spawn context of a Dask cluster: it ignores SIGTERM by design and stops itself once its
    users have gone, so signalling it only added a 10 s wait and a SIGKILL), programs the
    caller's own code started, or, with evplan as a container's first process, the
    container's orphans (review of 2026-12-07)."""
    me = os.getpid()
    out: list[int] = []
    try:
        mine = Path(f"/proc/{me}/cmdline").read_bytes()
        entries = list(Path("/proc").iterdir())
    except OSError:
        return out
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            # "pid (comm) state ppid ...": the command name may hold spaces or brackets
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != me or fields[0] == "Z":
                continue
            if (entry / "cmdline").read_bytes() != mine:
                continue
        except (OSError, IndexError):
            continue
        out.append(int(entry.name))
    return out


def _reaped(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for child ``pid`` to end and reap it; whether it
    ended (or was not this process' child to wait for)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
