"""A staged rollout's outputs say what was built when (black-box review of the corridor
rollout's report, 2026-12-07)."""

from __future__ import annotations

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
    html = stations_table(_staged_result())
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "opens" in head
    rows = re.findall(r'<tr data-station="([^"]+)"', html)
    assert rows == ["road/2", "road/3", "road/1"]  # by opening year, 2025 first
    cells = re.findall(r'<td class="num" data-key="[^"]*">(20\d\d)</td>', html)
    assert cells == ["2025", "2027", "2030"]  # a year, not "2,025"
    assert "design-loop round" not in html  # a rollout's table has no round column
    assert "Order = the year the station opens" in html
