"""The three entry points of a study, on one skeleton.

``evplan run`` (:func:`run_study`): config -> network -> demand -> baseline -> optimise ->
proposal -> report. ``evplan simulate`` (:func:`simulate_study`): the existing stations
only. ``evplan optimize`` (:func:`optimize_study`): one siting round on all demand. Each
prepares the same inputs (:func:`prepare`), runs its steps (names and order in
:mod:`planner.study.steps`) timed and logged, and writes its folder atomically
(:func:`planner.report.atomic.atomic_dir`), so an interrupted run leaves nothing
half-written. ``on_step`` lets the CLI drive a progress display. The skeleton they share
(step timing, inputs, output folder) is :mod:`planner.study.skeleton`'s; its public names
are re-exported here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig, config_hash
from planner.report.roads import roads_layer
from planner.study.compare import vehicle_matrix, vehicle_models_table
from planner.study.demand import demand_points
from planner.study.grid_fit import loop_grid
from planner.study.grid_step import apply_grid, fit_new_stations, match_staged_plan
from planner.study.grid_step import attach as attach_grid
from planner.study.inputs import build_candidates, points_frame, reach_sites
from planner.study.loop import LoopResult, Targets, closed_loop
from planner.study.loop_remedies import truck_bay_caps, truck_bay_floors
from planner.study.optimize import StudyOptimizer, public_sessions_per_trip
from planner.study.result import (
    StudyResult,
    all_rows,
    assemble,
    located,
    measured_window,
    summary_row,
)
from planner.study.simulate import StudySimulator
from planner.study.skeleton import (  # noqa: F401 - default_folder re-exported
    Prepared,
    StepCallback,
    StepTimer,
    claim_study_folder,
    default_folder,
    finish_study,
    make_optimizer,
    prepare,
    write_study,
)

logger = logging.getLogger(__name__)

__all__ = ["optimize_study", "run_study", "simulate_study", "summary_row", "write_study"]


def run_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
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
    overwrite : bool
        Replace a non-empty output folder evplan did not write (``--overwrite``).
    """
    with (
        claim_study_folder(
            cfg,
            write=write,
            out_dir=out_dir,
            config_path=config_path,
            overwrite=overwrite,
            suffix="",
        ) as folder,
        StepTimer(on_step) as timer,
    ):
        pre = prepare(cfg, timer)
        with timer.step("candidates"):
            candidates = build_candidates(cfg, pre.sn, pre.existing)
        sites = reach_sites(pre.existing, candidates)
        simulator = StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles, reach_sites=sites)
        optimizer = make_optimizer(cfg, pre.sn, candidates, pre.trips, pre.vehicles)
        if cfg.stages:
            return _run_rollout(
                cfg,
                pre,
                candidates,
                sites,
                optimizer,
                timer,
                folder=folder,
                config_path=config_path,
                overwrite=overwrite,
            )
        with timer.step("closed loop"):
            loop: LoopResult = closed_loop(
                pre.existing,
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
                bay_caps=truck_bay_caps(cfg.candidates),  # truck bay rows: their class max_bays
                bay_floors=truck_bay_floors(cfg.candidates),
                on_step=on_step,
                days=cfg.simulation.days,
                grid=loop_grid(cfg, candidates),  # plugs sized within each site's capacity
                confirm=simulator.confirmation(),
            )
            # the final plan within grid capacity, and its hourly renewable matching
            grid_out = apply_grid(cfg, loop, candidates, simulator)
        with timer.step("vehicle comparison"):
            matrix = vehicle_matrix(cfg, simulator, pre.existing, loop.stations)
        with timer.step("coverage curve"):
            # the curve spans the proposal (a corridor proposal can hold dozens of stations)
            curve = (
                optimizer.coverage_curve(
                    pre.existing,
                    max_new=max(cfg.model.p or 0, len(loop.selected)),
                    points=cfg.outputs.curve_points,
                )
                if cfg.outputs.coverage_curve
                else pd.DataFrame(columns=["n_stations", "new_stations", "coverage_share"])
            )
        result = assemble(
            cfg,
            pre.sn,
            existing=pre.existing,
            candidates=candidates,
            trips=pre.trips,
            loop=loop,
            matrix=matrix,
            curve=curve,
            optimizer=optimizer,
        )
        attach_grid(result, grid_out, candidates)
        result.tables["vehicle_models"] = vehicle_models_table(cfg, pre.vehicles)
        result.manifest["config_hash"] = config_hash(cfg)
        result.manifest["simulation_runs"] = simulator.runs
        # every siting solve, proven or stopped at its time limit (as optimize writes them)
        result.manifest["solves"] = optimizer.solves
        return finish_study(
            cfg,
            result,
            timer,
            sn=pre.sn,
            folder=folder,
            config_path=config_path,
            overwrite=overwrite,
            html=cfg.outputs.html,
        )


