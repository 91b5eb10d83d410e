"""What one study run produces, handed from the pipeline to the writers and the report.

The pipeline fills a :class:`StudyResult`; :mod:`planner.report.html` (HTML, PNG) and
:mod:`planner.report.export` (GeoPackage, GeoJSON, CSV/Parquet, KPI JSON/CSV, manifest) only read
it. All GeoDataFrames are in WGS84 (EPSG:4326).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.report.roads import roads_layer
from planner.study.demand import demand_points
from planner.study.grid_fit import unit_plug_costs
from planner.study.inputs import StudyNetwork, points_frame
from planner.study.loop import LoopResult
from planner.study.optimize_corridor import CorridorOptimizer, with_bay_draw
from planner.study.simulate import public_waits_min, sim_settings
from planner.study.targets import (
    judge_targets,
)
from planner.study.verdict import targets_met, verdict

if TYPE_CHECKING:
    from planner.study.optimize import StudyOptimizer


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
        renewable``. In both, every per-station figure (sessions, visits, waits, utilisation
        and the grid step's ``renewable_kwh``, ``renewable_share``, ``co2_kg``) is the
        proposal's seed run's, while ``kpis_after`` are the mean over its replications.
    kpis_before, kpis_after : dict
        Baseline (existing stations only) and proposal KPIs: keys such as
        ``share_trips_completed``, ``stranded_vehicles``, ``wait_mean_min``, ``wait_p95_min``,
        ``detour_km_mean``, ``plug_utilisation``, ``energy_delivered_kwh``, ``peak_kw_station_max``,
        ``co2_avoided_kg``, ``coverage_share``, ``n_stations``, ``n_plugs``, ``capex``.
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
    verdict : dict
        Whether the study met its service targets: ``status`` ('met', 'missed' or
        'not evaluated'), ``targets`` (one dict per target: ``kpi, label, unit, sense,
        bound, value, met``) and ``reasons`` (plain sentences, why targets were missed).
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
    verdict: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- assembly


def assemble(
    cfg: StudyConfig,
    sn: StudyNetwork,
    *,
    existing: pd.DataFrame,
    candidates: pd.DataFrame,
    trips: pd.DataFrame,
    loop: LoopResult,
    matrix: pd.DataFrame,
    curve: pd.DataFrame,
    optimizer: StudyOptimizer,
) -> StudyResult:
    """Fill a :class:`StudyResult` from the run's pieces."""
    before, after = loop.baseline.detail["result"], loop.proposal.detail["result"]
    before_all, after_all = all_rows(loop.baseline), all_rows(loop.proposal)
    per_after = loop.proposal.per_station.set_index("station_id")
    stations = loop.stations.join(
        per_after[["utilisation", "wait_mean_min", "wait_p95_min", "sessions", "visits"]],
        on="station_id",
    )
    sel_ids = set(loop.selected["station_id"]) if len(loop.selected) else set()
    selected = stations[stations["station_id"].isin(sel_ids)].merge(
        candidates[["node", "renewable", "site_cost", "plug_cost"]], on="node", how="left"
    )
    # what each proposed station costs and serves (sessions from the proposal's seed run,
    # the run of every per-station column: planner.study.grid_step puts its CO2 on it too)
    site_cost, plug_cost = selected.pop("site_cost"), selected.pop("plug_cost")
    if "bay_cost" in selected:  # truck bay classes: own bay cost, the site cost once per node
        first = ~selected.duplicated("node")
        plug_cost = unit_plug_costs(selected, plug_cost)
        site_cost = site_cost.where(first | selected["bay_cost"].isna(), 0.0)
    selected["capex"] = site_cost + selected["plugs"] * plug_cost
    if "bay_draw_kw" in selected:  # grid draw of the final bays (the loop may add some)
        selected = with_bay_draw(selected)
    selected["sessions_per_day"] = selected["sessions"] / max(1, cfg.simulation.days)
    kb, ka = dict(loop.baseline.kpis), dict(loop.proposal.kpis)
    kb.update(n_stations=len(existing), n_plugs=int(existing["plugs"].sum()), capex=0.0)
    ka.update(
        n_stations=len(loop.stations),
        n_plugs=int(loop.stations["plugs"].sum()),
        capex=round(loop.capex, 2),
    )
    if "plug_class" in loop.stations and loop.stations["plug_class"].notna().any():
        # a truck site is one station row per bay class (each its own queue): the sites
        # are counted apart, so "58 stations" is not read as 58 places
        kb["n_sites"] = float(existing["node"].nunique()) if len(existing) else 0.0
        ka["n_sites"] = float(loop.stations["node"].nunique())
    cov = optimizer.coverage_share
    kb["coverage_share"], ka["coverage_share"] = cov(existing), cov(loop.stations)
    intervals = []
    for label, outcome in (("before", loop.baseline), ("after", loop.proposal)):
        iv = outcome.detail["intervals"]
        if len(iv):
            intervals.append(iv.reset_index(names="kpi").assign(scenario=label))
    # the waits chart shows the same runs as the KPI table: every replication's waits
    parts = []
    for label, outcome, res in (("before", loop.baseline, before), ("after", loop.proposal, after)):
        pooled = (outcome.detail or {}).get("waits_min")
        if pooled is None:
            pooled = public_waits_min(res)
        parts.append(pd.DataFrame({"wait_min": pooled, "scenario": label}))
    waits = pd.concat(parts, ignore_index=True)
    result = StudyResult(
        name=cfg.name,
        title=cfg.title or cfg.name,
        question=cfg.question,
        roads=roads_layer(sn.network, sn.graph),
        demand=demand_points(cfg, sn, trips),
        candidates=points_frame(candidates),
        existing=points_frame(stations[stations["existing"].astype(bool)]),
        selected=points_frame(selected)
        if len(selected)
        else points_frame(selected.assign(lon=[], lat=[])),
        kpis_before=kb,
        kpis_after=ka,
        kpi_intervals=pd.concat(intervals, ignore_index=True) if intervals else pd.DataFrame(),
        coverage_curve=curve,
        waits=waits.reset_index(drop=True),
        utilisation_by_hour=_utilisation_by_hour(loop.baseline, loop.proposal),
        soc_trace=optimizer.soc_trace(loop.stations),
        vehicle_matrix=matrix,
        iterations=loop.iterations,
        tables=located(
            {
                # every simulated row, ``measured`` saying which the KPIs' counts take
                "trips_before": before_all.trips,
                "trips_after": after_all.trips,
                "sessions_before": before_all.sessions,
                "sessions_after": after_all.sessions,
                "stations_after": after.stations,
                "station_timeseries_after": after.station_timeseries,
                **({"vehicle_matrix": matrix} if len(matrix) else {}),
            },
            sn.network,
            after.stations,
        ),
        notes=optimizer.notes + _notes(cfg, loop),
        verdict=verdict(cfg, ka, loop, loop.proposal.detail.get("target_intervals")),
        manifest={
            "demand_expansion_factor": float(ka.get("demand_expansion_factor") or 1.0),
            "warmup_days": cfg.warmup_days(),
            # the time measures' window of the runs (s from the simulation's start)
            "measured_window_s": measured_window(after),
            "replications_proposal": (loop.proposal.detail or {}).get("replications"),
            # what coverage_share counts (the siting model's measure, in words)
            "coverage_measure": optimizer.coverage_measure(),
            # OD pairs the corridor coverage leaves out (no route on the network)
            **(optimizer.unreachable_summary() if isinstance(optimizer, CorridorOptimizer) else {}),
        },
    )
    return result


