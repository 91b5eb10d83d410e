"""Corridor strategy of the optimisation step: OD flows along their fastest routes, a
driving range, and the flow-refuelling location model (FRLM).

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
from planner.config.study import StudyConfig
from planner.siting import FRLM
from planner.study.grid import cap_plugs
from planner.study.inputs import StudyNetwork, connector_text
from planner.study.optimize import (
    RANGE_SPEED_KPH,
    RANGE_USABLE_SHARE,
    StudyOptimizer,
    planning_range_km,
)

logger = logging.getLogger(__name__)

__all__ = ["CorridorOptimizer", "round_trip_refuelable", "with_bay_draw"]


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


def with_bay_draw(stations: pd.DataFrame) -> pd.DataFrame:
    """``stations`` (truck bay rows, with ``plugs``, ``bay_draw_kw`` and ``node``) with their
    grid draw: ``draw_kw``, the row's bays x kW per bay, and ``site_draw_kw``, the sum of
    ``draw_kw`` over the rows at the row's node (what a grid capacity rule compares with
    the site's connection, :mod:`planner.study.grid_fit`).

    One helper for the draw of the sited bays (:meth:`CorridorOptimizer.stations_frame`)
    and of the final ones, after the design loop has added bays
    (:func:`planner.study.result.assemble`), so the two cannot drift apart.
    """
    draw = stations["plugs"] * stations["bay_draw_kw"]
    return stations.assign(
        draw_kw=draw, site_draw_kw=draw.groupby(stations["node"]).transform("sum")
    )


class Flows:
    """OD flows (``od``: node, destination, weight) with their fastest routes (``paths``:
    node indices and cumulative km per flow).

    Pairs with no route on the network (``unreachable``, same columns) are left out of
    ``od`` and ``paths``: no station can refuel them, so they count neither as refuelled
    nor as flow to refuel, as in the staged model (:mod:`planner.study.rollout_models`).
    """

    def __init__(self, net, demand: pd.DataFrame) -> None:
        od = demand.groupby(["node", "destination"], as_index=False)["weight"].sum()
        od = od[od["node"] != od["destination"]].reset_index(drop=True)
        paths = net.route_paths(od["node"].to_numpy(), od["destination"].to_numpy())
        reach = np.array([path.size > 0 for path, _ in paths], dtype=bool)
        self.od = od[reach].reset_index(drop=True)
        self.unreachable = od[~reach].reset_index(drop=True)
        self.paths = [p for p, ok in zip(paths, reach.tolist(), strict=True) if ok]

    def positions(self, nodes: np.ndarray) -> list[np.ndarray]:
        """For every route, km positions of the given nodes on it."""
        nodes_set = set(np.asarray(nodes, dtype=np.int64).tolist())
        return [km[[n in nodes_set for n in path]] for path, km in self.paths]


def range_note(cfg: StudyConfig, range_km: float) -> str:
    """The report's note on the range a corridor is planned for, with where it comes from:
    ``model.range_km``, or the usable share and speed, assumptions in the register
    (docs/assumptions.md: ``RANGE_USABLE_SHARE``, ``RANGE_SPEED_KPH``)."""
    if cfg.model.range_km:
        return f"Corridor planned for a range of {range_km:.0f} km (model.range_km)."
    return (
        f"Corridor planned for a range of {range_km:.0f} km ({RANGE_USABLE_SHARE:.0%} of the "
        f"shortest-range fleet vehicle's battery at {RANGE_SPEED_KPH:g} km/h and "
        f"{cfg.simulation.temperature_c:g} C; the {RANGE_USABLE_SHARE:.0%} and the "
        f"{RANGE_SPEED_KPH:g} km/h are assumptions, docs/assumptions.md; model.range_km "
        "overrides it)."
    )


class CorridorOptimizer(StudyOptimizer):
    """Sites corridor stations for unserved OD flows with the FRLM; the range is
    ``model.range_km`` or the shortest-range fleet vehicle's (see :func:`planning_range_km`)."""

    def __init__(
        self,
        cfg: StudyConfig,
        sn: StudyNetwork,
        candidates: pd.DataFrame,
        trips: pd.DataFrame,
        vehicles: dict,
    ) -> None:
        super().__init__(cfg, sn, candidates, trips, vehicles)
        self.range_km = planning_range_km(cfg, vehicles)
        self.notes.append(range_note(cfg, self.range_km))
        self._all_flows: Flows | None = None

    def flows(self, demand: pd.DataFrame | None = None) -> Flows:
        """Flows of ``demand``, or of every trip of the study (computed once)."""
        if demand is not None:
            return Flows(self.net, demand)
        if self._all_flows is None:
            self._all_flows = fl = Flows(self.net, self.all_demand())
            if len(fl.unreachable):
                s = self.unreachable_summary()
                text = (
                    f"{s['coverage_unreachable_od_pairs']} OD pair(s) ("
                    f"{s['coverage_unreachable_trips']:,.0f} trips, "
                    f"{s['coverage_unreachable_trip_share']:.1%} of the study's trips) have no "
                    "route on the network: left out of the corridor coverage and the siting "
                    "(no station can refuel them); check the network's extent and connectivity."
                )
                logger.warning("corridor: %s", text)
                self.notes.append(text)
        return self._all_flows

    def coverage_measure(self) -> str:
        return (
            "trips with a route whose round trip the stations refuel within a "
            f"{self.range_km:,.0f} km planning range"
        )

    def unreachable_summary(self) -> dict[str, float | int]:
        """The study's OD pairs with no route on the network, left out of the coverage:
        ``coverage_unreachable_od_pairs`` (pairs), ``coverage_unreachable_trips`` (their
        trips) and ``coverage_unreachable_trip_share`` (share of all the study's trips)."""
        fl = self.flows()
        lost = float(fl.unreachable["weight"].sum())
        total = lost + float(fl.od["weight"].sum())
        return {
            "coverage_unreachable_od_pairs": len(fl.unreachable),
            "coverage_unreachable_trips": lost,
            "coverage_unreachable_trip_share": lost / total if total else 0.0,
        }

    def stations_frame(self, chosen: np.ndarray, plugs: np.ndarray) -> pd.DataFrame:
        """New stations; with ``candidates.truck_bays``, one row per bay class at each chosen
        site (``station_id`` ``<site>:<class>``), its own power, connectors and bay cost; the
        site cost is on the site's first row. ``draw_kw`` is the class's grid draw (bays x kW
        per bay), ``site_draw_kw`` the site's total over its classes (what a grid capacity
        rule compares with the connection). ``plugs`` (load-based bays per site) is split
        over the classes by their ``share``, each within ``[min_bays, max_bays]``."""
        frame = super().stations_frame(chosen, plugs)
        bays = self.cfg.candidates.truck_bays
        if not bays or frame.empty:
            return frame
        rows = []
        for i, site in enumerate(frame.itertuples(index=False)):
            site_cost = float(self.candidates["site_cost"].iloc[int(chosen[i])])
            first = True
            for label, bc in bays.items():
                n = int(np.clip(np.ceil(site.plugs * bc.share), bc.min_bays, bc.max_bays))
                if n <= 0:
                    continue
                per_bay = bc.grid_kw_per_bay if bc.grid_kw_per_bay is not None else bc.power_kw
                rows.append(
                    {
                        **site._asdict(),
                        "station_id": f"{site.station_id}:{label}",
                        "plugs": n,
                        "power_kw": bc.power_kw,
                        "connectors": connector_text(bc.connectors),
                        "capex": (site_cost if first else 0.0) + n * bc.plug_cost,
                        "plug_class": label,
                        "bay_cost": bc.plug_cost,
                        "bay_draw_kw": per_bay,
                    }
                )
                first = False
        return with_bay_draw(pd.DataFrame(rows))

    def coverage_share(self, stations: pd.DataFrame) -> float:
        """Share of the trips with a route on the network whose route can be driven (round
        trip) with ``stations``; pairs with no route are left out (:class:`Flows`,
        :meth:`unreachable_summary`)."""
        fl = self.flows()
        pos = fl.positions(stations["node"].to_numpy() if len(stations) else np.empty(0))
        ok = np.array(
            [
                round_trip_refuelable(p, km[-1], self.range_km)
                for p, (_, km) in zip(pos, fl.paths, strict=True)
            ],
            dtype=bool,
        )
        w = fl.od["weight"].to_numpy()
        return float(w[ok].sum() / w.sum()) if w.sum() else 0.0

    def solve_sites(
        self,
        unserved: pd.DataFrame,
        fixed: pd.DataFrame,
        n_sites: int | None,
        budget_left: float | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FRLM for the unserved OD flows (existing fixed open): max refuelled flow with
        ``n_sites`` new stations, or the fewest stations refuelling all refuellable flow when
        ``n_sites`` is None. Budgets are rejected by the config schema for this model."""
        if budget_left is not None:
            raise ValueError("the FRLM does not take a budget (rejected by the config schema)")
        fl = self.flows(unserved)
        dropped = {
            "unreachable_flows": len(fl.unreachable),
            "unreachable_trips": float(fl.unreachable["weight"].sum()),
        }
        if len(fl.unreachable):
            # an empty route would enter the FRLM as a 0-km trip, refuelled for free
            logger.info(
                "corridor siting: %d unserved OD pair(s) (%g trips) have no route; left out",
                dropped["unreachable_flows"],
                dropped["unreachable_trips"],
            )
        if fl.od.empty:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=int)
        cand_nodes = self.candidates["node"].to_numpy(dtype=np.int64)
        # a station whose grid connection bound the loop's plug sizing (``grid_bound``), or
        # that needs more plugs than it may have (``full``), cannot take the flow's extra
        # load: its node is left out, so the FRLM refuels those flows at another site (the
        # design loop's spill; docs/grid.md)
        bound = np.zeros(len(fixed), dtype=bool)
        for col in ("grid_bound", "full"):
            if col in fixed:
                bound |= fixed[col].fillna(False).astype(bool).to_numpy()
        bound_nodes = set(fixed["node"].to_numpy(dtype=np.int64)[bound].tolist())
        fixed_nodes = fixed["node"].to_numpy(dtype=np.int64)[~bound]
        site_nodes = np.r_[fixed_nodes, cand_nodes]
        col_of: dict[int, int] = {}
        for k, n in enumerate(site_nodes.tolist()):
            if n not in bound_nodes:  # a candidate on an existing station's node is that station
                col_of.setdefault(n, k)
        route_km, site_km, site_idx = [], [], []
        for path, km in fl.paths:  # every path has a route (Flows leaves out the others)
            on = np.array([n in col_of for n in path.tolist()], dtype=bool)
            route_km.append(km)
            site_km.append(km[on])
            site_idx.append(np.array([col_of[n] for n in path[on].tolist()], dtype=np.int64))
        model = FRLM.from_paths(
            route_km,
            site_km,
            site_idx,
            fl.od["weight"].to_numpy(),
            n_sites=site_nodes.size,
            range_km=self.range_km,
            p=n_sites,
            fixed_open=np.arange(fixed_nodes.size),
        )
        res = model.solve(**self.solve_options())
        model.check(res)  # refuelability recomputed by a tank rule, independent of arc covers
        self.record(res, **{k: v for k, v in res.details.items() if k != "covered"}, **dropped)
        chosen = np.asarray(res.selected, dtype=np.int64) - fixed_nodes.size
        chosen = chosen[chosen >= 0]
        # Plugs from the flow through each new site (trips/day), sized like city sites.
        through = np.zeros(chosen.size)
        chosen_nodes = cand_nodes[chosen]
        for (path, _), w in zip(fl.paths, fl.od["weight"].to_numpy(), strict=True):
            through += np.isin(chosen_nodes, path) * w
        # grid capacity: a site that can neither be upgraded nor managed gets the plugs its
        # connection carries (planner/study/grid.py; upgrades are costed on the final plan)
        return chosen, cap_plugs(
            self.cfg, self.candidates.iloc[chosen], self.plugs_from_load(through)
        )

    def coverage_curve(
        self, existing: pd.DataFrame, *, max_new: int | None = None, points: int = 15
    ) -> pd.DataFrame:
        """Refuelled share of all flow vs number of new stations, optimal at each point."""
        demand = self.all_demand()
        rows = [
            {
                "n_stations": len(existing),
                "new_stations": 0,
                "coverage_share": self.coverage_share(existing),
            }
        ]
        for p in self.curve_counts(max_new, 12, points):  # one FRLM solve per point
            chosen, _ = self.solve_sites(demand, existing, p, None)
            st = pd.concat(
                [existing, self.stations_frame(chosen, np.ones(chosen.size, dtype=int))],
                ignore_index=True,
            )
            rows.append(
                {
                    "n_stations": len(st),
                    "new_stations": int(chosen.size),
                    "coverage_share": self.coverage_share(st),
                }
            )
        return pd.DataFrame(rows)

    def soc_trace(self, stations: pd.DataFrame) -> pd.DataFrame:
        """State of charge along the study's longest OD route, simulated for every compared
        vehicle and season with the proposal's stations (km positions from driving time)."""
        cfg = self.cfg
        fl = self.flows()
        if fl.od.empty:
            return pd.DataFrame(columns=["series", "km", "soc", "event"])
        longest = int(np.argmax([km[-1] for _, km in fl.paths]))
        o, d = int(fl.od.loc[longest, "node"]), int(fl.od.loc[longest, "destination"])
        path, path_km = fl.paths[longest]
        # stations on the route sit at their route km (driving time would count the pauses
        # of driving-time rules as distance)
        node_km = dict(zip(path.tolist(), path_km.tolist(), strict=True))
        st_km = {
            str(sid): node_km[int(n)]
            for sid, n in zip(stations["station_id"], stations["node"], strict=True)
            if int(n) in node_km
        }
        seasons = cfg.simulation.seasons or {"study": cfg.simulation.temperature_c}
        models = cfg.vehicles.compare or list(cfg.vehicles.fleet)[:1]
        rows = []
        cols = ["station_id", "node", "plugs", "power_kw", "name"]
        st = stations[cols + (["connectors"] if "connectors" in stations else [])]
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
                    self.net, st, trip, vehicles=self.vehicles, settings=settings, seed=cfg.seed
                )
                rows += _trace_rows(res, f"{model} ({season}, {temp:g} C)", st_km)
        return pd.DataFrame(rows, columns=["series", "km", "soc", "event"])


def _trace_rows(res, series: str, station_km: dict | None = None) -> list[dict]:
    t = res.trips.iloc[0]
    ses = res.sessions[res.sessions["station"] >= 0].sort_values("arrive_s")
    stops = float((ses["wait_s"] + ses["charge_s"]).sum()) if len(ses) else 0.0
    end_s = t["arrived_s"] if np.isfinite(t["arrived_s"]) else res.span_s
    pauses = float(np.nan_to_num(t.get("break_s", 0.0)) + np.nan_to_num(t.get("rest_s", 0.0)))
    drive_s = max(float(end_s - t["departed_s"]) - stops - pauses, 1e-9)
    dist = float(t["distance_km"])
    rows = [{"series": series, "km": 0.0, "soc": float(t["soc_depart"]), "event": "depart"}]
    stopped = 0.0
    for s in ses.itertuples():
        km = (station_km or {}).get(str(s.station_id))
        if km is None:  # off the route: by driving time (pauses spread evenly)
            km = dist * min(1.0, (s.arrive_s - t["departed_s"] - stopped) / (drive_s + pauses))
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
