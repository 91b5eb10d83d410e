"""Staged rollout: what to build in each year as adoption grows, checked by simulation.

For every stage (year) the study's demand is regenerated at that stage's level (demand
scale or adoption share, fleet mix, temperature; the same seed, so stages differ by their
settings, not by chance). Then:

* **myopic** (``rollout.method: myopic``): the design loop (:mod:`planner.study.loop`) runs
  stage by stage on that stage's simulated demand, with the stations of earlier stages kept
  (nested: sites stay open, plugs are only added) and that stage's budget or site count;
* **look-ahead** (``lookahead``, city studies): one multi-period covering model sees every
  stage's demand at once (:class:`planner.siting.multiperiod.StagedMCLP`), then each stage's
  stations are sized for that stage's demand and simulated;
* **both**: both plans, and the regret of the myopic plan (coverage over the stages it
  loses against the look-ahead plan);
* **scenarios** (``rollout.scenarios``, demand multipliers such as low/base/high): the
  first stage that minimises the maximum regret over the scenarios
  (:func:`planner.siting.multiperiod.robust_first_stage`) and how each scenario's own best
  first stage does in the others.

Every plan is simulated at every stage; the timeline table holds per year the new sites
and plugs, capex and cumulative capex, p95 wait, stranded vehicles and trips completed.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.siting.multiperiod import StagedMCLP
from planner.siting.multiperiod_robust import robust_first_stage
from planner.study.demand import build_trips
from planner.study.loop import LoopResult, Targets, closed_loop
from planner.study.optimize import StudyOptimizer
from planner.study.simulate import StudySimulator

logger = logging.getLogger(__name__)

__all__ = ["stage_config", "stage_trips", "staged_plans"]


def stage_config(cfg: StudyConfig, k: int, *, scale: float = 1.0) -> StudyConfig:
    """The study as it stands in stage ``k`` (demand level, fleet, temperature), with the
    demand multiplied by ``scale`` (a scenario)."""
    st = cfg.stages[k]
    d = cfg.demand
    factor = (st.demand_scale or 1.0) * scale
    demand: dict[str, Any] = {}
    if d.kind == "city":
        share = st.adoption_share if st.adoption_share is not None else d.adoption_share * factor
        demand["adoption_share"] = min(1.0, share * (scale if st.adoption_share else 1.0))
    else:
        demand["trips_per_day"] = d.trips_per_day * factor
    update: dict[str, Any] = {"demand": d.model_copy(update=demand)}
    if st.fleet:
        update["vehicles"] = cfg.vehicles.model_copy(update={"fleet": dict(st.fleet)})
    if st.temperature_c is not None:
        update["simulation"] = cfg.simulation.model_copy(update={"temperature_c": st.temperature_c})
    return cfg.model_copy(update=update)


def stage_trips(
    cfg: StudyConfig, sn: Any, vehicles: dict, k: int, *, scale: float = 1.0
) -> pd.DataFrame:
    """The trips of stage ``k`` (seeded from the study seed and the stage)."""
    (seed,) = np.random.SeedSequence([cfg.seed, k]).spawn(1)
    return build_trips(
        stage_config(cfg, k, scale=scale), sn, vehicles, rng=np.random.default_rng(seed)
    )


def _no_new_sites(opt: StudyOptimizer) -> Any:
    """An optimiser that adds nothing (the look-ahead plan fixed this stage's sites)."""

    def none(*_args: Any) -> pd.DataFrame:
        return opt.empty()

    return none


def _weights(trips: list[pd.DataFrame], nodes: np.ndarray) -> np.ndarray:
    """Trips starting at each node, per stage (the covering model's demand), scaled to the
    whole fleet when the stage simulates a sample (``demand.max_trips``)."""
    index = {int(n): i for i, n in enumerate(nodes)}
    w = np.zeros((len(trips), nodes.size))
    for t, tr in enumerate(trips):
        factor = float(tr.attrs.get("expansion_factor", 1.0))
        counts = tr["origin"].value_counts()
        for n, c in counts.items():
            w[t, index[int(n)]] = float(c) * factor
    return w


def _staged_model(
    cfg: StudyConfig,
    optimizer: StudyOptimizer,
    existing: pd.DataFrame,
    trips: list[pd.DataFrame],
    *,
    scale: float = 1.0,
) -> tuple[StagedMCLP, np.ndarray, pd.DataFrame]:
    nodes = np.unique(np.concatenate([t["origin"].to_numpy(dtype=np.int64) for t in trips]))
    cand = optimizer.candidates
    cols = np.r_[existing["node"].to_numpy(dtype=np.int64), cand["node"].to_numpy(dtype=np.int64)]
    threshold = cfg.model.threshold_min * 60.0
    cost = optimizer.net.travel_time_matrix(nodes, cols, cutoff=threshold)
    site_cost = np.r_[np.zeros(len(existing)), (cand["site_cost"] + cand["plug_cost"]).to_numpy()]
    budgets = np.array([st.budget if st.budget is not None else np.inf for st in cfg.stages])
    model = StagedMCLP.from_cost_matrix(
        cost,
        _weights(trips, nodes) * scale,
        threshold=threshold,
        site_costs=site_cost,
        budgets=budgets,
        years=np.array([st.year for st in cfg.stages], dtype=float),
        discount_rate=cfg.rollout.discount_rate,
        fixed_open=np.arange(len(existing)),
    )
    return model, nodes, cand


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
    stations of the reported plan with ``opening_year``), ``loops`` (the last stage's
    LoopResult of the reported plan), ``robust`` (DataFrame or empty) and ``notes``.
    """
    trips = [stage_trips(cfg, sn, vehicles, k) for k in range(len(cfg.stages))]
    methods = ["myopic", "lookahead"] if cfg.rollout.method == "both" else [cfg.rollout.method]
    if cfg.model.kind != "mclp" and "lookahead" in methods:
        methods = ["myopic"]  # the corridor model sites by flows: stage by stage only
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    plans: dict[str, pd.DataFrame] = {}
    loops: dict[str, LoopResult] = {}
    model = None
    if "lookahead" in methods:
        model, _, cand = _staged_model(cfg, optimizer, existing, trips)
        look = model.solve(time_limit_s=cfg.rollout.time_limit_s, seed=cfg.seed)
        model.check(look)
    snapshots: dict[str, list[pd.DataFrame]] = {}
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
            before, plugs_before = len(stations), int(stations["plugs"].sum())
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
                    days=cfg.simulation.days,
                    max_new_sites=st.new_sites,
                )
            else:
                assert model is not None
                new_cols = look.opened[k] - len(existing)
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
                    days=cfg.simulation.days,
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
            rows.append(
                {
                    "method": method,
                    "year": st.year,
                    "trips": len(trips[k]),
                    "new_sites": len(stations) - before,
                    "new_plugs": int(stations["plugs"].sum()) - plugs_before,
                    "capex": round(loop.capex, 2),
                    "cumulative_capex": round(capex_total, 2),
                    "wait_p95_min": k_after.get("wait_p95_min"),
                    "stranded_vehicles": k_after.get("stranded_vehicles"),
                    "share_trips_completed": k_after.get("share_trips_completed"),
                    "targets_met": loop.targets_met,
                }
            )
        plans[method] = stations
        loops[method] = loop
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
        notes.append(
            f"Look-ahead plan covers {look.objective:,.0f} stage-weighted trips within "
            f"{cfg.model.threshold_min:g} min, the myopic plan {myopic_cov:,.0f}: regret "
            f"{regret:,.0f} ({regret / max(look.objective, 1e-9):.1%})."
        )
    robust = pd.DataFrame()
    if cfg.rollout.scenarios and cfg.model.kind == "mclp":
        scen = {}
        for name, f in cfg.rollout.scenarios.items():
            strips = [stage_trips(cfg, sn, vehicles, k, scale=f) for k in range(len(cfg.stages))]
            scen[name], _, _ = _staged_model(cfg, optimizer, existing, strips)
        choice = robust_first_stage(scen, time_limit_s=cfg.rollout.time_limit_s, seed=cfg.seed)
        sites = np.r_[existing["station_id"].to_numpy(), optimizer.candidates["site_id"].to_numpy()]
        robust = pd.DataFrame(choice.table)
        robust["sites"] = [", ".join(str(sites[j]) for j in r) for r in robust["sites"]]
        notes.append(
            f"Robust first stage ({', '.join(cfg.rollout.scenarios)} scenarios, min-max "
            f"regret): {', '.join(str(sites[j]) for j in choice.first_stage) or 'no new site'}"
            f", worst-case regret {choice.max_regret:,.0f} trips covered."
        )
    report = "lookahead" if "lookahead" in plans else methods[0]
    vehicles_by_year = _vehicles_by_year(cfg, trips, snapshots[report], make_simulator)
    for vehicle, first in _first_usable_year(vehicles_by_year).items():
        notes.append(f"{vehicle}: {first}")
    return {
        "vehicles_by_year": vehicles_by_year,
        "timeline": timeline,
        "stations": plans[report],
        "loop": loops[report],
        "method": report,
        "robust": robust,
        "notes": notes,
        "trips": trips,
    }


def _vehicles_by_year(
    cfg: StudyConfig, trips: list[pd.DataFrame], snapshots: list[pd.DataFrame], make_simulator: Any
) -> pd.DataFrame:
    """The carmaker's table by year: share of each stage's trips each compared model
    completes per season with that stage's stations (one replication each)."""
    models = cfg.vehicles.compare
    rows = []
    for k, st in enumerate(cfg.stages):
        stage_cfg = stage_config(cfg, k)
        seasons = stage_cfg.simulation.seasons or {"study": stage_cfg.simulation.temperature_c}
        simulate = make_simulator(stage_cfg, trips[k])
        for model in models:
            tr = trips[k].assign(vehicle_model=model)
            for season, temp in seasons.items():
                out = simulate(snapshots[k], temperature_c=temp, trips=tr, replications=1)
                rows.append(
                    {
                        "year": st.year,
                        "vehicle_model": model,
                        "season": season,
                        "temperature_c": temp,
                        "share_trips_completed": out.kpis.get("share_trips_completed"),
                    }
                )
    return pd.DataFrame(rows)


def _first_usable_year(table: pd.DataFrame, share: float = 0.95) -> dict[str, str]:
    """Per model, the first year it completes at least ``share`` of the trips in every
    season (or that it never does within the plan)."""
    if table.empty:
        return {}
    out = {}
    for model, part in table.groupby("vehicle_model", sort=False):
        worst = part.groupby("year")["share_trips_completed"].min()
        ok = worst[worst >= share]
        out[str(model)] = (
            f"completes >= {share:.0%} of trips in every season from {int(ok.index.min())}"
            if len(ok)
            else f"below {share:.0%} in some season in every stage up to {int(worst.index.max())}"
        )
    return out
