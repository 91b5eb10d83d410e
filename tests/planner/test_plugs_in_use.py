"""Plugs in use after the warm-up count every charged session, a warm-up trip's included
(code review of 2026-12-07: the loop trimmed a plug a warm-up trip held while a measured
trip waited, and the trimmed plan's measured trip waited 30 min). Synthetic line network."""

from __future__ import annotations

import pandas as pd

from planner.study.sizing import plugs_in_use_max
from sim import SimSettings, simulate
from sim.synthetic import line_network

DAY = 86_400.0
NET = line_network([10_000.0, 10_000.0], speed_kph=36.0)  # synthetic


def _trips(departs: list[float]) -> pd.DataFrame:
    n = len(departs)
    return pd.DataFrame(
        {"vehicle_id": list(range(n)), "vehicle_model": "byd_atto3", "origin": [0] * n,
         "destination": [2] * n, "depart_s": departs, "chain_seq": [0] * n,
         "initial_soc": 0.1}
    )  # fmt: skip


def test_a_warm_up_trip_charging_into_the_measured_days_holds_a_plug():
    st = pd.DataFrame({"station_id": ["S"], "node": [1], "plugs": [2], "power_kw": [50.0]})
    s = SimSettings(warmup_s=DAY, measure_end_s=2 * DAY)
    res = simulate(NET, st, _trips([DAY - 600.0, DAY + 100.0]), settings=s)
    assert plugs_in_use_max(res.measured().sessions).to_dict() == {"S": 1.0}  # the old read
    assert plugs_in_use_max(res.sessions, since_s=DAY).to_dict() == {"S": 2.0}
    # with one plug (the trim the old read allowed) the measured trip waits
    one = simulate(NET, st.assign(plugs=1), _trips([DAY - 600.0, DAY + 100.0]), settings=s)
    assert one.kpis()["wait_p95_min"] > res.kpis()["wait_p95_min"]


def test_sessions_ended_before_the_warm_up_do_not_count():
    st = pd.DataFrame({"station_id": ["S"], "node": [1], "plugs": [2], "power_kw": [50.0]})
    res = simulate(NET, st, _trips([3_600.0, 3_700.0]), settings=SimSettings(warmup_s=DAY))
    assert plugs_in_use_max(res.sessions).to_dict() == {"S": 2.0}
    assert plugs_in_use_max(res.sessions, since_s=DAY).empty
