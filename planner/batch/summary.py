"""The summary of a batch: one row per run (``summary.csv|parquet``), ``failures.csv`` and
the coverage-vs-budget chart, written atomically."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from planner.batch.plan import BatchPlan, RunOutcome
from planner.config.sweep import label_value, short_key
from planner.report.atomic import OutputWriteError, write_bytes_atomic, write_text_atomic

logger = logging.getLogger(__name__)

__all__ = [
    "BatchFiles",
    "coverage_chart",
    "summary_table",
    "verdict_reason",
    "write_batch_outputs",
]

# --------------------------------------------------------------------------- results

_BUDGET_KEYS = ("model.p", "model.budget")
#: The batch's chart, at the root of the batch folder.
CHART = "coverage_vs_budget.png"


@dataclass
class BatchFiles:
    """The summary files of a batch (``chart`` is None when there is nothing to plot)."""

    summary: pd.DataFrame
    summary_csv: Path
    summary_parquet: Path
    failures_csv: Path
    chart: Path | None


def _cell(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list | tuple) else value


def verdict_reason(outcome: RunOutcome) -> str:
    """The first reason of a finished run's verdict, read from its ``kpis.json`` (why it
    missed its service targets); ``""`` when it met them, has no verdict or did not finish.

    Read from the run folder for a run finished now and for one resumed alike (``done.json``
    of earlier evplan versions does not hold it), so both give the same summary row."""
    if outcome.status not in ("done", "skipped") or outcome.folder is None:
        return ""
    try:
        kpis = json.loads((outcome.folder / "kpis.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none (a custom runner) or unreadable: no reason to give
        return ""
    verdict = kpis.get("verdict") if isinstance(kpis, dict) else None
    reasons = verdict.get("reasons") if isinstance(verdict, dict) else None
    return str(reasons[0]) if isinstance(reasons, list) and reasons else ""


def _kpi_order(outcomes: list[RunOutcome], frame: list[str]) -> list[str]:
    """The KPI columns of the summary, in the order the runs with KPIs give them (a run that
    never ran has none), names of the ``frame`` columns left out, ``verdict_reason`` after
    ``targets_met`` (at the end when no run reports ``targets_met``)."""
    order: dict[str, None] = {}
    for o in sorted(outcomes, key=lambda o: not o.summary):  # (sorted is stable)
        order.update(dict.fromkeys(k for k in o.summary if k not in frame))
    cols = [k for k in order if k != "verdict_reason"]
    at = cols.index("targets_met") + 1 if "targets_met" in cols else len(cols)
    return [*cols[:at], "verdict_reason", *cols[at:]]


def summary_table(plan: BatchPlan, outcomes: list[RunOutcome]) -> pd.DataFrame:
    """One row per run: ``run, label, status, resumed``, the swept parameters, the KPIs of the
    pipeline's summary row (``verdict_reason`` after ``targets_met``: :func:`verdict_reason`),
    ``elapsed_s, worker, folder, error``. ``status`` is ``done``
    (finished now or by an earlier batch: ``resumed``), ``failed`` or ``not_run`` (a stopped
    batch did not finish it)."""
    rows = []
    head = ["run", "label", "status", "resumed", *plan.parameters]
    tail = ["elapsed_s", "worker", "folder", "error"]
    for o in outcomes:
        row: dict[str, Any] = {
            "run": o.key,
            "label": o.label,
            "status": o.status if o.status in ("failed", "not_run") else "done",
            "resumed": o.status == "skipped",
        }
        row.update({k: _cell(o.params.get(k)) for k in plan.parameters})
        row.update({k: _cell(v) for k, v in o.summary.items() if k not in row})
        reason = verdict_reason(o)
        if reason or "verdict_reason" not in o.summary:  # (a runner's own, kept)
            row["verdict_reason"] = reason
        row.update(
            {
                "elapsed_s": round(o.elapsed_s, 3),
                "worker": o.worker,
                "folder": str(o.folder.relative_to(plan.output)) if o.folder else "",
                "error": o.error,
            }
        )
        rows.append(row)
    # one column order whichever run comes first (a stopped batch's first row may be a run
    # that never ran, with no KPIs: its columns must not lead)
    df = pd.DataFrame(rows, columns=[*head, *_kpi_order(outcomes, head + tail), *tail])
    # a KPI undefined in every run (null in done.json): a numeric column of NaN, not a
    # parquet column of type null that other summaries' columns could not be joined with
    kpi_cols = {k for o in outcomes for k in o.summary} - set(plan.parameters)
    for col in [c for c in df.columns if c in kpi_cols and df[c].isna().all()]:
        df[col] = df[col].astype("float64")
    for col in [
        c for c in df.columns if pd.api.types.is_object_dtype(df[c])
    ]:  # parquet: one type per column
        kinds = {type(v) for v in df[col] if v is not None and v == v}
        if len(kinds) > 1:
            df[col] = df[col].map(lambda v: v if v is None else str(v))
    return df


def _after_column(df: pd.DataFrame, word: str) -> str | None:
    cols = [c for c in df.columns if word in c.lower() and pd.api.types.is_numeric_dtype(df[c])]
    return ([c for c in cols if "after" in c.lower()] or cols or [None])[0]


def coverage_chart(plan: BatchPlan, summary: pd.DataFrame) -> bytes | None:
    """PNG of coverage after siting against the budget parameter, one line per other combination.

    The x axis is the first swept budget key (``model.p`` or ``model.budget``), else the number of
    stations the runs report. Colour follows the first other parameter, line style the second.
    In a ``zip`` sweep the parameters vary together (one run per combination): one line joins
    all runs, each point labelled with the other parameters' values.
    When the runs report a trips-completed share, a second panel shows it the same way (the
    simulation's view, where temperature shows). ``None`` when there is nothing to plot.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = summary[summary["status"] == "done"] if len(summary) else summary
    trips = _after_column(done, "share_trips_completed") or _after_column(done, "trips_completed")
    ys = [c for c in (_after_column(done, "coverage"), trips) if c]
    x = next((k for k in _BUDGET_KEYS if k in plan.parameters), None) or _after_column(
        done, "n_stations"
    )
    if not ys or x is None or done.empty:
        logger.info("no coverage-vs-budget chart: coverage column %s, budget column %s", ys, x)
        return None
    others = [k for k in plan.parameters if k != x]
    # every run where x is a swept value, with no y unless done: a failed or not-run run is a
    # gap in its line (it was left out, and the line ran straight past it as if it were fine)
    points = summary if x in plan.parameters else done
    points = points.assign(**{y: points[y].where(points["status"] == "done") for y in ys})
    gaps = int((summary["status"] != "done").sum())
    # zip: a run per combination, so a line per combination was a dot each, in a colour
    # each, with a legend of as many "series": one line through the runs instead
    series = others if plan.mode != "zip" else []
    first = sorted(points[series[0]].astype(str).unique()) if series else []
    second = sorted(points[series[1]].astype(str).unique()) if len(series) >= 2 else []
    styles = ["-", "--", ":", "-."]
    fig = Figure(figsize=(7 * len(ys), 5), dpi=110)
    FigureCanvasAgg(fig)
    for i, y in enumerate(ys):
        ax = fig.add_subplot(1, len(ys), i + 1)
        groups = list(points.groupby(series, sort=True, dropna=False)) if series else [((), points)]
        for values, part in groups:
            if part[y].isna().all():  # (no run of it finished: not a line)
                continue
            values = values if isinstance(values, tuple) else (values,)
            part = part.sort_values(x)
            label = (
                ", ".join(
                    f"{short_key(k, series)}={label_value(v)}"
                    for k, v in zip(series, values, strict=True)
                )
                or y
            )
            color = f"C{first.index(str(values[0])) % 10}" if series else "C0"
            style = styles[second.index(str(values[1])) % len(styles)] if second else "-"
            ax.plot(part[x], part[y], style, color=color, marker="o", ms=3, label=label)
            if not series and others:  # (zip) each point says which run it is
                for _, row in part[part[y].notna()].iterrows():
                    ax.annotate(
                        " ".join(f"{short_key(k, others)}={label_value(row[k])}" for k in others),
                        (row[x], row[y]),
                        xytext=(3, 3),
                        textcoords="offset points",
                        fontsize=7,
                    )
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        if series and i == len(ys) - 1:
            ax.legend(fontsize=7, ncol=2 if len(groups) > 8 else 1)
    shown = "gaps in the lines" if x in plan.parameters else "not shown"
    missing = f"; {gaps} failed or not run: {shown}" if gaps else ""
    fig.suptitle(f"{plan.name}: {' and '.join(ys)} vs {x} ({len(done)} runs{missing})")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def write_batch_outputs(plan: BatchPlan, outcomes: list[RunOutcome]) -> BatchFiles:
    """Write ``summary.csv``, ``summary.parquet``, ``failures.csv`` and the chart, atomically.

    Raises
    ------
    OutputWriteError
        A file could not be written (e.g. a full disk); the ones written are complete.
    """
    try:
        return _write_batch_outputs(plan, outcomes)
    except OSError as exc:
        raise OutputWriteError(
            f"could not write the batch summary in {plan.output}: {exc.strerror or exc}; "
            "the finished runs are kept in runs/ and a rerun of the same batch resumes them"
        ) from exc


def _write_batch_outputs(plan: BatchPlan, outcomes: list[RunOutcome]) -> BatchFiles:
    out = plan.output
    df = summary_table(plan, outcomes)
    write_text_atomic(out / "summary.csv", df.to_csv(index=False))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    write_bytes_atomic(out / "summary.parquet", buf.getvalue())
    # the runs a stopped batch did not finish are listed too: what is left to do
    failed = [o for o in outcomes if o.status in ("failed", "not_run")]
    fail = pd.DataFrame(
        [
            {
                "run": o.key,
                "label": o.label,
                **{k: _cell(o.params.get(k)) for k in plan.parameters},
                "error": o.error,
                "log": str(o.log.relative_to(out)) if o.log else "",
            }
            for o in failed
        ],
        columns=["run", "label", *plan.parameters, "error", "log"],
    )
    write_text_atomic(out / "failures.csv", fail.to_csv(index=False))
    png = coverage_chart(plan, df) if len(df) else None
    chart = write_bytes_atomic(out / CHART, png) if png else None
    if chart is None and (out / CHART).is_file() and not (out / CHART).is_symlink():
        # the chart of an earlier batch in this folder would pass for this one's
        (out / CHART).unlink()
        logger.info("removed %s: this batch has no chart", out / CHART)
    return BatchFiles(df, out / "summary.csv", out / "summary.parquet", out / "failures.csv", chart)
