"""``evplan run``: config -> network -> demand -> baseline -> optimise -> proposal -> report.

Every step is timed and logged; ``on_step`` lets the CLI drive a progress display. The
whole output folder is assembled under a temporary name and renamed at the end
(:func:`planner.report.atomic.atomic_dir`), so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import sim
from planner.config.study import StudyConfig, config_hash
from planner.report.atomic import atomic_dir
from planner.study.demand import build_trips, demand_points
from planner.study.inputs import (
    StudyNetwork,
    build_candidates,
    build_existing,
    build_network,
    manifest,
    points_frame,
    roads_frame,
)
from planner.study.loop import LoopResult, ScenarioOutcome, Targets, closed_loop
from planner.study.result import StudyResult

logger = logging.getLogger(__name__)

StepCallback = Callable[[str], None]


class _Timer:
    def __init__(self, on_step: StepCallback | None) -> None:
        self.timings: dict[str, float] = {}
        self.on_step = on_step

    @contextmanager
    def step(self, name: str):
        if self.on_step:
            self.on_step(name)
        logger.info("step: %s", name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
            logger.info("step: %s done in %.2f s", name, self.timings[name])


def sim_settings(cfg: StudyConfig, *, temperature_c: float | None = None) -> sim.SimSettings:
    """The simulation settings of a study (at its temperature unless another is given)."""
    sc = cfg.simulation
    kw = {}
    if sc.grid_kg_co2_per_kwh is not None:
        kw["grid_kg_co2_per_kwh"] = sc.grid_kg_co2_per_kwh
    return sim.SimSettings(
        ambient_temp_c=sc.temperature_c if temperature_c is None else temperature_c,
        initial_soc=sc.start_soc,
        max_wait_s=sc.balk_after_min * 60.0,
        home_charging_share=sc.home_charging_share,
        horizon_s=None,
        **kw,
    )


def _vehicles(cfg: StudyConfig) -> dict:
    return (
        sim.load_vehicle_models(cfg.vehicles.catalogue)
        if cfg.vehicles.catalogue is not None
        else sim.builtin_models()
    )


def _unserved(
    res, trips: pd.DataFrame, *, wait_target_min: float | None, detour_limit_min: float
) -> pd.DataFrame:
    """Demand the scenario served badly, at the origin node of the trip leg concerned:
    trips not completed (stranded, unroutable, cancelled), and public charging stops that
    balked, waited longer than the target or detoured longer than the coverage threshold."""
    t = res.trips
    bad_trip = t["status"].isin(["stranded", "unroutable", "cancelled"])
    rows = [t.loc[bad_trip, ["origin", "destination"]].assign(weight=1.0)]
    ses = res.sessions[res.sessions["station"] >= 0]
    if len(ses):
        poor = ses["status"].eq("balked") | (ses["detour_s"] > detour_limit_min * 60.0)
        if wait_target_min is not None:
            poor |= ses["wait_s"] > wait_target_min * 60.0
        od = (
            t.set_index("trip_id")[["origin", "destination"]]
            .reindex(ses.loc[poor, "trip_id"])
            .dropna()
        )
        rows.append(od.astype(np.int64).reset_index(drop=True).assign(weight=1.0))
    df = pd.concat(rows, ignore_index=True).rename(columns={"origin": "node"})
    return df.groupby(["node", "destination"], as_index=False)["weight"].sum()


def _per_station(res) -> pd.DataFrame:
    ses = res.sessions[res.sessions["station"] >= 0]
    st = (
        res.stations[["station_id", "utilisation"]].copy()
        if "utilisation" in res.stations
        else res.stations[["station_id"]].assign(utilisation=np.nan)
    )
    if len(ses):
        agg = ses.groupby("station_id").agg(
            sessions=("wait_s", "size"),
            wait_mean_min=("wait_s", "mean"),
            wait_p95_min=("wait_s", lambda w: np.percentile(w, 95)),
        )
        agg[["wait_mean_min", "wait_p95_min"]] /= 60.0
        st = st.merge(agg, left_on="station_id", right_index=True, how="left")
    for col in ("sessions", "wait_mean_min", "wait_p95_min"):
        if col not in st:
            st[col] = 0.0
    return st.fillna({"sessions": 0, "wait_mean_min": 0.0, "wait_p95_min": 0.0})


class StudySimulator:
    """Simulates a study's trips for any station set, with replications."""

    def __init__(
        self, cfg: StudyConfig, sn: StudyNetwork, trips: pd.DataFrame, vehicles: dict
    ) -> None:
        self.cfg, self.sn, self.trips, self.vehicles = cfg, sn, trips, vehicles
        self.runs = 0

    def _redraw(self, rng: np.random.Generator) -> pd.DataFrame:
        # Replications redraw the demand (same settings, independent generator): the
        # intervals then reflect demand variability, not only the initial state of charge.
        return build_trips(self.cfg, self.sn, self.vehicles, rng=rng)

    def __call__(
        self,
        stations: pd.DataFrame,
        *,
        temperature_c: float | None = None,
        trips: pd.DataFrame | None = None,
        replications: int | None = None,
    ) -> ScenarioOutcome:
        cfg = self.cfg
        trips = self.trips if trips is None else trips
        reps = cfg.simulation.replications if replications is None else replications
        settings = sim_settings(cfg, temperature_c=temperature_c)
        st = stations[["station_id", "node", "plugs", "power_kw", "name"]].copy()
        first = sim.simulate(
            self.sn.network, st, trips, vehicles=self.vehicles, settings=settings, seed=cfg.seed
        )
        self.runs += 1
        kpis = first.kpis()
        intervals = pd.DataFrame()
        if reps > 1:
            source = self._redraw if trips is self.trips else trips
            intervals = sim.replicate(
                self.sn.network,
                st,
                source,
                replications=reps,
                vehicles=self.vehicles,
                settings=settings,
                seed=cfg.seed,
            )
            self.runs += reps
            kpis = {k: float(v) for k, v in intervals["mean"].items()}
        unserved = _unserved(
            first,
            trips,
            wait_target_min=cfg.targets.wait_p95_min,
            detour_limit_min=cfg.model.threshold_min,
        )
        return ScenarioOutcome(
            kpis, _per_station(first), unserved, detail={"result": first, "intervals": intervals}
        )


