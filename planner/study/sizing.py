"""Plugs sized to a wait target: how many plugs keep the p95 wait under T minutes.

A station is an M/G/c queue in its busiest hour: arrivals at the peak-hour rate
``lambda`` (Poisson), charging sessions of mean length ``1/mu`` with squared coefficient of
variation ``cs2``, ``c`` plugs. For exponential sessions (M/M/c) the waiting time has the
Erlang C tail (Erlang 1917; e.g. Kleinrock, *Queueing Systems* vol. 1, 1975, sec. 3.5)::

    P(W > t) = C(c, a) * exp(-(c*mu - lambda) * t),      a = lambda / mu  (Erlangs)

with ``C(c, a)`` the Erlang C probability that an arrival waits. For general sessions the
Allen-Cunneen approximation (Allen 1990, *Probability, Statistics and Queueing Theory*,
sec. 6.5) scales the mean wait by ``(1 + cs2) / 2``; we scale the exponential tail's rate
by its inverse, which keeps the M/M/c answer when ``cs2 = 1`` and lengthens the tail for
more variable sessions (public DC sessions: cs2 of roughly 0.3-0.6 in the simulation).

The number of plugs is the smallest ``c`` with ``P(W > T) <= 1 - q`` (q = 0.95 for the p95).
A queue with ``a >= c`` is unstable and never meets a target. Check: for 30-minute sessions
and a 10-minute p95 wait, the utilisation ``a/c`` this allows is about 7 % with 1 plug, 23 %
with 2, 34 % with 3, 42 % with 4 and 53 % with 6 (the design-loop issue's figures; tested).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "erlang_c",
    "most_at_once",
    "plugs_in_use_max",
    "max_load_for_wait",
    "plugs_for_stations",
    "plugs_for_wait",
    "plugs_for_wait_managed",
    "station_load",
    "wait_tail",
]


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival waits, ``c`` servers, offered load ``a``."""
    if c < 1:
        raise ValueError(f"c = {c} must be >= 1")
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    b = 1.0  # Erlang B by its stable recursion B(k) = a B(k-1) / (k + a B(k-1))
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def wait_tail(
    c: int, arrivals_per_h: float, service_h: float, wait_h: float, *, cs2: float = 1.0
) -> float:
    """``P(W > wait_h)`` for ``c`` plugs (Erlang C tail, Allen-Cunneen for ``cs2 != 1``)."""
    if arrivals_per_h <= 0:
        return 0.0
    mu = 1.0 / service_h
    a = arrivals_per_h * service_h
    if a >= c:
        return 1.0
    rate = (c * mu - arrivals_per_h) * 2.0 / (1.0 + max(cs2, 0.0))
    return erlang_c(c, a) * math.exp(-rate * wait_h)


def plugs_for_wait(
    arrivals_per_h: float,
    service_h: float,
    target_min: float,
    *,
    quantile: float = 0.95,
    cs2: float = 1.0,
    max_plugs: int = 1000,
) -> int:
    """The fewest plugs whose ``quantile`` wait is at most ``target_min`` minutes.

    Returns ``max_plugs + 1`` when even ``max_plugs`` cannot meet the target (the caller
    then knows the cap binds). Zero arrivals need one plug (a station has at least one).
    """
    if not (0 < quantile < 1):
        raise ValueError(f"quantile = {quantile} must be in (0, 1)")
    if arrivals_per_h <= 0 or service_h <= 0:
        return 1
    a = arrivals_per_h * service_h
    c = max(1, math.floor(a) + 1)  # stability needs c > a
    while c <= max_plugs:
        if wait_tail(c, arrivals_per_h, service_h, target_min / 60.0, cs2=cs2) <= 1 - quantile:
            return c
        c += 1
    return max_plugs + 1


