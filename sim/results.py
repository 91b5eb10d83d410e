"""Result tables and KPIs of a simulation run.

Tables (pandas, one row per ...):

* ``trips`` -- input leg, plus ``departed_s, arrived_s, status`` (completed / stranded /
  unroutable / cancelled / not_started / in_progress), ``distance_km`` (driven, detours
  included), ``direct_km``, ``detour_km``, ``energy_kwh`` (consumed), ``soc_depart``,
  ``soc_arrive``, ``charging_stops``, ``wait_s``, ``charge_s``, ``break_s`` and ``rest_s``
  (breaks and daily rests the driving-time rules added, :mod:`sim.driving_rules`),
  ``delay_s`` (arrival minus departure minus driving time: stops, detours and pauses).
* ``sessions`` -- station visit or home/depot charge: ``vehicle_id, vehicle_model, trip_id,
  station (position, -1 = home), station_id ("home" for home/depot), kind, status
  (charged / balked), arrive_s, start_s, end_s, wait_s, charge_s, energy_kwh, grid_kwh,
  soc_start, soc_end, avg_power_kw, queue_seq, detour_s, detour_km``.
* ``station_timeseries`` -- per station and time bin: ``busy_plugs`` (mean occupied),
  ``utilisation``, ``queue`` (mean waiting), ``power_kw`` (mean delivered), ``energy_kwh``,
  ``arrivals``, ``balked``.
* ``stations`` -- per-station summary incl. ``utilisation``, ``peak_kw``, waits.
* ``vehicles`` -- per vehicle: energy start / charged / consumed / end, stranded, km.

The per-station tables (``station_timeseries``, ``stations`` and
:meth:`SimulationResult.station_stats`) are built by :mod:`sim.station_tables`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.measures import compute_kpis, measure_end, step_peak  # noqa: F401 - step_peak re-exported
from sim.model import (
    ABANDONED,
    CANCELLED,
    COMPLETED,
    IN_PROGRESS,
    NO_CAUSE,
    NO_CHARGER_IN_RANGE,
    NO_ROAD_PATH,
    NOT_STARTED,
    QUEUE_ABANDONED,
    RECOVERY,
    STARTED_BELOW_REACH,
    STRANDED,
    UNROUTABLE,
    Engine,
)
from sim.settings import SimSettings
from sim.station_tables import station_stats_table, station_timeseries, stations_summary

TRIP_STATUS = {
    COMPLETED: "completed",
    STRANDED: "stranded",
    UNROUTABLE: "unroutable",
    CANCELLED: "cancelled",
    NOT_STARTED: "not_started",
    IN_PROGRESS: "in_progress",
    ABANDONED: "abandoned",
}
#: Why a vehicle's day ended early (trips ``strand_cause``, vehicles ``strand_cause``).
#: ``no_road_path`` (trips only): a leg with no route in the network, and the vehicle's
#: legs cancelled after it -- trips no charger can complete.
STRAND_CAUSE = {
    NO_CAUSE: "",
    NO_CHARGER_IN_RANGE: "no_charger_in_range",
    QUEUE_ABANDONED: "queue_abandoned",
    STARTED_BELOW_REACH: "started_below_reach",
    NO_ROAD_PATH: "no_road_path",
}


@dataclass
class SimulationResult:
    """Outcome of :func:`sim.simulate`. Call :meth:`kpis` for the KPI dictionary."""

    trips: pd.DataFrame
    sessions: pd.DataFrame
    station_timeseries: pd.DataFrame
    stations: pd.DataFrame
    vehicles: pd.DataFrame
    settings: SimSettings
    span_s: float
    events: int = 0
    timings: dict = field(default_factory=dict)
    #: end of the time measures' window (:func:`sim.measures.measure_end`); NaN: the span
    window_end_s: float = math.nan
    _kpis: dict | None = field(default=None, repr=False)
    _station_stats: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def kpis(self) -> dict[str, float]:
        """KPIs (see docs/simulation.md for definitions); cached."""
        if self._kpis is None:
            self._kpis = compute_kpis(self)
        return dict(self._kpis)

    def measured(self) -> SimulationResult:
        """This result with ``trips`` and ``sessions`` cut to the measured period (rows with
        ``measured`` true: after the warm-up, before ``measure_end_s``); KPIs, stations and
        time series are already measured-only. The same object when every row is measured
        (no warm-up and no end)."""
        if not self.settings.warmup_s and self.settings.measure_end_s is None:
            return self
        return dataclasses.replace(
            self,
            trips=self.trips[self.trips["measured"].to_numpy()].reset_index(drop=True),
            sessions=self.sessions[self.sessions["measured"].to_numpy()].reset_index(drop=True),
            _kpis=self.kpis(),
            _station_stats=None,
        )

    def station_stats(self) -> pd.DataFrame:
        """Per-station visits and waits, one row per station in :attr:`stations` order; cached.

        Returns
        -------
        DataFrame
            ``station_id, utilisation`` (from :attr:`stations`; NaN when there are no
            stations), ``sessions`` (the charging sessions, as in :attr:`stations`) and, over
            the public visits (charged or balked), ``visits`` (count), ``wait_mean_min`` and
            ``wait_p95_min`` (0 for a station nobody visited), all over the measured period
            (after the warm-up) as :attr:`stations` and :meth:`kpis`. A copy: changing it
            does not change the cache.
        """
        if self._station_stats is None:
            # the measured visits, as the stations table and the KPIs count them
            self._station_stats = station_stats_table(self.measured().sessions, self.stations)
        return self._station_stats.copy()


def measured_departures(settings: SimSettings, depart: np.ndarray) -> np.ndarray:
    """Which trips (by planned departure) the measured period counts: those departing at or
    after ``warmup_s`` and, with ``measure_end_s``, before it (a study's cool-down days are
    simulated so that the measured trips' late stops meet traffic, not counted)."""
    out = depart >= settings.warmup_s
    if settings.measure_end_s is not None:
        out &= depart < settings.measure_end_s
    return np.asarray(out, dtype=bool)


def build_result(eng: Engine) -> SimulationResult:
    """Turn an engine's records into tables."""
    s = eng.settings
    trips = _trips_table(eng)
    # the vehicle ids as pandas holds them, converted once for both tables
    ids = pd.Series(eng.vehicle_ids, copy=False).array
    sessions = _sessions_table(eng, ids)
    span = max(
        eng.sim_end,
        float(
            np.nanmax(
                np.r_[
                    trips["arrived_s"].to_numpy(dtype=float),
                    sessions["end_s"].to_numpy(dtype=float),
                    0.0,
                ]
            )
        ),
    )
    span = (
        math.ceil(span / s.timeseries_step_s) * s.timeseries_step_s
        if s.horizon_s is None
        else s.horizon_s
    )
    w = s.warmup_s
    meas = sessions[sessions["measured"].to_numpy()]
    # the time measures' window (SimSettings.measure_end_s): plug time busy in it, whichever
    # trip it served; the counts (visits, sessions, energy, waits) are the measured trips'
    # (without measure_end_s: the days the trips were planned on, whole days up to the last
    # departure, not the span to the last late arrival)
    window = (w, measure_end(s, eng.sim_end))
    ts = station_timeseries(sessions, eng.stations, window[1], s.timeseries_step_s, start_s=w)
    stations = stations_summary(meas, eng.stations, window, busy_sessions=sessions)
    vehicles = _vehicles_table(eng, trips, ids)
    return SimulationResult(
        trips=trips,
        sessions=sessions,
        station_timeseries=ts,
        stations=stations,
        vehicles=vehicles,
        settings=s,
        span_s=span,
        window_end_s=window[1],
        events=eng.events,
        timings={
            "prepare_s": eng.prepare_seconds,
            "routes_s": eng.routes_seconds,
            "run_s": eng.run_seconds,
            "fast_s": eng.fast_seconds,
            "events": eng.events,
            "vehicles_as_events": eng.event_vehicles,
            "vehicles_settled": eng.settled_vehicles,
            "vehicles_started_late": eng.late_vehicles,
            "vehicles_tail_settled": eng.tail_settled,
            "trips_tail_settled": eng.tail_trips,
            "trips_settled": eng.settled_trips,
        },
    )


def _trips_table(eng: Engine) -> pd.DataFrame:
    n = len(eng.trips)
    depart = eng.trips["depart_s"].to_numpy(dtype=float)
    log = eng.trip_log
    status = np.full(n, NOT_STARTED, dtype=np.int64)
    values = [c for c in log.COLUMNS if c not in ("k", "status")]
    out = {c: np.full(n, np.nan) for c in values}
    if len(log):
        k = log.column("k")
        status[k] = log.column("status")
        for c in values:
            out[c][k] = log.column(c)
    # trips after a terminal event (stranded / unroutable) are cancelled; a trip that
    # departed but has no record was cut by the horizon
    # (vectorised over vehicles: their trip ranges are disjoint)
    cur = np.asarray(eng.cur_trip, dtype=np.int64)
    k0_v, k1_v = eng.v_arrays.k0, eng.v_arrays.k1
    seen = cur >= 0
    at = np.where(seen, status[np.maximum(cur, 0)] if n else 0, -1)
    unroutable = seen & (at == UNROUTABLE)
    in_progress = seen & (at == NOT_STARTED) & (cur >= k0_v)
    lost = _ranges(cur[unroutable] + 1, k1_v[unroutable])
    status[lost] = CANCELLED
    status[cur[in_progress]] = IN_PROGRESS
    # the unroutable leg and the legs it cancelled: no charger can complete them
    cause = np.nan_to_num(out["cause"], nan=0.0).astype(np.int64)
    cause[cur[unroutable]] = NO_ROAD_PATH
    cause[lost] = NO_ROAD_PATH
    cap = np.repeat(eng.v_arrays.cap, k1_v - k0_v)
    distance_km = out["driven_m"] / 1000.0
    direct_km = eng.direct_m / 1000.0
    cols = {
        "departed_s": out["departed_s"],
        "arrived_s": out["arrived_s"],
        "status": pd.Categorical.from_codes(
            status, categories=[TRIP_STATUS[i] for i in range(len(TRIP_STATUS))]
        ),
        "strand_cause": pd.Categorical.from_codes(
            cause,
            categories=[STRAND_CAUSE[i] for i in range(len(STRAND_CAUSE))],
        ),
        "measured": measured_departures(eng.settings, depart),
        "distance_km": distance_km,
        "direct_km": direct_km,
        # driven >= direct (shortest path); summing legs in another order leaves -1e-12 km,
        # which reports printed as "-0.000"
        "detour_km": np.where(
            status == COMPLETED, np.maximum(distance_km - direct_km, 0.0), np.nan
        ),
        "energy_kwh": out["energy_kwh"],
        "soc_depart": out["e_dep"] / cap,
        "soc_arrive": out["e_arr"] / cap,
        "charging_stops": out["charging_stops"],
        "wait_s": out["wait_s"],
        "charge_s": out["charge_s"],
        # pauses added by driving-time rules (sim.driving_rules): 0 for vehicles without them
        "break_s": out["break_s"],
        "rest_s": out["rest_s"],
        "delay_s": np.where(
            status == COMPLETED, out["arrived_s"] - depart - eng.leg_arrays.t_leg, np.nan
        ),
    }
    base = eng.trips
    if base.columns.isin(list(cols)).any():  # input columns named like results: replaced
        df = base.copy()
        for name, col in cols.items():
            df[name] = col
        return df
    # one concatenation instead of a column insertion (and block) per result column
    return pd.concat([base, pd.DataFrame(cols, index=base.index)], axis=1)


#: ``station_id`` and ``kind`` of private charges, by code (home, depot, recovery)
_PRIVATE = ("home", "depot", "recovery")


def _labels(labels: Sequence[Any], codes: np.ndarray) -> Any:
    """``labels[codes]`` as the column pandas builds from that object array (the same
    dtype: ``str`` when every label is a string), converted once for the few distinct
    labels and then taken: converting a million repeated strings costs ~25 ms a column."""
    return pd.Series(np.asarray(labels, dtype=object), copy=False).array.take(codes)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[i], ends[i])`` (empty where ``ends <= starts``)."""
    lens = np.maximum(ends - starts, 0)
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lens) - lens, lens)
    return np.repeat(starts, lens) + (np.arange(total) - offsets)


def _sessions_table(eng: Engine, ids: Any) -> pd.DataFrame:
    log = eng.session_log
    rec = {c: log.column(c) for c in log.COLUMNS}
    # by vehicle, each vehicle's visits in its own (time) order: the same table whichever
    # engine path (sim.fast settles some vehicles without events) wrote the records
    order = np.argsort(rec["v"], kind="stable")
    rec = {c: a[order] for c, a in rec.items()}
    n_rec = len(log)
    v = rec["v"]
    st = rec["station"]
    v_m = eng.v_arrays.m
    cap = eng.v_arrays.cap[v] if n_rec else np.empty(0)
    st_ids = eng.stations["station_id"].to_numpy(dtype=object)
    n_st = len(st_ids)
    is_truck = np.asarray([mdl.is_truck for mdl in eng.models], dtype=bool)[v_m]
    # where a private charge happened: 0 home, 1 depot, 2 overnight recovery
    private = np.where(st == RECOVERY, 2, is_truck[v].astype(np.int64))
    energy = rec["e1"] - rec["e0"]
    charge_s = rec["end_s"] - rec["start_s"]
    out = pd.DataFrame(
        {
            "vehicle_id": ids.take(v) if n_rec else np.empty(0),
            "vehicle_model": _labels(eng.model_keys, v_m[v])
            if n_rec
            else np.empty(0, dtype=object),
            "trip_id": eng.trips["trip_id"].to_numpy()[rec["k"]]
            if n_rec
            else np.empty(0, dtype=np.int64),
            "station": st,
            "station_id": _labels([*st_ids, *_PRIVATE], np.where(st >= 0, st, n_st + private))
            if n_rec
            else np.empty(0, dtype=object),
            "kind": _labels(["public", *_PRIVATE], np.where(st >= 0, 0, 1 + private))
            if n_rec
            else np.empty(0, dtype=object),
            "status": _labels(["charged", "balked"], rec["balked"].astype(np.int64)),
            "arrive_s": rec["arrive_s"],
            "start_s": rec["start_s"],
            "end_s": rec["end_s"],
            "wait_s": rec["start_s"] - rec["arrive_s"],
            "charge_s": charge_s,
            "energy_kwh": energy,
            "grid_kwh": energy / eng.settings.charging_efficiency,
            "soc_start": rec["e0"] / cap if n_rec else np.empty(0),
            "soc_end": rec["e1"] / cap if n_rec else np.empty(0),
            "avg_power_kw": np.divide(
                energy, charge_s / 3600.0, out=np.zeros_like(energy), where=charge_s > 0
            ),
            "queue_seq": rec["queue_seq"],
            "detour_s": rec["detour_s"],
            "detour_km": rec["detour_m"] / 1000.0,
            # counted with its trip (SimSettings.warmup_s): a warm-up trip's stops after
            # the warm-up are not the measured trips' (the cargo study counted a third more
            # charging than its measured trucks did)
            "measured": measured_departures(
                eng.settings, eng.trips["depart_s"].to_numpy(dtype=float)[rec["k"]]
            )
            if n_rec
            else np.zeros(0, dtype=bool),
        }
    )
    return out


def _vehicles_table(eng: Engine, trips: pd.DataFrame, ids: Any) -> pd.DataFrame:
    va = eng.v_arrays
    k_per_v = va.k1 - va.k0
    vidx = np.repeat(np.arange(eng.n_veh), k_per_v)
    completed = np.bincount(
        vidx, weights=(trips["status"] == "completed").to_numpy(), minlength=eng.n_veh
    )
    km = np.bincount(
        vidx, weights=np.nan_to_num(trips["distance_km"].to_numpy()), minlength=eng.n_veh
    )
    v_m = va.m
    return pd.DataFrame(
        {
            "vehicle_id": ids,
            "vehicle_model": _labels(eng.model_keys, v_m) if eng.n_veh else [],
            "category": _labels([mdl.category for mdl in eng.models] or [""], v_m),
            # the loop's per-vehicle lists: numpy converts them at half pandas' cost
            "home_charging": va.has_home,
            "capacity_kwh": va.cap,
            "energy_start_kwh": va.e_start,
            "charged_kwh": np.asarray(eng.charged),
            "consumed_kwh": np.asarray(eng.consumed),
            "energy_end_kwh": np.asarray(eng.E),
            "stranded": np.asarray(eng.strandings, dtype=np.int64) > 0,
            "stranded_s": np.asarray(eng.stranded_at),
            "strandings": np.asarray(eng.strandings, dtype=np.int64),
            "strand_cause": pd.Categorical.from_codes(
                np.asarray(eng.cause, dtype=np.int64),
                categories=[STRAND_CAUSE[i] for i in range(len(STRAND_CAUSE))],
            ),
            "km": km,
            "trips": k_per_v,
            "trips_completed": completed.astype(np.int64),
        }
    )