def run_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
) -> StudyResult:
    """Run a whole study and (by default) write its output folder atomically.

    Parameters
    ----------
    cfg : StudyConfig
        Validated study (see :func:`planner.config.study.load_config`).
    out_dir : path, optional
        Output folder; ``cfg.outputs.folder`` or ``runs/<name>`` by default.
    config_path : path, optional
        The YAML file, recorded with its hash in the manifest.
    on_step : callable, optional
        Called with the name of each step as it starts (progress display).
    write : bool
        Write the folder (``False`` returns the result only, e.g. for tests).
    """
    timer = _Timer(on_step)
    sn, existing, vehicles, trips = _prepare(cfg, timer)
    with timer.step("candidates"):
        candidates = build_candidates(cfg, sn, existing)
    simulator = StudySimulator(cfg, sn, trips, vehicles)
    from planner import siting_step

    optimizer = siting_step.StudyOptimizer(cfg, sn, candidates, trips, vehicles)
    with timer.step("closed loop"):
        loop: LoopResult = closed_loop(
            existing,
            simulate=simulator,
            optimize=optimizer,
            targets=Targets(
                cfg.targets.wait_p95_min,
                cfg.targets.stranded,
                cfg.targets.trips_completed_share,
                cfg.targets.max_iterations,
            ),
            first_round_sites=cfg.model.p,
            budget=cfg.model.budget,
            plug_cost=cfg.candidates.plug_cost,
            max_plugs=cfg.candidates.max_plugs,
            on_step=on_step,
        )
    with timer.step("vehicle comparison"):
        matrix = vehicle_matrix(cfg, simulator, existing, loop.stations)
    with timer.step("coverage curve"):
        curve = optimizer.coverage_curve(existing)
    result = assemble(cfg, sn, existing, candidates, trips, loop, matrix, curve, optimizer)
    result.manifest = manifest(
        cfg, sn, timer.timings, config_path=Path(config_path) if config_path else None
    )
    result.manifest["config_hash"] = config_hash(cfg)
    result.manifest["simulation_runs"] = simulator.runs
    if write:
        folder = Path(out_dir) if out_dir is not None else _default_folder(cfg)
        with timer.step("outputs"), atomic_dir(folder) as tmp:
            write_study(result, tmp, html=cfg.outputs.html)
        result.manifest["timings_s"] = {k: round(v, 3) for k, v in timer.timings.items()}
        result.manifest["output_folder"] = str(folder)
        logger.info("study %s written to %s", cfg.name, folder)
    return result