def plugs_for_wait_managed(
    arrivals_per_h: float,
    full_power_service_h: float,
    target_min: float,
    *,
    capacity_kw: float,
    plug_kw: float,
    other_kw: float = 0.0,
    quantile: float = 0.95,
    cs2: float = 1.0,
    max_plugs: int = 1000,
) -> int:
    """The fewest plugs meeting the wait target at a site whose plugs are throttled to its
    grid capacity (managed charging): with ``c`` plugs each draws
    ``f(c) = min(1, capacity_kw / (other_kw + c * plug_kw))`` of its rated power, and a
    session lasts ``full_power_service_h / f(c)``.

    Assumption (docs/grid.md): a session's length scales with the inverse of the plug's
    power, as when the throttled power is below what the car accepts (the case that matters
    here); a car accepting less than the throttled power charges no slower, so the need is
    overstated, never understated. More plugs at a power-bound site share the same kW, so
    the utilisation stays ``arrivals x energy / capacity``: they shorten the queue (more
    servers) but not the load, and a site whose capacity cannot carry its arrivals meets no
    target. Returns ``max_plugs + 1`` when no count up to ``max_plugs`` meets it.
    """
    if arrivals_per_h <= 0 or full_power_service_h <= 0:
        return 1
    for c in range(1, max_plugs + 1):
        f = min(1.0, capacity_kw / max(other_kw + c * plug_kw, 1e-12))
        service_h = full_power_service_h / max(f, 1e-12)
        if arrivals_per_h * service_h >= c:
            continue
        tail = wait_tail(c, arrivals_per_h, service_h, target_min / 60.0, cs2=cs2)
        if tail <= 1 - quantile:
            return c
    return max_plugs + 1


def max_load_for_wait(
    c: int, service_h: float, target_min: float, *, quantile: float = 0.95, cs2: float = 1.0
) -> float:
    """The largest arrival rate (per hour) ``c`` plugs serve within the wait target
    (bisection on the monotone tail); its utilisation is ``rate * service_h / c``."""
    lo, hi = 0.0, c / service_h
    for _ in range(80):
        mid = (lo + hi) / 2
        ok = wait_tail(c, mid, service_h, target_min / 60.0, cs2=cs2) <= 1 - quantile
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


def plugs_for_stations(
    arrivals_per_h: np.ndarray,
    service_h: np.ndarray,
    target_min: float,
    *,
    cs2: np.ndarray | float = 1.0,
    quantile: float = 0.95,
    max_plugs: int = 1000,
) -> np.ndarray:
    """:func:`plugs_for_wait` for many stations at once (``max_plugs + 1`` where the cap
    cannot meet the target)."""
    cs = np.broadcast_to(np.asarray(cs2, dtype=float), np.shape(arrivals_per_h))
    return np.array(
        [
            plugs_for_wait(
                float(r), float(s), target_min, quantile=quantile, cs2=float(v), max_plugs=max_plugs
            )
            for r, s, v in zip(arrivals_per_h, service_h, cs, strict=True)
        ],
        dtype=np.int64,
    )


def most_at_once(start: np.ndarray, end: np.ndarray) -> int:
    """The most intervals ``[start, end)`` open at one time (an interval ending when another
    starts does not overlap it)."""
    start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    if start.size == 0:
        return 0
    t = np.r_[start, end]
    step = np.r_[np.ones(start.size), -np.ones(end.size)]
    order = np.lexsort((step, t))  # at equal times the ends (-1) come first
    return int(np.cumsum(step[order]).max())


def plugs_in_use_max(sessions: pd.DataFrame, *, since_s: float | None = None) -> pd.Series:
    """The most plugs charging at once at each public station of ``sessions`` (by station
    id; stations with no charged session are absent); with ``since_s``, from that time on.

    The design loop reads it from ``since_s`` = the warm-up's end over *every* charged
    session, a warm-up trip's included: the plugs the measured trips' waits depend on. The
    measured trips' own sessions are not enough: a warm-up trip charging into the measured
    days holds a plug a measured trip waited for (a review of 2026-12-07 trimmed such a
    plug, and the trip waited 30 min)."""
    import pandas as pd

    ch = sessions[(sessions["station"] >= 0) & (sessions["status"] == "charged")]
    if since_s is not None:
        ch = ch[ch["end_s"] > since_s]
    return pd.Series(
        {
            sid: most_at_once(
                grp["start_s"].to_numpy()
                if since_s is None
                else np.maximum(grp["start_s"].to_numpy(), since_s),
                grp["end_s"].to_numpy(),
            )
            for sid, grp in ch.groupby("station_id")
        },
        dtype=float,
    )


