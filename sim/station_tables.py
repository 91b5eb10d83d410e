"""The per-station tables of a simulation result, from its sessions table: the time
series (:func:`station_timeseries`: occupied plugs, utilisation, queue, power, energy,
arrivals and balks per station and time bin), the stations summary (visits, sessions,
energy, utilisation, peaks, waits) and the per-station visit and wait statistics of
:meth:`sim.results.SimulationResult.station_stats`. :mod:`sim.results` builds the result
with these (and re-exports :func:`station_timeseries`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.measures import step_peak

__all__ = ["station_timeseries"]


def _overlap(
    starts: np.ndarray, ends: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Sum over intervals of ``weight * |[start, end] & [edges[i], edges[i+1]]|`` per bin."""

    def g(x: np.ndarray) -> np.ndarray:  # sum_i w_i * min(x_i, t) at every edge t
        order = np.argsort(x)
        xs, ws = x[order], weights[order]
        cw = np.r_[0.0, np.cumsum(ws * xs)]
        cwt = np.r_[0.0, np.cumsum(ws)]
        j = np.searchsorted(xs, edges, side="right")
        return cw[j] + edges * (cwt[-1] - cwt[j])

    if starts.size == 0:
        return np.zeros(edges.size - 1)
    G = g(ends) - g(starts)
    return np.diff(G)


