"""Exact fast path of the engine (issue 15): settle in numpy every vehicle whose day never
reaches a public-charging decision, and run SimPy only for the others.

Why it is exact
---------------
A vehicle's trajectory depends on other vehicles only through station queues (``Resource``
requests and the occupancy a queue-aware *where* policy reads). A vehicle that never takes
a public-charging decision touches no shared state, so its legs, energy, home charging and
records follow from its own arrays. :func:`settle` walks every vehicle's chain leg by leg,
*vectorised across vehicles* (a loop over the chain position, not over vehicles), and
replays :meth:`sim.model.Engine._vehicle` with the same IEEE float operations in the same
order: SimPy advances time by ``now + delay``, so a wait is ``now + (dep - now)`` and a leg
``now + t_leg`` (elementwise numpy ops round exactly like Python float ops); the per-vehicle
accumulators (``consumed``, ``charged``) are added in the same order.

A vehicle's replay stops at its first leg that needs something it does not model: a
public-charging decision (``needs_charge`` true with stations present), running dry
(stranding and recovery) or an unroutable leg. Its earlier legs stay settled and SimPy
takes over at that leg with the carried state (:class:`Plan`): its process gets one event
at the departure, placed among simultaneous events by the times of the waits and drives the
settled legs would have scheduled (:class:`sim._events.OrderedEnvironment`, whose
genealogical order equals SimPy's and depends only on those times). Trucks (driving-time
rules live in the event path only) and vehicles whose wait for that leg reaches the horizon
run wholly from time 0. Removing the settled events does not reorder the others': settled
vehicles never schedule an event of another vehicle. Records of both parts go to the same
columnar logs; tables are built in an order that does not depend on the path (trips by
row, sessions by vehicle then time; :mod:`sim.results`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.policies import SocThreshold

#: The engine being settled (:class:`sim.model.Engine`; not imported: it imports this module)
Engine = Any

logger = logging.getLogger(__name__)

COMPLETED = 0  # sim.model.COMPLETED (not imported: sim.model imports this module)


def needs_vector(
    eng: Engine,
    e: np.ndarray,
    cap: np.ndarray,
    leg: np.ndarray,
    has_home: np.ndarray,
    nxt: np.ndarray,
) -> np.ndarray:
    """``needs_charge`` at trip start for many vehicles at once, bit-identical to the
    engine's scalar calls.

    The built-in :class:`~sim.policies.SocThreshold` (and ``CannotReach``) is evaluated as
    arrays with the same float expressions; any other *when* policy is called per vehicle
    (still no SimPy).
    """
    when = eng.settings.policy.when
    if type(when) is SocThreshold:
        left = e - leg
        out = left < when.reserve_soc * cap
        if when.buffer_soc > 0:
            ahead = left - nxt if when.look_ahead else left
            out |= ahead < when.buffer_soc * cap
        if not when.home_waits:
            out |= e < when.threshold_soc * cap
        else:
            out |= ~has_home & (e < when.threshold_soc * cap)
        return np.asarray(out, dtype=bool)
    fn = eng.needs
    if eng.look_ahead:
        vals = [
            bool(fn(a, b, c, True, bool(d), f))
            for a, b, c, d, f in zip(
                e.tolist(), cap.tolist(), leg.tolist(), has_home.tolist(), nxt.tolist(), strict=True
            )
        ]
    else:
        vals = [
            bool(fn(a, b, c, True, bool(d)))
            for a, b, c, d in zip(
                e.tolist(), cap.tolist(), leg.tolist(), has_home.tolist(), strict=True
            )
        ]
    return np.asarray(vals, dtype=bool)


def _profile_arrays(eng: Engine) -> list[tuple[float, np.ndarray, np.ndarray] | None]:
    """(capacity, soc grid, cumulative hours) of each model's home/depot charge profile."""
    out: list[tuple[float, np.ndarray, np.ndarray] | None] = []
    for prof in eng.home_prof:
        out.append(None if prof is None else (prof.capacity, prof._soc, prof._tau_h))
    return out