def all_rows(outcome: Any) -> Any:
    """The seed run of a simulated scenario with every simulated trip and session: those of
    the warm-up and cool-down days too, each with ``measured`` (true: counted in the KPIs'
    counts, trips departing in the measured days and their charging stops). Utilisation is
    the plug time busy within the measured days whichever trip it served, so a warm-up
    trip's late session counts there: the exported tables held the measured rows only until
    2026-12-07, and the utilisation could not be traced from them. The measured cut
    (``detail["result"]``) for an outcome that keeps no other."""
    detail = outcome.detail if isinstance(outcome.detail, dict) else {}
    every = detail.get("result_all_rows")
    return every if every is not None else detail["result"]


def measured_window(result: Any) -> dict[str, float]:
    """The time measures' window of a run (``start_s``: the warm-up's end, ``end_s``: the
    measured days' end; s from the simulation's start), as :func:`sim.measures.compute_kpis`
    takes it: utilisation is the plug time of the charged public sessions within it over
    the plugs times its length."""
    end = float(getattr(result, "window_end_s", float("nan")))
    return {
        "start_s": float(result.settings.warmup_s),
        "end_s": end if np.isfinite(end) else float(result.span_s),
    }


def _utilisation_by_hour(before: Any, after: Any) -> pd.DataFrame:
    """Mean plug utilisation by hour over every replication (``utilisation``), with the
    lowest and highest replication (``utilisation_min``, ``utilisation_max``)."""
    parts = []
    for label, outcome in (("before", before), ("after", after)):
        per_run = (outcome.detail or {}).get("utilisation_by_hour")
        if per_run is None or len(per_run) == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "hour": per_run.index.astype(int),
                    "utilisation": per_run.mean(axis=1).to_numpy(),
                    "utilisation_min": per_run.min(axis=1).to_numpy(),
                    "utilisation_max": per_run.max(axis=1).to_numpy(),
                    "scenario": label,
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["scenario", "hour", "utilisation"])
    )


