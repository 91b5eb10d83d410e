"""Helpers of the engine (:mod:`sim.model`) computed once per run, outside the event loop:
the station rows of the decisions and the look-ahead table (energy from each leg's
destination to the nearest compatible charger or home). The SimPy environments are in
:mod:`sim._events`."""

from __future__ import annotations

import inspect
import math
from typing import Any, NamedTuple

import numpy as np
import simpy

from sim.policies import StationChoice
from sim.routes import RouteTables, congested
from sim.settings import SimSettings
from sim.vehicles import VehicleModel

INF = math.inf


class VehicleArrays(NamedTuple):
    """Per-vehicle constants of the engine as arrays (one entry per vehicle), beside the
    lists the event loop reads, for the vectorised parts (:mod:`sim.fast`, the result
    tables): first and end leg, model index, usable capacity (kWh), home charger, energy
    at the start (kWh). Never changed after the engine is built."""

    k0: np.ndarray
    k1: np.ndarray
    m: np.ndarray
    cap: np.ndarray
    has_home: np.ndarray
    e_start: np.ndarray


class LegArrays(NamedTuple):
    """Per-leg constants of the engine as arrays (one entry per trip), as
    :class:`VehicleArrays`: departure (s), driving time (s), energy (kWh) and length (m) of
    the leg, origin and destination (network positions), energy to the next charger after
    it (kWh)."""

    depart: np.ndarray
    t_leg: np.ndarray
    e_leg: np.ndarray
    l_leg: np.ndarray
    origin: np.ndarray
    dest: np.ndarray
    e_next: np.ndarray


class RowsMixin:
    """Per-decision station rows of the engine: time, length and energy from the current
    position to every station and from every station to the leg's destination, per model
    and congestion hour, cached (rows are reused by every vehicle deciding there)."""

    env: simpy.Environment
    settings: SimSettings
    models: list[VehicleModel]
    routes: RouteTables
    hour_factors: np.ndarray
    by_class: bool
    temp: float
    compat: list[np.ndarray]
    reserve_soc: float
    st_present: np.ndarray
    st_plugs_arr: np.ndarray
    _to_rows: dict[tuple[int, int, int], tuple]
    _from_rows: dict[tuple[int, int, int], tuple]

    def _hour(self) -> int:
        return int(self.env.now // 3600.0) % 24 if self.settings.time_factors else 0

    def _to_row(self, m: int, prow: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, length, energy) from position ``prow`` to every station for model ``m``
        at the current hour's congestion (cached: rows are reused by every vehicle deciding
        at that position and hour)."""
        h = self._hour()
        key = (m, prow, h)
        row = self._to_rows.get(key)
        if row is None:
            r = self.routes
            row = self._station_rows(m, prow, h, r.to_t, r.to_l, r.to_tc)
            self._to_rows[key] = row
        return row

    def _from_row(self, m: int, prow: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, length, energy) from every station to position ``prow`` (cached)."""
        h = self._hour()
        key = (m, prow, h)
        row = self._from_rows.get(key)
        if row is None:
            r = self.routes
            row = self._station_rows(m, prow, h, r.from_t, r.from_l, r.from_tc)
            self._from_rows[key] = row
        return row

    def _station_rows(
        self, m: int, idx: Any, h: int, tt: np.ndarray, ll: np.ndarray, tcc: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, length, energy) of model ``m`` at hour ``h`` on the route-table rows
        ``idx`` (one position or an array of them) of ``tt``/``ll``/``tcc``: elementwise
        operations only, so a row computed alone or among many is the same floats."""
        mdl = self.models[m]
        length = ll[idx]
        tc = tcc[:, idx] if tcc is not None and self.by_class else None
        t = mdl.drive_time_s(length, congested(tt[idx], tc, self.hour_factors, h))
        return t, length, mdl.energy_kwh(length, t, self.temp)

    def prefill_rows(self, m: np.ndarray, rows_to: np.ndarray, rows_from: np.ndarray,
                     hours: np.ndarray) -> None:  # fmt: skip
        """Fill the row caches for decisions known ahead (the fast path's first public
        decisions: model, origin and destination rows, hour of departure) in one vectorised
        pass per (model, hour) instead of one call per row. Every element goes through the
        same elementwise operations (:meth:`_station_rows`, as for :meth:`_to_row` /
        :meth:`_from_row`), so the cached rows are the same floats;
        a key the decision does not use is merely unused."""
        r = self.routes
        for (mm, h), sel in _groups(m, hours):
            for rows, cache, tt, ll, tcc in (
                (rows_to[sel], self._to_rows, r.to_t, r.to_l, r.to_tc),
                (rows_from[sel], self._from_rows, r.from_t, r.from_l, r.from_tc),
            ):
                todo = np.asarray(
                    [p for p in np.unique(rows).tolist() if (mm, p, h) not in cache],
                    dtype=np.int64,
                )
                if todo.size == 0:
                    continue
                t, length, e = self._station_rows(mm, todo, h, tt, ll, tcc)
                for i, p in enumerate(todo.tolist()):
                    cache[(mm, p, h)] = (t[i], length[i], e[i])

    def _choice(
        self,
        m: int,
        prow_cur: int,
        prow_dest: int,
        t_direct: float,
        e_direct: float,
        energy: float,
        cap: float,
        tried: set[int],
    ) -> StationChoice:
        t_to, l_to, e_to = self._to_row(m, prow_cur)
        t_from, l_from, e_from = self._from_row(m, prow_dest)
        allowed = self.compat[m]
        if tried:
            allowed = allowed.copy()
            allowed[list(tried)] = False
        return StationChoice(
            t_to,
            l_to,
            e_to,
            t_from,
            l_from,
            e_from,
            t_direct,
            e_direct,
            energy,
            cap,
            self.reserve_soc * cap,
            allowed,
            self.st_present,
            self.st_plugs_arr,
        )


def takes_next(fn: Any) -> bool:
    """Whether a *when* policy's ``needs_charge`` accepts the look-ahead ``next_kwh``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]) >= 6


