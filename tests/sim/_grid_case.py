"""The small synthetic case the API audit tests share: a 5 x 5 grid (not a real network),
two stations and three trips of two vehicles."""

from __future__ import annotations

import pandas as pd

from sim.synthetic import grid_network

NET = grid_network(5, 5, spacing_m=1000.0)  # synthetic 5 x 5 grid, not a real network
STATIONS = pd.DataFrame(
    {"station_id": ["a", "b"], "node": [0, 5], "plugs": [1, 1], "power_kw": [50.0, 150.0]}
)
TRIPS = pd.DataFrame(
    {
        "vehicle_id": [0, 0, 1],
        "vehicle_model": "byd_atto3",
        "origin": [0, 24, 0],
        "destination": [24, 0, 24],
        "depart_s": [0.0, 3600.0, 10.0],
        "chain_seq": [0, 1, 0],
    }
)
