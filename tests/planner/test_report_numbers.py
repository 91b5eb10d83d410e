"""The report's one number formatter (planner.report.numbers): a share that rounds to 100 %
or 0 % without being it says so (carmaker review, 2026-12-07: a model with one stranded car
in 9,000 read "100.0 %")."""

from __future__ import annotations

import math

from planner.report.numbers import format_kpi, format_kpi_range, format_value


def test_shares_that_round_to_whole_or_zero_say_so():
    assert format_value(0.99989, unit="share") == "> 99.9 %"
    assert format_value(1.0, unit="share") == "100.0 %"
    assert format_value(0.9994, unit="share") == "99.9 %"
    assert format_value(0.0004, unit="share") == "< 0.1 %"
    assert format_value(0.0, unit="share") == "0.0 %"
    assert format_value(0.99989, unit="share", decimals=2) == "99.99 %"
    assert format_value(0.999999, unit="share", decimals=2) == "> 99.99 %"


def test_changes_and_missing_values_are_as_before():
    assert format_value(0.00001, unit="share", delta=True) == "+0.0 pp"
    assert format_value(0.123, unit="share", delta=True) == "+12.3 pp"
    assert format_value(math.nan, unit="share") == "—"
    assert format_kpi("share_trips_completed", 0.99998) == "> 99.9 %"


def test_inside_a_sentence_or_a_range_the_mark_is_left_out():
    assert format_value(0.99989, unit="share", marks=False) == "100.0 %"
    assert format_kpi("share_trips_completed", 0.0004, marks=False) == "0.0 %"


def test_a_range_shows_a_bound_that_is_not_whole_with_the_decimals_it_needs():
    """Inside a range a bound of 99.996 % read "100.0 %" (review, 2026-12-07)."""
    kpi = "share_trips_completed"
    assert format_kpi_range(kpi, 0.998, 0.99996) == ("99.800 %", "99.996 %")
    assert format_kpi_range(kpi, 0.998, 1.0) == ("99.8 %", "100.0 %")
    assert format_kpi_range(kpi, 0.0, 0.00004) == ("0.000 %", "0.004 %")
    # still whole at three more decimals: the mark after all
    assert format_kpi_range(kpi, 0.99999999, 1.0) == ("> 99.9999 %", "100.0000 %")
    assert format_kpi_range(kpi, None, 1.0) == ("—", "100.0 %")
    assert format_kpi_range("wait_p95_min", 21.04, 29.5) == ("21.0", "29.5")


def test_costs_carry_the_studys_currency():
    """Every cost read "cost units" (planner review, 2026-12-07): candidates.currency names
    the unit in the KPI table (kpis.csv, the report) and on the command line."""
    from types import SimpleNamespace

    import pandas as pd
    from rich.console import Console

    from planner.report.console import kpi_table as console_table
    from planner.report.export import kpi_table

    manifest = {"config_resolved": {"candidates": {"currency": "KZT"}}}
    res = SimpleNamespace(
        kpis_before={"capex": 0.0, "wait_p95_min": 5.0},
        kpis_after={"capex": 1e6, "wait_p95_min": 4.0},
        kpi_intervals=pd.DataFrame(),
        manifest=manifest,
    )
    units = kpi_table(res).set_index("kpi")["unit"]
    assert units["capex"] == "KZT" and units["wait_p95_min"] == "min"
    res.manifest = {}
    assert kpi_table(res).set_index("kpi").loc["capex", "unit"] == "cost units"
    con = Console(width=120, record=True)
    con.print(console_table("t", {"capex": 0.0}, {"capex": 1e6}, currency="KZT"))
    assert "KZT" in con.export_text()
