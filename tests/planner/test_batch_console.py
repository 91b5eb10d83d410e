"""The batch summary table the command line prints: readable at any console width."""

from __future__ import annotations

import functools

import pandas as pd
from rich.console import Console

from planner.report.console import batch_table
from tests.planner.test_batch import _sweep
from tests.planner.test_batch_safety import _cli

_KPIS = {
    "targets_met": False,
    "new_stations": 10,
    "capex": 13_200_000.0,
    "coverage_share_after": 0.8123,
    "share_trips_completed_after": 0.95,
    "wait_p95_min_after": 12.3,
    "stranded_vehicles_after": 3.0,
}


def _summary() -> pd.DataFrame:
    rows = [
        {"label": f"p={p} range_km=150 temperature_c=-20", "status": "done", **_KPIS}
        for p in (2, 10)
    ]
    rows.append({"label": "p=12 range_km=350 temperature_c=25", "status": "not_run"})
    return pd.DataFrame(rows)


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_a_narrow_console_gets_fewer_columns_and_is_told_where_the_rest_are():
    """At 80 columns (or stdout not a terminal) every cell was cut: `d…`, `1,320,…`."""
    text = _render(batch_table("sweep: 2 done", _summary(), width=80), 80)
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    for word in ("done", "not run", "missed", "coverage", "81.2 %", "trips done", "95.0 %"):
        assert word in text, (word, text)
    assert "capex" not in text.split("not shown")[0]  # left out of the table ...
    said = " ".join(text.split())
    # ... and the caption says so, and where the full table is
    assert "not shown (too narrow): new, capex, wait p95 min, stranded" in said
    assert "all columns in summary.csv" in said
    assert "temperature_c=-20" in text  # the label wraps, whole
    # very narrow: coverage alone
    text = _render(batch_table("sweep", _summary(), width=60), 60)
    assert "…" not in text and "81.2 %" in text and "trips done" not in text.split("not shown")[0]


def test_a_wide_console_gets_the_whole_table():
    text = _render(batch_table("sweep: 2 done", _summary(), width=160), 160)
    assert "13,200,000" in text and "12.3" in text and "not shown" not in text
    assert "p=10 range_km=150 temperature_c=-20" in text  # one line


def _runner(cfg, *, out_dir):
    from planner.report.atomic import atomic_dir

    with atomic_dir(out_dir):
        pass
    return dict(_KPIS)


def test_the_batch_command_fits_its_table_to_stdout(tmp_path, monkeypatch, capsys):
    import planner.batch.execute as execute

    monkeypatch.setattr(execute, "run_batch", functools.partial(execute.run_batch, runner=_runner))
    sweep = _sweep(tmp_path, "  model.range_km: [150, 250]\n  simulation.temperature_c: [-20]\n")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--workers", "0")
    assert code == 0, text
    # stdout is not a terminal here: 80 columns
    assert "…" not in text and "done" in text and "missed" in text, text
    assert "all columns in summary.csv" in " ".join(text.split())