def _prepare(cfg: StudyConfig, timer: _Timer):
    (demand_seed,) = np.random.SeedSequence(cfg.seed).spawn(1)
    with timer.step("network"):
        sn = build_network(cfg)
    with timer.step("sites"):
        existing = build_existing(cfg, sn)
    with timer.step("demand"):
        vehicles = _vehicles(cfg)
        trips = build_trips(cfg, sn, vehicles, rng=np.random.default_rng(demand_seed))
    return sn, existing, vehicles, trips


def simulate_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
) -> StudyResult:
    """``evplan simulate``: the study's trips with the existing stations only; writes the
    tables, KPIs (with replication intervals) and manifest atomically."""
    timer = _Timer(on_step)
    sn, existing, vehicles, trips = _prepare(cfg, timer)
    simulator = StudySimulator(cfg, sn, trips, vehicles)
    with timer.step("simulation"):
        outcome = simulator(existing)
    res = outcome.detail["result"]
    per = outcome.per_station.set_index("station_id")
    st = existing.join(
        per[["utilisation", "wait_mean_min", "wait_p95_min", "sessions"]], on="station_id"
    )
    iv = outcome.detail["intervals"]
    result = StudyResult(
        name=cfg.name,
        title=cfg.title or cfg.name,
        question=cfg.question,
        roads=roads_frame(sn.network),
        demand=demand_points(cfg, sn, trips),
        existing=points_frame(st),
        kpis_before=dict(outcome.kpis),
        kpi_intervals=iv.reset_index(names="kpi").assign(scenario="before")
        if len(iv)
        else pd.DataFrame(),
        tables={
            "trips": res.trips,
            "sessions": res.sessions,
            "station_timeseries": res.station_timeseries,
            "stations": res.stations,
            "vehicles": res.vehicles,
        },
    )
    result.manifest = manifest(
        cfg, sn, timer.timings, config_path=Path(config_path) if config_path else None
    )
    if write:
        folder = Path(out_dir) if out_dir is not None else _default_folder(cfg, "simulate")
        with timer.step("outputs"), atomic_dir(folder) as tmp:
            from planner.report.export import write_outputs

            write_outputs(result, tmp)
        result.manifest["output_folder"] = str(folder)
    return result