def station_load(
    sessions: pd.DataFrame, *, days: int, target_min: float | None = None
) -> pd.DataFrame:
    """Each public station's load from simulated sessions: ``station_id,
    peak_arrivals_per_h`` (arrivals in the busiest hour of the day, per day),
    ``service_h`` (mean charging time) and ``cs2`` (squared coefficient of variation of
    the charging time), for the queueing formula; and what the simulation itself showed:
    ``wait_p95_min`` (the p95 wait over its visits, a give-up counting the time waited),
    ``balked`` (visits that ended with the driver giving up, per day), ``in_use_max`` (the most
    plugs charging at once) and ``arrivals_at_once`` (the most cars that would have been
    there at once had none waited: each from its arrival for its session, a driver who gave
    up for the station's mean session; with that many plugs nobody in the run would have
    waited). With ``target_min``, ``misses`` says whether the station's own p95 wait is
    above it or a driver gave up there (always, for sessions without ``wait_s``: then
    ``wait_p95_min`` and ``arrivals_at_once`` are NaN and the formula alone sizes them).
    Balked arrivals count as demand (they wanted a plug)."""
    import pandas as pd

    cols = ["station_id", "peak_arrivals_per_h", "service_h", "cs2", "wait_p95_min", "balked",
            "in_use_max", "arrivals_at_once", "misses"]  # fmt: skip
    pub = sessions[sessions["station"] >= 0]
    if pub.empty:
        return pd.DataFrame(columns=cols)
    hour = (pub["arrive_s"] // 3600 % 24).astype(int)
    per_hour = pub.assign(hour=hour).groupby(["station_id", "hour"]).size()
    peak = per_hour.groupby(level="station_id").max() / max(1, days)
    charged = pub[pub["status"] == "charged"]
    dur = (charged["end_s"] - charged["start_s"]) / 3600.0
    stats = dur.groupby(charged["station_id"]).agg(["mean", "var"])
    out = pd.DataFrame({"peak_arrivals_per_h": peak})
    out["service_h"] = stats["mean"].reindex(out.index)
    out["cs2"] = (stats["var"] / stats["mean"] ** 2).reindex(out.index)
    # a station that only saw balked arrivals: assume the fleet's typical session
    out["service_h"] = out["service_h"].fillna(float(dur.mean()) if len(dur) else 0.5)
    out["cs2"] = out["cs2"].fillna(1.0).clip(lower=0.05)
    # sessions without their waits (a table from elsewhere): the formula alone sizes them
    known = "wait_s" in pub
    waits = pub["wait_s"].to_numpy(dtype=float) / 60.0 if known else np.full(len(pub), np.nan)
    out["wait_p95_min"] = (
        pd.Series(waits, index=pub.index).groupby(pub["station_id"]).quantile(0.95)
    ).reindex(out.index)
    is_charged = pub["status"].eq("charged")
    out["balked"] = (~is_charged).groupby(pub["station_id"]).sum().reindex(out.index) / max(1, days)
    session_s = np.where(
        is_charged,
        (pub["end_s"] - pub["start_s"]).to_numpy(dtype=float),
        out["service_h"].reindex(pub["station_id"]).to_numpy(dtype=float) * 3600.0,
    )
    at_once = {}
    for sid, idx in pub.groupby("station_id").indices.items():
        arrive = pub["arrive_s"].to_numpy(dtype=float)[idx]
        at_once[sid] = most_at_once(arrive, arrive + session_s[idx])
    out["in_use_max"] = plugs_in_use_max(pub).reindex(out.index).fillna(0).astype(int)
    out["arrivals_at_once"] = pd.Series(at_once).reindex(out.index).fillna(0).astype(int)
    if not known:
        out["arrivals_at_once"] = np.nan
    out["misses"] = (
        ((out["wait_p95_min"] > target_min) | (out["balked"] > 0) | (not known))
        if target_min is not None
        else False
    )
    out.index.name = "station_id"
    return out.reset_index()[cols]
