"""The simulate -> optimise -> simulate loop, independent of which model or simulator runs.

:func:`closed_loop` knows nothing about SimPy or OR-Tools: it receives a ``simulate``
callable (stations table -> :class:`ScenarioOutcome`) and an ``optimize`` callable (unserved
demand, fixed stations, how many sites -> new stations table), applies the study's service
targets and budget, and returns every iteration. Remedies, in order: where the p95 wait
misses its target, add a plug at the stations whose own p95 wait misses it; where trips are
still stranded or not completed, site more stations for the demand still unserved.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.study.grid_fit import LoopGrid, SiteBook
from planner.study.sizing import plugs_for_wait, plugs_for_wait_managed, station_load
from sim.kpis import kpi

logger = logging.getLogger(__name__)


@dataclass
class ScenarioOutcome:
    """What one simulated scenario tells the loop.

    Attributes
    ----------
    kpis : dict
        Mean KPIs over replications (``wait_p95_min``, ``stranded_vehicles``,
        ``share_trips_completed``, ...; names from :data:`sim.kpis.KPIS`).
    per_station : DataFrame
        ``station_id, sessions, wait_p95_min, utilisation`` for every station.
    unserved : DataFrame
        ``node, weight``: demand the scenario served badly (stranded, not completed, long
        waits), the input for the next siting round.
    detail : Any
        Whatever the caller wants to keep (tables of the first replication).
    """

    kpis: dict[str, float]
    per_station: pd.DataFrame
    unserved: pd.DataFrame
    detail: Any = None


@dataclass
class Targets:
    wait_p95_min: float | None = 10.0
    stranded: int | None = 0
    trips_completed_share: float | None = None
    max_iterations: int = 3


@dataclass
class LoopResult:
    baseline: ScenarioOutcome
    proposal: ScenarioOutcome
    stations: pd.DataFrame
    selected: pd.DataFrame
    iterations: list[dict[str, Any]] = field(default_factory=list)
    capex: float = 0.0
    targets_met: bool = False
    #: grid upgrades bought by the loop (in ``capex``)
    upgrade_cost: float = 0.0
    #: the plan the proposal simulated (grid-fitted: plugs and throttled power); None
    #: without a grid rule (then it is ``stations``)
    simulated: pd.DataFrame | None = None


#: Target (attribute of :class:`Targets`) -> (KPI name in the registry, sense of the bound).
TARGET_KPIS: dict[str, tuple[str, str]] = {
    "wait_p95_min": (kpi("wait_p95_min").name, "max"),
    "stranded": (kpi("stranded_vehicles").name, "max"),
    "trips_completed_share": (kpi("share_trips_completed").name, "min"),
}
_FORMAT = {"wait_p95_min": ".1f", "stranded": ".1f", "trips_completed_share": ".3f"}


def target_value(kpis: dict[str, float], name: str, default: float) -> float:
    """The value a service target is judged on. Strandings of cars that started below the
    reach of any charger count against the car, not the network (the design-loop issue):
    they are reported (``stranded_below_reach``) but not held against the stranded target."""
    value = float(kpis.get(name, default))
    if name == "stranded_vehicles":
        value = max(0.0, value - float(kpis.get("stranded_below_reach", 0.0) or 0.0))
    return value


def missed_targets(
    kpis: dict[str, float], targets: Targets, intervals: pd.DataFrame | None = None
) -> list[str]:
    """Names of the service targets the KPIs miss, with the values. With replication
    ``intervals``, a target counts as met only on its pessimistic 95 % bound (the upper one
    of an "at most" target), as the study's verdict judges it."""
    missed = []
    for attr, (name, sense) in TARGET_KPIS.items():
        bound = getattr(targets, attr)
        if bound is None:
            continue
        value = target_value(kpis, name, 0.0 if sense == "max" else 1.0)
        if intervals is not None and len(intervals) and name in intervals.index:
            edge = intervals.loc[name, "ci_high" if sense == "max" else "ci_low"]
            if pd.notna(edge):
                shift = value - float(kpis.get(name, value))  # net of below-reach cars
                value = max(0.0, float(edge) + shift) if sense == "max" else float(edge)
        if sense == "max" and value > bound + 1e-9:
            missed.append(f"{name} {value:{_FORMAT[attr]}} > {bound:g}")
        elif sense == "min" and value < bound - 1e-9:
            missed.append(f"{name} {value:{_FORMAT[attr]}} < {bound:g}")
    return missed


