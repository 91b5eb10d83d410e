"""What the command line shows: KPI tables, step progress and batch summaries (rich).

Every piece of user text (station names, file names, messages) goes through
:func:`escape` before rich renders it, so a ``[`` in a name is text, not markup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape as _rich_escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from planner.report.numbers import format_kpi, format_value
from sim.kpis import KPIS

__all__ = [
    "BatchBar",
    "OnceFilter",
    "StepProgress",
    "batch_table",
    "escape",
    "format_kpi",
    "kpi_table",
    "missed_runs",
]


class OnceFilter(logging.Filter):
    """Pass each distinct log message once (same logger, level and text).

    A study simulates the same trips many times (warm-up, replications, rounds, seasons),
    and the simulator warns about the trips on each call: the user needs the warning once,
    not once per replication. Messages that differ (other counts, other stations) all pass.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a message already passed."""
        key = (record.name, record.levelno, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def escape(text: object) -> str:
    """``text`` as literal rich text (square brackets are not markup)."""
    return _rich_escape(str(text))


def kpi_table(
    title: str,
    before: dict[str, Any],
    after: dict[str, Any] | None = None,
    *,
    currency: str = "cost units",
) -> Table:
    """One row per KPI (registry label and unit, costs in ``currency``), with a before and
    an after column."""
    table = Table(title=escape(title))
    table.add_column("KPI")
    table.add_column("unit")
    table.add_column("before" if after is not None else "value", justify="right")
    if after is not None:
        table.add_column("after", justify="right")
    for k, v in before.items():
        entry = KPIS.get(k)
        label = entry.label if entry is not None else k
        unit = ("%" if entry.unit == "share" else entry.unit) if entry is not None else ""
        unit = currency if unit == "cost units" else unit
        cells = [format_kpi(k, v)] + ([format_kpi(k, after.get(k))] if after is not None else [])
        table.add_row(escape(label), escape(unit), *cells)
    return table


class StepProgress:
    """Rich progress display driven by the pipeline's ``on_step`` callback."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> StepProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        self.progress.__exit__(*exc)

    def __call__(self, step: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        self.task = self.progress.add_task(escape(step), total=None)


class BatchBar:
    """A progress bar for a batch; the context value is the ``progress`` callback of
    :func:`planner.batch.execute.run_batch`."""

    def __init__(self, console: Console, name: str, *, total: int, finished: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=console,
        )
        self.name, self.total, self.finished = name, total, finished

    def __enter__(self) -> Callable[[Any], None]:
        task: Any = None

        def on_progress(p: Any) -> None:
            nonlocal task
            if task is None:
                # shown from the batch's first report on, i.e. once its folder was accepted
                # and locked: a refused batch prints its error alone, with no bar before it
                self.progress.__enter__()
                task = self.progress.add_task(
                    escape(self.name),
                    total=self.total,
                    completed=self.finished,
                    status=f"{self.finished} already finished, starting",  # (no workers with --workers 0)
                    eta="-",
                )
                return
            eta = "-" if p.eta_s is None else f"{int(p.eta_s // 60)}m{int(p.eta_s % 60):02d}s"
            self.progress.update(
                task,
                completed=p.skipped + p.finished,
                eta=eta,
                status=f"[green]{p.done} done[/] {p.running} running [red]{p.failed} failed[/] "
                f"{p.skipped} skipped",
            )

        return on_progress

    def __exit__(self, *exc: Any) -> None:
        if self.progress.live.is_started:
            self.progress.__exit__(*exc)


_BATCH_COLUMNS = {
    "new_stations": "new",
    "capex": "capex",
    "coverage_share_after": "coverage",
    "share_trips_completed_after": "trips done",
    "wait_p95_min_after": "wait p95 min",
    "stranded_vehicles_after": "stranded",
}


_STATUS = {"done": "[green]done[/]", "failed": "[red]failed[/]", "not_run": "[yellow]not run[/]"}

#: The KPIs a table too wide for the console keeps, most wanted first (the others are in
#: summary.csv): what a sweep measures, coverage, then what the simulation says of it.
_NARROW_KPIS = ("coverage_share_after", "share_trips_completed_after")


def batch_table(
    title: str,
    summary: Any,
    *,
    limit: int = 40,
    width: int | None = None,
    full: str = "summary.csv",
) -> Table:
    """The first ``limit`` rows of a batch summary with its headline KPIs.

    Parameters
    ----------
    title : str
        The table's title.
    summary : pandas.DataFrame
        The batch summary (:func:`planner.batch.summary.summary_table`).
    limit : int
        Rows shown at most.
    width : int, optional
        The console's width. When every column does not fit in it (an 80-column terminal,
        stdout not a terminal), rich cut every cell to ``d…``: the table then keeps the run
        label (wrapped), status, targets and the KPIs of :data:`_NARROW_KPIS` that fit, and
        its caption names the columns left out and ``full``, where they are.
    full : str
        Where the whole table is, for that caption.
    """
    rows = summary.head(limit).to_dict("records")
    with_targets = "targets_met" in summary.columns
    kpis = [c for c in _BATCH_COLUMNS if c in summary.columns]
    cells = [_batch_row(r, kpis, with_targets) for r in rows]
    headers = ["run", "status", *(["targets"] if with_targets else [])]
    fixed = len(headers)
    headers += [_BATCH_COLUMNS[c] for c in kpis]
    keep = list(range(len(headers)))
    if width is not None and _table_width(headers, cells, keep, wrap_first=False) > width:
        narrow = [c for c in _NARROW_KPIS if c in kpis]
        keep = list(range(fixed)) + [fixed + kpis.index(c) for c in narrow]
        while len(keep) > fixed and _table_width(headers, cells, keep, wrap_first=True) > width:
            keep.pop()
    table = Table(title=escape(title))
    wrapped = len(keep) < len(headers)
    for i in keep:
        # only the label may wrap: a cut status or number ("d…", "1,320,…") says nothing
        table.add_column(
            headers[i],
            no_wrap=not (wrapped and i == 0),
            justify="right" if i >= fixed else "left",
        )
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    if wrapped:
        left_out = [headers[i] for i in range(fixed, len(headers)) if i not in keep]
        table.caption = escape(
            f"not shown (too narrow): {', '.join(left_out)}; all columns in {full}"
        )
    return table


def _batch_row(r: dict[str, Any], kpis: list[str], with_targets: bool) -> list[str]:
    """A summary row's cells (rich markup): label, status, targets, the KPIs formatted."""

    def cell(col: str, v: object) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        name = col.removesuffix("_after")
        if name in KPIS and isinstance(v, int | float):
            return format_kpi(name, v)
        if isinstance(v, float):
            return format_value(v)
        return escape(v)

    def targets() -> str:
        met = _targets_met(r.get("targets_met"))
        if r["status"] != "done" or met is None:
            return "-"
        return "[green]met[/]" if met else "[bold red]missed[/]"

    return [
        escape(r["label"]),
        _STATUS.get(r["status"], escape(r["status"])),
        *([targets()] if with_targets else []),
        *(cell(c, r[c]) for c in kpis),
    ]


def _table_width(
    headers: list[str], cells: list[list[str]], keep: list[int], *, wrap_first: bool
) -> int:
    """Width of a rich table (heavy head, default padding) of the columns ``keep``, each as
    wide as its widest cell; the first (the label) as wide as its longest word when it may
    wrap."""
    total = 1  # the left border
    for i in keep:
        texts = [Text.from_markup(row[i]).plain for row in cells]
        if i == 0 and wrap_first:
            widest = max((cell_len(w) for t in texts for w in t.split()), default=0)
        else:
            widest = max((cell_len(t) for t in texts), default=0)
        total += max(widest, cell_len(headers[i])) + 3  # padding 1 + 1, a border
    return total


def missed_runs(summary: Any) -> int:
    """Finished runs of a batch summary whose service targets were missed."""
    if "targets_met" not in summary.columns or not len(summary):
        return 0
    done = summary[summary["status"] == "done"]
    return sum(1 for v in done["targets_met"] if _targets_met(v) is False)


def _targets_met(value: object) -> bool | None:
    """A summary's ``targets_met`` cell as True/False, None when blank (no verdict)."""
    return None if value is None or value != value else bool(value)
