"""KPIs of a simulation run over its measured period (:func:`compute_kpis`); names, units
and directions are registered in :mod:`sim.kpis`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["compute_kpis", "measure_end", "step_peak"]


def measure_end(settings: Any, planned_end_s: float) -> float:
    """End of the time measures' window (:attr:`sim.settings.SimSettings.measure_end_s`):
    that setting, else ``planned_end_s`` (the engine's end of the planned days: whole days up
    to the last planned departure); never past ``horizon_s`` (nothing runs there)."""
    end = planned_end_s if settings.measure_end_s is None else float(settings.measure_end_s)
    if settings.horizon_s is not None:
        end = min(end, float(settings.horizon_s))
    return end


def step_peak(starts: np.ndarray, ends: np.ndarray, weights: np.ndarray) -> float:
    """Maximum of ``sum w_i [start_i <= t < end_i]`` over t (ends before starts on ties)."""
    if starts.size == 0:
        return 0.0
    t = np.r_[ends, starts]
    w = np.r_[-weights, weights]
    kind = np.r_[np.zeros(ends.size), np.ones(starts.size)]
    order = np.lexsort((kind, t))
    return float(max(0.0, np.cumsum(w[order]).max()))


def _mean_detour_km(t: Any) -> float:
    """Mean detour of the completed trips that charged on the way (``charging_stops`` > 0)."""
    if not {"detour_km", "charging_stops", "status"} <= set(t.columns):
        return math.nan
    stopped = (t["status"] == "completed").to_numpy() & (
        np.nan_to_num(t["charging_stops"].to_numpy(dtype=float)) > 0
    )
    d = t["detour_km"].to_numpy(dtype=float)[stopped]
    return float(d.mean()) if d.size else math.nan


def city_driving(trips: pd.DataFrame, km: np.ndarray, max_kph: float) -> np.ndarray:
    """Per trip: driven at an average speed of at most ``max_kph`` (``km``, the km driven,
    over the time between departure and arrival less waits, charging and the driving
    rules' pauses). Trips with no driving time (unroutable, not started) count as city
    driving: they have no km either."""
    cols = ("arrived_s", "departed_s", "wait_s", "charge_s", "break_s", "rest_s")
    get = {c: trips[c].to_numpy(dtype=float) if c in trips else np.zeros(len(trips)) for c in cols}
    pauses = sum(np.nan_to_num(get[c]) for c in cols[2:])
    hours = (get["arrived_s"] - get["departed_s"] - pauses) / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kph = np.where(hours > 0, km / hours, 0.0)
    return ~(kph > max_kph)


def compute_kpis(r: Any) -> dict[str, float]:
    """KPI dictionary of a :class:`sim.results.SimulationResult` (definitions in
    docs/simulation.md), over the measured period (after ``settings.warmup_s``).

    Every key is registered in :data:`sim.kpis.KPIS` (label, unit, direction, range).
    """
    s = r.settings
    w = s.warmup_s
    t, ses, veh = r.trips, r.sessions, r.vehicles
    # the time measures' charging: every charged public session, clipped to the window
    lo = w
    hi = r.window_end_s if np.isfinite(r.window_end_s) else r.span_s
    every = ses[(ses["station"] >= 0).to_numpy() & (ses["status"] == "charged").to_numpy()]
    on_from = np.clip(every["start_s"].to_numpy(dtype=float), lo, hi)
    on_to = np.clip(every["end_s"].to_numpy(dtype=float), lo, hi)
    if "measured" in t:
        t = t[t["measured"].to_numpy()]
    if "measured" in ses:
        ses = ses[ses["measured"].to_numpy()]
    planned = t[t["depart_s"] < r.span_s]
    n_planned = len(planned)
    status = planned["status"]
    completed = int((status == "completed").sum())
    # trips no charger can complete: a leg with no road path and the legs it cancelled
    no_path = (
        int((planned["strand_cause"] == "no_road_path").sum()) if "strand_cause" in planned else 0
    )
    # the trips that relied on public charging: those that charged on the way, and those a
    # public charger failed (stranded with none in range, or given up at a queue); not a
    # car's own start below reach, a leg with no road path, nor the legs a stranding
    # cancelled (the stranding is counted once, on its own leg)
    stopped = np.nan_to_num(planned["charging_stops"].to_numpy(dtype=float)) > 0
    failed = status.isin(["stranded", "abandoned"]).to_numpy() & (
        planned["strand_cause"].isin(["no_charger_in_range", "queue_abandoned"]).to_numpy()
        if "strand_cause" in planned
        else np.zeros(n_planned, dtype=bool)
    )
    relied = int((stopped | failed).sum())
    relied_done = int((stopped & (status == "completed").to_numpy()).sum())
    ended = planned[status.isin(["stranded", "abandoned"]).to_numpy()]
    by_cause = ended.drop_duplicates("vehicle_id")["strand_cause"].astype(str)
    pub = ses[ses["station"] >= 0]
    charged = pub[pub["status"] == "charged"]
    waits = pub["wait_s"].to_numpy()
    home = ses[ses["station"] == -1]
    plug_s = float(r.stations["plugs"].sum() * max(hi - lo, 0.0)) if len(r.stations) else 0.0
    busy_s = float((on_to - on_from).sum())
    # each trip's vehicle category by a hash join (vehicle ids are unique), no Python step
    # per vehicle or trip
    is_truck = np.zeros(len(t), dtype=bool)
    ids = pd.Index(veh["vehicle_id"])
    if len(veh) and ids.is_unique:
        row = ids.get_indexer(t["vehicle_id"])
        truck_v = veh["category"].isin(["truck", "bus"]).to_numpy()
        is_truck[row >= 0] = truck_v[row[row >= 0]]
    elif len(veh):  # repeated ids (not produced by the engine): the last one wins, as a dict
        cat = dict(zip(veh["vehicle_id"], veh["category"], strict=True))
        is_truck = t["vehicle_id"].map(cat).isin(["truck", "bus"]).to_numpy()
    km = np.nan_to_num(t["distance_km"].to_numpy(dtype=float))
    # the same km by petrol cars and diesel trucks, each with its own winter penalty; the
    # car's is a city-driving figure: on the km of trips driven at city speeds only
    temp = s.ambient_temp_c
    city = city_driving(t, km, s.ice_cold_max_kph)
    car_km_city = km[~is_truck & city].sum()
    car_km_other = km[~is_truck & ~city].sum()
    car_l = (s.ice_factor(temp) * car_km_city + car_km_other) * s.ice_car_l_per_100km / 100.0
    truck_l = s.ice_factor(temp, truck=True) * km[is_truck].sum() * s.ice_truck_l_per_100km / 100.0
    ice = car_l * (s.petrol_kg_co2_per_l + s.petrol_wtt_kg_co2_per_l) + truck_l * (
        s.diesel_kg_co2_per_l + s.diesel_wtt_kg_co2_per_l
    )
    consumed = float(np.nan_to_num(t["energy_kwh"].to_numpy(dtype=float)).sum())
    ev = consumed / s.charging_efficiency / (1.0 - s.grid_loss_share) * s.grid_kg_co2_per_kwh
    n_veh = int(t["vehicle_id"].nunique())
    return {
        "trips": float(n_planned),
        "trips_completed": float(completed),
        "share_trips_completed": completed / n_planned if n_planned else math.nan,
        "share_public_trips_completed": relied_done / relied if relied else math.nan,
        "trips_abandoned": float((status == "abandoned").sum()),
        "trips_no_road_path": float(no_path),
        "vehicles": float(n_veh),
        "stranded_vehicles": float(len(by_cause)),
        "share_vehicles_stranded": len(by_cause) / n_veh if n_veh else math.nan,
        "stranded_no_charger": float((by_cause == "no_charger_in_range").sum()),
        "stranded_queue": float((by_cause == "queue_abandoned").sum()),
        "stranded_below_reach": float((by_cause == "started_below_reach").sum()),
        "station_visits": float(len(pub)),
        "sessions_public": float(len(charged)),
        "sessions_balked": float((pub["status"] == "balked").sum()),
        "wait_mean_min": float(waits.mean() / 60.0) if waits.size else math.nan,
        "wait_p95_min": float(np.percentile(waits, 95) / 60.0) if waits.size else math.nan,
        "detour_km_total": float(np.nansum(t["detour_km"].to_numpy())),
        # per completed trip that stopped at a public charger (NaN when none did)
        "detour_km_mean": _mean_detour_km(t),
        "plug_utilisation": busy_s / plug_s if plug_s else math.nan,
        "energy_public_kwh": float(charged["energy_kwh"].sum()),
        "energy_home_kwh": float(home["energy_kwh"].sum()),
        "energy_delivered_kwh": float(charged["energy_kwh"].sum() + home["energy_kwh"].sum()),
        "peak_kw_station_max": float(r.stations["peak_kw"].max()) if len(r.stations) else 0.0,
        "peak_kw_network": step_peak(on_from, on_to, every["avg_power_kw"].to_numpy()),
        "ev_km": float(km.sum()),
        "co2_ice_kg": float(ice),
        "co2_ev_kg": float(ev),
        "co2_avoided_kg": float(ice - ev),
    }