@dataclass(frozen=True)
class Plan:
    """What :func:`settle` leaves to SimPy.

    Attributes
    ----------
    to_events : numpy.ndarray of bool
        Vehicles that run as SimPy processes.
    start_k : numpy.ndarray of int
        Per vehicle, the first leg the process drives (``v_k0`` when it runs from time 0;
        the chain end when it was settled wholly).
    chains : dict of int to list of float
        For a vehicle starting after its first leg: the times of the events its settled
        legs would have scheduled (waits and drives, increasing), the last being the
        departure of ``start_k`` (empty or absent when there were none).
    """

    to_events: np.ndarray
    start_k: np.ndarray
    chains: dict[int, list[float]]


def settle(eng: Engine) -> Plan:
    """Settle every leg that needs no event; returns what is left to SimPy (:class:`Plan`).

    A vehicle is replayed leg by leg until its first leg needing an event; its state there
    (``E``, ``charged``, ``consumed``, ``cur_trip``) is written into the engine and its
    trip and home-charging records up to there go to the logs (in chain-position order;
    tables do not depend on the order). Vehicles whose replay needs no event at all are
    settled wholly.
    """
    t0 = time.perf_counter()
    n_veh = eng.n_veh
    k0, k1, v_m, cap, has_home, e_start = eng.v_arrays
    home = np.asarray(eng.v_home, dtype=np.int64)
    depart, t_leg, e_leg, l_leg, _, dest, e_next = eng.leg_arrays
    horizon = eng.settings.horizon_s
    target_soc = eng.settings.home_target_soc
    profiles = _profile_arrays(eng)
    # trucks, and any model under driving-time rules, go to the event path (the rules have
    # no fast-path twin)
    truck = np.asarray(
        [mdl.is_truck or bool(mdl.driving_rules) for mdl in eng.models],
        dtype=bool,
    )
    to_events = truck[v_m] if n_veh else np.zeros(0, dtype=bool)
    # first leg each vehicle leaves to SimPy (k1: none; k0: all, from time 0)
    start_k = np.where(to_events, k0, k1)
    if n_veh == 0:
        return Plan(to_events, start_k, {})
    now = np.zeros(n_veh)
    E = e_start.copy()
    charged = np.zeros(n_veh)
    consumed = np.zeros(n_veh)
    trips: list[dict[str, np.ndarray]] = []
    sessions: list[dict[str, np.ndarray]] = []
    # event times of the replayed legs (v, order within the vehicle, time): the chain that
    # places a process started at its first unsettled leg (OrderedEnvironment.schedule_chain)
    ev_v: list[np.ndarray] = []
    ev_o: list[np.ndarray] = []
    ev_t: list[np.ndarray] = []
    n_len = k1 - k0
    for p in range(int(n_len.max())):
        v = np.flatnonzero((n_len > p) & ~to_events)
        if v.size == 0:
            break
        k = k0[v] + p
        t_now = now[v]
        dep = depart[k]
        wait = t_now < dep
        t_dep = np.where(wait, t_now + (dep - t_now), t_now)
        e_dep = E[v]
        tl, el = t_leg[k], e_leg[k]
        bad = ~np.isfinite(tl) | (el > e_dep + 1e-9)
        if eng.n_st:
            bad |= needs_vector(eng, e_dep, cap[v], el, has_home[v], e_next[k])
        t_arr = np.where(tl > 0, t_dep + tl, t_dep)
        if horizon is not None:
            bad |= (wait & (t_dep >= horizon)) | ((tl > 0) & (t_arr >= horizon))
        if bad.any():
            vb = v[bad]
            to_events[vb] = True
            # SimPy takes over at this leg with the carried state, unless the wait itself
            # reaches the horizon (then the whole vehicle runs from time 0, as before)
            late = wait[bad] & (t_dep[bad] >= horizon) if horizon is not None else None
            start_k[vb] = k[bad] if late is None else np.where(late, k0[vb], k[bad])
            if not eng.late_starts:  # measurement switch: whole vehicles from time 0
                start_k[vb] = k0[vb]
            wb = wait[bad]
            ev_v.append(vb[wb])
            ev_o.append(np.full(int(wb.sum()), 2 * p))
            ev_t.append(t_dep[bad][wb])
            ok = ~bad
            wait, tl = wait[ok], tl[ok]
            v, k, t_dep, t_arr, e_dep, el = v[ok], k[ok], t_dep[ok], t_arr[ok], e_dep[ok], el[ok]
        ev_v.append(v[wait])
        ev_o.append(np.full(int(wait.sum()), 2 * p))
        ev_t.append(t_dep[wait])
        drove = tl > 0
        ev_v.append(v[drove])
        ev_o.append(np.full(int(drove.sum()), 2 * p + 1))
        ev_t.append(t_arr[drove])
        used = np.where(el <= e_dep, el, e_dep)
        e_arr = e_dep - used
        consumed[v] += used
        trips.append(
            {
                "v": v,
                "k": k,
                "departed_s": t_dep,
                "arrived_s": t_arr,
                "driven_m": 0.0 + l_leg[k],
                "energy_kwh": 0.0 + used,
                "e_dep": e_dep,
                "e_arr": e_arr,
            }
        )
        now[v] = t_arr
        E[v] = e_arr
        # ---- home / depot charging until the next departure (sim.model.Engine._home_charge)
        hc = has_home[v] & (dest[k] == home[v])
        if hc.any():
            _home_charge(eng, v[hc], k[hc], t_arr[hc], E, charged, v_m, k1, cap, depart,
                         target_soc, profiles, sessions)  # fmt: skip
    settled = ~to_events
    chains = _chains(to_events & (start_k > k0), ev_v, ev_o, ev_t)
    _write_back(eng, settled, E, charged, consumed, k0, start_k, trips, sessions, to_events)
    eng.fast_seconds = time.perf_counter() - t0
    return Plan(to_events, start_k, chains)


