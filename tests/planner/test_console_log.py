"""The command line shows a repeated warning once (a study simulates the same trips many
times, and the simulator warns on each call), and every repeat with ``-v``."""

from __future__ import annotations

import logging

import pytest

from planner import cli
from planner.report.console import OnceFilter


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