def optimize_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
) -> StudyResult:
    """``evplan optimize``: one siting round for the study's whole demand (every trip, no
    simulation) with the existing stations fixed open; writes the chosen sites and a summary."""
    from planner import siting_step

    timer = _Timer(on_step)
    sn, existing, vehicles, trips = _prepare(cfg, timer)
    with timer.step("candidates"):
        candidates = build_candidates(cfg, sn, existing)
    opt = siting_step.StudyOptimizer(cfg, sn, candidates, trips, vehicles)
    with timer.step("optimisation"):
        demand = opt._all_demand()
        # weights = expected public charging sessions (they size the plugs; siting is unaffected
        # by a common factor)
        factor = siting_step.public_sessions_per_trip(cfg, sn.network, trips, vehicles)
        demand["weight"] = demand["weight"] * max(factor, 1e-6)
        new = opt(demand, existing, cfg.model.p, cfg.model.budget)
        opt.notes.append(
            f"Plugs sized for {factor:.3f} public charging sessions per trip (no simulation: "
            "share without home charging x trip energy / 25 kWh)."
        )
    stations = pd.concat([existing, new.drop(columns="capex")], ignore_index=True)
    selected = new.merge(candidates[["node", "renewable"]], on="node", how="left")
    kb = {
        "coverage_share": opt.coverage_share(existing),
        "n_stations": len(existing),
        "n_plugs": int(existing["plugs"].sum()),
        "capex": 0.0,
    }
    ka = {
        "coverage_share": opt.coverage_share(stations),
        "n_stations": len(stations),
        "n_plugs": int(stations["plugs"].sum()),
        "capex": float(new["capex"].sum()),
    }
    result = StudyResult(
        name=cfg.name,
        title=cfg.title or cfg.name,
        question=cfg.question,
        roads=roads_frame(sn.network),
        demand=demand_points(cfg, sn, trips),
        candidates=points_frame(candidates),
        existing=points_frame(existing),
        selected=points_frame(selected),
        kpis_before=kb,
        kpis_after=ka,
        notes=opt.notes,
    )
    result.manifest = manifest(
        cfg, sn, timer.timings, config_path=Path(config_path) if config_path else None
    )
    result.manifest["solves"] = opt.solves
    if write:
        folder = Path(out_dir) if out_dir is not None else _default_folder(cfg, "optimize")
        with timer.step("outputs"), atomic_dir(folder) as tmp:
            from planner.report.export import write_outputs

            write_outputs(result, tmp)
        result.manifest["output_folder"] = str(folder)
    return result


def summary_row(result: StudyResult) -> dict:
    """A flat row of a study's KPIs for batch tables: ``<kpi>_before``, ``<kpi>_after``,
    plus study name, config hash, new stations, plugs and capex."""
    row = {
        "study": result.name,
        "config_hash": result.manifest.get("config_hash"),
        "new_stations": int(len(result.selected)),
        "new_plugs": int(result.selected["plugs"].sum()) if len(result.selected) else 0,
        "capex": result.kpis_after.get("capex", 0.0),
        "targets_met": not any(it.get("missed") for it in result.iterations[-1:]),
    }
    for label, kpis in (("before", result.kpis_before), ("after", result.kpis_after)):
        for k, v in kpis.items():
            if isinstance(v, int | float | np.integer | np.floating) or v is None:
                row[f"{k}_{label}"] = None if v is None else float(v)
    return row


def _default_folder(cfg: StudyConfig, suffix: str = "") -> Path:
    base = cfg.outputs.folder or Path("runs") / cfg.name
    return base.with_name(f"{base.name}-{suffix}") if suffix else base


def write_study(result: StudyResult, folder: Path, *, html: bool = True) -> None:
    """Write tables, layers, KPIs, manifest and (optionally) the HTML report into ``folder``."""
    from planner.report.export import write_outputs

    write_outputs(result, folder)
    if html:
        from planner.report.html import write_report

        write_report(result, folder)


def vehicle_matrix(
    cfg: StudyConfig, simulator: StudySimulator, existing: pd.DataFrame, proposal: pd.DataFrame
) -> pd.DataFrame:
    """The carmaker's view: share of the study's trips each compared model completes, per
    season, with the existing stations and with the proposal (one replication each)."""
    models = cfg.vehicles.compare
    seasons = cfg.simulation.seasons or {"study": cfg.simulation.temperature_c}
    rows = []
    for model in models:
        trips = simulator.trips.assign(vehicle_model=model)
        for season, temp in seasons.items():
            row = {"vehicle_model": model, "season": season, "temperature_c": temp}
            for label, st in (("before", existing), ("after", proposal)):
                k = simulator(st, temperature_c=temp, trips=trips, replications=1).kpis
                row[f"share_{label}"] = k.get("share_trips_completed", math.nan)
                row[f"stranded_{label}"] = k.get("stranded_vehicles", math.nan)
            row["trips_feasible_share"] = row["share_after"]
            rows.append(row)
    return pd.DataFrame(rows)


