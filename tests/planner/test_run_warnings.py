"""A run keeps the warnings evplan logged while it ran (planner.study.skeleton.StepTimer as
a context manager): distinct messages in order, repeats counted, at most MAX_WARNINGS, and
nothing collected once the run is over."""

from __future__ import annotations

import logging

from planner.study.skeleton import MAX_WARNINGS, StepTimer


def test_warnings_are_collected_during_the_run_only():
    log = logging.getLogger("sim.some_module")
    with StepTimer(None) as timer:
        log.warning("3 trips\n   have no road path")  # the console wraps long lines
        logging.getLogger("networks.x").warning("a %s warning", "network")
        log.warning("3 trips have no road path")
        log.info("not a warning")
        logging.getLogger("somebody.else").warning("not evplan's")
        logging.getLogger("planner.study").error("an error counts too")
    log.warning("after the run")
    # the wrapped line and the plain one are the same message
    assert timer.warnings == [
        "3 trips have no road path (2 times)",
        "a network warning",
        "an error counts too",
    ]
    log.warning("3 trips have no road path")  # the handler is gone
    assert timer.warnings[0] == "3 trips have no road path (2 times)"


def test_repeats_are_counted_and_the_list_is_capped():
    log = logging.getLogger("planner.x")
    with StepTimer(None) as timer:
        for _ in range(3):
            log.warning("the same")
        for i in range(MAX_WARNINGS + 5):
            log.warning("distinct %d", i)
    lines = timer.warnings
    assert lines[0] == "the same (3 times)"
    assert len(lines) == MAX_WARNINGS + 1
    assert lines[-1] == "... and 6 more warnings"


def test_a_run_keeps_its_own_threads_warnings_and_its_workers():
    """Two studies in two threads (a Dask worker with several threads) each keep only their
    own warnings; a replication worker's warning, relayed to the parent, is its run's."""
    import multiprocessing as mp
    import threading

    import pytest

    from sim.api import forked_map

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs fork")
    got: dict[str, list[str]] = {}
    ready = threading.Barrier(2)

    def study(name: str, warn: bool) -> None:
        with StepTimer(None) as timer:
            ready.wait()  # both collecting at once
            if warn:
                logging.getLogger("planner.x").warning("only %s warned", name)

                def task(i: int) -> int:
                    logging.getLogger("sim.worker").warning("worker %d of %s", i, name)
                    return i

                assert list(forked_map(task, 2, 2)) == [0, 1]
            ready.wait()  # neither stops collecting before the other has warned
        got[name] = timer.warnings

    threads = [threading.Thread(target=study, args=(n, n == "A")) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got["B"] == []
    assert got["A"][0] == "only A warned"
    assert sorted(got["A"][1:]) == ["worker 0 of A", "worker 1 of A"]


def test_warnings_are_collected_when_the_app_turns_off_thread_info(monkeypatch):
    """An embedding application may set ``logging.logThreads = False`` (records then carry
    no thread): the run still keeps its warnings, and only its own."""
    import threading

    monkeypatch.setattr(logging, "logThreads", False)
    with StepTimer(None) as timer:
        logging.getLogger("sim.x").warning("kept without thread info")
        other = threading.Thread(target=lambda: logging.getLogger("sim.x").warning("not ours"))
        other.start()
        other.join()
    assert timer.warnings == ["kept without thread info"]
