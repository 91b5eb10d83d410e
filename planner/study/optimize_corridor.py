"""Corridor side of the optimisation step: flows along routes, driving range, FRLM.

Refuelability follows the flow-refuelling literature (Kuby & Lim 2005; Capar & Kuby 2012):
a trip counts as a round trip o -> d -> o, a vehicle leaves every station full, and with no
station at an end it must turn around there on what it has, so the first station must lie
within R/2 of the origin and the last within R/2 of the destination; consecutive stations
along the route must be at most R apart.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

import sim
from planner.siting_step import StudyOptimizer, od_paths

logger = logging.getLogger(__name__)


def round_trip_refuelable(station_km: np.ndarray, length_km: float, range_km: float) -> bool:
    """Can a round trip over a route of ``length_km`` be driven with stations at
    ``station_km`` (positions along the route) and range ``range_km``?"""
    if length_km <= 0:
        return True
    km = np.unique(np.clip(np.asarray(station_km, dtype=float), 0.0, length_km))
    if km.size == 0:
        return 2 * length_km <= range_km + 1e-9
    gaps_ok = np.all(np.diff(km) <= range_km + 1e-9)
    return bool(
        gaps_ok and 2 * km[0] <= range_km + 1e-9 and 2 * (length_km - km[-1]) <= range_km + 1e-9
    )


class _Flows:
    """OD flows with their fastest routes, computed once per optimiser."""

    def __init__(self, opt: StudyOptimizer, demand: pd.DataFrame) -> None:
        od = demand.groupby(["node", "destination"], as_index=False)["weight"].sum()
        od = od[od["node"] != od["destination"]].reset_index(drop=True)
        self.od = od
        self.paths = od_paths(opt.net, od["node"].to_numpy(), od["destination"].to_numpy())

    def positions(self, nodes: np.ndarray) -> list[np.ndarray]:
        """For every route, km positions of the given nodes on it."""
        nodes = set(np.asarray(nodes, dtype=np.int64).tolist())
        return [
            km[[n in nodes for n in path]] if path.size else np.empty(0) for path, km in self.paths
        ]


def _flows(opt: StudyOptimizer, demand: pd.DataFrame | None = None) -> _Flows:
    if demand is None:
        cached = getattr(opt, "_all_flows", None)
        if cached is None:
            cached = opt._all_flows = _Flows(opt, opt._all_demand())
        return cached
    return _Flows(opt, demand)


def refuelable_share(opt: StudyOptimizer, stations: pd.DataFrame) -> float:
    """Share of all trips whose route can be driven (round trip) with ``stations``."""
    fl = _flows(opt)
    pos = fl.positions(stations["node"].to_numpy() if len(stations) else np.empty(0))
    ok = np.array(
        [
            path.size > 0 and round_trip_refuelable(p, km[-1], opt.range_km)
            for p, (path, km) in zip(pos, fl.paths, strict=True)
        ]
    )
    w = fl.od["weight"].to_numpy()
    return float(w[ok].sum() / w.sum()) if w.sum() else 0.0


def frlm_solve(
    opt: StudyOptimizer,
    unserved: pd.DataFrame,
    fixed: pd.DataFrame,
    n_sites: int | None,
    budget_left: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Site corridor stations for the unserved OD flows with the FRLM (existing fixed open):
    max refuelled flow with ``n_sites`` new stations, or the fewest stations refuelling all
    refuellable flow when ``n_sites`` is None."""
    from planner.siting import FRLM

    fl = _flows(opt, unserved)
    if fl.od.empty:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=int)
    cand_nodes = opt.cand["node"].to_numpy(dtype=np.int64)
    fixed_nodes = fixed["node"].to_numpy(dtype=np.int64)
    site_nodes = np.r_[fixed_nodes, cand_nodes]
    col_of = {}
    for k, n in enumerate(site_nodes.tolist()):
        col_of.setdefault(n, k)  # a candidate on an existing station's node is that station
    route_km, site_km, site_idx = [], [], []
    for path, km in fl.paths:
        on = (
            np.array([n in col_of for n in path.tolist()], dtype=bool)
            if path.size
            else np.zeros(0, bool)
        )
        route_km.append(km if path.size else np.zeros(1))
        site_km.append(km[on] if path.size else np.empty(0))
        site_idx.append(np.array([col_of[n] for n in path[on].tolist()], dtype=np.int64))
    sc = opt.cfg.model.solver
    model = FRLM.from_paths(
        route_km,
        site_km,
        site_idx,
        fl.od["weight"].to_numpy(),
        n_sites=site_nodes.size,
        range_km=opt.range_km,
        p=n_sites,
        fixed_open=np.arange(fixed_nodes.size),
    )
    res = model.solve(
        time_limit_s=sc.time_limit_s, threads=sc.threads, seed=opt.cfg.seed, solver=sc.backend
    )
    model.check(res)  # refuelability recomputed by a tank rule, independent of the arc-cover sets
    logger.info(
        "FRLM (%s): %s, objective %.6g, bound %.6g, %.2f s",
        res.details["variant"],
        res.status,
        res.objective,
        res.best_bound,
        res.solve_time_s,
    )
    opt.solves.append(
        {
            "model": res.model,
            "status": res.status,
            "objective": res.objective,
            "best_bound": res.best_bound,
            "gap": res.gap,
            "solve_time_s": res.solve_time_s,
            **{k: v for k, v in res.details.items() if k != "covered"},
        }
    )
    chosen = np.asarray(res.selected, dtype=np.int64) - fixed_nodes.size
    chosen = chosen[chosen >= 0]
    # Plugs from the flow through each new site (trips/day), sized like city sites.
    through = np.zeros(chosen.size)
    chosen_nodes = cand_nodes[chosen]
    for (path, _), w in zip(fl.paths, fl.od["weight"].to_numpy(), strict=True):
        through += np.isin(chosen_nodes, path) * w
    plugs = opt._initial_plugs_from_load(through)
    return chosen, plugs