def _notes(cfg: StudyConfig, loop: LoopResult) -> list[str]:
    reps = (loop.proposal.detail or {}).get("replications", cfg.simulation.replications)
    factor = float(loop.proposal.kpis.get("demand_expansion_factor") or 1.0)
    notes = [
        f"Seed {cfg.seed}; {reps} replication(s) of the proposal (same demand and driver draws "
        f"in every round); ambient {cfg.simulation.temperature_c:g} C.",
        f"Steady state: {cfg.warmup_days()} warm-up day(s) simulated before the "
        f"{cfg.simulation.days} measured day(s) and {cfg.cooldown_days()} cool-down day(s) "
        "after them (so that the measured trips' late stops meet traffic), state of charge "
        "and queues carried over; KPIs count the measured days' trips only.",
        "Counts (trips, sessions, energy, waits, CO2) are the measured days' trips and their "
        "charging stops, however late; utilisation, busy hours and peaks are the plug time "
        "busy within the measured days over their length.",
        "Unserved demand (input to siting) = origins of trips not completed plus public charging stops that "
        f"balked, waited over the p95 target or detoured over {cfg.model.threshold_min:g} min.",
        _co2_note(cfg),
    ]
    if factor != 1.0:
        notes.append(
            f"Demand sampled (demand.max_trips): 1 in {factor:,.1f} of the fleet's trips simulated; "
            "fleet totals are scaled to the whole fleet and plugs sized for its arrivals, but "
            "queues and waits are those of the sample."
        )
    # judged as the verdict judges them (the note keyed off the loop's own stop before, and
    # was missing where the verdict said missed)
    judged = judge_targets(
        loop.proposal.kpis,
        cfg.targets,
        loop.proposal.detail.get("target_intervals"),
        replications=loop.proposal.detail.get("replications"),
    )
    short = [j for j in judged if j.status != "met"]
    if short:
        notes.append(
            "Service targets were NOT all met: "
            + "; ".join(f"{j.name} {j.status}" + (f" ({j.why})" if j.why else "") for j in short)
        )
    return notes