def _run_rollout(
    cfg: StudyConfig,
    pre: Prepared,
    candidates: pd.DataFrame,
    sites: np.ndarray,
    optimizer: StudyOptimizer,
    timer: StepTimer,
    *,
    folder: Path | None,
    config_path: str | Path | None,
    overwrite: bool,
) -> StudyResult:
    """A staged study: the plans of :mod:`planner.study.rollout`, reported as one study
    whose "after" is the full plan facing the last stage's demand and "before" the existing
    stations facing the same demand. ``sites``: where the study could have a charger
    (:func:`planner.study.inputs.reach_sites`)."""
    from planner.study.rollout import stage_config, staged_plans

    def simulator_for(stage_cfg: StudyConfig, trips: pd.DataFrame) -> StudySimulator:
        return StudySimulator(stage_cfg, pre.sn, trips, pre.vehicles, reach_sites=sites)

    with timer.step("closed loop"):
        plans = staged_plans(cfg, pre.sn, pre.existing, pre.vehicles, optimizer, simulator_for)
    last_cfg = stage_config(cfg, len(cfg.stages) - 1)
    last_trips = plans["trips"][-1]
    loop: LoopResult = plans["loop"]
    final = simulator_for(last_cfg, last_trips)
    loop.baseline = final(pre.existing)  # before: the existing stations only, final demand
    loop.stations = plans["stations"].drop(columns=["opening_year"])
    # the plugs the whole rollout added at existing stations (each stage's loop counted only
    # its own: the corridor rollout's card said 78 new plugs, not 87, 9 at the hotels)
    start = pre.existing.set_index("station_id")["plugs"]
    grown = loop.stations["station_id"].map(start)
    if "added_plugs" in loop.stations:
        at_start = grown.notna().to_numpy()
        loop.stations.loc[at_start, "added_plugs"] = (
            loop.stations.loc[at_start, "plugs"] - grown[at_start]
        ).clip(lower=0)
    sel = plans["stations"][~plans["stations"]["existing"].astype(bool)]
    loop.selected = sel.assign(capex=np.nan)
    loop.capex = float(plans["timeline"].query("method == @plans['method']")["capex"].sum())
    last_opt = optimizer.for_trips(last_cfg, last_trips)
    with timer.step("vehicle comparison"):
        matrix = vehicle_matrix(last_cfg, final, pre.existing, loop.stations)
    if len(matrix):  # the last stage's demand and stations: say which year in the table too
        matrix.insert(0, "year", cfg.stages[-1].year)
    with timer.step("coverage curve"):
        curve = pd.DataFrame(columns=["n_stations", "new_stations", "coverage_share"])
    result = assemble(
        last_cfg,
        pre.sn,
        existing=pre.existing,
        candidates=candidates,
        trips=last_trips,
        loop=loop,
        matrix=matrix,
        curve=curve,
        optimizer=last_opt,
    )
    # the plan's charging matched hour by hour with the renewable plants, as an unstaged
    # study's (the stage loops sized its plugs within the grid capacity already)
    attach_grid(result, match_staged_plan(last_cfg, loop, candidates), candidates)
    _stage_verdict(result.verdict, plans["timeline"], plans["method"])
    fleets = [(st.year, stage_config(cfg, k).vehicles.fleet) for k, st in enumerate(cfg.stages)]
    result.tables["vehicle_models"] = vehicle_models_table(cfg, pre.vehicles, fleets=fleets)
    years = plans["stations"].set_index("station_id")["opening_year"]
    result.selected["opening_year"] = result.selected["station_id"].map(years).to_numpy()
    result.tables["rollout_timeline"] = plans["timeline"]
    if len(plans["vehicles_by_year"]):
        result.tables["rollout_vehicles"] = plans["vehicles_by_year"]
    if len(plans["robust"]):
        result.tables["rollout_robust"] = plans["robust"]
    result.notes += [
        f"Staged rollout {cfg.stages[0].year}-{cfg.stages[-1].year} ({plans['method']} plan "
        "reported; opening year per station in the stations table and the GeoPackage)."
    ] + plans["notes"]
    result.manifest["rollout"] = {
        "method": plans["method"],
        "timeline": plans["timeline"].to_dict("records"),
        # look-ahead vs myopic (regret) and the robust first stage's per-scenario table
        **plans["summary"],
        "vehicles_by_year": plans["vehicles_by_year"].to_dict("records"),  # carmaker table
    }
    return finish_study(
        cfg,
        result,
        timer,
        sn=pre.sn,
        folder=folder,
        config_path=config_path,
        overwrite=overwrite,
        html=cfg.outputs.html,
    )


