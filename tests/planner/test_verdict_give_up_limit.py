"""A 95th-percentile wait at the give-up limit is a floor, not a measurement: a driver who
has queued ``simulation.balk_after_min`` leaves and the visit's wait is recorded as the
limit. The shipped Almaty study's verdict read "30.0 min (95 % CI 30.0 min to 30.0 min)"
with no word that 30 min is where the waits are cut off."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from planner.study.verdict import verdict
from tests.planner.test_closed_loop import _verdict_cfg


def _cfg(tmp_path, balk_after_min=None):
    sim = {} if balk_after_min is None else {"simulation": {"balk_after_min": balk_after_min}}
    return _verdict_cfg(tmp_path, {"wait_p95_min": 10, "stranded": 0}, **sim)


def _wait_reason(cfg, p95, low, high):
    iv = pd.DataFrame(
        {"ci_low": [low, 0.0], "ci_high": [high, 0.0], "n": [3, 3]},
        index=["wait_p95_min", "stranded_vehicles"],
    )
    kpis = {"wait_p95_min": p95, "stranded_vehicles": 0.0}
    out = verdict(cfg, kpis, SimpleNamespace(iterations=[{"iteration": 1}]), iv)
    assert out["status"] == "missed"
    return next(r for r in out["reasons"] if r.startswith("95th percentile wait"))


def test_a_p95_wait_at_the_give_up_limit_is_called_a_floor(tmp_path):
    reason = _wait_reason(_cfg(tmp_path), 30.0, 30.0, 30.0)
    assert reason.startswith(
        "95th percentile wait is 30.0 min (95 % CI 30.0 min to 30.0 min), above the target "
        "of 10.0 min: that is the give-up limit (simulation.balk_after_min, 30 min)"
    )
    assert "the real 95th percentile is longer still" in reason
    # the limit is the study's own, not a constant
    reason = _wait_reason(_cfg(tmp_path, balk_after_min=45), 45.0, 45.0, 45.0)
    assert "(simulation.balk_after_min, 45 min)" in reason


def test_a_p95_wait_below_the_limit_is_a_measurement(tmp_path):
    reason = _wait_reason(_cfg(tmp_path), 25.3, 21.0, 29.5)
    assert reason == (
        "95th percentile wait is 25.3 min (95 % CI 21.0 min to 29.5 min), above the target "
        "of 10.0 min"
    )
    reason = _wait_reason(_cfg(tmp_path, balk_after_min=45), 30.0, 30.0, 30.0)
    assert "give-up limit" not in reason


def test_a_value_within_its_target_missed_on_the_bound_says_so(tmp_path):
    """A sampled rollout stage read "95th percentile wait is 3.1 min (95 % CI 0.0 min to
    16.2 min), above the target of 10.0 min": the value is within, its bound is not."""
    cfg = _cfg(tmp_path)
    iv = pd.DataFrame(
        {"ci_low": [0.0, 0.0], "ci_high": [16.2, 0.0], "n": [4, 4]},
        index=["wait_p95_min", "stranded_vehicles"],
    )
    kpis = {"wait_p95_min": 3.1, "stranded_vehicles": 0.0, "demand_expansion_factor": 286.0}
    out = verdict(cfg, kpis, SimpleNamespace(iterations=[{"iteration": 1}]), iv)
    wait = next(r for r in out["reasons"] if r.startswith("95th percentile wait"))
    assert wait == (
        "95th percentile wait is 3.1 min (95 % CI 0.0 min to 16.2 min), within the target of "
        "10.0 min on its mean but not on its upper 95 % bound (runs of a sample of the fleet "
        "cannot confirm it: simulate the whole fleet, leaving out demand.max_trips)"
    )
    # a stranded target of 0 is read as fewer than one, and the sentence says so
    iv.loc["stranded_vehicles", ["ci_low", "ci_high"]] = [0.0, 1.5]
    out = verdict(cfg, {**kpis, "stranded_vehicles": 0.6}, SimpleNamespace(iterations=[{}]), iv)
    stranded = next(r for r in out["reasons"] if r.startswith("Stranded vehicles"))
    assert "within the target of 0 vehicles (read as fewer than one a measured period)" in (
        stranded
    )
    entry = next(t for t in out["targets"] if t["kpi"] == "wait_p95_min")
    assert entry["within_on_value"] and not entry["met"]


def test_a_share_interval_near_100_percent_shows_its_real_bounds(tmp_path):
    """A completed share's interval read "(95 % CI 99.8 % to 100.0 %)" for an upper bound of
    99.996 %: a bound that is not 100 % gets the decimals that show it (one precision for
    both bounds), not a "> 99.9 %" mark, which would read as a comparison inside a range."""
    cfg = _verdict_cfg(tmp_path, {"trips_completed_share": 0.9999, "stranded": None})
    iv = pd.DataFrame(
        {"ci_low": [0.998], "ci_high": [0.99996], "n": [3]}, index=["share_trips_completed"]
    )
    kpis = {"share_trips_completed": 0.9991}
    out = verdict(cfg, kpis, SimpleNamespace(iterations=[{"iteration": 1}]), iv)
    share = next(r for r in out["reasons"] if "completed" in r)
    assert "(95 % CI 99.800 % to 99.996 %)" in share, share
    assert "100.0 %" not in share