def _chains(
    late_start: np.ndarray, ev_v: list[np.ndarray], ev_o: list[np.ndarray], ev_t: list[np.ndarray]
) -> dict[int, list[float]]:
    """Per vehicle starting after its first leg, its replayed event times in chain order."""
    if not ev_v or not late_start.any():
        return {}
    v = np.concatenate(ev_v)
    keep = late_start[v]
    v, o, t = v[keep], np.concatenate(ev_o)[keep], np.concatenate(ev_t)[keep]
    order = np.lexsort((o, v))
    v, t = v[order], t[order]
    cuts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    return {
        int(v[a]): t[a:b].tolist()
        for a, b in zip(cuts.tolist(), [*cuts[1:].tolist(), v.size], strict=True)
    }


def _home_charge(
    eng: Engine,
    v: np.ndarray,
    k: np.ndarray,
    now: np.ndarray,
    E: np.ndarray,
    charged: np.ndarray,
    v_m: np.ndarray,
    k1: np.ndarray,
    cap: np.ndarray,
    depart: np.ndarray,
    target_soc: float,
    profiles: list[tuple[float, np.ndarray, np.ndarray] | None],
    sessions: list[dict[str, np.ndarray]],
) -> None:
    """Vectorised :meth:`sim.model.Engine._home_charge` for vehicles ``v`` arriving home
    after leg ``k`` at ``now``: same interpolation (``np.interp`` on the profile's grid)
    and the same float expressions."""
    for m in np.unique(v_m[v]).tolist():
        prof = profiles[m]
        if prof is None:
            continue
        c, soc_grid, tau = prof
        sel = v_m[v] == m
        vv, kk, nn = v[sel], k[sel], now[sel]
        energy = E[vv]
        target = target_soc * cap[vv]
        nxt = np.where(kk + 1 < k1[vv], depart[np.minimum(kk + 1, depart.size - 1)], eng.sim_end)
        dwell = nxt - nn
        go = (energy < target) & (dwell > 0)
        if not go.any():
            continue
        vv, kk, nn, energy, target, dwell = (a[go] for a in (vv, kk, nn, energy, target, dwell))
        t0 = np.interp(energy / c, soc_grid, tau)
        t1 = np.interp(target / c, soc_grid, tau)
        dt = (t1 - t0) * 3600.0
        over = dt > dwell
        e1 = target.copy()
        if over.any():
            t0o = t0[over]
            soc = np.interp(t0o + dwell[over] / 3600.0, tau, soc_grid)
            e1[over] = np.minimum(c, np.maximum(energy[over], soc * c))
            dt = np.where(over, dwell, dt)
        E[vv] = e1
        charged[vv] += e1 - energy
        sessions.append({"v": vv, "k": kk, "now": nn, "end_s": nn + dt, "e0": energy, "e1": e1})