def _stage_verdict(verdict: dict, timeline: pd.DataFrame, method: str) -> None:
    """A staged study meets its targets only if the reported plan meets them in every
    stage: the verdict (of the last stage) is made "missed" when an earlier stage missed
    (it said "targets met" for a plan that missed them in three of four years)."""
    if not verdict.get("targets"):
        return
    mine = timeline[timeline["method"] == method]
    missed = [int(y) for y in mine.loc[~mine["targets_met"].astype(bool), "year"]]
    last = int(mine["year"].max()) if len(mine) else None
    earlier = [y for y in missed if y != last]
    if earlier:
        sampled = "trips_simulated" in mine and (mine["trips_simulated"] < mine["trips"]).any()
        verdict["status"] = "missed"
        verdict.setdefault("reasons", []).insert(
            0,
            f"the {method} plan does not meet "
            + ("(or, on a sample of the fleet, cannot confirm) " if sampled else "")
            + f"the service targets in {', '.join(map(str, earlier))} (the rollout timeline; "
            f"the targets below are those of {last})",
        )


def simulate_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> StudyResult:
    """``evplan simulate``: the study's trips with the existing stations only; writes the
    tables, KPIs (with replication intervals) and manifest atomically."""
    with (
        claim_study_folder(
            cfg,
            write=write,
            out_dir=out_dir,
            config_path=config_path,
            overwrite=overwrite,
            suffix="simulate",
        ) as folder,
        StepTimer(on_step) as timer,
    ):
        pre = prepare(cfg, timer)
        simulator = StudySimulator(cfg, pre.sn, pre.trips, pre.vehicles)
        with timer.step("simulation"):
            outcome = simulator(pre.existing)
        res = outcome.detail["result"]
        every = all_rows(outcome)  # trips and sessions: every row, ``measured`` says which count
        per = outcome.per_station.set_index("station_id")
        st = pre.existing.join(
            per[["utilisation", "wait_mean_min", "wait_p95_min", "sessions", "visits"]],
            on="station_id",
        )
        iv = outcome.detail["intervals"]
        result = StudyResult(
            name=cfg.name,
            title=cfg.title or cfg.name,
            question=cfg.question,
            roads=roads_layer(pre.sn.network, pre.sn.graph),
            demand=demand_points(cfg, pre.sn, pre.trips),
            existing=points_frame(st),
            kpis_before=dict(outcome.kpis),
            kpi_intervals=iv.reset_index(names="kpi").assign(scenario="before")
            if len(iv)
            else pd.DataFrame(),
            tables=located(
                {
                    "trips": every.trips,
                    "sessions": every.sessions,
                    "station_timeseries": res.station_timeseries,
                    "stations": res.stations,
                    "vehicles": res.vehicles,
                },
                pre.sn.network,
                res.stations,
            ),
            # the time measures' window, to trace the utilisation from the tables
            manifest={"measured_window_s": measured_window(res)},
        )
        return finish_study(
            cfg,
            result,
            timer,
            sn=pre.sn,
            folder=folder,
            config_path=config_path,
            overwrite=overwrite,
            html=False,
        )


def optimize_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> StudyResult:
    """``evplan optimize``: one siting round for the study's whole demand (every trip, no
    simulation) with the existing stations fixed open; writes the chosen sites and a summary."""
    with (
        claim_study_folder(
            cfg,
            write=write,
            out_dir=out_dir,
            config_path=config_path,
            overwrite=overwrite,
            suffix="optimize",
        ) as folder,
        StepTimer(on_step) as timer,
    ):
        pre = prepare(cfg, timer)
        existing = pre.existing
        with timer.step("candidates"):
            candidates = build_candidates(cfg, pre.sn, existing)
        opt = make_optimizer(cfg, pre.sn, candidates, pre.trips, pre.vehicles)
        with timer.step("optimisation"):
            demand = opt.all_demand()
            # weights = expected public charging sessions (they size the plugs; siting is unaffected
            # by a common factor)
            factor = public_sessions_per_trip(cfg, pre.sn.network, pre.trips, pre.vehicles)
            demand["weight"] = demand["weight"] * max(factor, 1e-6)
            new = opt(demand, existing, cfg.model.p, cfg.model.budget)
            opt.notes.append(
                f"Plugs sized for {factor:.3f} public charging sessions per trip (no simulation: "
                "share without home charging x trip energy / 25 kWh)."
            )
        new, stations, grid_kpis = fit_new_stations(cfg, existing, new, candidates, opt.notes)
        selected = new.merge(
            candidates[["node", "renewable", "approximate", "plant"]], on="node", how="left"
        )
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
            **grid_kpis,
        }
        result = StudyResult(
            name=cfg.name,
            title=cfg.title or cfg.name,
            question=cfg.question,
            roads=roads_layer(pre.sn.network, pre.sn.graph),
            demand=demand_points(cfg, pre.sn, pre.trips),
            candidates=points_frame(candidates),
            existing=points_frame(existing),
            selected=points_frame(selected),
            kpis_before=kb,
            kpis_after=ka,
            notes=opt.notes,
        )
        result.manifest["solves"] = opt.solves
        return finish_study(
            cfg,
            result,
            timer,
            sn=pre.sn,
            folder=folder,
            config_path=config_path,
            overwrite=overwrite,
            html=False,
        )
