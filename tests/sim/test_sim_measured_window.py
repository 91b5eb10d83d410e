"""What the measured period counts (a review of the shipped studies, 2026-12-07):

* a charging visit counts with its trip: the cargo study counted the stops of trucks that
  left in the warm-up day (a third more sessions and energy than its measured trucks
  charged, more CO2 from charging than from all their km);
* the time measures (utilisation, busy hours, peaks, time series) are the plug time busy
  within ``[warmup_s, measure_end_s]`` over that window: Almaty's trips after midnight
  made one measured day a two-day span and halved every utilisation.

Synthetic line networks (not real roads).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import SimSettings, simulate
from sim.settings import SimSettingsError
from sim.synthetic import line_network

DAY = 86_400.0
# 36 km/h: 10 km legs of 1,000 s; the station half-way (node 1)
NET = line_network([10_000.0, 10_000.0], speed_kph=36.0)
STATION = pd.DataFrame({"station_id": ["S"], "node": [1], "plugs": [1], "power_kw": [50.0]})


def _trips(departs: list[float]) -> pd.DataFrame:
    """One vehicle per departure, node 0 -> 2, starting nearly empty: each stops at S."""
    n = len(departs)
    return pd.DataFrame(
        {
            "vehicle_id": list(range(n)),
            "vehicle_model": "byd_atto3",
            "origin": [0] * n,
            "destination": [2] * n,
            "depart_s": departs,
            "chain_seq": [0] * n,
            "initial_soc": 0.1,
        }
    )


def _busy_in(sessions: pd.DataFrame, lo: float, hi: float) -> float:
    ch = sessions[(sessions["station"] >= 0) & (sessions["status"] == "charged")]
    return float(
        (np.clip(ch["end_s"].to_numpy(), lo, hi) - np.clip(ch["start_s"].to_numpy(), lo, hi)).sum()
    )


def test_a_warm_up_trips_stop_after_the_warm_up_is_not_measured():
    # leaves 500 s before the warm-up ends, reaches the station 500 s after it
    res = simulate(NET, STATION, _trips([DAY - 500.0]), settings=SimSettings(warmup_s=DAY))
    pub = res.sessions[res.sessions["station"] >= 0]
    assert len(pub) == 1 and pub["arrive_s"].item() > DAY  # the stop is after the warm-up
    assert not pub["measured"].item()  # ... of a warm-up trip
    k = res.kpis()
    assert k["trips"] == 0 and k["sessions_public"] == 0 and k["energy_public_kwh"] == 0
    assert res.stations["sessions"].tolist() == [0]
    assert res.stations["energy_kwh"].tolist() == [0.0]
    assert res.station_stats()["visits"].tolist() == [0]


def test_a_measured_trips_stop_counts_however_late():
    # the last measured day's trip leaves before the window ends and charges after it
    end = 2 * DAY
    s = SimSettings(warmup_s=DAY, measure_end_s=end)
    res = simulate(NET, STATION, _trips([end - 500.0]), settings=s)
    pub = res.sessions[res.sessions["station"] >= 0]
    assert pub["measured"].item() and pub["start_s"].item() > end
    assert res.kpis()["sessions_public"] == 1
    assert res.stations["sessions"].tolist() == [1]
    # ... but its plug time is outside the window: no utilisation in it
    assert res.stations["utilisation"].item() == 0.0
    assert res.kpis()["plug_utilisation"] == 0.0


def test_utilisation_is_busy_time_in_the_window_over_its_length():
    end = 2 * DAY
    # one warm-up stop across the window's start, one measured stop inside, one measured
    # stop after its end (the day's trips after midnight)
    departs = [DAY - 1_500.0, DAY + 36_000.0, end - 500.0]
    s = SimSettings(warmup_s=DAY, measure_end_s=end)
    res = simulate(NET, STATION, _trips(departs), settings=s)
    ses = res.sessions
    ch = ses[(ses["station"] >= 0) & (ses["status"] == "charged")]
    assert len(ch) == 3
    first = ch.sort_values("start_s").iloc[0]
    assert first["start_s"] < DAY < first["end_s"]  # the warm-up stop spans the start
    want = _busy_in(ses, DAY, end) / DAY
    assert 0 < want
    assert res.stations["utilisation"].item() == pytest.approx(want, rel=1e-12)
    assert res.stations["busy_h"].item() == pytest.approx(want * 24.0, rel=1e-12)
    assert res.kpis()["plug_utilisation"] == pytest.approx(want, rel=1e-12)
    # the time series covers the window, and its busy plug time is the same
    ts = res.station_timeseries
    assert ts["t_s"].min() == DAY and ts["t_s"].max() < end
    step = s.timeseries_step_s
    assert (ts["busy_plugs"].sum() * step) == pytest.approx(want * DAY, rel=1e-9)
    # arrivals: the measured stop inside only (the others arrive outside the window)
    assert int(ts["arrivals"].sum()) == 1
    # the old measure: charging of sessions arriving after the warm-up over the whole
    # span (to the last session's end) -- a different, smaller figure here
    span = res.span_s
    assert span > end
    old = _busy_in(ses[ses["arrive_s"] >= DAY], 0.0, np.inf) / (span - DAY)
    assert res.kpis()["plug_utilisation"] != pytest.approx(old, rel=1e-3)


def test_without_an_end_the_window_is_the_planned_days():
    """No measure_end_s (an OD table's study, sim.simulate's default): whole days up to the
    last planned departure, not the span to the last late arrival (a trip leaving before
    midnight made a one-day run a two-day span)."""
    res = simulate(NET, STATION, _trips([3_600.0, DAY - 500.0]), settings=SimSettings())
    assert res.span_s > DAY  # the last stop runs past midnight
    want = _busy_in(res.sessions, 0.0, DAY) / DAY
    assert res.kpis()["plug_utilisation"] == pytest.approx(want, rel=1e-12)
    assert res.stations["utilisation"].item() == pytest.approx(want, rel=1e-12)
    assert res.station_timeseries["t_s"].max() < DAY


@pytest.mark.parametrize("bad", [0.0, DAY, float("nan"), float("inf"), -1.0])
def test_a_bad_end_is_refused(bad):
    with pytest.raises(SimSettingsError, match="measure_end_s"):
        SimSettings(warmup_s=DAY, measure_end_s=bad)


@pytest.mark.parametrize("end", [1_200.0, 1_900.0, 2 * DAY + 450.0])
def test_the_time_series_ends_where_the_utilisation_window_does(end):
    """A window whose length is no multiple of the 15-min step: the series' last bin ends
    at the window's end (it was rounded to the nearest step: busy 0 where utilisation was
    0.167 over [0, 1200], 800 s of busy time against the summary's 900)."""
    s = SimSettings(measure_end_s=end)
    departs = [0.0, 300.0, end - 1_000.0] if end > DAY else [0.0, 300.0]
    res = simulate(NET, STATION, _trips(departs), settings=s)
    ts = res.station_timeseries
    width = np.diff(np.r_[ts["t_s"].to_numpy(), end])
    busy_ts = float((ts["busy_plugs"].to_numpy() * width).sum())
    assert busy_ts == pytest.approx(res.stations["busy_h"].item() * 3600.0, rel=1e-9, abs=1e-6)
    assert busy_ts == pytest.approx(_busy_in(res.sessions, 0.0, end), rel=1e-9, abs=1e-6)
    assert busy_ts > 0
    inside = res.sessions[(res.sessions["station"] >= 0) & (res.sessions["arrive_s"] < end)]
    assert int(ts["arrivals"].sum()) == len(inside)


