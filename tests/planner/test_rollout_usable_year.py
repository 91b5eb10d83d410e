"""When a vehicle model becomes usable in a staged rollout (planner.study.rollout): the first
year from which it completes >= 95 % of trips in every season, that year and every later
stage. Carmaker review, 2026-12-07: a model at 96 %, 90 %, 80 % in 2025, 2027, 2030 was
called usable "from 2025"."""

from __future__ import annotations

import math

import pandas as pd

from planner.study.rollout import _first_usable_year


def _table(shares: dict[int, tuple[float, float]]) -> pd.DataFrame:
    rows = [
        {"year": y, "vehicle_model": "car", "season": s, "share_trips_completed": v}
        for y, pair in shares.items()
        for s, v in zip(("summer", "winter"), pair, strict=True)
    ]
    return pd.DataFrame(rows)


def test_a_model_that_falls_below_later_is_not_usable_from_the_first_year():
    said = _first_usable_year(_table({2025: (1.0, 0.96), 2027: (1.0, 0.90), 2030: (1.0, 0.8)}))
    assert said["car"] == (
        "completes >= 95% of trips in every season in 2025, but below it in some season "
        "again in 2027, 2030"
    )


def test_usable_from_the_year_every_later_stage_passes():
    said = _first_usable_year(_table({2025: (0.97, 0.9), 2027: (1.0, 0.99), 2030: (1.0, 0.96)}))
    assert said["car"] == "completes >= 95% of trips in every season from 2027"
    said = _first_usable_year(_table({2025: (0.99, 0.96), 2027: (0.9, 0.99), 2030: (1, 0.96)}))
    assert said["car"] == "completes >= 95% of trips in every season from 2030"


def test_never_usable_and_unknown_shares():
    said = _first_usable_year(_table({2025: (0.5, 0.4), 2027: (0.9, math.nan)}))
    assert said["car"] == "below 95% in some season in every stage up to 2027"
    said = _first_usable_year(_table({2025: (1.0, 1.0), 2027: (1.0, math.nan)}))
    assert said["car"].startswith("completes >= 95% of trips in every season in 2025, but")
