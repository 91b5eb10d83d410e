"""The optimisation step of a study: unserved demand -> new stations, with the OR-Tools
models of :mod:`planner.siting`, checked by :mod:`planner.checker`.

City models (MCLP, p-median, cover, capacitated) see demand as weighted nodes and travel
time to candidate sites. The corridor model (FRLM) sees origin-destination flows along
their fastest routes and a driving range.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from planner.scenario import StudyConfig
from planner.study_inputs import StudyNetwork

logger = logging.getLogger(__name__)

#: Share of the battery a planner may count on between chargers (the rest is reserve).
RANGE_USABLE_SHARE = 0.8
#: Speed at which corridor range is evaluated (km/h).
RANGE_SPEED_KPH = 90.0


def planning_range_km(cfg: StudyConfig, vehicles: dict, *, temperature_c: float | None = None) -> float:
    """Range the corridor is planned for: ``model.range_km`` or the shortest range in the
    fleet (usable share of the battery at 90 km/h and the study temperature)."""
    if cfg.model.range_km is not None:
        return float(cfg.model.range_km)
    temp = cfg.simulation.temperature_c if temperature_c is None else temperature_c
    keys = list(cfg.vehicles.fleet) + ([cfg.vehicles.truck] if cfg.vehicles.truck else [])
    ranges = [RANGE_USABLE_SHARE * vehicles[k].battery_kwh / float(vehicles[k].consumption_kwh_per_km_at(
        RANGE_SPEED_KPH, temp)) for k in keys]
    return float(min(ranges))


class StudyOptimizer:
    """Callable ``(unserved, fixed_stations, n_sites, budget_left) -> new stations``."""

    def __init__(self, cfg: StudyConfig, sn: StudyNetwork, candidates: pd.DataFrame, trips: pd.DataFrame,
                 vehicles: dict) -> None:
        self.cfg, self.sn, self.cand, self.trips, self.vehicles = cfg, sn, candidates, trips, vehicles
        self.net = sn.network
        self.kind = cfg.model.kind
        self.threshold_s = cfg.model.threshold_min * 60.0
        self.notes: list[str] = []
        self.solves: list[dict] = []
        if self.kind == "frlm":
            self.range_km = planning_range_km(cfg, vehicles)
            self.notes.append(f"Corridor planned for a range of {self.range_km:.0f} km "
                              + ("(model.range_km)." if cfg.model.range_km else
                                 f"({RANGE_USABLE_SHARE:.0%} of the shortest-range fleet vehicle's battery at "
                                 f"{RANGE_SPEED_KPH:g} km/h and {cfg.simulation.temperature_c:g} C)."))

    # ----------------------------------------------------------------- demand views
    def _all_demand(self) -> pd.DataFrame:
        t = self.trips
        return t.groupby(["origin", "destination"]).size().rename("weight").reset_index().rename(
            columns={"origin": "node"})

    # ----------------------------------------------------------------- main call
    def __call__(self, unserved: pd.DataFrame, fixed: pd.DataFrame, n_sites: int | None,
                 budget_left: float | None) -> pd.DataFrame:
        if unserved.empty:
            return self._empty()
        if self.kind == "frlm":
            chosen, plugs = self._frlm(unserved, fixed, n_sites, budget_left)
        else:
            chosen, plugs = self._city(unserved, fixed, n_sites, budget_left)
        return self._stations(chosen, plugs)

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame(columns=["station_id", "node", "plugs", "power_kw", "existing", "name", "lon", "lat",
                                     "capex"])

    def _stations(self, chosen: np.ndarray, plugs: np.ndarray) -> pd.DataFrame:
        c = self.cand.iloc[chosen]
        plugs = np.asarray(plugs, dtype=int)
        capex = c["site_cost"].to_numpy() + plugs * c["plug_cost"].to_numpy()
        return pd.DataFrame({"station_id": c["site_id"].to_numpy(), "node": c["node"].to_numpy(), "plugs": plugs,
                             "power_kw": c["power_kw"].to_numpy(), "existing": False, "name": c["name"].to_numpy(),
                             "lon": c["lon"].to_numpy(), "lat": c["lat"].to_numpy(), "capex": capex})

    def _initial_plugs(self, sites_nodes: np.ndarray, dem_nodes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Plugs per new site from the charging hours of the demand it is nearest to, at the
        target utilisation in the busiest hour (from the trips' departure profile)."""
        if len(sites_nodes) == 0:
            return np.zeros(0, dtype=int)
        tt = self.net.travel_time_matrix(dem_nodes, sites_nodes)
        nearest = np.argmin(np.where(np.isfinite(tt), tt, np.inf), axis=1)
        per_site = np.bincount(nearest, weights=weights, minlength=len(sites_nodes))
        hours = self.trips["depart_s"] // 3600 % 24
        peak_share = hours.value_counts(normalize=True).max() if len(hours) else 1.0
        days = max(1, self.cfg.simulation.days)
        session_h = 0.5  # a DC top-up of ~25 kWh at 50 kW; refined by the closed loop
        load = per_site / days * peak_share * session_h
        plugs = np.ceil(load / self.cfg.model.target_utilisation).astype(int)
        return np.clip(plugs, 1, self.cfg.candidates.max_plugs)


def od_paths(net, origins: np.ndarray, destinations: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
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
