"""The design loop's ``capped`` records are structured (:class:`planner.study.capped.
CappedStation`), and the verdict sorts and classifies them on their fields. It used to
parse the sentences: the need from the first ": needs N plugs" and the limit from the
phrases "the budget left stops it at" and "(no upgrade price) carries" anywhere in the
text, so a station whose name held one of them moved up the list or changed the reason
the verdict gave (a station at its plug cap read as held by the budget or by its grid
connection). All data here are synthetic."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from planner.study.loop_remedies import size_plugs
from planner.study.verdict import verdict
from tests.planner.test_closed_loop import _verdict_cfg

#: synthetic stations whose names hold the old parser's phrases, and the plugs their
#: simulated load needs (the cars there at once); every one has 2 plugs, max_plugs is 6
TRICKY = {
    "A": ("Stop: needs 99 plugs", 7),
    "B": ("Hotel", 10),
    "C": ("Cafe the budget left stops it at 1", 8),
    "D": ("Inn (no upgrade price) carries 2", 9),
}


def _tricky_capped():
    """The sizing of the synthetic stations: each needs more than max_plugs (6)."""
    ids = list(TRICKY)
    stations = pd.DataFrame(
        {"station_id": ids, "plugs": [2] * 4, "added_plugs": [0] * 4,
         "name": [TRICKY[i][0] for i in ids]}
    )  # fmt: skip
    load = pd.DataFrame(
        {"station_id": ids, "peak_arrivals_per_h": [20.0] * 4, "service_h": [1.0] * 4,
         "cs2": [1.0] * 4, "misses": [True] * 4,
         "arrivals_at_once": [float(TRICKY[i][1]) for i in ids], "wait_p95_min": [40.0] * 4}
    )  # fmt: skip
    out, _spent, _added, capped, bound, full = size_plugs(
        stations, load, 10.0, plug_cost=100.0, max_plugs=6, budget_left=None
    )
    assert (out["plugs"] == 6).all() and bound == [] and set(full) == set(ids)
    return capped


def _judged(tmp_path, capped):
    loop = SimpleNamespace(
        iterations=[{"iteration": 1, "stations": 4, "plugs": 24, "sized": True,
                     "capped": capped}],
        max_rounds=1, stations=pd.DataFrame(), capex=0.0,
    )  # fmt: skip
    cfg = _verdict_cfg(tmp_path, {"wait_p95_min": 10})
    return verdict(cfg, {"wait_p95_min": 40.0}, loop)


def test_a_station_name_cannot_change_the_order_or_the_limit_named(tmp_path):
    out = _judged(tmp_path, _tricky_capped())
    assert out["status"] == "missed"
    # every station is at the plug cap: no budget (there is none) and no grid connection
    held = ("the budget binds", "the stage budgets bind", "the grid connection binds")
    assert not any(r.startswith(held) for r in out["reasons"]), out["reasons"]
    cap = next(r for r in out["reasons"] if r.startswith("the plug cap binds"))
    # most-needed first, on the need the sizing computed (not the 99 in a name)
    order = ["Hotel (B)", "Inn (no upgrade price) carries 2 (D)",
             "Cafe the budget left stops it at 1 (C)", "Stop: needs 99 plugs (A)"]  # fmt: skip
    at = [cap.index(f"{label}: needs ") for label in order]
    assert at == sorted(at), cap
    assert (
        "Stop: needs 99 plugs (A): needs 7 plugs, has 2 (p95 wait 40.0 min); max_plugs is 6" in cap
    )
    assert "raise candidates.max_plugs or allow more sites" in cap
    # kpis.json keeps the sentences, and the same records field by field
    assert [c.split(": needs ")[0] for c in out["capped"][:1]] == ["Hotel (B)"]
    rows = out["capped_stations"]
    assert [r["station_id"] for r in rows] == ["B", "D", "C", "A"]
    assert [r["needs"] for r in rows] == [10, 9, 8, 7]
    assert {r["limit"] for r in rows} == {"plug_cap"}
    assert rows[0]["cap_fields"] == ["max_plugs"] and rows[0]["cap"] == 6
    json.dumps(out, allow_nan=False)  # plain JSON types


def test_the_sentence_is_a_rendering_of_the_record():
    """The wording the verdict and the report show is unchanged, for every limit."""
    from planner.study.capped import CappedStation

    def one(**kw):
        base = {"station_id": "s1", "name": "Helios", "needs": 10, "has": 6, "cap": 6}
        return CappedStation(**{**base, **kw}).sentence

    head = "Helios (s1): needs 10 plugs, has 6"
    assert one(limit="plug_cap", over="plug_cap", wait_p95_min=25.24) == (
        f"{head} (p95 wait 25.2 min); max_plugs is 6"
    )
    assert one(limit="bay_cap", over="bay_cap", cap=4, cap_fields=("truck_bays.mcs.max_bays",)) == (
        f"{head}; truck_bays.mcs.max_bays is 4"
    )
    assert one(
        limit="bay_cap", over="bay_cap", cap_fields=("max_plugs", "truck_bays.mcs.max_bays")
    ) == (f"{head}; max_plugs and truck_bays.mcs.max_bays are 6")
    assert one(limit="grid", over="grid", grid_kw=1500.0, grid_plugs=3) == (
        f"{head}; its grid connection of 1,500 kW (no upgrade price) carries 3"
    )
    assert one(limit="plug_cap", over="plug_cap", managed=True, grid_kw=150.0) == (
        f"{head}; with managed charging within its 150 kW grid connection; max_plugs is 6"
    )
    assert one(limit="budget", budget_stops_at=2) == f"{head}; the budget left stops it at 2"
    assert one(limit="budget", budget_stops_at=2, over="plug_cap") == (
        f"{head}; the budget left stops it at 2; max_plugs is 6"
    )
    assert one(needs=61, lookahead=60, limit="plug_cap", over="plug_cap", name=None) == (
        "s1: needs more than 60 plugs, has 6; max_plugs is 6"
    )
    with pytest.raises(ValueError):  # the limit and the record disagree
        one(limit="grid", over="plug_cap")
    with pytest.raises(ValueError):
        one(limit="budget")  # held by the budget at how many plugs?


def test_the_report_shows_the_records_as_their_sentences():
    """The report's loop iterations table shows a round's capped stations as sentences (not
    as the records' fields)."""
    from planner.report.html import _iterations_section

    capped = _tricky_capped()
    html = _iterations_section([{"iteration": 1, "capped": capped}])
    assert "Hotel (B): needs 10 plugs, has 2 (p95 wait 40.0 min); max_plugs is 6" in html
    assert "station_id" not in html


def test_the_report_lists_a_rounds_capped_stations_one_per_line():
    """Seven capped stations in a round: one list item each (escaped), the first five shown
    and the rest counted. They were joined with ", " into one string cut at 300 characters,
    so the sentences (commas and semicolons of their own) ran together and the third was
    cut mid-word."""
    import re

    from planner.report.html import ITERATION_CAPPED_SHOWN, _iterations_section
    from planner.study.capped import CappedStation

    capped = [
        CappedStation(station_id=f"s{i}", name=f"Stop <{i}>", needs=20 - i, has=6,
                      limit="plug_cap", over="plug_cap", cap=6, wait_p95_min=30.0)
        for i in range(7)
    ]  # fmt: skip
    html = _iterations_section([{"iteration": 1, "capped": capped}])
    items = re.findall(r"<li>(.*?)</li>", html)
    assert len(items) == ITERATION_CAPPED_SHOWN + 1 == 6
    assert (
        items[0] == "Stop &lt;0&gt; (s0): needs 20 plugs, has 6 (p95 wait 30.0 min); max_plugs is 6"
    )
    assert items[4].startswith("Stop &lt;4&gt; (s4): needs 16 plugs")
    assert items[-1] == "and 2 more station(s)"
    assert "…" not in html