def closed_loop(
    existing: pd.DataFrame,
    *,
    simulate: Callable[[pd.DataFrame], ScenarioOutcome],
    optimize: Callable[[pd.DataFrame, pd.DataFrame, int | None, float | None], pd.DataFrame],
    targets: Targets,
    first_round_sites: int | None,
    budget: float | None,
    plug_cost: float,
    max_plugs: int,
    on_step: Callable[[str], None] | None = None,
    days: int = 1,
    max_new_sites: int | None = None,
    grid: LoopGrid | None = None,
) -> LoopResult:
    """Run baseline, then optimise/simulate until the targets are met, the budget is spent
    or ``targets.max_iterations`` rounds have run.

    Parameters
    ----------
    existing : DataFrame
        Existing stations (station table; stay open, plugs may be added).
    simulate : callable
        ``simulate(stations) -> ScenarioOutcome``.
    optimize : callable
        ``optimize(unserved, fixed_stations, n_sites, budget_left) -> new stations`` (station
        table with a ``capex`` column); may return an empty table when nothing helps.
    first_round_sites : int or None
        Number of new sites in the first round (``None``: the model decides, e.g. cover/FRLM).
    budget : float or None
        Total capital budget for new sites and added plugs.
    days : int
        Simulated days (to turn simulated arrivals into arrivals per day).
    max_new_sites : int, optional
        Most new sites over all rounds (a rollout stage's site count).
    grid : LoopGrid, optional
        Each site's grid capacity (:func:`planner.study.grid_fit.loop_grid`). With it, the
        loop sizes plugs within capacity: a site that can be neither upgraded nor managed
        gets at most ``floor(capacity / kW per plug)`` (its whole draw, over all its rows,
        counted), an upgradable site may exceed it and the upgrade's cost counts in the
        capex and the budget, a managed site is sized with the throttled power per plug;
        every round simulates the plan as :func:`planner.study.grid_fit.fit_plan` fits it,
        so the final fit changes nothing. A binding grid limit is named in the round's
        ``capped`` like ``max_plugs`` and sends demand to new sites.

    Notes
    -----
    Plugs are sized to the wait target in one step (:mod:`planner.study.sizing`: the
    busiest hour's arrivals and the simulated session times of each station through Erlang
    C / Allen-Cunneen) when the simulation's sessions are available in
    ``outcome.detail["result"]``; otherwise one plug is added where the p95 wait misses.
    Where a station would need more than ``max_plugs``, it gets the cap, the binding cap is
    recorded (``capped`` in the round's record) and more sites are sited for the demand.
    Every round re-simulates the same demand and driver draws (the simulator is seeded
    from the study seed), so round-to-round differences are the network's (common random
    numbers).
    """
    step = on_step or (lambda _s: None)
    step("baseline simulation")
    baseline = simulate(existing)
    stations = existing.copy()
    stations["added_plugs"] = 0
    selected = pd.DataFrame(columns=[*existing.columns, "capex"])
    capex = 0.0  # sites and plugs; grid upgrades are ``upgrade`` (recomputed from the fit)
    fitted = grid.fit(stations).stations if grid is not None else None
    upgrade = float(fitted["upgrade_cost"].sum()) if fitted is not None else 0.0
    sim_plan = stations
    grid_bound: list[str] = []  # stations whose grid connection bound the last sizing
    iterations: list[dict[str, Any]] = []
    outcome = baseline
    need_sites, n_sites = True, first_round_sites
    for it in range(1, targets.max_iterations + 1):
        added_sites = 0
        if need_sites:
            step(f"optimisation (round {it})")
            left = None if budget is None else budget - capex - upgrade
            if max_new_sites is not None:
                room = max_new_sites - len(selected)
                n_sites = None if n_sites is None else min(n_sites, room)
                if n_sites is None:
                    n_sites = room
            if (left is not None and left <= 0) or (n_sites is not None and n_sites <= 0):
                new = stations.iloc[0:0].assign(capex=[])  # the budget is spent
            else:
                # stations whose grid connection binds are flagged, so a model that
                # sites by flow (the FRLM) looks for another site instead of counting on them
                fixed = stations.assign(grid_bound=stations["station_id"].isin(grid_bound))
                new = optimize(outcome.unserved, fixed, n_sites, left)
                new = new[~new["station_id"].isin(stations["station_id"])]
                if grid is not None and len(new):
                    new = _new_within_grid(stations, new, grid)
                if left is not None:
                    new = _within_budget(
                        new,
                        left,
                        plug_cost,
                        upgrade=_upgrade_of(stations, grid, upgrade) if grid else None,
                    )
            if len(new):
                capex += float(new["capex"].sum())
                new = new.assign(added_plugs=0, opened_round=it)
                stations = pd.concat([stations, new.drop(columns="capex")], ignore_index=True)
                selected = pd.concat([selected, new], ignore_index=True)
                added_sites = len(new)
        if grid is not None:  # simulate the plan as the grid fits it (throttled if managed)
            fitted = grid.fit(stations).stations
            upgrade = float(fitted["upgrade_cost"].sum())
            sim_plan = stations.assign(
                plugs=fitted["plugs"].to_numpy(), power_kw=fitted["power_kw"].to_numpy()
            )
        else:
            sim_plan = stations
        step(f"proposal simulation (round {it})")
        outcome = simulate(sim_plan)
        detail = outcome.detail if isinstance(outcome.detail, dict) else {}
        missed = missed_targets(outcome.kpis, targets, detail.get("intervals"))
        causes = (outcome.detail or {}).get("causes") if isinstance(outcome.detail, dict) else None
        record = {
            "iteration": it,
            **({"stranding_causes": causes} if causes else {}),
            "new_sites": added_sites,
            "stations": len(stations),
            "plugs": int(stations["plugs"].sum()),
            "capex": round(capex + upgrade, 2),
            **({"upgrade_cost": round(upgrade, 2)} if grid is not None else {}),
            "missed": missed,
            **{
                k: outcome.kpis.get(k)
                for k in ("wait_p95_min", "stranded_vehicles", "share_trips_completed")
            },
        }
        iterations.append(record)
        logger.info(
            "round %d: %d stations, %d plugs, capex %.0f, missed: %s",
            it,
            len(stations),
            record["plugs"],
            capex + upgrade,
            missed or "none",
        )
        if not missed:
            return LoopResult(
                baseline,
                outcome,
                stations,
                selected,
                iterations,
                capex + upgrade,
                True,
                upgrade,
                sim_plan if grid is not None else None,
            )
        if it == targets.max_iterations:
            break
        # Remedies for the next round.
        plugs_added = 0
        capped: list[str] = []
        grid_bound = []
        book = SiteBook(fitted, managed=grid.managed) if grid is not None else SiteBook(None)
        # diagnosis before remedy: queues (a missed wait, or drivers who gave up at a queue)
        # get plugs; strandings with no charger in range and missed trips get new sites;
        # cars that started below reach get nothing (not the network's fault)
        k = outcome.kpis
        queue_cause = (k.get("stranded_queue") or 0) > 0 or (k.get("trips_abandoned") or 0) > 0
        wait_missed = any(m.startswith("wait_p95_min") for m in missed)
        if targets.wait_p95_min is not None and (wait_missed or queue_cause):
            result = (
                (outcome.detail or {}).get("result") if isinstance(outcome.detail, dict) else None
            )
            if result is not None and hasattr(result, "sessions"):
                load = station_load(result.sessions, days=days)
                # a sampled fleet (demand.max_trips): size for the whole fleet's arrivals
                load["peak_arrivals_per_h"] *= float(k.get("demand_expansion_factor") or 1.0)
                stations, spent, plugs_added, capped, grid_bound = _size_plugs(
                    stations,
                    load,
                    targets.wait_p95_min,
                    plug_cost=plug_cost,
                    max_plugs=max_plugs,
                    budget_left=None if budget is None else budget - capex - upgrade,
                    book=book,
                )
            else:
                stations, spent, plugs_added = _add_plugs(
                    stations,
                    outcome.per_station,
                    targets.wait_p95_min,
                    plug_cost=plug_cost,
                    max_plugs=max_plugs,
                    budget_left=None if budget is None else budget - capex - upgrade,
                    book=book,
                )
            capex += spent
            record["plugs_added_next"] = plugs_added
            if capped:
                record["capped"] = capped
        gaps = (
            (outcome.detail or {}).get("connector_gaps")
            if isinstance(outcome.detail, dict)
            else None
        )
        if gaps is not None and len(gaps) and "connectors" in stations:
            # compatible plugs: the station that was in reach gets the missing connector
            stations, spent, added = _add_connectors(
                stations,
                gaps,
                plug_cost=plug_cost,
                max_plugs=max_plugs,
                budget_left=None if budget is None else budget - capex - upgrade - book.spent,
                book=book,
            )
            capex += spent
            plugs_added += added
            if added:
                record["connectors_added_next"] = added
        range_cause = (k.get("stranded_no_charger") or 0) > int(
            gaps["trips"].sum() if gaps is not None and len(gaps) else 0
        )
        service_missed = any(m.startswith("share_trips_completed") for m in missed) or (
            any(m.startswith("stranded") for m in missed) and (range_cause or not queue_cause)
        )
        service_missed = service_missed or bool(capped)  # the cap binds: spill to new sites
        need_sites = service_missed and len(outcome.unserved) > 0
        n_sites = max(1, int(np.ceil((first_round_sites or 2) / 2))) if need_sites else None
        if need_sites and grid_bound and first_round_sites is None:
            n_sites = None  # the model decides how many sites relieve the bound connections
        if not need_sites and plugs_added == 0:
            logger.info("no remedy left (budget, plug or grid limits reached); stopping")
            break
        if grid is not None:  # the upgrades the added plugs bought
            upgrade = float(grid.fit(stations).stations["upgrade_cost"].sum())
    return LoopResult(
        baseline,
        outcome,
        stations,
        selected,
        iterations,
        capex + upgrade,
        False,
        upgrade,
        sim_plan if grid is not None else None,
    )


