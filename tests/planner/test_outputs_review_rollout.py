"""A staged rollout's outputs say what was built when (black-box review of the corridor
rollout's report, 2026-12-07)."""

from __future__ import annotations

import html
import re

import geopandas as gpd
import pandas as pd

from planner.report.sections import stations_table
from planner.study.result import StudyResult


def _staged_result() -> StudyResult:
    sel = pd.DataFrame(
        {
            "station_id": ["road/1", "road/2", "road/3"],
            "name": ["KAZ01 roadside", "KAZ06 roadside", "Leninskiy"],
            "lon": [72.5, 69.6, 76.8],
            "lat": [50.6, 42.3, 52.3],
            "plugs": [4, 4, 2],
            "power_kw": [100.0, 100.0, 100.0],
            "sessions_per_day": [10.0, 50.0, 30.0],
            "capex": [220000.0, 220000.0, 140000.0],
            "opening_year": [2030.0, 2025.0, 2027.0],
        }
    )
    selected = gpd.GeoDataFrame(
        sel, geometry=gpd.points_from_xy(sel["lon"], sel["lat"]), crs="EPSG:4326"
    )
    return StudyResult(
        name="roll", title="roll", selected=selected, manifest={"rollout": {"method": "robust"}}
    )


def test_the_stations_table_of_a_staged_study_shows_the_year_each_station_opens():
    """The heading said "with the year each opens (opening_year)", but the table had no such
    column (nor the design-loop round a rollout's stations lack): which sites to build first,
    the question of the study, could not be read from the report's table."""
    page = stations_table(_staged_result())
    head = page[page.index("<thead>") : page.index("</thead>")]
    assert "opens" in head
    rows = re.findall(r'<tr data-station="([^"]+)"', page)
    assert rows == ["road/2", "road/3", "road/1"]  # by opening year, 2025 first
    cells = re.findall(r'<td class="num" data-key="[^"]*">(20\d\d)</td>', page)
    assert cells == ["2025", "2027", "2030"]  # a year, not "2,025"
    assert "design-loop round" not in page  # a rollout's table has no round column
    assert "Order = the year the station opens" in page


def test_the_iterations_of_a_staged_study_say_they_are_the_last_stage_loop():
    """The iterations table of the corridor rollout's robust plan read "new_sites 0 ...
    capex 0" under the bare heading "Closed-loop iterations": it is the 2030 stage's loop
    only, run after the staged plan fixed that stage's 8 new sites (800,000 of its
    1,760,000 capex), which the table did not count and the report did not say."""
    from planner.report.charts import Chart
    from planner.report.html import render_html
    from planner.report.map_data import map_payload

    res = _staged_result()
    res.iterations = [{"iteration": 1, "new_sites": 0, "stations": 23, "capex": 0.0}]
    res.tables["rollout_timeline"] = pd.DataFrame(
        {
            "method": ["robust", "robust", "myopic", "myopic"],
            "year": [2025, 2030, 2025, 2030],
            "new_sites": [6, 8, 6, 8],
            "capex": [1640000.0, 1760000.0, 1680000.0, 1760000.0],
        }
    )
    page = render_html(
        res, charts=[Chart("vehicle_matrix", "", "", None)], payload=map_payload(res, lines={})
    )
    section = page[page.index('<section id="iterations">') :]
    section = section[: section.index("</section>")]
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "last stage, 2030, of the robust plan" in text
    assert "8 new site(s)" in text and "1,760,000" in text


def test_the_map_tooltip_writes_a_year_as_a_year_and_a_near_full_share_with_its_mark(tmp_path):
    """The map's tooltip wrote a staged station's opening_year 2030 as "opening_year: 2,030"
    (no label, thousands separator), and a station busy 99.96 % of the time as
    "utilisation: 100.0 %" (the payload rounded it to 1.0) where the stations table reads
    "> 99.9 %" (the report's one formatter)."""
    from planner.report.html import write_report
    from tests.planner.test_export import synthetic_result
    from tests.planner.test_report import dump_dom, map_attrs

    res = synthetic_result()
    res.selected["utilisation"] = [0.99962, 0.18, 0.35]
    res.selected["opening_year"] = [2030.0, 2025.0, 2027.0]
    report = write_report(res, tmp_path / "out")
    tip = html.unescape(map_attrs(dump_dom(report, tmp_path, "#selftest"))["tip-text"])
    assert "Synthetic new A" in tip
    assert "opens (year): 2030" in tip and "2,030" not in tip
    assert "utilisation: > 99.9 %" in tip and "100.0 %" not in tip
