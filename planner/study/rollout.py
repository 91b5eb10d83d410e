"""Staged rollout: what to build in each year as adoption grows, checked by simulation.

For every stage (year) the study's demand is regenerated at that stage's level (demand
scale or adoption share, fleet mix, temperature; the same seed, so stages differ by their
settings, not by chance). Then:

* **myopic** (``rollout.method: myopic``): the design loop (:mod:`planner.study.loop`) runs
  stage by stage on that stage's simulated demand, with the stations of earlier stages kept
  (nested: sites stay open, plugs are only added) and that stage's budget or site count;
* **look-ahead** (``lookahead``): one multi-period model sees every stage's demand at once
  (cities: :class:`planner.siting.multiperiod.StagedMCLP` on travel times; corridors:
  :class:`planner.siting.multiperiod_frlm.StagedFRLM` on OD flows and the stage's range),
  then each stage's stations are sized for that stage's demand and simulated;
* **both**: both plans, and the regret of the myopic plan (what it covers or refuels over
  the stages against the look-ahead plan, in the look-ahead model);
* **scenarios** (``rollout.scenarios``: demand multipliers such as low/base/high, and
  temperatures, e.g. a mild and a severe winter for a corridor): the first stage that
  minimises the maximum regret over the scenarios
  (:func:`planner.siting.multiperiod_robust.robust_first_stage`) and how each candidate
  first stage does in every scenario. That first stage is what the report recommends, so
  the plan it reports (stations table, map, KPIs) is the **robust** plan: the robust first
  stage, then the later stages that do best after it in the study's own demand (simulated
  as the look-ahead plan is; the look-ahead plan itself when its first stage is the robust
  one).

Every plan is simulated at every stage; the timeline table holds per year the new sites
and plugs, capex and cumulative capex, p95 wait, stranded vehicles and trips completed.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.siting.multiperiod import StagedCover, StagedResult
from planner.siting.multiperiod_robust import robust_first_stage
from planner.study.compare import comparison_kpis, comparison_trips
from planner.study.grid_fit import loop_grid, site_count
from planner.study.loop import LoopResult, Targets, closed_loop
from planner.study.loop_remedies import truck_bay_caps, truck_bay_floors
from planner.study.optimize import StudyOptimizer
from planner.study.rollout_models import stage_config, stage_trips, staged_model
from planner.study.simulate import StudySimulator
from planner.study.targets import targets_confirmed

logger = logging.getLogger(__name__)

__all__ = ["stage_config", "stage_trips", "staged_plans"]


def _no_new_sites(opt: StudyOptimizer) -> Any:
    """An optimiser that adds nothing (the look-ahead plan fixed this stage's sites)."""

    def none(*_args: Any) -> pd.DataFrame:
        return opt.empty()

    return none


def staged_plans(
    cfg: StudyConfig,
    sn: Any,
    existing: pd.DataFrame,
    vehicles: dict,
    optimizer: StudyOptimizer,
    make_simulator: Any,
) -> dict[str, Any]:
    """Every plan the study asks for, each simulated at every stage (see the module doc).

    Returns ``timeline`` (DataFrame, one row per method and year), ``stations`` (the
    stations of the reported plan with ``opening_year``: with scenarios the robust plan,
    else the look-ahead plan when there is one, else the myopic), ``method`` (that plan's),
    ``loop`` (the last stage's LoopResult of the reported plan), ``robust`` (DataFrame or
    empty) and ``notes``.
    """
    trips = [stage_trips(cfg, sn, vehicles, k) for k in range(len(cfg.stages))]
    methods = ["myopic", "lookahead"] if cfg.rollout.method == "both" else [cfg.rollout.method]
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    unit = "refuelled trips" if cfg.model.kind == "frlm" else "trips covered"
    summary: dict[str, Any] = {"objective": f"{unit}, summed over the stages"}
    plans: dict[str, pd.DataFrame] = {}
    loops: dict[str, LoopResult] = {}
    model = None
    if "lookahead" in methods:
        model = staged_model(cfg, optimizer, existing, trips, vehicles)
        look = model.solve(time_limit_s=cfg.rollout.time_limit_s, seed=cfg.seed)
        model.check(look)  # nested, stage limits, coverage recomputed independently
        summary["lookahead_objective"] = look.objective
        summary["lookahead_status"] = look.status
        summary["lookahead_gap"] = look.gap
    # the site columns each stage opens, per plan of fixed sites (simulated, not sited)
    fixed: dict[str, list[np.ndarray]] = {} if model is None else {"lookahead": look.opened}
    robust = pd.DataFrame()
    robust_notes: list[str] = []
    if cfg.rollout.scenarios:
        known = None if model is None else (model, look)
        robust, robust_notes, summary["robust"], robust_plan = _robust(
            cfg, sn, vehicles, optimizer, existing, trips, known
        )
        if model is not None and _same(robust_plan[0], look.opened[0]):
            robust_notes.append(
                "The look-ahead plan opens the robust first stage: it is the plan reported."
            )
        else:  # the plan the notes recommend is simulated and reported
            fixed["robust"] = robust_plan
            methods.append("robust")
            robust_notes.append(
                "The plan reported (stations table, map, KPIs; robust in the timeline) is the "
                "robust first stage, then the later stages that do best after it in the "
                "study's own demand"
                + (": the look-ahead plan opens other sites first." if model is not None else ".")
            )
    # the plan reported: the one the notes recommend (robust), else the look-ahead's
    report = next(m for m in ("robust", "lookahead", methods[0]) if m in methods)
    snapshots: dict[str, list[pd.DataFrame]] = {}
    grid = loop_grid(cfg, optimizer.candidates)  # each stage's plugs within site capacity
    for method in methods:
        snapshots[method] = []
        stations = existing.assign(added_plugs=0, opening_year=np.nan)
        capex_total = 0.0
        for k, st in enumerate(cfg.stages):
            stage_cfg = stage_config(cfg, k)
            simulate: StudySimulator = make_simulator(stage_cfg, trips[k])
            targets = Targets(
                cfg.targets.wait_p95_min,
                cfg.targets.stranded,
                cfg.targets.trips_completed_share,
                # look-ahead sites are fixed; one more round sizes their plugs if waits miss
                cfg.targets.max_iterations if method == "myopic" else 2,
            )
            before, plugs_before = site_count(stations), int(stations["plugs"].sum())
            if method == "myopic":
                opt = optimizer.for_trips(stage_cfg, trips[k])
                loop = closed_loop(
                    stations.drop(columns=["opening_year"]),
                    simulate=simulate,
                    optimize=opt,
                    targets=targets,
                    first_round_sites=st.new_sites,
                    budget=st.budget,
                    plug_cost=cfg.candidates.plug_cost,
                    max_plugs=cfg.candidates.max_plugs,
                    bay_caps=truck_bay_caps(cfg.candidates),
                    bay_floors=truck_bay_floors(cfg.candidates),
                    days=cfg.simulation.days,
                    max_new_sites=st.new_sites,
                    grid=grid,
                    confirm=simulate.confirmation(),
                )
            else:
                new_cols = fixed[method][k] - len(existing)
                opt = optimizer.for_trips(stage_cfg, trips[k])
                chosen = np.asarray(new_cols[new_cols >= 0], dtype=np.int64)
                new = opt.stations_frame(chosen, np.ones(chosen.size, dtype=int))
                add = new.drop(columns="capex").assign(added_plugs=0)
                base = stations.drop(columns=["opening_year"])
                grown = pd.concat([base, add], ignore_index=True) if len(add) else base
                loop = closed_loop(
                    grown,
                    simulate=simulate,
                    optimize=_no_new_sites(opt),
                    targets=targets,
                    first_round_sites=0,
                    # what the stage's budget leaves after its sites goes to plugs
                    budget=None
                    if st.budget is None
                    else max(0.0, st.budget - float(new["capex"].sum())),
                    plug_cost=cfg.candidates.plug_cost,
                    max_plugs=cfg.candidates.max_plugs,
                    bay_caps=truck_bay_caps(cfg.candidates),
                    bay_floors=truck_bay_floors(cfg.candidates),
                    days=cfg.simulation.days,
                    grid=grid,
                    confirm=simulate.confirmation(),
                )
                loop.capex += float(new["capex"].sum())  # the loop counted only added plugs
            years = stations.set_index("station_id")["opening_year"]
            stations = loop.stations.assign(
                opening_year=loop.stations["station_id"].map(years).fillna(float(st.year))
            )
            stations.loc[stations["existing"].astype(bool), "opening_year"] = np.nan
            snapshots[method].append(stations.drop(columns=["opening_year"]))
            capex_total += loop.capex
            k_after = loop.proposal.kpis
            factor = float(trips[k].attrs.get("expansion_factor", 1.0))
            # the stage's trips in the measured days, as the KPI table counts them (the
            # trips table also holds the warm-up days': counting those tripled a city
            # stage's trips), and those simulated when it is a sample of them
            measured = k_after.get("trips")
            if measured is None or not math.isfinite(float(measured)):
                measured = math.nan  # unknown (the trips table would count warm-up days too)
            rows.append(
                {
                    "method": method,
                    "year": st.year,
                    "trips": _whole(measured),
                    "trips_simulated": _whole(measured / factor),
                    "new_sites": site_count(stations) - before,
                    "new_plugs": int(stations["plugs"].sum()) - plugs_before,
                    "capex": round(loop.capex, 2),
                    "cumulative_capex": round(capex_total, 2),
                    "wait_p95_min": k_after.get("wait_p95_min"),
                    "stranded_vehicles": k_after.get("stranded_vehicles"),
                    "share_trips_completed": k_after.get("share_trips_completed"),
                    # met as the study's verdict judges it (one rule for both,
                    # planner.study.targets.judge_targets): on the whole fleet, with
                    # replication intervals, every target defined
                    "targets_met": targets_confirmed(
                        k_after,
                        targets,
                        loop.proposal.detail.get("target_intervals"),
                    ),
                }
            )
            if method == report and k == len(cfg.stages) - 1:
                loops[method] = loop  # the one loop returned
            # a stage's loop is not kept alive while the next stage simulates: its
            # outcomes hold their seed runs' every simulated row (the exported tables)
            del loop, k_after
        plans[method] = stations
    timeline = pd.DataFrame(rows)
    if model is not None and "myopic" in plans:
        my = plans["myopic"]
        opened = [
            np.flatnonzero(
                np.isin(
                    np.r_[
                        existing["station_id"].to_numpy(),
                        optimizer.candidates["site_id"].to_numpy(),
                    ],
                    my.loc[my["opening_year"] == st.year, "station_id"].to_numpy(),
                )
            )
            for st in cfg.stages
        ]
        myopic_cov = model.evaluate(opened).objective
        regret = look.objective - myopic_cov
        summary.update(myopic_objective=myopic_cov, regret=regret)
        summary["regret_share"] = regret / max(look.objective, 1e-9)
        what = (
            "refuels"
            if cfg.model.kind == "frlm"
            else f"covers (within {cfg.model.threshold_min:g} min)"
        )
        notes.append(
            f"Look-ahead plan {what} {look.objective:,.0f} stage-weighted trips, the myopic "
            f"plan {myopic_cov:,.0f}: regret {regret:,.0f} ({summary['regret_share']:.1%})"
            + (
                "."
                if look.status == "OPTIMAL"
                else f"; the look-ahead solve stopped at the time limit {look.gap:.2%} from "
                "its bound."
            )
        )
        contrast = simulated_contrast(timeline, what.split(" (")[0])
        if contrast:
            notes.append(contrast)
    notes += robust_notes
    vehicles_by_year = _vehicles_by_year(cfg, trips, snapshots[report], make_simulator)
    vehicles_by_year.insert(0, "method", report)
    for vehicle, first in _first_usable_year(vehicles_by_year).items():
        notes.append(f"{vehicle}: {first}")
    return {
        "vehicles_by_year": vehicles_by_year,
        "timeline": timeline,
        "stations": plans[report],
        "loop": loops[report],
        "method": report,
        "robust": robust,
        "summary": summary,
        "notes": notes,
        "trips": trips,
    }


def _robust(
    cfg: StudyConfig,
    sn: Any,
    vehicles: dict,
    optimizer: StudyOptimizer,
    existing: pd.DataFrame,
    trips: list[pd.DataFrame],
    study: tuple[StagedCover, StagedResult] | None,
) -> tuple[pd.DataFrame, list[str], dict[str, Any], list[np.ndarray]]:
    """The min-max-regret first stage over ``rollout.scenarios``: its table (one row per
    candidate first stage, each scenario's objective and regret), notes, summary and the
    robust plan (the site columns each stage opens: the chosen first stage, then the best
    later stages after it in the study's own demand). ``study`` is the study's own staged
    model and look-ahead plan, reused for a scenario that is the study itself (demand 1, no
    temperature)."""
    specs = cfg.rollout.scenario_specs()
    notes: list[str] = []
    scen: dict[str, StagedCover] = {}
    known: dict[str, StagedResult] = {}
    for name, spec in specs.items():
        temps = spec.temperatures()
        if spec.demand == 1.0 and temps == [None] and study is not None:
            scen[name], known[name] = study  # the study itself: solved already
            continue
        # trips do not depend on the temperature (demand step), only on the demand level
        strips = (
            trips
            if spec.demand == 1.0
            else [
                stage_trips(cfg, sn, vehicles, k, scale=spec.demand) for k in range(len(cfg.stages))
            ]
        )
        scen[name] = staged_model(cfg, optimizer, existing, strips, vehicles, temperatures=temps)
    if cfg.model.kind != "frlm" and any(s.temperatures() != [None] for s in specs.values()):
        notes.append(
            "Scenario temperatures do not change a city's robust choice: the covering model "
            "counts travel time to a station and the trips do not depend on temperature."
        )
    choice = robust_first_stage(
        scen, time_limit_s=cfg.rollout.time_limit_s, seed=cfg.seed, known=known
    )
    own = [n for n, spec in specs.items() if spec.demand == 1.0 and spec.temperatures() == [None]]
    if study is not None and _same(choice.first_stage, study[1].opened[0]):
        # the look-ahead plan opens the robust first stage: it is the plan reported, so it
        # is the plan listed (a separate time-limited solve of the later stages could
        # stop at other sites)
        plan = list(study[1].opened)
    elif own:  # the study is a scenario: its plan after the chosen first stage is known
        plan = choice.plans[own[0]]
    else:
        model = study[0] if study else staged_model(cfg, optimizer, existing, trips, vehicles)
        plan = [choice.first_stage]
        if model.n_stages > 1:
            plan += model.solve(
                time_limit_s=cfg.rollout.time_limit_s,
                seed=cfg.seed,
                stages=slice(1, model.n_stages),
                fixed_before=choice.first_stage,
            ).opened
    sites = np.r_[existing["station_id"].to_numpy(), optimizer.candidates["site_id"].to_numpy()]
    table = pd.DataFrame(choice.table)
    table["sites"] = [", ".join(str(sites[j]) for j in r) for r in table["sites"]]
    first = [str(sites[j]) for j in choice.first_stage]
    how = (
        "exact over every affordable first stage"
        if choice.exact
        else ("among the scenarios' own optimal first stages")
    )
    notes.append(
        f"Robust first stage ({', '.join(specs)} scenarios, min-max regret, {how}): "
        f"{', '.join(first) or 'no new site'}, worst-case regret {choice.max_regret:,.0f} trips"
        + ("." if choice.optimal else " (some solves stopped at the time limit: approximate).")
    )
    summary = {
        "method": "min-max regret (Kouvelis & Yu 1997)",
        "exact": choice.exact,
        "all_solves_optimal": choice.optimal,
        "first_stage": first,
        "max_regret": choice.max_regret,
        "scenarios": {k: v.model_dump(exclude_defaults=True) for k, v in specs.items()},
        "optima": choice.optima,
        "table": table.to_dict("records"),
        # the robust plan's new sites per stage (the plan reported, unless the look-ahead
        # plan opens the same first stage: then that plan is)
        "plan": [[str(sites[j]) for j in stage] for stage in plan],
    }
    return table, notes, summary, plan


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two stages open the same site columns."""
    return set(np.asarray(a).tolist()) == set(np.asarray(b).tolist())


def simulated_contrast(timeline: pd.DataFrame, what: str) -> str | None:
    """A note when the simulation ranks the two methods the other way from the siting
    objective: the look-ahead plan {what} more trips, but the myopic plan strands fewer
    vehicles in every stage (the corridor rollout: regret 70 for the myopic plan, which
    stranded 219 / 452 / 1,015 a day against 233 / 494 / 1,091; review of 2026-12-07).
    None when the timeline does not favour the myopic plan in every stage."""
    cols = {"method", "year", "stranded_vehicles"}
    if not cols <= set(timeline.columns):
        return None
    by = timeline.pivot_table(index="year", columns="method", values="stranded_vehicles")
    if not {"myopic", "lookahead"} <= set(by.columns) or by.empty:
        return None
    my, look = by["myopic"].to_numpy(dtype=float), by["lookahead"].to_numpy(dtype=float)
    if not (my < look).all():
        return None
    fmt = " / ".join
    return (
        f"The simulated timeline favours the myopic plan in every stage: it strands "
        f"{fmt(f'{v:,.0f}' for v in my)} vehicles against the look-ahead plan's "
        f"{fmt(f'{v:,.0f}' for v in look)} ({', '.join(str(int(y)) for y in by.index)}). The "
        f"look-ahead plan {what} more stage-weighted trips, but that objective does not see "
        "queues: read both before choosing."
    )


def _vehicles_by_year(
    cfg: StudyConfig, trips: list[pd.DataFrame], snapshots: list[pd.DataFrame], make_simulator: Any
) -> pd.DataFrame:
    """The carmaker's table by year: share of each stage's trips each compared model
    completes per season with that stage's stations (one replication each); a model listed
    twice in ``vehicles.compare`` is one row, as in :func:`~planner.study.compare.vehicle_matrix`."""
    models = list(dict.fromkeys(cfg.vehicles.compare))
    rows = []
    for k, st in enumerate(cfg.stages):
        stage_cfg = stage_config(cfg, k)
        seasons = stage_cfg.simulation.seasons or {"study": stage_cfg.simulation.temperature_c}
        simulate = make_simulator(stage_cfg, trips[k])
        for model in models:
            # vehicles.compare_as: a fleet of the model alone, or probes among the stage's
            # fleet (planner.study.compare.comparison_trips)
            tr, probe = comparison_trips(stage_cfg, trips[k], model, simulate.vehicles)
            for season, temp in seasons.items():
                if probe is not None and probe.size == 0:
                    kp: dict[str, float] = {}
                else:
                    out = simulate(snapshots[k], temperature_c=temp, trips=tr, replications=1)
                    kp = comparison_kpis(out, tr, probe)
                rows.append(
                    {
                        "year": st.year,
                        "vehicle_model": model,
                        "season": season,
                        "temperature_c": temp,
                        "share_trips_completed": kp.get("share_trips_completed"),
                        "share_public_trips_completed": kp.get("share_public_trips_completed"),
                        **({} if probe is None else {"probe_vehicles": probe.size}),
                        # 1: the whole fleet; N: a sample of 1 in N trips (demand.max_trips)
                        "sampled_1_in": _whole(float(trips[k].attrs.get("expansion_factor", 1.0))),
                    }
                )
    return pd.DataFrame(rows)


def _first_usable_year(table: pd.DataFrame, share: float = 0.95) -> dict[str, str]:
    """Per model, the first year from which it completes at least ``share`` of the trips in
    every season, that year and every later stage (a model can fall below again as demand
    grows and queues lengthen), or that it never does within the plan."""
    if table.empty:
        return {}
    out = {}
    for model, part in table.groupby("vehicle_model", sort=False):
        # every season at or above the share (an unknown share, NaN, is not a pass)
        passed = (part["share_trips_completed"] >= share).groupby(part["year"]).all().sort_index()
        ok = passed.to_numpy()
        years = [int(y) for y in passed.index]
        # the stages from which every later one passes too
        holds = np.logical_and.accumulate(ok[::-1])[::-1]
        if holds.any():
            text = f"completes >= {share:.0%} of trips in every season from {years[int(holds.argmax())]}"
        elif ok.any():
            first = int(ok.argmax())
            later = [y for y, good in zip(years[first:], ok[first:], strict=True) if not good]
            text = (
                f"completes >= {share:.0%} of trips in every season in {years[first]}, but "
                f"below it in some season again in {', '.join(map(str, later))}"
            )
        else:
            text = f"below {share:.0%} in some season in every stage up to {years[-1]}"
        out[str(model)] = text
    return out


def _whole(x: float) -> float | int:
    """``x`` rounded to a whole number, NaN kept (an unknown count)."""
    return round(x) if math.isfinite(x) else math.nan
