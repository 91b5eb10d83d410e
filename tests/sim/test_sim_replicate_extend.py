"""A replication series can be extended run for run (``sim.replicate(..., start=)``): the
design loop adds replications without repeating the runs already made."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.synthetic import grid_network


def test_extending_a_series_equals_running_it_whole():
    net = grid_network(6, 6)
    stations = pd.DataFrame({"station_id": ["s0"], "node": [7], "plugs": [1], "power_kw": [50.0]})
    trips = pd.DataFrame(
        {
            "vehicle_id": np.arange(6),
            "vehicle_model": "mitsubishi_imiev_2013",
            "origin": [0, 5, 10, 20, 30, 35],
            "destination": [35, 30, 25, 15, 5, 0],
            "depart_s": [8 * 3600.0] * 6,
            "chain_seq": 0,
        }
    )
    settings = sim.SimSettings(initial_soc=(0.2, 0.8))
    kw = dict(replications=5, settings=settings, seed=3, return_runs=True)
    _, whole = sim.replicate(net, stations, trips, **kw)
    _, head = sim.replicate(net, stations, trips, **{**kw, "replications": 2})
    _, tail = sim.replicate(net, stations, trips, **kw, start=2)
    pd.testing.assert_frame_equal(pd.concat([head, tail], ignore_index=True), whole)
    from sim._errors import SimSettingsError

    with pytest.raises(SimSettingsError, match="start = 5"):
        sim.replicate(net, stations, trips, **kw, start=5)
