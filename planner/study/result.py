"""What one study run produces, handed from the pipeline to the writers and the report.

The pipeline fills a :class:`StudyResult`; :mod:`planner.report.html` (HTML, PNG) and
:mod:`planner.report.export` (GeoPackage, GeoJSON, CSV/Parquet, KPI JSON/CSV, manifest) only read
it. All GeoDataFrames are in WGS84 (EPSG:4326).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd


@dataclass
class StudyResult:
    """Everything a report needs about one study run.

    Attributes
    ----------
    name, title : str
        Study id (file-name safe) and a human title.
    question : str
        What the study answers, one sentence (shown at the top of the report).
    roads : GeoDataFrame
        Road network edges as LineStrings; columns ``u, v, length_m, time_s`` and optional
        ``highway``/``ref``/``name``. The map's base layer (draw it, no tiles: no internet).
    demand : GeoDataFrame
        Demand points; columns ``weight`` and ``kind`` (e.g. 'zone', 'place', 'trip_origin').
    candidates : GeoDataFrame
        Candidate sites; ``site_id, name, kind, renewable (bool), cost``.
    existing : GeoDataFrame
        Existing stations; ``site_id, name, plugs, power_kw`` (+ ``utilisation``, ``mean_wait_min``
        from the proposal simulation when known).
    selected : GeoDataFrame
        New stations chosen; ``site_id, name, plugs, power_kw, utilisation, mean_wait_min,
        renewable``.
    kpis_before, kpis_after : dict
        Baseline (existing stations only) and proposal KPIs: keys such as
        ``trips_completed_share``, ``stranded_vehicles``, ``wait_mean_min``, ``wait_p95_min``,
        ``detour_km_mean``, ``plug_utilisation``, ``energy_delivered_kwh``, ``peak_kw_max``,
        ``co2_avoided_t``, ``coverage_share``, ``n_stations``, ``n_plugs``, ``capex``.
    kpi_intervals : DataFrame
        Optional per-KPI replication statistics: ``scenario, kpi, mean, ci_low, ci_high, n``.
    coverage_curve : DataFrame
        ``n_stations, coverage_share`` (and optionally ``model``/``range_km`` series column
        ``series``): coverage vs number of stations.
    waits : DataFrame
        ``scenario`` ('before'/'after'), ``wait_min``: one row per charging session.
    utilisation_by_hour : DataFrame
        ``scenario, hour (0-23), utilisation (0-1)``.
    soc_trace : DataFrame
        State of charge along one corridor trip: ``series`` (e.g. vehicle/season), ``km``,
        ``soc`` (0-1), ``event`` ('drive'/'charge').
    vehicle_matrix : DataFrame
        The carmaker's view: ``vehicle_model, season, temperature_c, trips_feasible_share``
        (before/after columns optional: ``share_before``, ``share_after``).
    iterations : list of dict
        One entry per closed-loop iteration: what was added and which targets were missed.
    tables : dict of str -> DataFrame
        Raw tables to export (``trips_before``, ``sessions_after``, ...).
    manifest : dict
        Config, resolved defaults, seed, package versions, input hashes, timings.
    notes : list of str
        Assumptions and caveats to print in the report.
    """

    name: str
    title: str = ""
    question: str = ""
    roads: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    demand: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    candidates: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    existing: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    selected: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    )
    kpis_before: dict[str, Any] = field(default_factory=dict)
    kpis_after: dict[str, Any] = field(default_factory=dict)
    kpi_intervals: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    waits: pd.DataFrame = field(default_factory=pd.DataFrame)
    utilisation_by_hour: pd.DataFrame = field(default_factory=pd.DataFrame)
    soc_trace: pd.DataFrame = field(default_factory=pd.DataFrame)
    vehicle_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
