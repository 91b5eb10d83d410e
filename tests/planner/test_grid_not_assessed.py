"""Grid upgrades are "not assessed" (NaN: shown as — and written null) when no station has
a known grid capacity: "0 kW, 0 cost" read as "no upgrade needed" (a review found the cargo
study's 232 MW of truck bays shown with a grid upgrade of 0, with no capacity data)."""

from __future__ import annotations

import math

import pandas as pd

from planner.study.grid_step import upgrade_kpis


def test_no_known_capacity_is_not_assessed():
    fitted = pd.DataFrame({"grid_kw": [math.inf, math.inf], "upgrade_kw": [0.0, 0.0]})
    k = upgrade_kpis(fitted, 0.0)
    assert math.isnan(k["grid_upgrade_kw"]) and math.isnan(k["grid_upgrade_cost"])
    assert all(math.isnan(v) for v in upgrade_kpis(pd.DataFrame(), 0.0).values())


def test_a_known_capacity_gives_the_upgrade_even_when_it_is_zero():
    fitted = pd.DataFrame({"grid_kw": [150.0, math.inf], "upgrade_kw": [50.0, 0.0]})
    assert upgrade_kpis(fitted, 7500.0) == {"grid_upgrade_kw": 50.0, "grid_upgrade_cost": 7500.0}
    ample = pd.DataFrame({"grid_kw": [5000.0], "upgrade_kw": [0.0]})
    assert upgrade_kpis(ample, 0.0) == {"grid_upgrade_kw": 0.0, "grid_upgrade_cost": 0.0}
