"""SimulationResult.station_stats equals the planner's former per-station computation, with
``sessions`` the charging sessions (as the stations table counts them) and ``visits`` every
public visit (the former ``sessions``: balked visits were counted as sessions there, not in the
stations table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import ChargingPolicy, MinDetour, SimSettings, SocThreshold, simulate
from sim.synthetic import grid_network, line_network


def _planner_per_station(res) -> pd.DataFrame:
    """The planner's code (planner/pipeline.py ``_per_station``) the method replaces."""
    ses = res.sessions[res.sessions["station"] >= 0]
    st = (
        res.stations[["station_id", "utilisation"]].copy()
        if "utilisation" in res.stations
        else res.stations[["station_id"]].assign(utilisation=np.nan)
    )
    if len(ses):
        agg = (
            ses.assign(charged=ses["status"] == "charged")
            .groupby("station_id")
            .agg(
                sessions=("charged", "sum"),
                visits=("wait_s", "size"),
                wait_mean_min=("wait_s", "mean"),
                wait_p95_min=("wait_s", lambda w: np.percentile(w, 95)),
            )
        )
        agg[["wait_mean_min", "wait_p95_min"]] /= 60.0
        st = st.merge(agg, left_on="station_id", right_index=True, how="left")
    for col in ("sessions", "visits", "wait_mean_min", "wait_p95_min"):
        if col not in st:
            st[col] = 0.0
    return st.fillna({"sessions": 0, "visits": 0, "wait_mean_min": 0.0, "wait_p95_min": 0.0})


def _trips(n, origin, destination, spacing_s=120.0):
    return pd.DataFrame(
        {
            "vehicle_id": range(n),
            "vehicle_model": "byd_atto3",
            "origin": origin,
            "destination": destination,
            "depart_s": np.arange(n) * spacing_s,
            "chain_seq": 0,
        }
    )


@pytest.mark.parametrize(
    "stations",
    [
        # B (node 35) is never visited: left-merge NaN filled with 0
        pd.DataFrame(
            {
                "station_id": ["Z", "A", "B"],
                "node": [1, 0, 35],
                "plugs": [1, 1, 2],
                "power_kw": 50.0,
            }
        ),
        # every station visited
        pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [1], "power_kw": [50.0]}),
        None,  # no stations at all
    ],
)
def test_station_stats_equals_planner_code(stations):
    net = grid_network(6, 6, spacing_m=2000.0)
    # the pre-2025 driver (no buffer, queue-blind, waits), so B (off the way) stays unvisited
    policy = ChargingPolicy(
        when=SocThreshold(buffer_soc=0.0, look_ahead=False), where=MinDetour(queue_aware=False)
    )
    settings = SimSettings(initial_soc=(0.05, 0.3), max_wait_s=1800.0, policy=policy)
    res = simulate(net, stations, _trips(25, 0, 30), settings=settings, seed=4)
    got = res.station_stats()
    # the same values; the counts are integers whatever the path (the former code gave
    # floats when a station was never visited)
    pd.testing.assert_frame_equal(
        got, _planner_per_station(res), check_exact=True, check_dtype=False
    )
    assert got["sessions"].dtype == got["visits"].dtype == np.int64
    assert list(got.columns) == [
        "station_id",
        "utilisation",
        "sessions",
        "visits",
        "wait_mean_min",
        "wait_p95_min",
    ]
    if stations is not None and len(stations) == 3:
        assert got.loc[got["station_id"] == "B", "sessions"].item() == 0
        assert res.sessions["station"].ge(0).any()
    if stations is not None:
        # the same count as the stations table (charged sessions), whatever balked
        table = res.stations.set_index("station_id")["sessions"]
        np.testing.assert_array_equal(
            got.set_index("station_id")["sessions"], table[got["station_id"]]
        )
        assert (got["visits"] >= got["sessions"]).all()


def test_station_stats_is_cached_and_a_copy():
    net = line_network([20_000.0] * 3, speed_kph=60.0)
    stations = pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [1], "power_kw": [50.0]})
    res = simulate(
        net, stations, _trips(12, 0, 3, 600.0), settings=SimSettings(initial_soc=(0.05, 0.4))
    )
    first = res.station_stats()
    assert first["sessions"].item() > 1 and first["wait_p95_min"].item() > 0
    first.loc[:, "sessions"] = -1
    again = res.station_stats()
    assert again["sessions"].item() > 1
    assert res._station_stats is not None


def test_station_stats_leave_out_the_warm_up_as_the_stations_table_does():
    """A visit during the warm-up counted in station_stats() (not in ``stations`` nor the
    KPIs) unless the caller cut the result to the measured period first."""
    net = line_network([10_000.0, 10_000.0], speed_kph=36.0)
    stations = pd.DataFrame({"station_id": ["S"], "node": [1], "plugs": [1], "power_kw": [50.0]})
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 0],
            "vehicle_model": "byd_atto3",
            "origin": [0, 2],
            "destination": [2, 0],
            "depart_s": [3600.0, 90000.0],  # the first leg (and its stop) in the warm-up day
            "chain_seq": [0, 1],
            "initial_soc": 0.1,
        }
    )
    settings = SimSettings(warmup_s=86400.0, initial_soc=0.1)
    res = simulate(net, stations, trips, settings=settings, seed=0)
    assert (res.sessions["station"] >= 0).any()  # the warm-up stop happened
    assert res.stations["sessions"].tolist() == [0]
    assert res.station_stats()["sessions"].tolist() == [0]
    assert res.station_stats()["visits"].tolist() == [0]
    assert res.measured().station_stats().equals(res.station_stats())