def test_cool_down_trips_load_the_stations_but_are_not_counted():
    """A study's cool-down day: trips departing at or after measure_end_s are simulated (a
    measured trip's late stop meets them) but not counted; their plug time inside the
    window is (a time measure)."""
    end = 2 * DAY
    s = SimSettings(warmup_s=DAY, measure_end_s=end)
    # a measured trip leaving just before the end, a cool-down trip just after it: at the
    # one plug the measured trip charges first and the cool-down trip waits behind it
    res = simulate(NET, STATION, _trips([end - 300.0, end + 100.0]), settings=s)
    trips = res.trips.set_index("vehicle_id")
    assert trips.loc[0, "measured"] and not trips.loc[1, "measured"]
    ses = res.sessions[res.sessions["station"] >= 0].set_index("vehicle_id")
    assert ses.loc[0, "measured"] and not ses.loc[1, "measured"]
    assert ses.loc[1, "wait_s"] > 0  # the cool-down trip met the measured one's charge
    k = res.kpis()
    assert k["trips"] == 1 and k["sessions_public"] == 1
    assert len(res.measured().trips) == 1
    # no warm-up, an end: the cut still happens
    s0 = SimSettings(measure_end_s=DAY)
    res0 = simulate(NET, STATION, _trips([DAY - 300.0, DAY + 100.0]), settings=s0)
    assert res0.kpis()["trips"] == 1 and len(res0.measured().trips) == 1
