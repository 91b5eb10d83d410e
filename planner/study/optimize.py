"""The optimisation step of a study: unserved demand -> new stations, with the OR-Tools
models of :mod:`planner.siting`, checked by :mod:`planner.siting.checker`.

City models (MCLP, p-median, cover, capacitated) see demand as weighted nodes and travel
time to candidate sites. The corridor model (FRLM) sees origin-destination flows along
their fastest routes and a driving range.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.study.inputs import StudyNetwork

logger = logging.getLogger(__name__)

#: Share of the battery a planner may count on between chargers (the rest is reserve).
RANGE_USABLE_SHARE = 0.8
#: Speed at which corridor range is evaluated (km/h).
RANGE_SPEED_KPH = 90.0


def planning_range_km(
    cfg: StudyConfig, vehicles: dict, *, temperature_c: float | None = None
) -> float:
    """Range the corridor is planned for: ``model.range_km`` or the shortest range in the
    fleet (usable share of the battery at 90 km/h and the study temperature)."""
    if cfg.model.range_km is not None:
        return float(cfg.model.range_km)
    temp = cfg.simulation.temperature_c if temperature_c is None else temperature_c
    keys = list(cfg.vehicles.fleet) + ([cfg.vehicles.truck] if cfg.vehicles.truck else [])
    ranges = [
        RANGE_USABLE_SHARE
        * vehicles[k].battery_kwh
        / float(vehicles[k].consumption_kwh_per_km_at(RANGE_SPEED_KPH, temp))
        for k in keys
    ]
    return float(min(ranges))


#: Energy of a typical public DC session (kWh), to turn trip energy into sessions.
SESSION_KWH = 25.0


def public_sessions_per_trip(cfg: StudyConfig, net, trips: pd.DataFrame, vehicles: dict) -> float:
    """Expected public charging sessions per trip without a simulation: the share of
    vehicles without home charging x the trip's energy (fleet-mean consumption at the
    study temperature) / a 25 kWh session."""
    from sim.routes import pair_routes

    t_s, l_m = pair_routes(net, trips["origin"].to_numpy(), trips["destination"].to_numpy())
    ok = np.isfinite(l_m) & np.isfinite(t_s) & (t_s > 0)
    if not ok.any():
        return 0.0
    speed = float(np.median(l_m[ok] / t_s[ok] * 3.6))
    mix = trips["vehicle_model"].value_counts(normalize=True)
    kwh_km = sum(
        share * float(vehicles[k].consumption_kwh_per_km_at(speed, cfg.simulation.temperature_c))
        for k, share in mix.items()
    )
    mean_kwh = float(np.mean(l_m[ok])) / 1000.0 * kwh_km
    return (1.0 - cfg.simulation.home_charging_share) * mean_kwh / SESSION_KWH


class StudyOptimizer:
    """Callable ``(unserved, fixed_stations, n_sites, budget_left) -> new stations``."""

    def __init__(
        self,
        cfg: StudyConfig,
        sn: StudyNetwork,
        candidates: pd.DataFrame,
        trips: pd.DataFrame,
        vehicles: dict,
    ) -> None:
        self.cfg, self.sn, self.cand, self.trips, self.vehicles = (
            cfg,
            sn,
            candidates,
            trips,
            vehicles,
        )
        self.net = sn.network
        self.kind = cfg.model.kind
        self.threshold_s = cfg.model.threshold_min * 60.0
        self.notes: list[str] = []
        self.solves: list[dict] = []
        if self.kind == "frlm":
            self.range_km = planning_range_km(cfg, vehicles)
            self.notes.append(
                f"Corridor planned for a range of {self.range_km:.0f} km "
                + (
                    "(model.range_km)."
                    if cfg.model.range_km
                    else f"({RANGE_USABLE_SHARE:.0%} of the shortest-range fleet vehicle's battery at "
                    f"{RANGE_SPEED_KPH:g} km/h and {cfg.simulation.temperature_c:g} C)."
                )
            )

    # ----------------------------------------------------------------- demand views
    def _all_demand(self) -> pd.DataFrame:
        t = self.trips
        return (
            t.groupby(["origin", "destination"])
            .size()
            .rename("weight")
            .reset_index()
            .rename(columns={"origin": "node"})
        )

    # ----------------------------------------------------------------- main call
    def __call__(
        self,
        unserved: pd.DataFrame,
        fixed: pd.DataFrame,
        n_sites: int | None,
        budget_left: float | None,
    ) -> pd.DataFrame:
        if unserved.empty:
            return self._empty()
        if self.kind == "frlm":
            from planner.siting_corridor import frlm_solve

            chosen, plugs = frlm_solve(self, unserved, fixed, n_sites, budget_left)
        else:
            chosen, plugs = city_solve(self, unserved, fixed, n_sites, budget_left)
        return self._stations(chosen, plugs)

    # ----------------------------------------------------------------- reporting
    def coverage_share(self, stations: pd.DataFrame) -> float:
        """Share of all trips served by ``stations``: origin within the threshold (city), or
        OD route drivable with the planning range (corridor)."""
        if self.kind == "frlm":
            from planner.siting_corridor import refuelable_share

            return refuelable_share(self, stations)
        dem = self._all_demand().groupby("node")["weight"].sum()
        if len(stations) == 0:
            return 0.0
        tt = self.net.travel_time_matrix(
            dem.index.to_numpy(), stations["node"].to_numpy(), cutoff=self.threshold_s
        )
        covered = np.isfinite(tt).any(axis=1)
        return float(dem.to_numpy()[covered].sum() / dem.sum())

    def coverage_curve(self, existing: pd.DataFrame, *, max_new: int | None = None) -> pd.DataFrame:
        """Coverage share vs number of new stations (0..max_new), each point optimal for the
        whole demand with the existing stations fixed open."""
        if self.kind == "frlm":
            from planner.siting_corridor import frlm_curve

            return frlm_curve(self, existing, max_new=max_new)
        max_new = max_new or self.cfg.model.p or 10
        dem = self._all_demand()
        rows = [
            {
                "n_stations": len(existing),
                "new_stations": 0,
                "coverage_share": self.coverage_share(existing),
            }
        ]
        saved_kind, self.kind = self.kind, "mclp"
        try:
            for p in range(1, max_new + 1):
                chosen, _ = city_solve(self, dem, existing, p, None)
                st = pd.concat(
                    [existing, self._stations(chosen, np.ones(len(chosen), dtype=int))],
                    ignore_index=True,
                )
                rows.append(
                    {
                        "n_stations": len(st),
                        "new_stations": len(chosen),
                        "coverage_share": self.coverage_share(st),
                    }
                )
        finally:
            self.kind = saved_kind
        return pd.DataFrame(rows)

    def soc_trace(self, stations: pd.DataFrame) -> pd.DataFrame:
        """State of charge along the study's longest trip (corridor studies only)."""
        if self.kind != "frlm":
            return pd.DataFrame(columns=["series", "km", "soc", "event"])
        from planner.siting_corridor import soc_trace

        return soc_trace(self, stations)

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame(
            columns=[
                "station_id",
                "node",
                "plugs",
                "power_kw",
                "existing",
                "name",
                "lon",
                "lat",
                "capex",
            ]
        )

    def _stations(self, chosen: np.ndarray, plugs: np.ndarray) -> pd.DataFrame:
        c = self.cand.iloc[chosen]
        plugs = np.asarray(plugs, dtype=int)
        capex = c["site_cost"].to_numpy() + plugs * c["plug_cost"].to_numpy()
        return pd.DataFrame(
            {
                "station_id": c["site_id"].to_numpy(),
                "node": c["node"].to_numpy(),
                "plugs": plugs,
                "power_kw": c["power_kw"].to_numpy(),
                "existing": False,
                "name": c["name"].to_numpy(),
                "lon": c["lon"].to_numpy(),
                "lat": c["lat"].to_numpy(),
                "capex": capex,
            }
        )

    def _initial_plugs(
        self, sites_nodes: np.ndarray, dem_nodes: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Plugs per new site from the charging hours of the demand it is nearest to, at the
        target utilisation in the busiest hour (from the trips' departure profile)."""
        if len(sites_nodes) == 0:
            return np.zeros(0, dtype=int)
        tt = self.net.travel_time_matrix(dem_nodes, sites_nodes)
        nearest = np.argmin(np.where(np.isfinite(tt), tt, np.inf), axis=1)
        return self._initial_plugs_from_load(
            np.bincount(nearest, weights=weights, minlength=len(sites_nodes))
        )

    def _initial_plugs_from_load(self, trips_per_site: np.ndarray) -> np.ndarray:
        """Plugs for a site that serves ``trips_per_site`` charging needs over the study:
        the busiest hour's share of them x a 30 min session, at the target utilisation."""
        hours = self.trips["depart_s"] // 3600 % 24
        peak_share = hours.value_counts(normalize=True).max() if len(hours) else 1.0
        days = max(1, self.cfg.simulation.days)
        session_h = 0.5  # a DC top-up of ~25 kWh at 50 kW; refined by the closed loop
        load = np.asarray(trips_per_site, dtype=float) / days * peak_share * session_h
        plugs = np.ceil(load / self.cfg.model.target_utilisation).astype(int)
        return np.clip(plugs, 1, self.cfg.candidates.max_plugs)


def od_paths(
    net, origins: np.ndarray, destinations: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fastest path of every OD pair as ``(node indices, cumulative km)``; empty when
    unreachable. One C Dijkstra per unique origin (with predecessors), walked back per pair."""
    from scipy.sparse import csgraph

    origins = np.asarray(origins, dtype=np.int64)
    destinations = np.asarray(destinations, dtype=np.int64)
    uniq, inv = np.unique(origins, return_inverse=True)
    _, pred = csgraph.dijkstra(net.time, directed=True, indices=uniq, return_predecessors=True)
    length = net.length.tocsr()
    out = []
    for k, d in enumerate(destinations):
        row, o = pred[inv[k]], origins[k]
        nodes = [int(d)]
        while nodes[-1] != o and row[nodes[-1]] >= 0:
            nodes.append(int(row[nodes[-1]]))
        if nodes[-1] != o:
            out.append((np.empty(0, dtype=np.int64), np.empty(0)))
            continue
        nodes_a = np.asarray(nodes[::-1], dtype=np.int64)
        seg = np.asarray(length[nodes_a[:-1], nodes_a[1:]]).ravel() / 1000.0
        out.append((nodes_a, np.concatenate([[0.0], np.cumsum(seg)])))
    return out


def _solve_options(cfg: StudyConfig) -> dict:
    s = cfg.model.solver
    return {
        "time_limit_s": s.time_limit_s,
        "threads": s.threads,
        "seed": cfg.seed,
        "solver": s.backend,
    }


def _log_result(res, what: str) -> None:
    logger.info(
        "%s: %s %s, objective %.6g, bound %.6g, gap %.2g, %.2f s (%s)",
        what,
        res.model,
        res.status,
        res.objective,
        res.best_bound,
        res.gap,
        res.solve_time_s,
        res.message,
    )


def city_solve(
    self: StudyOptimizer,
    unserved: pd.DataFrame,
    fixed: pd.DataFrame,
    n_sites: int | None,
    budget_left: float | None,
):
    """Demand nodes x (fixed stations + candidates) travel times -> the configured city model."""
    from planner import siting

    cfg = self.cfg
    dem = unserved.groupby("node")["weight"].sum()
    dem_nodes = dem.index.to_numpy(dtype=np.int64)
    cols = np.r_[fixed["node"].to_numpy(dtype=np.int64), self.cand["node"].to_numpy(dtype=np.int64)]
    n_fixed = len(fixed)
    cutoff = self.threshold_s if self.kind in ("mclp", "cover", "capacitated") else None
    cost = self.net.travel_time_matrix(dem_nodes, cols, cutoff=cutoff)
    site_cost = np.r_[
        np.zeros(n_fixed), (self.cand["site_cost"] + self.cand["plug_cost"]).to_numpy()
    ]
    fixed_idx = np.arange(n_fixed)
    labels = np.r_[
        fixed["station_id"].astype(str).to_numpy(), self.cand["site_id"].astype(str).to_numpy()
    ]
    common = dict(fixed_open=fixed_idx, site_labels=labels)
    if self.kind == "mclp":
        from planner.siting.mclp import MCLP

        model = MCLP.from_cost_matrix(
            cost,
            dem.to_numpy(),
            threshold=self.threshold_s,
            p=n_sites,
            budget=budget_left,
            candidate_costs=site_cost,
            **common,
        )
    elif self.kind == "pmedian":
        model = siting.PMedian.from_cost_matrix(
            cost, dem.to_numpy(), p=n_sites or cfg.model.p, **common
        )
    elif self.kind == "cover":
        model = siting.SetCover.from_cost_matrix(
            cost,
            dem.to_numpy(),
            threshold=self.threshold_s,
            coverage=cfg.model.coverage_target,
            candidate_costs=site_cost,
            **common,
        )
    elif self.kind == "capacitated":
        model = _capacitated_model(self, cost, dem, fixed, site_cost, budget_left, labels)
    else:  # pragma: no cover - the config schema admits no other kind
        raise ValueError(f"unknown model kind {self.kind!r}")
    res = model.solve(**_solve_options(cfg))
    model.check(res)  # independent recomputation of objective and constraints
    _log_result(res, "siting")
    self.solves.append(
        {
            "model": res.model,
            "status": res.status,
            "objective": res.objective,
            "best_bound": res.best_bound,
            "gap": res.gap,
            "solve_time_s": res.solve_time_s,
        }
    )
    chosen = np.asarray(res.selected, dtype=np.int64) - n_fixed
    chosen = chosen[chosen >= 0]
    if res.plugs is not None:  # the capacitated model decides the plugs itself
        return chosen, np.maximum(res.plugs[chosen + n_fixed], 1)
    plugs = self._initial_plugs(self.cand["node"].to_numpy()[chosen], dem_nodes, dem.to_numpy())
    return chosen, plugs


def _capacitated_model(
    self: StudyOptimizer, cost, dem: pd.Series, fixed: pd.DataFrame, site_cost, budget_left, labels
):
    """Capacitated siting for the study: demand as plug-hours per hour in the busiest hour
    (trips x the peak hour's share x a 30 min session / days), existing plugs kept."""
    from planner.siting import Capacitated

    cfg = self.cfg
    hours = self.trips["depart_s"] // 3600 % 24
    peak_share = float(hours.value_counts(normalize=True).max()) if len(hours) else 1.0
    load = dem.to_numpy(dtype=float) / max(1, cfg.simulation.days) * peak_share * 0.5
    n_fixed = len(fixed)
    existing = np.r_[
        fixed["plugs"].to_numpy(dtype=np.int64), np.zeros(len(self.cand), dtype=np.int64)
    ]
    max_plugs = np.maximum(
        np.full(existing.size, cfg.candidates.max_plugs, dtype=np.int64), existing
    )
    kw = np.r_[
        fixed["power_kw"].to_numpy(dtype=float)
        if "power_kw" in fixed
        else np.full(n_fixed, cfg.candidates.power_kw),
        self.cand["power_kw"].to_numpy(dtype=float),
    ]
    site = np.r_[np.zeros(n_fixed), self.cand["site_cost"].to_numpy(dtype=float)]
    plug = np.r_[
        np.full(n_fixed, cfg.candidates.plug_cost), self.cand["plug_cost"].to_numpy(dtype=float)
    ]
    return Capacitated.from_cost_matrix(
        cost,
        load,
        threshold=self.threshold_s,
        max_plugs=max_plugs,
        site_costs=site,
        plug_costs=plug,
        plug_kw=kw,
        grid_kw=cfg.candidates.grid_kw,
        existing_plugs=existing,
        fixed_open=np.arange(n_fixed),
        utilisation=cfg.model.target_utilisation,
        coverage=cfg.model.coverage_target,
        budget=budget_left,
        site_labels=labels,
    )
