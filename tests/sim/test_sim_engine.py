"""Engine internals: columnar records, the event count through SimPy's public API, the
reversed-network cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import SimSettings
from sim.catalogue import builtin_models
from sim.inputs import validate_stations, validate_trips
from sim.model import Engine
from sim.records import SessionLog, TripLog
from sim.synthetic import line_network


def test_logs_keep_row_order_and_dtypes():
    log = TripLog()
    assert len(log) == 0 and log.column("k").dtype == np.int64
    log.add(3, 0.0, float("nan"), 2, 0.0, 0.0, 10.0, 10.0, 0, 0.0, 0.0)
    log.add(1, 5, 7.5, 0, 100.0, 1.5, 10.0, 8.5, 1, 2.0, 3.0)
    assert len(log) == 2
    assert log.column("k").tolist() == [3, 1]
    assert log.column("departed_s").dtype == np.float64
    assert np.isnan(log.column("arrived_s")[0])
    ses = SessionLog()
    ses.add(0, 1, -1, 0.0, 0.0, 60.0, 1.0, 2.0, False, -1, 0.0, 0.0)
    ses.add(0, 1, np.int64(2), 0.0, 5.0, 60.0, 1.0, 2.0, True, 4, 1.0, 2.0)
    assert ses.column("balked").tolist() == [False, True]
    assert ses.column("station").tolist() == [-1, 2]
    with pytest.raises(KeyError):
        ses.column("nope")


def test_events_are_counted_through_the_public_schedule():
    """One vehicle, one leg departing at 100 s: process start, wait for the departure, the
    leg, process end = 4 scheduled events."""
    net = line_network([10_000.0], speed_kph=60.0)
    trips = pd.DataFrame(
        {
            "vehicle_id": [0],
            "vehicle_model": ["byd_atto3"],
            "origin": [0],
            "destination": [1],
            "depart_s": [100.0],
            "chain_seq": [0],
        }
    )
    vehicles = builtin_models()
    settings = SimSettings(home_charging_share=0.0, engine="full")
    eng = Engine(
        net,
        validate_stations(net, None, ac_dc_threshold_kw=settings.ac_dc_threshold_kw),
        validate_trips(net, trips, vehicles),
        vehicles,
        settings,
        np.random.default_rng(0),
    )
    eng.run()
    assert eng.events == 4
    assert eng.trip_log.column("departed_s").tolist() == [100.0]
    assert eng.trip_log.column("arrived_s")[0] == pytest.approx(100.0 + 600.0, rel=0.2)


def test_reversed_network_is_cached_without_touching_the_network():
    import gc

    from sim import routes

    net = line_network([1000.0, 2000.0], speed_kph=60.0)
    before = dict(vars(net))
    rt = routes.RouteTables(net, np.array([0, 1, 2]), np.array([2]))
    assert vars(net).keys() == before.keys()
    rev = routes._reversed(net)
    assert routes._reversed(net) is rev
    assert rt.to_t[0, 0] == pytest.approx(180.0)  # 3 km at 60 km/h, towards the station
    n = len(routes._REVERSED)
    del net, rt, rev
    gc.collect()
    assert len(routes._REVERSED) == n - 1