def assemble(
    cfg, sn, existing, candidates, trips, loop: LoopResult, matrix, curve, optimizer
) -> StudyResult:
    """Fill a :class:`StudyResult` from the run's pieces."""
    before, after = loop.baseline.detail["result"], loop.proposal.detail["result"]
    per_after = loop.proposal.per_station.set_index("station_id")
    stations = loop.stations.join(
        per_after[["utilisation", "wait_mean_min", "wait_p95_min", "sessions"]], on="station_id"
    )
    sel_ids = set(loop.selected["station_id"]) if len(loop.selected) else set()
    selected = stations[stations["station_id"].isin(sel_ids)].merge(
        candidates[["node", "renewable"]], on="node", how="left"
    )
    kb, ka = dict(loop.baseline.kpis), dict(loop.proposal.kpis)
    kb.update(n_stations=len(existing), n_plugs=int(existing["plugs"].sum()), capex=0.0)
    ka.update(
        n_stations=len(loop.stations),
        n_plugs=int(loop.stations["plugs"].sum()),
        capex=round(loop.capex, 2),
    )
    cov = optimizer.coverage_share
    kb["coverage_share"], ka["coverage_share"] = cov(existing), cov(loop.stations)
    intervals = []
    for label, outcome in (("before", loop.baseline), ("after", loop.proposal)):
        iv = outcome.detail["intervals"]
        if len(iv):
            intervals.append(iv.reset_index(names="kpi").assign(scenario=label))
    waits = pd.concat(
        [
            before.sessions.loc[before.sessions["station"] >= 0, ["wait_s"]].assign(
                scenario="before"
            ),
            after.sessions.loc[after.sessions["station"] >= 0, ["wait_s"]].assign(scenario="after"),
        ]
    )
    waits["wait_min"] = waits.pop("wait_s") / 60.0
    result = StudyResult(
        name=cfg.name,
        title=cfg.title or cfg.name,
        question=cfg.question,
        roads=roads_frame(sn.network),
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
        utilisation_by_hour=_utilisation_by_hour(before, after),
        soc_trace=optimizer.soc_trace(loop.stations),
        vehicle_matrix=matrix,
        iterations=loop.iterations,
        tables={
            "trips_before": before.trips,
            "trips_after": after.trips,
            "sessions_before": before.sessions,
            "sessions_after": after.sessions,
            "stations_after": after.stations,
            "station_timeseries_after": after.station_timeseries,
        },
        notes=optimizer.notes + _notes(cfg, loop),
    )
    return result


def _utilisation_by_hour(before, after) -> pd.DataFrame:
    parts = []
    for label, res in (("before", before), ("after", after)):
        ts = res.station_timeseries
        if ts.empty:
            continue
        hour = (
            (ts["t_s"] // 3600 % 24).astype(int)
            if "t_s" in ts
            else (ts["bin_start_s"] // 3600 % 24).astype(int)
        )
        parts.append(
            ts.assign(hour=hour)
            .groupby("hour", as_index=False)["utilisation"]
            .mean()
            .assign(scenario=label)
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["scenario", "hour", "utilisation"])
    )


def _notes(cfg: StudyConfig, loop: LoopResult) -> list[str]:
    notes = [
        f"Seed {cfg.seed}; {cfg.simulation.replications} replication(s) per scenario; ambient "
        f"{cfg.simulation.temperature_c:g} C.",
        "Unserved demand (input to siting) = origins of trips not completed plus public charging stops that "
        f"balked, waited over the p95 target or detoured over {cfg.model.threshold_min:g} min.",
    ]
    if not loop.targets_met:
        notes.append(
            "Service targets were NOT all met within the iterations/budget: "
            + "; ".join(loop.iterations[-1]["missed"])
        )
    return notes
