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

A vehicle is handed to SimPy (*wholly*, from time 0, as in the full engine) as soon as any
of its legs would need something this replay does not model: a public-charging decision
(``needs_charge`` true with stations present), running dry (stranding and recovery), an
unroutable leg, an event at or after the horizon, or a truck model (driving-time rules live
in the event path only). Only those vehicles schedule events. Removing the settled
vehicles' events does not reorder the others': SimPy orders simultaneous events by when they
were scheduled, and settled vehicles never schedule an event of another vehicle, so by
induction the remaining events keep their relative order. Records of both parts go to the
same columnar logs; tables are built in an order that does not depend on the path (trips by
row, sessions by vehicle then time; :mod:`sim.results`).
"""

from __future__ import annotations

import logging
import time
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


def settle(eng: Engine) -> np.ndarray:
    """Settle every vehicle that needs no event; returns the mask of vehicles left to SimPy.

    Writes the settled vehicles' final state (``E``, ``charged``, ``consumed``,
    ``cur_trip``) into the engine and appends their trip and home-charging records to its
    logs (in chain-position order; tables do not depend on the order).
    """
    t0 = time.perf_counter()
    n_veh = eng.n_veh
    k0 = np.asarray(eng.v_k0, dtype=np.int64)
    k1 = np.asarray(eng.v_k1, dtype=np.int64)
    v_m = np.asarray(eng.v_m, dtype=np.int64)
    cap = np.asarray(eng.v_cap, dtype=float)
    has_home = np.asarray(eng.v_has_home, dtype=bool)
    home = np.asarray(eng.v_home, dtype=np.int64)
    depart = np.asarray(eng.depart, dtype=float)
    t_leg = np.asarray(eng.t_leg, dtype=float)
    e_leg = np.asarray(eng.e_leg, dtype=float)
    l_leg = np.asarray(eng.l_leg, dtype=float)
    dest = np.asarray(eng.dest, dtype=np.int64)
    e_next = np.asarray(eng.e_next, dtype=float)
    horizon = eng.settings.horizon_s
    target_soc = eng.settings.home_target_soc
    profiles = _profile_arrays(eng)
    # trucks, and any model under driving-time rules, go to the event path (the rules have
    # no fast-path twin)
    truck = np.asarray(
        [mdl.is_truck or bool(getattr(mdl, "driving_rules", None)) for mdl in eng.models],
        dtype=bool,
    )
    to_events = truck[v_m] if n_veh else np.zeros(0, dtype=bool)
    if n_veh == 0:
        return to_events
    now = np.zeros(n_veh)
    E = np.asarray(eng.e_start, dtype=float).copy()
    charged = np.zeros(n_veh)
    consumed = np.zeros(n_veh)
    trips: list[dict[str, np.ndarray]] = []
    sessions: list[dict[str, np.ndarray]] = []
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
            to_events[v[bad]] = True
            ok = ~bad
            v, k, t_dep, t_arr, e_dep, el = v[ok], k[ok], t_dep[ok], t_arr[ok], e_dep[ok], el[ok]
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
    _write_back(eng, settled, E, charged, consumed, k1, trips, sessions, to_events)
    eng.fast_seconds = time.perf_counter() - t0
    return to_events


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
    k1: np.ndarray,
    trips: list[dict[str, np.ndarray]],
    sessions: list[dict[str, np.ndarray]],
    to_events: np.ndarray,
) -> None:
    idx = np.flatnonzero(settled)
    for name, arr in (("E", E), ("charged", charged), ("consumed", consumed)):
        target: list[float] = getattr(eng, name)
        for i, x in zip(idx.tolist(), arr[idx].tolist(), strict=True):
            target[i] = x
    for i, kk in zip(idx.tolist(), (k1[idx] - 1).tolist(), strict=True):
        eng.cur_trip[i] = kk
    n_trips = 0
    if trips:
        cat: dict[str, Any] = {c: np.concatenate([t[c] for t in trips]) for c in trips[0]}
        keep = settled[cat["v"]]
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
        keep = settled[cat["v"]]
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


__all__ = ["needs_vector", "settle"]
