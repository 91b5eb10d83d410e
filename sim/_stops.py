"""Charging of one vehicle in :class:`sim.model.Engine`: public charging stops of a leg (the
station-visit logic), the station charge profiles, and home/depot charging.

Two generators with the same decisions and the same records:

* :meth:`StopsMixin._stops` -- the reference (``engine: full``): every decision builds a
  :class:`~sim.policies.StationChoice` and calls the *where* policy; a queue with finite
  patience is waited on with ``request | timeout`` (a SimPy ``Condition``).
* :meth:`StopsMixin._stops_fast` -- the fast path (``engine: fast``, issue 15), exact by the
  following arguments (checked by the hypothesis equality tests of ``tests/sim``):

  - *Choice*: for the built-in :class:`~sim.policies.MinDetour` without a detour cap,
    :meth:`_pick` (:mod:`sim._pick`) takes the same argmins on the same arrays with the
    same float expressions (a mask only where it can change the argmin), without building a
    ``StationChoice`` or copying the compatibility mask; any case it does not cover (no
    finishing station reachable, other policies) goes to the reference call. After a balk, the reference asks the policy whether another
    station is within reach and, when so, asks again with the very same arguments at the
    same instant (no event in between, so occupancy and hour are the same): the fast path
    reuses the first answer (the built-in policy is a pure function of its input); custom
    policies are asked twice, as by the reference.
  - *Patience*: the reference's ``request | timeout`` schedules the timeout ``T`` and, when
    the first of the two is processed, the ``Condition`` event ``C`` (the first event that
    step schedules, as the only callback after the resource's own), which resumes the
    process. The fast path schedules *one* heap entry with the genealogical key ``C`` would
    have as ``T``'s child (:meth:`sim._events.OrderedEnvironment.patience`),
    and, if the request is processed first in the reference order (its key below ``T``'s),
    an event at the request's step as ``C`` would be. The process thus resumes at the very
    same place among simultaneous events, reads the same ``request.triggered`` and the same
    occupancy, and schedules its next events with the same keys; ``T`` and ``C`` of a
    balk become one entry.

Both generators use SimPy's public API (``env.now``, ``env.timeout``, ``request.triggered``,
``Resource.put_queue``); the event machinery the fast path needs (the genealogical order,
the patience entry, the inlined request and release) lives in :mod:`sim._events`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

from simpy.events import Event

from sim._events import OrderedEnvironment, release, request
from sim._pick import PickMixin, Row
from sim.vehicles import ChargeProfile, VehicleModel

INF = math.inf


class StopsMixin(PickMixin):
    """Charging stops of :class:`sim.model.Engine` (see the module docstring)."""

    E: list[float]
    consumed: list[float]
    charged: list[float]
    origin: list[int]
    dest: list[int]
    margin: list[float]
    st_prow: list[int]
    st_dc: list[bool]
    st_seq: list[int]
    precond_kwh: list[float]
    res: list[Any]
    clocks: list[Any]
    session_log: Any
    how_much: Callable[[float, float, float], float]

    # provided by the engine
    _drive: Callable[[int, float], float]
    models: list[VehicleModel]
    temp: float
    st_power: list[float]
    _profiles: dict[tuple[int, int], ChargeProfile]
    home_prof: list[ChargeProfile | None]
    v_k1: list[int]
    depart: list[float]
    sim_end: float

    # ------------------------------------------------------------------ charge profiles
    def _profile(self, m: int, s: int) -> ChargeProfile:
        key = (m, s)
        prof = self._profiles.get(key)
        if prof is None:
            mdl = self.models[m]
            dc = self.st_dc[s]
            pack = (
                mdl.pack_temp_c(self.temp, precondition=self.settings.precondition) if dc else None
            )
            prof = mdl.charge_profile(self.st_power[s], dc=dc, temp_c=self.temp, pack_temp_c=pack)
            self._profiles[key] = prof
        return prof

    def _home_charge(self, v: int, k: int, m: int, cap: float) -> None:
        """Charge at home/depot until the next departure (no events needed: nothing else
        competes for a private charger)."""
        prof = self.home_prof[m]
        energy = self.E[v]
        target = self.settings.home_target_soc * cap
        if prof is None or energy >= target:
            return
        now = self.env.now
        nxt = self.depart[k + 1] if k + 1 < self.v_k1[v] else self.sim_end
        dwell = nxt - now
        if dwell <= 0:
            return
        dt = prof.time_s(energy, target)
        e1 = target
        if dt > dwell:
            e1, dt = prof.energy_after(energy, dwell), dwell
        self.E[v] = e1
        self.charged[v] += e1 - energy
        self.session_log.add(v, k, -1, now, now, now + dt, energy, e1, False, -1, 0.0, 0.0)

    # ------------------------------------------------------------------ reference
    def _stops(
        self,
        v: int,
        k: int,
        m: int,
        cap: float,
        t_leg: float,
        e_leg: float,
        l_leg: float,
        acc: list[float],
    ) -> Generator[Event, Any, tuple[float, float, float, bool]]:
        """Charging stops of one leg (generator); returns the remaining leg (t, e, l) and
        whether the driver gave up (abandoned the trip at a queue).

        ``acc`` accumulates driven m, used kWh, stops, wait s and charge s of the leg. Stops
        continue while the destination is out of reach with the reserve. After
        ``max_wait_s`` in a queue the driver leaves for another station the *where* policy
        offers, or drives on when the destination is within reach; otherwise she abandons.
        """
        env = self.env
        s_set = self.settings
        E, rec = self.E, self.session_log.add
        prow, st_prow = self.routes.prow, self.st_prow
        prow_cur, prow_dest = int(prow[self.origin[k]]), int(prow[self.dest[k]])
        reserve = self.reserve_soc * cap
        margin = self.margin[k]
        present = self.st_present
        clock = self.clocks[v]
        tried: set[int] = set()
        balks = stops = 0
        while True:
            energy = E[v]
            c = self._choice(m, prow_cur, prow_dest, t_leg, e_leg, energy, cap, tried)
            s = self.where(c)
            if s < 0:
                break
            tried.add(s)
            detour_s = float(c.t_to[s] + c.t_from[s] - t_leg)
            detour_m = float(c.l_to[s] + c.l_from[s] - l_leg)
            ts, es = float(c.t_to[s]), float(c.e_to[s])
            if self.st_dc[s]:
                es += self.precond_kwh[m]
            if ts > 0:
                yield env.timeout(self._drive(v, ts))
            es = es if es <= energy else energy
            energy -= es
            E[v] = energy
            self.consumed[v] += es
            acc[0] += float(c.l_to[s])
            acc[1] += es
            t_leg, e_leg, l_leg = float(c.t_from[s]), float(c.e_from[s]), float(c.l_from[s])
            prow_cur = st_prow[s]
            arrive = env.now
            seq = self.st_seq[s]
            self.st_seq[s] = seq + 1
            res = self.res[s]
            present[s] += 1
            req = res.request()
            if not req.triggered:
                if s_set.max_wait_s < INF:
                    yield req | env.timeout(s_set.max_wait_s)
                    if not req.triggered:
                        req.cancel()
                        present[s] -= 1
                        now = env.now
                        acc[3] += now - arrive
                        if clock is not None:  # the queue counts as a pause
                            clock.stopped(arrive, now, 0.0)
                        rec(v, k, s, arrive, now, now, energy, energy, True, seq, detour_s,
                            detour_m)  # fmt: skip
                        balks += 1
                        left = energy - e_leg
                        if left >= margin:
                            break  # comfortable without charging: drive on
                        if (
                            balks < s_set.max_balks_per_leg
                            and self.where(
                                self._choice(
                                    m, prow_cur, prow_dest, t_leg, e_leg, energy, cap, tried
                                )
                            )
                            >= 0
                        ):
                            continue  # another station is within reach
                        if left >= reserve:
                            break  # the destination is within reach: drive on
                        return t_leg, e_leg, l_leg, True
                else:
                    yield req
            start = env.now
            acc[3] += start - arrive
            e1 = min(cap, max(energy, self.how_much(energy, cap, e_leg + margin)))
            dt = self._profile(m, s).time_s(energy, e1)
            if dt > 0:
                yield env.timeout(dt)
            res.release(req)
            present[s] -= 1
            E[v] = e1
            self.charged[v] += e1 - energy
            rec(v, k, s, arrive, start, env.now, energy, e1, False, seq, detour_s, detour_m)
            acc[2] += 1
            acc[4] += dt
            stops += 1
            if clock is not None:  # a long enough stop is the driver's break
                extra = clock.stopped(arrive, env.now, t_leg)
                if extra > 0:
                    yield env.timeout(extra)
            if stops >= s_set.max_stops_per_leg or e1 - e_leg >= reserve:
                break
        return t_leg, e_leg, l_leg, False

    # ------------------------------------------------------------------ fast path
    def _stops_fast(
        self,
        v: int,
        k: int,
        m: int,
        cap: float,
        t_leg: float,
        e_leg: float,
        l_leg: float,
        acc: list[float],
    ) -> Generator[Event, Any, tuple[float, float, float, bool]]:
        """:meth:`_stops` of the fast path: the same decisions, records and event order with
        fewer events and less Python per decision (see the module docstring)."""
        env = self.env
        assert isinstance(env, OrderedEnvironment)  # the fast path runs on it
        s_set = self.settings
        max_wait = s_set.max_wait_s
        E, rec = self.E, self.session_log.add
        prow, st_prow = self.routes.prow, self.st_prow
        prow_cur, prow_dest = int(prow[self.origin[k]]), int(prow[self.dest[k]])
        reserve = self.reserve_soc * cap
        margin = self.margin[k]
        clock = self.clocks[v]
        policy = self._fast_where()
        occupy = self._occupy
        # (per-visit attribute reads hoisted: this generator is the fast path's hot loop)
        st_dc, precond, consumed, charged = (
            self.st_dc,
            self.precond_kwh[m],
            self.consumed,
            self.charged,
        )
        st_seq, resources, how_much = self.st_seq, self.res, self.how_much
        tried: set[int] = set()
        balks = stops = 0
        ahead: tuple[int, Row, Row] | None = None  # the choice made after a balk
        while True:
            energy = E[v]
            if ahead is None:
                s, to, fr = self._pick(
                    m, prow_cur, prow_dest, t_leg, e_leg, energy, cap, tried, policy
                )
            else:
                (s, to, fr), ahead = ahead, None
            if s < 0:
                break
            tried.add(s)
            t_to, l_to, e_to = to
            t_from, l_from, e_from = fr
            # Python floats read with .item(): the same IEEE sums as on numpy scalars
            ts, tf, lt, lf = t_to.item(s), t_from.item(s), l_to.item(s), l_from.item(s)
            detour_s = ts + tf - t_leg
            detour_m = lt + lf - l_leg
            es = e_to.item(s)
            if st_dc[s]:
                es += precond
            if ts > 0:  # (self._drive, inlined)
                yield env.timeout(ts if clock is None else clock.drive(env.now, ts))
            es = es if es <= energy else energy
            energy -= es
            E[v] = energy
            consumed[v] += es
            acc[0] += lt
            acc[1] += es
            t_leg, e_leg, l_leg = tf, e_from.item(s), lf
            prow_cur = st_prow[s]
            arrive = env.now
            seq = st_seq[s]
            st_seq[s] = seq + 1
            res = resources[s]
            occupy(s, 1)
            req = request(res)
            if not req.triggered:
                if max_wait < INF:
                    yield env.patience(req, max_wait)
                    if not req.triggered:
                        res.put_queue.remove(req)  # (req.cancel(): not triggered)
                        occupy(s, -1)
                        now = env.now
                        acc[3] += now - arrive
                        if clock is not None:  # the queue counts as a pause
                            clock.stopped(arrive, now, 0.0)
                        rec(v, k, s, arrive, now, now, energy, energy, True, seq, detour_s,
                            detour_m)  # fmt: skip
                        balks += 1
                        left = energy - e_leg
                        if left >= margin:
                            break  # comfortable without charging: drive on
                        if balks < s_set.max_balks_per_leg:
                            ahead = self._pick(
                                m, prow_cur, prow_dest, t_leg, e_leg, energy, cap, tried, policy
                            )
                            if ahead[0] >= 0:
                                if policy is None:  # custom policy: asked again, as the
                                    ahead = None  # reference does
                                continue  # another station is within reach
                            ahead = None
                        if left >= reserve:
                            break  # the destination is within reach: drive on
                        return t_leg, e_leg, l_leg, True
                else:
                    yield req
            start = env.now
            acc[3] += start - arrive
            e1 = min(cap, max(energy, how_much(energy, cap, e_leg + margin)))
            dt = self._profile(m, s).time_s(energy, e1)
            if dt > 0:
                yield env.timeout(dt)
            release(res, req)
            occupy(s, -1)
            E[v] = e1
            charged[v] += e1 - energy
            rec(v, k, s, arrive, start, env.now, energy, e1, False, seq, detour_s, detour_m)
            acc[2] += 1
            acc[4] += dt
            stops += 1
            if clock is not None:  # a long enough stop is the driver's break
                extra = clock.stopped(arrive, env.now, t_leg)
                if extra > 0:
                    yield env.timeout(extra)
            if stops >= s_set.max_stops_per_leg or e1 - e_leg >= reserve:
                break
        return t_leg, e_leg, l_leg, False


__all__ = ["StopsMixin"]
