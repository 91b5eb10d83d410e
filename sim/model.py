"""The SimPy model: each vehicle is a process driving its trip chain; each station is a
:class:`simpy.Resource` with one slot per plug (FIFO queue).

All geometry comes from :class:`sim.routes.RouteTables` computed before the clock starts;
the processes only do float arithmetic, ``env.timeout`` and ``Resource.request``. Trips and
charging visits are appended to columnar logs (:mod:`sim.records`) and turned into pandas
tables by :mod:`sim.results`.

Per-vehicle energy bookkeeping is exact by construction: every change of the vehicle's
energy is applied together with the matching ``consumed`` or ``charged`` accumulator, so
``start + charged - consumed == end`` holds at any time (tested with hypothesis).
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import simpy
from simpy.events import Event

from networks.road_network import RoadNetwork
from sim._engine_util import (
    LegArrays,
    VehicleArrays,
    next_charger_kwh,
    recheck_below_reach,
    takes_next,
)
from sim._events import CountingEnvironment, OrderedEnvironment
from sim._stops import StopsMixin
from sim.driving_rules import RULES, DriverClock
from sim.fast import first_rows, settle, settle_tail
from sim.policies import SocThreshold
from sim.records import DriveLog, SessionLog, TripLog
from sim.routes import RouteTables, congested, shared_tables
from sim.settings import SimSettings
from sim.vehicles import ChargeProfile, VehicleModel

logger = logging.getLogger(__name__)

INF = math.inf
DAY_S = 86_400.0
_NO_STOPS = (0.0, 0.0, 0.0, 0.0, 0.0)
# Trip status codes (see results.TRIP_STATUS).
COMPLETED, STRANDED, UNROUTABLE, CANCELLED, NOT_STARTED, IN_PROGRESS, ABANDONED = range(7)
# Stranding causes (see results.STRAND_CAUSE); NO_ROAD_PATH marks, in the trips table only,
# an unroutable leg and the legs cancelled after it.
NO_CAUSE, NO_CHARGER_IN_RANGE, QUEUE_ABANDONED, STARTED_BELOW_REACH, NO_ROAD_PATH = range(5)
RECOVERY = -2  # session "station" of an overnight recovery


class Engine(StopsMixin):
    """Prepared run: arrays for trips, vehicles and stations, then :meth:`run`.

    Built by :func:`sim.simulate`; exposed for benchmarks and tests that need the event
    count (:attr:`events`) or the raw records (:attr:`trip_log`, :attr:`session_log`, see
    :mod:`sim.records`).
    """

    def __init__(
        self,
        network: RoadNetwork,
        stations: pd.DataFrame,
        trips: pd.DataFrame,
        vehicles: dict[str, VehicleModel],
        settings: SimSettings,
        rng: np.random.Generator,
        routes: RouteTables | None = None,
        reach_sites: np.ndarray | None = None,
    ) -> None:
        t0 = time.perf_counter()
        self.network, self.stations, self.trips, self.settings = network, stations, trips, settings
        temp = settings.ambient_temp_c
        self.temp = temp
        # ---- vehicle models in use
        keys = sorted(trips["vehicle_model"].unique())
        self.model_keys = keys
        self.models = [vehicles[k] for k in keys]
        # ---- vehicles: contiguous trip ranges (trips are sorted by vehicle, chain_seq)
        # vehicle ids compared as integer codes (a hash pass, not a Python object per trip)
        vid: np.ndarray = pd.factorize(trips["vehicle_id"])[0]
        if (vid < 0).any():  # missing ids: compared as objects (each its own vehicle), as ever
            vid = trips["vehicle_id"].to_numpy()
        n_t = len(trips)
        starts = (
            np.flatnonzero(np.r_[True, vid[1:] != vid[:-1]]) if n_t else np.empty(0, dtype=np.int64)
        )
        ends = np.r_[starts[1:], n_t] if n_t else np.empty(0, dtype=np.int64)
        self.n_veh = starts.size
        self.vehicle_ids = trips["vehicle_id"].iloc[starts].to_numpy() if n_t else np.empty(0)
        self.v_k0, self.v_k1 = starts.tolist(), ends.tolist()
        # per-model constants looked up by index (no Python call per vehicle or trip)
        key_index = pd.Index(keys)
        trip_m = key_index.get_indexer(trips["vehicle_model"]).astype(np.int64)
        v_m_arr = trip_m[starts] if n_t else np.empty(0, dtype=np.int64)
        caps = np.asarray([mdl.usable_kwh(temp) for mdl in self.models], dtype=float)
        self.v_m = v_m_arr.tolist()
        self.v_cap = caps[v_m_arr].tolist() if n_t else []
        home_draw = rng.random(self.n_veh)
        lo, hi = settings.soc_range()
        soc_draw = rng.uniform(lo, hi, self.n_veh)
        self.v_has_home = (home_draw < settings.home_charging_share).tolist()
        origin = trips["origin"].to_numpy()
        self.v_home = origin[starts].astype(np.int64).tolist() if n_t else []
        soc0 = np.where(self.v_has_home, settings.home_target_soc, soc_draw)
        if "initial_soc" in trips.columns:
            given = trips["initial_soc"].to_numpy(dtype=float)[starts]
            soc0 = np.where(np.isnan(given), soc0, given)
        self.e_start = (soc0 * np.asarray(self.v_cap, dtype=float)).tolist()
        # ---- routes and per-trip legs (model-specific speed cap and consumption)
        dest = trips["destination"].to_numpy()
        st_nodes = stations["node"].to_numpy(dtype=np.int64)
        # where a network could have a charger: "started below reach" only out of reach of
        # all of them (sim._engine_util.recheck_below_reach)
        self.reach_sites = np.unique(st_nodes if reach_sites is None else reach_sites)
        by_class = settings.per_class
        t_routes = time.perf_counter()
        if (
            routes is None
            or routes.network is not network
            or (by_class and not routes.by_class)
            or not routes.covers(np.r_[origin, dest])
            or not np.array_equal(routes.station_nodes, st_nodes)
        ):
            routes = shared_tables(network, np.r_[origin, dest], st_nodes, by_class=by_class)
        self.routes = routes
        self.by_class = by_class
        legs = routes.legs(origin, dest, by_class=by_class)
        # route work of this run (0-ish when the study-level cache had the tables)
        self.routes_seconds = time.perf_counter() - t_routes
        l_raw = legs[1]
        depart = trips["depart_s"].to_numpy(dtype=float)
        table = settings.factor_table()
        self.hour_factors = np.ones(24) if table is None else table
        hours = (depart // 3600.0 % 24).astype(np.int64)
        t_cong = congested(legs[0], legs[2] if by_class else None, self.hour_factors, hours)
        t_leg, e_leg = np.empty(n_t), np.empty(n_t)
        for m, mdl in enumerate(self.models):
            sel = trip_m == m
            t_leg[sel] = mdl.drive_time_s(l_raw[sel], t_cong[sel])
            e_leg[sel] = mdl.energy_kwh(l_raw[sel], t_leg[sel], temp)
        self.origin, self.dest = origin.tolist(), dest.tolist()
        self.depart = trips["depart_s"].to_numpy(dtype=float).tolist()
        self.t_leg, self.e_leg, self.l_leg = t_leg.tolist(), e_leg.tolist(), l_raw.tolist()
        self.direct_m = l_raw
        # ---- stations
        self.n_st = len(stations)
        self.st_prow = routes.prow[st_nodes].tolist()
        self.st_power = stations["power_kw"].to_numpy(dtype=float).tolist()
        self.st_dc = stations["dc"].to_numpy(dtype=bool).tolist()
        self.st_plugs = stations["plugs"].to_numpy(dtype=np.int64).tolist()
        conn = stations["connectors"].tolist()
        self.compat = [
            np.array(
                [mdl.can_use(dc=self.st_dc[s], connectors=conn[s]) for s in range(self.n_st)],
                dtype=bool,
            )
            for mdl in self.models
        ]
        if settings.initial_soc == "steady" and self.n_veh:
            # A vehicle with neither a home charger nor any compatible public station has one
            # periodic state: drive until dry, recovered overnight at ``recovery_soc``. The
            # renewal (sawtooth) argument does not apply to it, so "steady" starts it there.
            can_charge = np.asarray([c.any() for c in self.compat], dtype=bool)
            stuck = ~np.asarray(self.v_has_home, dtype=bool) & ~can_charge[v_m_arr]
            if "initial_soc" in trips.columns:
                stuck &= np.isnan(trips["initial_soc"].to_numpy(dtype=float)[starts])
            if stuck.any():
                e0 = np.asarray(self.e_start, dtype=float)
                caps_v = np.asarray(self.v_cap, dtype=float)
                e0[stuck] = settings.recovery_soc * caps_v[stuck]
                self.e_start = e0.tolist()
        # the same per-vehicle constants as arrays, for the vectorised parts (sim.fast
        # and the result tables): the loop reads the lists, these are never changed
        self.v_arrays = VehicleArrays(
            k0=np.asarray(starts, dtype=np.int64),
            k1=np.asarray(ends, dtype=np.int64),
            m=np.asarray(v_m_arr, dtype=np.int64),
            cap=np.asarray(self.v_cap, dtype=float),
            has_home=np.asarray(self.v_has_home, dtype=bool),
            e_start=np.asarray(self.e_start, dtype=float),
        )
        self._profiles: dict[tuple[int, int], ChargeProfile] = {}
        self._to_rows: dict[tuple[int, int, int], tuple] = {}
        self._from_rows: dict[tuple[int, int, int], tuple] = {}
        self._from_fin: dict[tuple[int, int, int], np.ndarray] = {}  # sim._pick
        self.home_prof = [self._home_profile(mdl) for mdl in self.models]
        self.st_present = np.zeros(self.n_st, dtype=np.int64)
        self.st_plugs_arr = np.asarray(self.st_plugs, dtype=float)
        pre = settings.precondition
        self.precond_kwh = [mdl.precondition_kwh(temp, precondition=pre) for mdl in self.models]
        # ---- policy
        pol = settings.policy
        self.needs: Callable[..., bool] = pol.when.needs_charge  # 5 or 6 arguments
        self.where, self.how_much = pol.where.choose, pol.how_much.target_kwh
        self.reserve_soc = pol.reserve_soc
        self.look_ahead = takes_next(pol.when.needs_charge)
        margin = getattr(pol.when, "margin_kwh", None)
        # ---- per-trip look-ahead (energy to the nearest charger after the leg) and the
        # first leg of the next day (where a stranded vehicle resumes)
        k1_of = np.repeat(np.asarray(self.v_k1, dtype=np.int64), np.diff(np.r_[starts, n_t]))
        day = np.floor(depart / DAY_S).astype(np.int64)
        first = np.ones(n_t, dtype=bool)
        if n_t:
            first[1:] = (day[1:] != day[:-1]) | (vid[1:] != vid[:-1])
        nxt = np.where(first, np.arange(n_t), n_t)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        self.next_day = np.minimum(np.r_[nxt[1:], n_t], k1_of).tolist() if n_t else []
        has_home_t = np.repeat(np.asarray(self.v_has_home, dtype=bool), np.diff(np.r_[starts, n_t]))
        home_t = np.repeat(np.asarray(self.v_home, dtype=np.int64), np.diff(np.r_[starts, n_t]))
        e_next = next_charger_kwh(self, trip_m, dest, home_t, has_home_t, hours, k1_of)
        cap_t = (
            np.asarray(self.v_cap, dtype=float)[
                np.repeat(np.arange(self.n_veh), np.diff(np.r_[starts, n_t]))
            ]
            if n_t
            else np.empty(0)
        )
        res_kwh = self.reserve_soc * cap_t
        if margin is not None and type(pol.when) is SocThreshold:
            # SocThreshold.margin_kwh as arrays: max(reserve, buffer + look-ahead), the same
            # float expressions as the scalar method
            w = pol.when
            comfort = w.buffer_soc * cap_t + (e_next if w.look_ahead else 0.0)
            self.margin = np.maximum(w.reserve_soc * cap_t, comfort).tolist()
        elif margin is not None:
            self.margin = [float(margin(c, e)) for c, e in zip(cap_t, e_next, strict=True)]
        else:
            self.margin = res_kwh.tolist()
        self.e_next = e_next.tolist()
        self.leg_arrays = LegArrays(
            depart=depart,
            t_leg=t_leg,
            e_leg=e_leg,
            l_leg=l_raw,
            origin=np.asarray(origin, dtype=np.int64),
            dest=np.asarray(dest, dtype=np.int64),
            e_next=np.asarray(e_next, dtype=float),
        )
        last = max(self.depart, default=0.0)
        self.sim_end = (
            settings.horizon_s
            if settings.horizon_s is not None
            else (math.floor(last / DAY_S) + 1) * DAY_S
        )
        # ---- state and records
        self.E = list(self.e_start)
        self.charged = [0.0] * self.n_veh
        self.consumed = [0.0] * self.n_veh
        self.stranded_at = [math.nan] * self.n_veh
        self.strandings = [0] * self.n_veh
        self.cause = [NO_CAUSE] * self.n_veh
        self.cur_trip = [-1] * self.n_veh
        self.trip_log = TripLog()
        self.session_log = SessionLog()
        # driving-time rules (sim.driving_rules): one clock per truck whose model names them
        self.drive_log = DriveLog()
        # one clock per vehicle of a rule-bound model; no Python step for the others
        self.clocks: list[DriverClock | None] = [None] * self.n_veh
        ruled = np.asarray([bool(mdl.driving_rules) for mdl in self.models], dtype=bool)
        if self.n_veh and ruled.any():
            for v in np.flatnonzero(ruled[v_m_arr]).tolist():
                rules = RULES[self.models[self.v_m[v]].driving_rules]
                self.clocks[v] = DriverClock(rules, v=v, log=self.drive_log)
        self.st_seq = [0] * self.n_st
        self.events = 0
        self.run_seconds = 0.0
        self.fast_seconds = 0.0  # sim.fast.settle
        self.settled_vehicles = self.settled_trips = 0
        self.event_vehicles = self.n_veh
        #: fast path: start event vehicles at their first unsettled leg (False: from time 0,
        #: on SimPy's own environment; kept to measure the lever, results are identical)
        self.late_starts = True
        self.late_vehicles = 0  # event vehicles whose first legs sim.fast settled
        self.tail_settled = 0  # event vehicles whose last legs sim.fast settled
        self.tail_trips = 0  # ... and those legs
        self.prepare_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ helpers
    def _home_profile(self, mdl: VehicleModel) -> ChargeProfile | None:
        s = self.settings
        if mdl.is_truck:
            if mdl.dc_curve:
                return mdl.charge_profile(s.depot_charger_kw, dc=True, temp_c=self.temp)
            return (
                mdl.charge_profile(s.depot_charger_kw, dc=False, temp_c=self.temp)
                if mdl.max_ac_kw > 0
                else None
            )
        return (
            mdl.charge_profile(s.home_charger_kw, dc=False, temp_c=self.temp)
            if mdl.max_ac_kw > 0
            else None
        )

    def _drive(self, v: int, drive_s: float) -> float:
        """Elapsed seconds of ``drive_s`` of driving by vehicle ``v`` from now: the driving
        plus the breaks and daily rests its driving-time rules insert (none without rules)."""
        clock = self.clocks[v]
        return drive_s if clock is None else clock.drive(self.env.now, drive_s)

    def _pauses(self, v: int, mark: tuple[float, float]) -> tuple[float, float]:
        """Break and rest seconds the rules added to vehicle ``v`` since ``mark``."""
        clock = self.clocks[v]
        return (0.0, 0.0) if clock is None else (clock.break_s - mark[0], clock.rest_s - mark[1])

    # ------------------------------------------------------------------ processes
    def run(self) -> None:
        """Run the event loop; sets :attr:`events` (SimPy events scheduled, counted through
        the public :meth:`simpy.Environment.schedule`) and timings (:attr:`run_seconds`:
        process creation and the loop; :attr:`fast_seconds`: the numpy settling)."""
        fast = self.settings.engine == "fast"
        t0 = time.perf_counter()
        # fast path: no cyclic garbage collection during the run. Its passes scan every
        # tracked object (prepared tables, processes, queue keys) and took ~40 % of the
        # 1,000,000-trip loop's CPU; the run itself makes little cyclic garbage (~50,000
        # objects at 1 M trips, freed by the collector once it is re-enabled)
        collect = fast and gc.isenabled()
        if collect:
            gc.disable()
        try:
            self._run(fast)
        finally:
            if collect:
                gc.enable()
        self.run_seconds = time.perf_counter() - t0 - self.fast_seconds

    def _run(self, fast: bool) -> None:
        # the fast path starts some processes in the middle of their own chain: it needs the
        # genealogical event order (same order as SimPy's, see OrderedEnvironment)
        env = OrderedEnvironment() if fast and self.late_starts else CountingEnvironment()
        self.env = env
        self.res = [simpy.Resource(env, capacity=int(p)) for p in self.st_plugs]
        proc = env.process
        if fast:
            # vehicles that never reach a public decision are settled in numpy (sim.fast);
            # the others run as SimPy processes, in vehicle order as in the full path, each
            # from its first leg the numpy replay could not settle
            plan = settle(self)
            self._init_waits()
            event_veh = np.flatnonzero(plan.to_events).tolist()
            self.event_vehicles = len(event_veh)
            start_k, chains = plan.start_k, plan.chains
            self.late_vehicles = int((plan.to_events & (start_k > np.asarray(self.v_k0))).sum())
            depart, k0s = self.depart, self.v_k0
            first_rows(self, np.asarray(event_veh, dtype=np.int64), start_k)
            ordered = env if isinstance(env, OrderedEnvironment) else None
            for v in event_veh:
                k = int(start_k[v])
                chain = chains.get(v)
                if chain:  # late start (only on the ordered environment, see above)
                    assert ordered is not None
                    ordered.start_process(self._vehicle(v, k), chain)
                elif ordered is not None and k == k0s[v] and depart[k] > 0.0:
                    # from time 0: its first step is the departure (the wait's timeout key)
                    ordered.start_process(self._vehicle(v, k), (depart[k],))
                else:  # at time 0 (a later leg reached without events, or leaving at 0)
                    proc(self._vehicle(v, k if k > k0s[v] else -1))
        else:
            self.event_vehicles = self.n_veh
            for v in range(self.n_veh):
                proc(self._vehicle(v))
            event_veh = list(range(self.n_veh))
        t0 = time.perf_counter()
        env.run(until=self.settings.horizon_s)
        self.events = env.scheduled
        recheck_below_reach(self, STARTED_BELOW_REACH, NO_CHARGER_IN_RANGE)
        logger.info(
            "simulated %d vehicles (%d as events), %d events in %.2f s",
            self.n_veh,
            len(event_veh),
            self.events,
            time.perf_counter() - t0,
        )

    def _vehicle(self, v: int, k_start: int = -1) -> Generator[Event, Any, None]:
        """Process of vehicle ``v`` (from leg ``k_start``, default its first, with the state
        the engine holds): its trip chain, charging stops, home charging and, after a
        stranding or an abandoned queue, the overnight recovery."""
        env = self.env
        timeout = env.timeout
        k0, k1, m, cap = self.v_k0[v], self.v_k1[v], self.v_m[v], self.v_cap[v]
        has_home, home = self.v_has_home[v], self.v_home[v]
        depart, dest, t_legs, e_legs, l_legs = (
            self.depart,
            self.dest,
            self.t_leg,
            self.e_leg,
            self.l_leg,
        )
        E, consumed, needs, rec, cur_trip = (
            self.E,
            self.consumed,
            self.needs,
            self.trip_log.add,
            self.cur_trip,
        )
        e_next, look_ahead = self.e_next, self.look_ahead
        # public stops: none with no station, or when the settings allow none on a leg
        n_st = self.n_st if self.settings.max_stops_per_leg > 0 else 0
        tail = self.settings.engine == "fast"
        # the fast path's station visits need the genealogical event order (sim._stops)
        stops = self._stops_fast if isinstance(env, OrderedEnvironment) else self._stops
        k = k0 if k_start < 0 else k_start
        # a late start (sim.fast) resumes at the departure itself: its wait was replayed, and
        # testing ``now < dep`` again could add a last-bit wait (now + (dep - now) != dep)
        resumed = k_start >= 0
        while k < k1:
            dep = depart[k]
            if resumed:
                resumed = False
            elif env.now < dep:
                yield timeout(dep - env.now)
            cur_trip[v] = k
            clock = self.clocks[v]
            if clock is not None:  # the stand since the last trip counts as a pause
                clock.idle(env.now)
            mark = (0.0, 0.0) if clock is None else (clock.break_s, clock.rest_s)
            t_leg = t_legs[k]
            dep_at = env.now
            e_dep = E[v]
            if t_leg == INF:
                rec(k, dep_at, math.nan, UNROUTABLE, 0.0, 0.0, e_dep, e_dep, 0, 0.0, 0.0)
                return
            e_leg, l_leg = e_legs[k], l_legs[k]
            acc: Sequence[float]
            if n_st and (
                needs(e_dep, cap, e_leg, True, has_home, e_next[k])
                if look_ahead
                else needs(e_dep, cap, e_leg, True, has_home)
            ):
                acc = [0.0, 0.0, 0.0, 0.0, 0.0]  # driven m, used kWh, stops, wait s, charge s
                t_leg, e_leg, l_leg, gave_up = yield from stops(
                    v, k, m, cap, t_leg, e_leg, l_leg, acc
                )
                if gave_up:  # waited max_wait_s with no feasible alternative: trip not made
                    rec(k, dep_at, env.now, ABANDONED, acc[0], acc[1], e_dep, E[v], acc[2],
                        acc[3], acc[4], QUEUE_ABANDONED, *self._pauses(v, mark))  # fmt: skip
                    k = self._recover(v, k, m, cap, QUEUE_ABANDONED)
                    continue
            else:
                acc = _NO_STOPS
            energy = E[v]
            if e_leg > energy + 1e-9:  # runs dry on the way: stranded
                frac = energy / e_leg
                if t_leg * frac > 0:
                    yield timeout(self._drive(v, t_leg * frac))
                consumed[v] += energy
                E[v] = 0.0
                cause = (
                    STARTED_BELOW_REACH
                    if k == k0
                    and acc[2] == 0
                    and self.charged[v] == 0.0
                    # with public stops allowed: no stop is not the car's start then
                    and self.settings.max_stops_per_leg > 0
                    else NO_CHARGER_IN_RANGE
                )
                rec(k, dep_at, env.now, STRANDED, acc[0] + l_leg * frac, acc[1] + energy,
                    e_dep, 0.0, acc[2], acc[3], acc[4], cause, *self._pauses(v, mark))  # fmt: skip
                k = self._recover(v, k, m, cap, cause)
                continue
            if t_leg > 0:
                # (self._drive, inlined: once per leg)
                yield timeout(t_leg if clock is None else clock.drive(env.now, t_leg))
            used = e_leg if e_leg <= energy else energy
            energy -= used
            E[v] = energy
            consumed[v] += used
            rec(k, dep_at, env.now, COMPLETED, acc[0] + l_leg, acc[1] + used, e_dep, energy,
                acc[2], acc[3], acc[4], 0, *self._pauses(v, mark))  # fmt: skip
            if has_home and dest[k] == home:
                self._home_charge(v, k, m, cap)
            k += 1
            # after a public visit, the rest of the day may need no event (sim.fast)
            if tail and acc is not _NO_STOPS and clock is None and settle_tail(self, v, k, env.now):
                return

    def _recover(self, v: int, k: int, m: int, cap: float, cause: int) -> int:
        """After a stranding or an abandoned trip on leg ``k``: the rest of that day's legs are
        cancelled; the vehicle resumes at its next day's first leg (towed / driven home
        overnight) with at least ``recovery_soc`` (home chargers: the home target). Returns the
        leg to continue with (``v_k1`` when there is none)."""
        now = self.env.now
        self.stranded_at[v] = now
        self.strandings[v] += 1
        self.cause[v] = cause
        e = self.E[v]
        nk, k1 = self.next_day[k], self.v_k1[v]
        for j in range(k + 1, nk):
            self.trip_log.add(j, math.nan, math.nan, CANCELLED, 0.0, 0.0, e, e, 0, 0.0, 0.0)
        if nk >= k1:
            return k1
        s = self.settings
        home_ok = self.v_has_home[v] and self.home_prof[m] is not None
        target = (s.home_target_soc if home_ok else s.recovery_soc) * cap
        if e < target:
            end = max(now, self.depart[nk])
            self.E[v] = target
            self.charged[v] += target - e
            self.session_log.add(v, k, RECOVERY, now, now, end, e, target, False, -1, 0.0, 0.0)
        return nk
