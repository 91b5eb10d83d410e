"""The command line shows a repeated warning once (a study simulates the same trips many
times, and the simulator warns on each call), and every repeat with ``-v``; the records of
the replication workers are handled by the parent, through its handlers and filters."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os

import pytest

from planner import cli
from planner.report.console import OnceFilter
from sim.api import forked_map


def _records(filt: logging.Filter | None, messages: list[tuple[str, str]]) -> list[str]:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.name}:{record.getMessage()}")

    handler = Keep()
    if filt is not None:
        handler.addFilter(filt)
    log = logging.getLogger("test_console_log")
    log.propagate = False
    log.addHandler(handler)
    try:
        for name, text in messages:
            logging.getLogger(f"test_console_log.{name}").warning("%d leg(s) %s", 2, text)
    finally:
        log.removeHandler(handler)
    return seen


def test_once_filter_passes_each_distinct_message_once() -> None:
    msgs = [("sim", "late"), ("sim", "late"), ("sim", "early"), ("siting", "late"), ("sim", "late")]
    assert _records(OnceFilter(), msgs) == [
        "test_console_log.sim:2 leg(s) late",
        "test_console_log.sim:2 leg(s) early",
        "test_console_log.siting:2 leg(s) late",
    ]
    # negative control: without the filter every repeat shows
    assert len(_records(None, msgs)) == 5


@pytest.mark.parametrize(("verbose", "filtered"), [(0, True), (1, False)])
def test_cli_filters_repeats_only_at_default_verbosity(verbose: int, filtered: bool) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        cli._main(verbose=verbose, debug=False, version=False)
        (handler,) = root.handlers
        assert any(isinstance(f, OnceFilter) for f in handler.filters) is filtered
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


log = logging.getLogger("sim.test_worker_logs")


def _task(i: int) -> int:
    log.warning("2 leg(s) are planned to depart before the previous leg")  # every run
    log.warning("run %d done in pid %d", i, os.getpid())
    return i


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("workers", [1, 2])
def test_worker_records_reach_the_parent_and_its_filters(workers):
    keep = _Keep()
    keep.addFilter(OnceFilter())
    root = logging.getLogger()
    root.addHandler(keep)
    try:
        assert list(forked_map(_task, 4, workers)) == [0, 1, 2, 3]
    finally:
        root.removeHandler(keep)
    repeated = [m for m in keep.seen if m.startswith("2 leg(s)")]
    assert len(repeated) == 1  # shown once, whichever process ran the runs
    done = [m for m in keep.seen if m.startswith("run ")]
    assert sorted(m.split()[1] for m in done) == ["0", "1", "2", "3"]
    pids = {m.split()[-1] for m in done}
    # (control) with 2 workers the runs ran elsewhere, and their records still came here
    assert (str(os.getpid()) not in pids) if workers == 2 else (pids == {str(os.getpid())})


def _slow(i: int) -> int:
    import time

    log.warning("slow run %d", i)
    time.sleep(0.5)
    return i


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_an_interrupted_pool_returns_promptly_with_its_log_relay():
    """Ctrl-C while the workers run: the pool is not waited for and the relay of their log
    records does not hold the interruption up."""
    import time

    runs = forked_map(_slow, 8, 2)
    assert next(runs) == 0
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        runs.throw(KeyboardInterrupt)
    assert time.perf_counter() - t0 < 3.0
