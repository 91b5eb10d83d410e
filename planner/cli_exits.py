"""How the command line ends: the exit codes (documented in the README), the click
exception classes typer raises, the traceback shown with ``--debug`` and the message of a
command that was interrupted or terminated (what it kept). :func:`planner.cli.main` maps
errors to these.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from planner.cli_output import console
from planner.report.console import escape

#: State of the command being run: ``debug`` (``--debug``: tracebacks on errors) and
#: ``stopped`` (what the command keeps when stopped, a callable; ``None``: its output only).
COMMAND_STATE: dict[str, Any] = {"debug": False, "stopped": None}


def click_exceptions() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Usage-error and abort classes of the click that typer uses: typer >= 0.16 vendors
    its own copy (``typer._click``), older typer uses the ``click`` package."""
    usage: list[type[BaseException]] = []
    abort: list[type[BaseException]] = []
    for name in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage += [c for c in (getattr(mod, "ClickException", None),) if c is not None]
        abort += [c for c in (getattr(mod, "Abort", None),) if c is not None]
    return tuple(usage), tuple(abort)


#: Exit codes (documented in the README): 0 ok, 1 a run failed (outputs kept as they were,
#: failed batch runs), 2 a usage or input error, 3 service targets missed (run/batch --strict),
#: 70 a bug, 130 interrupted.
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130
#: ``evplan run --strict`` when a service target is missed (``batch --strict``: in a finished run).
EXIT_TARGETS_MISSED = 3


def traceback_if_debug() -> None:
    """With ``--debug``, the traceback of the error being handled (on stderr); the exit code
    stays the documented one (2 for bad input, 70 for a bug, ...)."""
    if COMMAND_STATE["debug"]:
        import traceback

        traceback.print_exc()


def batch_stopped_message(folder: Path) -> str:
    """What a stopped batch kept: run_batch summarises the runs that finished and lists
    the others as ``not_run`` (read back from its summary.csv)."""
    import csv

    try:
        with open(folder / "summary.csv", newline="", encoding="utf-8") as f:
            status = [row.get("status") for row in csv.DictReader(f)]
    except (OSError, csv.Error, UnicodeDecodeError):
        status = []
    left = status.count("not_run")
    if any(s in ("done", "failed") for s in status):
        return (
            f"the runs that finished are kept and summarised in {folder}"
            + (f" ({left} not run: status not_run)" if left else "")
            + "; run the same command again to finish the rest"
        )
    return f"no run had finished in {folder}; run the same command again to start"


def interrupted_exit(what: str = "interrupted", code: int = EXIT_INTERRUPTED) -> None:
    """Say what an interrupted (or terminated) command kept, then exit with ``code``."""
    from planner.report.atomic import committed_outputs

    stopped = COMMAND_STATE["stopped"]  # what the command keeps when stopped (a batch: its runs)
    done = committed_outputs()
    if stopped is not None:
        said = f"{stopped()}; nothing is half-written"
    elif done:  # stopped after its output was complete (printing the tables, say)
        said = f"the output in {done[-1]} is complete"
    else:
        said = (
            "nothing was written (outputs are replaced only when complete, so any previous "
            "output is unchanged)"
        )
    console.print(f"[red]{what};[/] {escape(said)}", highlight=False, soft_wrap=True)
    sys.exit(code)
