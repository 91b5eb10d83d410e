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


def test_hand_counted_trips_with_every_kind_of_exclusion():
    """A trips table set by hand: each kind of trip the definition names, counted by hand."""
    import dataclasses

    from sim.measures import compute_kpis

    res = _run(pd.DataFrame({"station_id": ["mid"], "node": [1], "plugs": [1], "power_kw": [50.0]}))
    rows = [  # (status, strand_cause, charging_stops, measured)
        ("completed", "", 1, True),  # charged on the way: relied, completed
        ("completed", "", 2, True),
        ("completed", "", 1, True),
        ("completed", "", 0, True),  # on its own charge: not relied
        ("completed", "", 0, True),
        ("stranded", "no_charger_in_range", 0, True),  # no charger in range: relied
        ("abandoned", "queue_abandoned", 1, True),  # gave up at a queue: relied
        ("stranded", "started_below_reach", 0, True),  # the car's own state: not relied
        ("cancelled", "no_charger_in_range", 0, True),  # after a stranding: counted once
        ("stranded", "no_road_path", 0, True),  # no charger could help
        ("completed", "", 1, False),  # a warm-up day: not measured
    ]
    trips = res.trips.head(len(rows)).copy()
    for col, values in zip(
        ("status", "strand_cause", "charging_stops", "measured"),
        zip(*rows, strict=True),
        strict=True,
    ):
        trips[col] = (
            pd.Categorical(values, categories=trips[col].cat.categories)
            if hasattr(trips[col], "cat")
            else list(values)
        )
    trips["depart_s"] = 0.0
    k = compute_kpis(dataclasses.replace(res, trips=trips, _kpis=None))
    assert k["trips"] == 10  # the warm-up row left out
    assert k["share_public_trips_completed"] == 3 / 5  # relied: 3 charged + 2 failed
    assert k["share_trips_completed"] == 5 / 10