def _upgrade_of(
    stations: pd.DataFrame, grid: LoopGrid | None, before: float
) -> Callable[[pd.DataFrame], float]:
    """The grid upgrades new sites would add to the plan (0 without a grid rule)."""

    def cost(new: pd.DataFrame) -> float:
        if grid is None or not len(new):
            return 0.0
        plan = pd.concat([stations, new.drop(columns="capex").assign(added_plugs=0)])
        return float(grid.fit(plan.reset_index(drop=True)).stations["upgrade_cost"].sum()) - before

    return cost


def _new_within_grid(stations: pd.DataFrame, new: pd.DataFrame, grid: LoopGrid) -> pd.DataFrame:
    """New sites with the plugs their grid connection carries where it can neither be
    upgraded nor managed (the siting model may have sized them on load alone); plugs cut are
    taken off their capex at their plug cost."""
    plan = pd.concat([stations, new.drop(columns="capex").assign(added_plugs=0)], ignore_index=True)
    fit = grid.fit(plan).stations.iloc[len(stations) :]
    cut = new["plugs"].to_numpy(dtype=np.int64) - fit["plugs"].to_numpy(dtype=np.int64)
    if not cut.any():
        return new
    refund = cut * fit["grid_plug_cost"].to_numpy(dtype=float)
    return new.assign(plugs=fit["plugs"].to_numpy(), capex=new["capex"].to_numpy() - refund)