def station_timeseries(
    sessions: pd.DataFrame,
    stations: pd.DataFrame,
    span_s: float,
    step_s: float,
    *,
    start_s: float = 0.0,
) -> pd.DataFrame:
    """Per-station, per-bin occupancy, queue and power (long format), from ``start_s`` to
    ``span_s``: the plug time, queue time and energy of ``sessions`` within each bin, and
    the arrivals and balks in it (those before ``start_s`` or after the last bin are in
    none)."""
    # bins of step_s from start_s; the last one ends at span_s (shorter when the window's
    # length is not a multiple of the step: SimSettings.measure_end_s is the user's)
    length = span_s - start_s
    n_bins = max(1, math.ceil(length / step_s - 1e-9)) if length > 0 else 1
    edges = start_s + step_s * np.arange(n_bins + 1, dtype=float)
    if length > 0:
        edges[-1] = min(edges[-1], span_s)
    width = np.diff(edges)
    cols = _ByStation(sessions, len(stations))
    frames = []
    for s, row in enumerate(stations.itertuples(index=False)):
        g, ch = cols.rows(s)
        st, en = cols.start[ch], cols.end[ch]
        busy = _overlap(st, en, np.ones(st.size), edges) / width
        energy = _overlap(st, en, cols.power[ch] / 3600.0, edges)
        queue = _overlap(cols.arrive[g], cols.start[g], np.ones(g.size), edges) / width
        arrive = cols.arrive[g]
        inside = (arrive >= edges[0]) & (arrive < edges[-1])
        arr_bin = np.searchsorted(edges, arrive[inside], side="right") - 1
        frames.append(
            pd.DataFrame(
                {
                    "station_id": row.station_id,
                    "t_s": edges[:-1],
                    "busy_plugs": busy,
                    "utilisation": busy / row.plugs,
                    "queue": queue,
                    "power_kw": energy / (width / 3600.0),
                    "energy_kwh": energy,
                    "arrivals": np.bincount(arr_bin, minlength=edges.size - 1),
                    "balked": np.bincount(
                        arr_bin[cols.balked[g][inside]], minlength=edges.size - 1
                    ),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=[
                "station_id",
                "t_s",
                "busy_plugs",
                "utilisation",
                "queue",
                "power_kw",
                "energy_kwh",
                "arrivals",
                "balked",
            ]
        )
    return pd.concat(frames, ignore_index=True)


class _ByStation:
    """Public visits' columns as arrays, with each station's rows (visits, and the charged
    ones) in table order: the same arrays as filtering the table per station, without a
    table filter (and string comparisons) per station."""

    def __init__(self, sessions: pd.DataFrame, n_st: int) -> None:
        pub = sessions[sessions["station"] >= 0]
        station = pub["station"].to_numpy()
        status = pub["status"]
        self.charged = (status == "charged").to_numpy()
        self.balked = (status == "balked").to_numpy()
        self.start = pub["start_s"].to_numpy()
        self.end = pub["end_s"].to_numpy()
        self.arrive = pub["arrive_s"].to_numpy()
        self.power = pub["avg_power_kw"].to_numpy()
        self.energy = pub["energy_kwh"].to_numpy()
        self.wait = pub["wait_s"].to_numpy()
        self.order = np.argsort(station, kind="stable")
        self.bounds = np.searchsorted(station[self.order], np.arange(n_st + 1))

    def rows(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        g = self.order[self.bounds[s] : self.bounds[s + 1]]
        return g, g[self.charged[g]]


def stations_summary(
    sessions: pd.DataFrame,
    stations: pd.DataFrame,
    window: tuple[float, float],
    *,
    busy_sessions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:attr:`SimulationResult.stations`: ``stations`` with the visits, sessions, balks,
    energy and waits of ``sessions`` at each (the measured trips' visits), and the time
    measures over ``window`` = (start, end): busy hours, utilisation (busy plug time over
    plugs x the window's length), peak occupied plugs and peak kW, from the charging of
    ``busy_sessions`` (default ``sessions``) clipped to the window."""
    out = stations.drop(columns=["connectors"], errors="ignore").copy()
    cols = _ByStation(sessions, len(stations))
    timed = cols if busy_sessions is None else _ByStation(busy_sessions, len(stations))
    lo, hi = window
    length = hi - lo
    rows = []
    for s in range(len(stations)):
        g, ch = cols.rows(s)
        ch_t = timed.rows(s)[1]
        # the charging within the window (a session across one of its ends counts in part)
        st = np.clip(timed.start[ch_t], lo, hi)
        en = np.clip(timed.end[ch_t], lo, hi)
        busy = float((en - st).sum())
        waits = cols.wait[g]
        rows.append(
            {
                "visits": g.size,
                "sessions": ch.size,
                "balked": int(cols.balked[g].sum()),
                # the pandas sum, as on the filtered table before
                "energy_kwh": float(pd.Series(cols.energy[ch]).sum()),
                "busy_h": busy / 3600.0,
                "utilisation": busy / (stations["plugs"].iloc[s] * length)
                if length > 0
                else np.nan,
                "peak_busy_plugs": step_peak(st, en, np.ones(st.size)),
                "peak_kw": step_peak(st, en, timed.power[ch_t]),
                "wait_mean_min": float(waits.mean() / 60.0) if waits.size else np.nan,
                "wait_p95_min": float(np.percentile(waits, 95) / 60.0) if waits.size else np.nan,
            }
        )
    return pd.concat(
        [out.reset_index(drop=True), pd.DataFrame(rows, index=range(len(stations)))], axis=1
    )


def station_stats_table(sessions: pd.DataFrame, stations: pd.DataFrame) -> pd.DataFrame:
    """:meth:`SimulationResult.station_stats` (pandas group-by: the planner's numbers, bit for
    bit, whatever the station count)."""
    pub = sessions[sessions["station"] >= 0]
    if "utilisation" in stations:
        out = stations[["station_id", "utilisation"]].copy()
    else:  # no stations: the summary has no per-station columns
        out = stations[["station_id"]].assign(utilisation=np.nan)
    if len(pub):
        # sessions are charging sessions, as in the stations table; a balked visit is a
        # visit (its wait counts) but not a session (the two tables disagreed on it)
        agg = (
            pub.assign(charged=pub["status"].eq("charged"))
            .groupby("station_id")
            .agg(
                sessions=("charged", "sum"),
                visits=("wait_s", "size"),
                wait_mean_min=("wait_s", "mean"),
                wait_p95_min=("wait_s", lambda w: np.percentile(w, 95)),
            )
        )
        agg[["wait_mean_min", "wait_p95_min"]] /= 60.0
        out = out.merge(agg, left_on="station_id", right_index=True, how="left")
    for col in ("sessions", "visits", "wait_mean_min", "wait_p95_min"):
        if col not in out:
            out[col] = 0.0
    out = out.fillna({"sessions": 0, "visits": 0, "wait_mean_min": 0.0, "wait_p95_min": 0.0})
    return out.astype({"sessions": np.int64, "visits": np.int64})  # counts, whatever the path