def _write_back(
    eng: Engine,
    settled: np.ndarray,
    E: np.ndarray,
    charged: np.ndarray,
    consumed: np.ndarray,
    k0: np.ndarray,
    start_k: np.ndarray,
    trips: list[dict[str, np.ndarray]],
    sessions: list[dict[str, np.ndarray]],
    to_events: np.ndarray,
) -> None:
    # vehicles settled wholly or up to a later leg: their state at start_k goes to the engine
    # whole columns at once (in place: the lists keep their identity), no step per vehicle
    idx = np.flatnonzero(start_k > k0)
    for name, arr in (("E", E), ("charged", charged), ("consumed", consumed)):
        target: list[float] = getattr(eng, name)
        merged = np.asarray(target, dtype=float)
        merged[idx] = arr[idx]
        target[:] = merged.tolist()
    cur = np.asarray(eng.cur_trip, dtype=np.int64)
    cur[idx] = start_k[idx] - 1
    eng.cur_trip[:] = cur.tolist()
    n_trips = 0
    if trips:
        cat: dict[str, Any] = {c: np.concatenate([t[c] for t in trips]) for c in trips[0]}
        keep = cat["k"] < start_k[cat["v"]]
        n = int(keep.sum())
        n_trips = n
        zeros = np.zeros(n)
        eng.trip_log.extend(
            k=cat["k"][keep],
            departed_s=cat["departed_s"][keep],
            arrived_s=cat["arrived_s"][keep],
            status=np.full(n, COMPLETED, dtype=np.int64),
            driven_m=cat["driven_m"][keep],
            energy_kwh=cat["energy_kwh"][keep],
            e_dep=cat["e_dep"][keep],
            e_arr=cat["e_arr"][keep],
            charging_stops=zeros,
            wait_s=zeros,
            charge_s=zeros,
            cause=np.zeros(n, dtype=np.int64),
            break_s=zeros,  # no driving-time rules here: trucks take the event path
            rest_s=zeros,
        )
    if sessions:
        cat = {c: np.concatenate([s[c] for s in sessions]) for c in sessions[0]}
        keep = cat["k"] < start_k[cat["v"]]
        n = int(keep.sum())
        eng.session_log.extend(
            v=cat["v"][keep],
            k=cat["k"][keep],
            station=np.full(n, -1, dtype=np.int64),
            arrive_s=cat["now"][keep],
            start_s=cat["now"][keep],
            end_s=cat["end_s"][keep],
            e0=cat["e0"][keep],
            e1=cat["e1"][keep],
            balked=np.zeros(n, dtype=bool),
            queue_seq=np.full(n, -1, dtype=np.int64),
            detour_s=np.zeros(n),
            detour_m=np.zeros(n),
        )
    eng.settled_vehicles = int(settled.sum())
    eng.settled_trips = n_trips
    logger.info(
        "fast path: %d of %d vehicles (%d trips) settled without events; %d to SimPy",
        eng.settled_vehicles,
        eng.n_veh,
        n_trips,
        int(to_events.sum()),
    )