def _add_connectors(
    stations: pd.DataFrame,
    gaps: pd.DataFrame,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
) -> tuple[pd.DataFrame, float, int]:
    """One plug of the missing connector at each station a connector kept cars from (most
    trips first), within the plug cap, the site's grid room and the budget (plugs and
    upgrades). Returns the stations, the plug capex spent and the plugs added."""
    stations = stations.copy()
    book = book or SiteBook(None)
    spent, added, up = 0.0, 0, 0.0
    for gap in gaps.sort_values("trips", ascending=False).itertuples():
        rows = stations.index[stations["station_id"] == gap.station_id]
        if not len(rows):
            continue
        row = rows[0]
        have = [c for c in str(stations.loc[row, "connectors"]).split(";") if c]
        if gap.connector in have or stations.loc[row, "plugs"] >= max_plugs or book.room(row) < 1:
            continue
        more = book.upgrade_cost(row, 1)
        if budget_left is not None and spent + up + plug_cost + more > budget_left:
            break
        stations.loc[row, "connectors"] = ";".join([*have, str(gap.connector)])
        stations.loc[row, "plugs"] += 1
        stations.loc[row, "added_plugs"] += 1
        book.add(row, 1)
        spent += plug_cost
        up += more
        added += 1
    return stations, spent, added


def _within_budget(
    new: pd.DataFrame,
    left: float,
    plug_cost: float,
    *,
    upgrade: Callable[[pd.DataFrame], float] | None = None,
) -> pd.DataFrame:
    """New sites within what the budget leaves: the siting model pays for one plug per
    site, so plugs sized beyond that are trimmed (busiest sites keep theirs longest). With
    ``upgrade`` (new sites -> the grid upgrades they need), upgrades count too, and when
    one plug per site still does not fit, the dearest sites are dropped."""
    new = new.copy()
    up = upgrade or (lambda _n: 0.0)

    def over() -> float:
        return float(new["capex"].sum()) + up(new) - left

    if over() <= 1e-9 or plug_cost <= 0:
        return new
    for idx in new.sort_values("plugs").index:  # trim the smallest sites first
        while new.loc[idx, "plugs"] > 1 and over() > 1e-9:
            new.loc[idx, "plugs"] -= 1
            new.loc[idx, "capex"] -= plug_cost
    while upgrade is not None and len(new) and over() > 1e-9:
        new = new.drop(index=new["capex"].idxmax())  # upgrades still over: drop a site
    return new