def _co2_note(cfg: StudyConfig) -> str:
    """The CO2 factors behind every CO2 figure, so a reader can check them (a review found
    0.689 and 0.766 kg/kWh in the figures and only "~0.64" anywhere in writing)."""
    s = sim_settings(cfg)
    g, loss, eff = s.grid_kg_co2_per_kwh, s.grid_loss_share, s.charging_efficiency
    at_plug = g / (1.0 - loss)
    src = (
        "simulation.grid_kg_co2_per_kwh"
        if cfg.simulation.grid_kg_co2_per_kwh is not None
        else "Kazakhstan 2021, OWID/Ember"
    )
    hourly = (
        "; charging CO2 is matched hour by hour to grid.hourly_kg_co2_per_kwh and the "
        "renewable plants' output"
        if cfg.grid.hourly_kg_co2_per_kwh is not None
        else "; charging CO2 is matched hour by hour to the renewable plants' output where "
        "they are set, at the flat factor otherwise"
    )
    return (
        f"CO2: grid {g:.3f} kg CO2/kWh generated ({src}), {loss:.0%} grid losses "
        f"(World Bank WDI) and {eff:.0%} charging efficiency (assumption, docs/assumptions.md): "
        f"{at_plug:.3f} kg per kWh drawn "
        f"at a charger, {at_plug / eff:.3f} kg per kWh a car's battery uses; the petrol and "
        f"diesel baseline per docs/assumptions.md{hourly}."
    )


def plugs_added_at_existing(existing: pd.DataFrame | None) -> int:
    """Plugs the plan added at existing stations (their ``added_plugs``; 0 without it): part
    of the plan's new plugs in the report's card and the batch summary."""
    if existing is None or "added_plugs" not in existing:
        return 0
    return int(pd.to_numeric(existing["added_plugs"], errors="coerce").fillna(0).sum())


def summary_row(result: StudyResult) -> dict:
    """A flat row of a study's KPIs for batch tables: ``<kpi>_before``, ``<kpi>_after``,
    plus study name, config hash, new stations, plugs and capex."""
    row = {
        "study": result.name,
        "config_hash": result.manifest.get("config_hash"),
        "new_stations": int(len(result.selected)),
        # the plan's plugs: those of the new sites and those added at existing stations
        "new_plugs": (int(result.selected["plugs"].sum()) if len(result.selected) else 0)
        + plugs_added_at_existing(result.existing),
        "capex": result.kpis_after.get("capex", 0.0),
        "targets_met": targets_met(result.verdict)
        if result.verdict
        else not any(it.get("missed") for it in result.iterations[-1:]),
    }
    for label, kpis in (("before", result.kpis_before), ("after", result.kpis_after)):
        for k, v in kpis.items():
            if isinstance(v, int | float | np.integer | np.floating) or v is None:
                row[f"{k}_{label}"] = None if v is None else float(v)
    return row


def located(
    tables: dict[str, pd.DataFrame], network: Any, stations: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Add WGS84 coordinates to the tables that have places, for GeoParquet and GIS:
    trips get ``origin_lon/lat`` and ``destination_lon/lat``; charging sessions the
    ``lon/lat`` of their station (none for home charging)."""
    where = stations.set_index("station_id")[["lon", "lat"]] if len(stations) else None
    out = {}
    for name, df in tables.items():
        if df is not None and {"origin", "destination"} <= set(df.columns) and len(df):
            o = df["origin"].to_numpy(dtype=np.int64)
            d = df["destination"].to_numpy(dtype=np.int64)
            df = df.assign(
                origin_lon=network.lon[o],
                origin_lat=network.lat[o],
                destination_lon=network.lon[d],
                destination_lat=network.lat[d],
            )
        elif (
            df is not None
            and "station_id" in df.columns
            and "lon" not in df.columns
            and "arrive_s" in df.columns
            and where is not None
        ):
            df = df.assign(
                lon=df["station_id"].map(where["lon"]), lat=df["station_id"].map(where["lat"])
            )
        out[name] = df
    return out