def next_charger_kwh(
    eng: Any,
    trip_m: np.ndarray,
    dest: np.ndarray,
    home: np.ndarray,
    has_home: np.ndarray,
    hours: np.ndarray,
    k1_of: np.ndarray,
) -> np.ndarray:
    """Per trip leg: energy from its destination to the nearest compatible public charger or
    to the vehicle's home/depot charger (0 at a home charger; inf when neither can be
    reached). Vectorised once per run.

    After the chain's last leg it is 0 only when the chain really ends away from home (a
    one-way corridor trip). A chain that ends at home is a daily pattern cut by the horizon:
    its driver plans for tomorrow as on every other day (until 2026-12-07 the last leg looked
    ahead to nothing, so the last simulated day, the one measured, had fewer charging stops
    and shorter queues than the same day inside a longer run)."""
    n_t = dest.size
    out = np.full(n_t, INF)
    if n_t == 0:
        return out
    r = eng.routes
    rows = r.prow[dest]
    for m, mdl in enumerate(eng.models):
        sel = np.flatnonzero(trip_m == m)
        if sel.size == 0:
            continue
        if eng.n_st and eng.compat[m].any():
            # one row per distinct (destination, hour): every element is computed by the
            # same elementwise operations as per trip, so the values are identical
            cols = np.flatnonzero(eng.compat[m])
            uniq, inv = _dense_unique(rows[sel] * 24 + hours[sel], int(r.prow.max() + 1) * 24)
            u_row, u_h = uniq // 24, uniq % 24
            ix = np.ix_(u_row, cols)
            length = r.to_l[ix]
            tc = r.to_tc[:, ix[0], ix[1]] if eng.by_class else None
            t_ff = congested(r.to_t[ix], tc, eng.hour_factors, u_h[:, None])
            t = mdl.drive_time_s(length, t_ff)
            out[sel] = mdl.energy_kwh(length, t, eng.temp).min(axis=1)[inv.ravel()]
        hs = sel[has_home[sel]]
        if hs.size and eng.home_prof[m] is not None:
            # (destination, home, hour) as one integer: a 1-D unique, not a row-wise one
            n_nodes = int(r.prow.size)
            code = (dest[hs].astype(np.int64) * n_nodes + home[hs]) * 24 + hours[hs]
            uc, inv = np.unique(code, return_inverse=True)
            u = np.stack([uc // 24 // n_nodes, uc // 24 % n_nodes, uc % 24], axis=1)
            legs = r.legs(u[:, 0], u[:, 1], by_class=eng.by_class)
            l_h = legs[1]
            t_h = congested(legs[0], legs[2] if eng.by_class else None, eng.hour_factors, u[:, 2])
            e_h = mdl.energy_kwh(l_h, mdl.drive_time_s(l_h, t_h), eng.temp)[inv.ravel()]
            out[hs] = np.minimum(out[hs], e_h)
    out[(np.arange(n_t) == k1_of - 1) & (dest != home)] = 0.0
    return out


def _groups(m: np.ndarray, h: np.ndarray) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Positions of each distinct (model, hour) pair."""
    key = m.astype(np.int64) * 24 + h
    order = np.argsort(key, kind="stable")
    ks = key[order]
    cuts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]]) if ks.size else np.empty(0, np.int64)
    ends = np.r_[cuts[1:], ks.size]
    return [
        ((int(ks[a]) // 24, int(ks[a]) % 24), order[a:b])
        for a, b in zip(cuts.tolist(), ends.tolist(), strict=True)
    ]


def _dense_unique(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for integer keys in ``[0, size)`` by a
    presence table (no sort): the same sorted unique values and inverse."""
    seen = np.zeros(size, dtype=bool)
    seen[keys] = True
    uniq = np.flatnonzero(seen)
    rank = np.cumsum(seen) - 1
    return uniq, rank[keys]


def recheck_below_reach(eng: Any, below: int, instead: int) -> int:
    """Keep the cause ``below`` (a stranding on a vehicle's first leg with no public stop,
    labelled by the event loop) only for a car that *started* below reach: it left below
    its driver's own charge trigger (the policy's ``threshold_soc``, else the reserve) and
    no site of ``eng.reach_sites`` (the places a network could have a charger: a study's
    existing stations and candidate sites; by default the run's stations) can be reached
    from the leg's origin with the energy it left with. Any other such stranding is a gap
    in the network, and the cause becomes ``instead`` (no charger in range). Returns the
    number of strandings relabelled.

    Until 2026-12-07 every such stranding kept ``below``, and a study's stranded target,
    judged net of them, counted a plan with no charger at all as meeting it (trucks that
    left at 80-100 % were "below reach" of chargers that did not exist). Energies are along
    the fastest free-flow route (no hourly congestion), per the vehicle's model.
    """
    log = eng.trip_log
    if not len(log):
        return 0
    rows = np.flatnonzero(log.column("cause") == below)
    if rows.size == 0:
        return 0
    k = log.column("k")[rows]
    e_dep = log.column("e_dep")[rows]
    veh = np.searchsorted(np.asarray(eng.v_k0, dtype=np.int64), k, side="right") - 1
    model = np.asarray(eng.v_m, dtype=np.int64)[veh]
    origin = np.asarray(eng.origin, dtype=np.int64)[k]
    uniq, inv = np.unique(origin, return_inverse=True)
    need = np.full(rows.size, INF)  # energy to the nearest site (inf: none to reach)
    if eng.reach_sites.size:
        t, length = eng.network.route_matrices(uniq, eng.reach_sites)
        for m in np.unique(model).tolist():
            sel = model == m
            mdl = eng.models[m]
            e = mdl.energy_kwh(length, mdl.drive_time_s(length, t), eng.temp).min(axis=1)
            need[sel] = e[inv.ravel()[sel]]
    cap = np.asarray(eng.v_cap, dtype=float)[veh]
    # the driver's own trigger: a threshold policy's, else its reserve (eng.reserve_soc, the
    # policy's; CannotReach sets threshold_soc = 0, a custom policy may have neither)
    threshold = float(getattr(eng.settings.policy.when, "threshold_soc", 0.0) or 0.0)
    trigger = max(threshold, float(eng.reserve_soc))
    fixable = (need <= e_dep + 1e-9) | (e_dep >= trigger * cap)
    log.relabel_cause(rows[fixable], instead)
    for v in veh[fixable].tolist():
        if eng.cause[v] == below:
            eng.cause[v] = instead
    return int(fixable.sum())