def frlm_curve(
    opt: StudyOptimizer, existing: pd.DataFrame, *, max_new: int | None = None
) -> pd.DataFrame:
    """Refuelled share of all flow vs number of new stations, optimal at each point."""
    max_new = max_new or opt.cfg.model.p or 12
    demand = opt._all_demand()
    rows = [
        {
            "n_stations": len(existing),
            "new_stations": 0,
            "coverage_share": refuelable_share(opt, existing),
        }
    ]
    for p in range(1, max_new + 1):
        chosen, _ = frlm_solve(opt, demand, existing, p, None)
        st = pd.concat(
            [existing, opt._stations(chosen, np.ones(chosen.size, dtype=int))], ignore_index=True
        )
        rows.append(
            {
                "n_stations": len(st),
                "new_stations": int(chosen.size),
                "coverage_share": refuelable_share(opt, st),
            }
        )
    return pd.DataFrame(rows)


def soc_trace(opt: StudyOptimizer, stations: pd.DataFrame) -> pd.DataFrame:
    """State of charge along the study's longest OD route, simulated for every compared
    vehicle and season with the proposal's stations (km positions from driving time)."""
    cfg = opt.cfg
    fl = _flows(opt)
    if fl.od.empty:
        return pd.DataFrame(columns=["series", "km", "soc", "event"])
    longest = int(np.argmax([km[-1] if km.size else 0 for _, km in fl.paths]))
    o, d = int(fl.od.loc[longest, "node"]), int(fl.od.loc[longest, "destination"])
    seasons = cfg.simulation.seasons or {"study": cfg.simulation.temperature_c}
    models = cfg.vehicles.compare or list(cfg.vehicles.fleet)[:1]
    rows = []
    st = stations[["station_id", "node", "plugs", "power_kw", "name"]]
    for model in models:
        trip = pd.DataFrame(
            {
                "vehicle_id": [0],
                "vehicle_model": [model],
                "origin": [o],
                "destination": [d],
                "depart_s": [8 * 3600.0],
                "chain_seq": [0],
                "initial_soc": [1.0],
            }
        )
        for season, temp in seasons.items():
            settings = sim.SimSettings(
                ambient_temp_c=temp, initial_soc=1.0, home_charging_share=0.0
            )
            res = sim.simulate(
                opt.net, st, trip, vehicles=opt.vehicles, settings=settings, seed=cfg.seed
            )
            rows += _trace_rows(res, f"{model} ({season}, {temp:g} C)")
    return pd.DataFrame(rows, columns=["series", "km", "soc", "event"])


def _trace_rows(res, series: str) -> list[dict]:
    t = res.trips.iloc[0]
    ses = res.sessions[res.sessions["station"] >= 0].sort_values("arrive_s")
    stops = float((ses["wait_s"] + ses["charge_s"]).sum()) if len(ses) else 0.0
    end_s = t["arrived_s"] if np.isfinite(t["arrived_s"]) else res.span_s
    drive_s = max(float(end_s - t["departed_s"]) - stops, 1e-9)
    dist = float(t["distance_km"])
    rows = [{"series": series, "km": 0.0, "soc": float(t["soc_depart"]), "event": "depart"}]
    stopped = 0.0
    for s in ses.itertuples():
        km = dist * min(1.0, (s.arrive_s - t["departed_s"] - stopped) / drive_s)
        rows.append(
            {"series": series, "km": km, "soc": float(s.soc_start), "event": "arrive station"}
        )
        rows.append({"series": series, "km": km, "soc": float(s.soc_end), "event": "charge"})
        stopped += s.wait_s + s.charge_s
    final = "arrive" if t["status"] == "completed" else str(t["status"])
    rows.append(
        {
            "series": series,
            "km": dist,
            "soc": float(t["soc_arrive"]) if np.isfinite(t["soc_arrive"]) else 0.0,
            "event": final,
        }
    )
    return rows
