"""Helpers of the engine (:mod:`sim.model`) computed once per run, outside the event loop:
the look-ahead table (energy from each leg's destination to the nearest compatible charger or
home) and the event-counting SimPy environment."""

from __future__ import annotations

import inspect
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event, EventPriority

if TYPE_CHECKING:
    from sim.model import Engine

INF = math.inf


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
    eng: Engine,
    trip_m: np.ndarray,
    dest: np.ndarray,
    home: np.ndarray,
    has_home: np.ndarray,
    factor: np.ndarray,
    k1_of: np.ndarray,
) -> np.ndarray:
    """Per trip leg: energy from its destination to the nearest compatible public charger or
    to the vehicle's home/depot charger (0 at home and after the chain's last leg; inf when
    neither can be reached). Vectorised once per run."""
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
            cols = np.flatnonzero(eng.compat[m])
            length = r.to_l[np.ix_(rows[sel], cols)]
            t = mdl.drive_time_s(length, r.to_t[np.ix_(rows[sel], cols)] * factor[sel, None])
            out[sel] = mdl.energy_kwh(length, t, eng.temp).min(axis=1)
        hs = sel[has_home[sel]]
        if hs.size and eng.home_prof[m] is not None:
            t_h, l_h = r.legs(dest[hs], home[hs])
            e_h = mdl.energy_kwh(l_h, mdl.drive_time_s(l_h, t_h * factor[hs]), eng.temp)
            out[hs] = np.minimum(out[hs], e_h)
    out[np.arange(n_t) == k1_of - 1] = 0.0
    return out


class CountingEnvironment(simpy.Environment):
    """A :class:`simpy.Environment` that counts the events it schedules (:attr:`scheduled`).

    Every SimPy event (timeouts, process starts and ends, resource requests, conditions)
    goes through :meth:`simpy.Environment.schedule`, so the count is the number of events
    the run scheduled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scheduled = 0

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """Schedule ``event`` (see :meth:`simpy.Environment.schedule`) and count it."""
        self.scheduled += 1
        super().schedule(event, priority, delay)
