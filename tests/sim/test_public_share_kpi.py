"""``share_public_trips_completed`` (sim.measures): of the trips that relied on public
charging, the share completed. The overall share is mostly trips that never needed a
charger (carmaker review, 2026-12-07: a model with no usable charger showed 85 %)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import sim
from sim.synthetic import line_network


def _run(stations, dest=3):
    net = line_network([20_000.0] * 3, speed_kph=60.0)
    n = 40
    trips = pd.DataFrame(
        {
            "vehicle_id": [f"v{i}" for i in range(n)],
            "origin": [0] * n,
            "destination": [dest] * n,
            "depart_s": np.linspace(0, 3600, n),
            "vehicle_model": "mitsubishi_imiev_2013",
            "chain_seq": 0,
        }
    )
    settings = sim.SimSettings(initial_soc=(0.3, 1.0), home_charging_share=0.0)
    return sim.simulate(net, stations, trips, settings=settings, seed=3)


def test_the_share_counts_only_trips_that_relied_on_public_charging():
    stations = pd.DataFrame({"station_id": ["mid"], "node": [1], "plugs": [1], "power_kw": [50.0]})
    res = _run(stations)
    k = res.kpis()
    t = res.trips[res.trips["measured"]] if "measured" in res.trips else res.trips
    relied = (t["charging_stops"] > 0) | t["strand_cause"].isin(
        ["no_charger_in_range", "queue_abandoned"]
    ) & t["status"].isin(["stranded", "abandoned"])
    assert 0 < relied.sum() < len(t)  # some drove through on their own charge
    done = ((t["charging_stops"] > 0) & (t["status"] == "completed")).sum()
    assert k["share_public_trips_completed"] == done / relied.sum()
    assert k["share_public_trips_completed"] < k["share_trips_completed"]


def test_without_chargers_the_stranded_relied_on_one_and_short_trips_on_none():
    k = _run(None).kpis()
    # no station: the cars that could not reach the destination had no charger in range
    assert k["stranded_no_charger"] > 0 and k["share_public_trips_completed"] == 0.0
    assert k["share_trips_completed"] > 0.3  # the others drove there on their own charge
    k = _run(None, dest=1).kpis()  # 20 km: every car makes it, none relied on a charger
    assert k["share_trips_completed"] == 1.0 and math.isnan(k["share_public_trips_completed"])