def settle_tail(eng: Engine, v: int, k: int, now: float) -> bool:
    """Settle, without events, vehicle ``v``'s legs from ``k`` on, called by its process at
    ``now`` after a public visit (lever 3 of issue 15); returns whether it did.

    Exact for the same reason as :func:`settle`: a vehicle with no further public decision
    touches no shared state, so the rest of its day follows from its own state, replayed
    with the engine's scalar float operations in the engine's order (``now + (dep - now)``,
    ``now + t_leg``, ``0.0 + x`` for the record sums, accumulators in leg order, the home
    profile's own ``time_s``/``energy_after``). Nothing is written unless every remaining
    leg completes before the horizon without a public decision, running dry or an
    unroutable leg; otherwise the process goes on as events. Trucks under driving-time
    rules are never settled here (the caller checks).
    """
    k1 = eng.v_k1[v]
    if k >= k1:
        return False
    depart, t_legs, e_legs, l_legs, dest = eng.depart, eng.t_leg, eng.e_leg, eng.l_leg, eng.dest
    horizon = eng.settings.horizon_s
    cap, has_home, home, m = eng.v_cap[v], eng.v_has_home[v], eng.v_home[v], eng.v_m[v]
    needs, look_ahead, e_next, n_st = eng.needs, eng.look_ahead, eng.e_next, eng.n_st
    prof = eng.home_prof[m]
    target = eng.settings.home_target_soc * cap
    energy, consumed, charged = eng.E[v], eng.consumed[v], eng.charged[v]
    trips: list[tuple] = []
    homes: list[tuple] = []
    for j in range(k, k1):
        dep = depart[j]
        if now < dep:
            now = now + (dep - now)
            if horizon is not None and now >= horizon:
                return False
        t_leg = t_legs[j]
        e_dep = energy
        if t_leg == INF:
            return False
        e_leg = e_legs[j]
        if n_st and (
            needs(e_dep, cap, e_leg, True, has_home, e_next[j])
            if look_ahead
            else needs(e_dep, cap, e_leg, True, has_home)
        ):
            return False
        if e_leg > energy + 1e-9:
            return False
        dep_at = now
        if t_leg > 0:
            now = now + t_leg
            if horizon is not None and now >= horizon:
                return False
        used = e_leg if e_leg <= energy else energy
        energy -= used
        consumed += used
        trips.append((j, dep_at, now, COMPLETED, 0.0 + l_legs[j], 0.0 + used, e_dep, energy))
        if has_home and dest[j] == home and prof is not None and energy < target:
            nxt = depart[j + 1] if j + 1 < k1 else eng.sim_end
            dwell = nxt - now
            if dwell > 0:
                dt = prof.time_s(energy, target)
                e1 = target
                if dt > dwell:
                    e1, dt = prof.energy_after(energy, dwell), dwell
                charged += e1 - energy
                homes.append((v, j, -1, now, now, now + dt, energy, e1, False, -1, 0.0, 0.0))
                energy = e1
    add = eng.trip_log.add
    for j, dep_at, arr, status, l_m, used, e0, e1 in trips:
        add(j, dep_at, arr, status, l_m, used, e0, e1, 0, 0.0, 0.0, 0, 0.0, 0.0)
    for row in homes:
        eng.session_log.add(*row)
    eng.E[v], eng.consumed[v], eng.charged[v] = energy, consumed, charged
    eng.cur_trip[v] = k1 - 1
    eng.tail_settled += 1
    eng.tail_trips += len(trips)
    return True


def first_rows(eng: Engine, veh: np.ndarray, start_k: np.ndarray) -> None:
    """Station rows of the event vehicles' first unsettled legs at their departure hour,
    computed ahead in one vectorised pass (:meth:`sim._engine_util.RowsMixin.prefill_rows`):
    most first public decisions are taken there; the others compute theirs when taken."""
    legs = eng.leg_arrays
    k = start_k[veh]
    live = k < eng.v_arrays.k1[veh]
    if not eng.n_st or not live.any():
        return
    veh, k = veh[live], k[live]
    dep = legs.depart[k]
    # the engine's hour of a decision at ``dep``: int(now // 3600) % 24 (0 without factors)
    hours = (
        (dep // 3600.0).astype(np.int64) % 24
        if eng.settings.time_factors
        else np.zeros(k.size, dtype=np.int64)
    )
    prow = eng.routes.prow
    eng.prefill_rows(
        eng.v_arrays.m[veh],
        prow[legs.origin[k]],
        prow[legs.dest[k]],
        hours,
    )


INF = float("inf")

__all__ = ["Plan", "first_rows", "needs_vector", "settle", "settle_tail"]