def _size_plugs(
    stations: pd.DataFrame,
    load: pd.DataFrame,
    target_min: float,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
) -> tuple[pd.DataFrame, float, int, list[str], list[str]]:
    """Set every station's plugs to what its simulated load needs for the wait target
    (never fewer than it has, at most ``max_plugs`` and what its site's grid connection
    carries), busiest first, within the budget (plugs and grid upgrades). Under managed
    charging a site's need is sized with the throttled power per plug
    (:func:`planner.study.sizing.plugs_for_wait_managed`). Returns the stations, the plug
    capex spent, the plugs added and, for stations whose need exceeds a limit, a sentence
    naming the station, its need and the limit that binds, and the ids of the stations
    whose grid connection binds."""
    stations = stations.copy()
    book = book or SiteBook(None)
    limit = max(60, 10 * max_plugs)  # look past the cap, to say what the target needs
    order = np.argsort(-load["peak_arrivals_per_h"].to_numpy(dtype=float), kind="stable")
    spent, up, added, capped, bound_ids = 0.0, 0.0, 0, [], []
    for k in order:
        sid = load["station_id"].iloc[k]
        rows = stations.index[stations["station_id"] == sid]
        if len(rows) == 0:
            continue
        row = rows[0]
        have = int(stations.loc[row, "plugs"])
        lam = float(load["peak_arrivals_per_h"].iloc[k])
        service, cs2 = float(load["service_h"].iloc[k]), float(load["cs2"].iloc[k])
        cap = book.capacity(row)
        managed = book.managed and math.isfinite(cap)
        if managed:
            want = plugs_for_wait_managed(
                lam,
                service * book.power_factor(row),  # the session at full power
                target_min,
                capacity_kw=cap,
                plug_kw=book.plug_kw(row),
                other_kw=book.other_kw(row, have),
                cs2=cs2,
                max_plugs=limit,
            )
        else:
            want = plugs_for_wait(lam, service, target_min, cs2=cs2, max_plugs=limit)
        room = book.room(row)
        bound = max(have, min(max_plugs, have + int(room))) if math.isfinite(room) else max_plugs
        if want > bound:
            name = stations.loc[row, "name"] if "name" in stations else sid
            needs = str(want) if want <= limit else f"more than {limit}"
            if math.isfinite(room) and have + room < max_plugs:
                why = f"its grid connection of {cap:,.0f} kW (no upgrade price) carries {bound}"
            elif managed:
                why = (
                    f"with managed charging within its {cap:,.0f} kW grid connection; "
                    f"max_plugs is {max_plugs}"
                )
            else:
                why = f"max_plugs is {max_plugs}"
            capped.append(f"{name or sid}: needs {needs} plugs, {why}")
            if not why.startswith("max_plugs"):
                bound_ids.append(str(sid))
            want = bound
        extra = max(0, want - have)
        if budget_left is not None:
            while extra > 0 and (
                spent + up + extra * plug_cost + book.upgrade_cost(row, extra) > budget_left
            ):
                extra -= 1
        if extra <= 0:
            continue
        up += book.upgrade_cost(row, extra)
        book.add(row, extra)
        stations.loc[row, "plugs"] = have + extra
        stations.loc[row, "added_plugs"] += extra
        spent += extra * plug_cost
        added += extra
    return stations, spent, added, capped, bound_ids


def _add_plugs(
    stations: pd.DataFrame,
    per_station: pd.DataFrame,
    target_min: float,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
) -> tuple[pd.DataFrame, float, int]:
    """One more plug at every station whose own p95 wait misses the target, worst first,
    within ``max_plugs``, the site's grid room and the budget (plugs and upgrades)."""
    stations = stations.copy()
    book = book or SiteBook(None)
    bad = per_station[per_station["wait_p95_min"] > target_min].sort_values(
        "wait_p95_min", ascending=False
    )
    spent, up, added = 0.0, 0.0, 0
    for sid in bad["station_id"]:
        row = stations.index[stations["station_id"] == sid]
        if len(row) == 0 or stations.loc[row[0], "plugs"] >= max_plugs or book.room(row[0]) < 1:
            continue
        more = book.upgrade_cost(row[0], 1)
        if budget_left is not None and spent + up + plug_cost + more > budget_left:
            break
        stations.loc[row[0], "plugs"] += 1
        stations.loc[row[0], "added_plugs"] += 1
        book.add(row[0], 1)
        spent += plug_cost
        up += more
        added += 1
    return stations, spent, added
