"""AETR driving-time rules (sim.driving_rules) on their own and inside the engine.

The invariants are checked on the simulated timeline (the engine's drive log), independently
of the clock's own bookkeeping: every gap between driving intervals is a pause, whatever
filled it (a charging stop, a queue, an inserted break or rest).
"""

from __future__ import annotations

import dataclasses
import gc
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import SimSettings, builtin_models
from sim._errors import VehicleSpecError
from sim.driving_rules import AETR, DRIVE, DriverClock, DrivingRules, diesel_elapsed_s
from sim.inputs import validate_stations, validate_trips
from sim.model import Engine
from sim.results import build_result
from sim.synthetic import line_network

H = 3600.0
EPS = 1e-3


@pytest.fixture(scope="module", autouse=True)
def _collect_engines():
    """Engines are reference cycles (processes hold the engine): collect this module's many
    hypothesis engines here, not in a later test that counts weak references."""
    yield
    gc.collect()


def test_aetr_limits_are_the_agreements():
    """UNECE AETR art. 6-8: 4.5 h driving then a 45-min break, 9 h daily driving, 11 h
    daily rest within 24 h of the previous one."""
    assert AETR.max_stint_s == 4.5 * H
    assert AETR.break_s == 45 * 60
    assert AETR.daily_drive_s == 9 * H
    assert AETR.daily_rest_s == 11 * H
    assert AETR.duty_s == 13 * H


def test_diesel_elapsed_by_hand():
    # 20 h of driving: 4.5 + B + 4.5 | rest | 4.5 + B + 4.5 | rest | 2 -> 20 + 2 x 0.75 + 2 x 11
    assert diesel_elapsed_s(20 * H) == pytest.approx(43.5 * H)
    assert diesel_elapsed_s(4.5 * H) == pytest.approx(4.5 * H)  # exactly one stint: no break
    assert diesel_elapsed_s(4.6 * H) == pytest.approx(4.6 * H + 0.75 * H)
    assert diesel_elapsed_s(9 * H) == pytest.approx(9.75 * H)
    assert diesel_elapsed_s(0.0) == 0.0


@given(st.floats(0.0, 80 * H))
def test_clock_matches_diesel_formula(drive):
    clock = DriverClock(AETR)
    assert clock.drive(0.0, drive) == pytest.approx(float(diesel_elapsed_s(drive)), abs=1e-6)


def test_charging_stop_is_a_break():
    clock = DriverClock(AETR)
    clock.drive(0.0, 4.0 * H)
    assert clock.stopped(4.0 * H, 4.0 * H + 50 * 60, next_drive_s=3 * H) == 0.0  # 50 min >= 45
    assert clock.stint_s == 0.0 and clock.day_s == pytest.approx(4 * H)
    # 20 min at a charger after 3 h with 3 h to go: the driver stays 25 min more
    clock = DriverClock(AETR)
    clock.drive(0.0, 3.0 * H)
    assert clock.stopped(3 * H, 3 * H + 1200, next_drive_s=3 * H) == pytest.approx(1500)
    assert clock.stint_s == 0.0 and clock.break_s == pytest.approx(1500)
    # ... but not after 1 h of driving (half a driving period not reached)
    clock = DriverClock(AETR)
    clock.drive(0.0, 1.0 * H)
    assert clock.stopped(H, H + 1200, next_drive_s=6 * H) == 0.0
    assert clock.stint_s == pytest.approx(H)


def test_bad_rules_and_flags_are_refused():
    with pytest.raises(VehicleSpecError, match="max_stint_s"):
        DrivingRules(max_stint_s=-1.0)
    car = builtin_models()["byd_atto3"]
    with pytest.raises(VehicleSpecError, match="trucks only"):
        dataclasses.replace(car, driving_rules="aetr")
    truck = builtin_models()["mercedes_eactros_600"]
    with pytest.raises(VehicleSpecError, match="unknown"):
        dataclasses.replace(truck, driving_rules="eu561")


# --------------------------------------------------------------------------- engine


def check_timeline(drive_log, n_veh: int, rules: DrivingRules = AETR) -> int:
    """Assert the rules on every vehicle's driving intervals; returns the intervals checked."""
    v = drive_log.column("v")
    kind = drive_log.column("kind")
    t0, t1 = drive_log.column("start_s"), drive_log.column("end_s")
    n = 0
    for veh in range(n_veh):
        sel = (v == veh) & (kind == DRIVE)
        a, b = t0[sel], t1[sel]
        order = np.argsort(a, kind="stable")
        a, b = a[order], b[order]
        assert np.all(b >= a - EPS)
        assert np.all(a[1:] >= b[:-1] - EPS)  # no overlap: one driver, one truck
        stint = day = 0.0
        duty_start = a[0] if a.size else 0.0
        for i in range(a.size):
            if i:
                gap = a[i] - b[i - 1]
                if gap >= rules.daily_rest_s - EPS:
                    stint = day = 0.0
                    duty_start = a[i]
                elif gap >= rules.break_s - EPS:
                    stint = 0.0
            stint += b[i] - a[i]
            day += b[i] - a[i]
            assert stint <= rules.max_stint_s + EPS, f"vehicle {veh}: stint {stint / H:.3f} h"
            assert day <= rules.daily_drive_s + EPS, f"vehicle {veh}: day {day / H:.3f} h"
            assert b[i] - duty_start <= rules.duty_s + EPS, f"vehicle {veh}: duty day too long"
            n += 1
    return n


def _aetr_models():
    cat = builtin_models()
    return {
        k: dataclasses.replace(m, driving_rules="aetr") if m.category == "truck" else m
        for k, m in cat.items()
    }


@st.composite
def truck_scenarios(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_edges = draw(st.integers(2, 6))
    lengths = [draw(st.sampled_from([60e3, 150e3, 250e3, 400e3])) for _ in range(n_edges)]
    net = line_network(lengths, speed_kph=draw(st.sampled_from([70.0, 90.0])))
    n = n_edges + 1
    n_st = draw(st.integers(0, 4))
    stations = pd.DataFrame(
        {
            "station_id": [f"s{i}" for i in range(n_st)],
            "node": rng.integers(0, n, n_st),
            "plugs": [draw(st.integers(1, 2)) for _ in range(n_st)],
            "power_kw": [draw(st.sampled_from([150.0, 400.0, 1000.0])) for _ in range(n_st)],
        }
    )
    trucks = sorted(k for k, m in builtin_models().items() if m.category == "truck")
    rows = []
    for veh in range(draw(st.integers(1, 6))):
        legs = draw(st.integers(1, 2))
        nodes = [int(x) for x in rng.choice([0, n - 1], 1)] + [
            int(x) for x in rng.integers(0, n, legs)
        ]
        departs = np.sort(rng.uniform(0, 30 * H, legs))
        model = draw(st.sampled_from(trucks))
        for k in range(legs):
            rows.append((veh, model, nodes[k], nodes[k + 1], departs[k], k))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    cfg = SimSettings(
        ambient_temp_c=draw(st.sampled_from([-20.0, 20.0])),
        initial_soc=draw(st.sampled_from([0.3, 0.9, 1.0])),
        max_wait_s=draw(st.sampled_from([math.inf, 1800.0])),
    )
    return net, stations, trips, cfg, seed


def _engine(net, stations, trips, cfg, seed, vehicles):
    st_ = validate_stations(net, stations, ac_dc_threshold_kw=cfg.ac_dc_threshold_kw)
    tr = validate_trips(net, trips, vehicles)
    eng = Engine(net, st_, tr, vehicles, cfg, np.random.default_rng(seed))
    eng.run()
    return eng


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truck_scenarios())
def test_aetr_holds_on_simulated_truck_trips(sc):
    """No driving stint over 4.5 h without a 45-min pause, at most 9 h driving between daily
    rests, each duty day within 13 h; pauses recorded per trip; the rules only add time."""
    net, stations, trips, cfg, seed = sc
    vehicles = _aetr_models()
    eng = _engine(net, stations, trips, cfg, seed, vehicles)
    check_timeline(eng.drive_log, eng.n_veh)
    res = build_result(eng)
    t = res.trips
    assert (t["break_s"].fillna(0) >= -EPS).all() and (t["rest_s"].fillna(0) >= -EPS).all()
    done = t["status"] == "completed"
    # a completed leg lasts at least its driving, its stops and its pauses
    lasted = t.loc[done, "arrived_s"] - t.loc[done, "departed_s"]
    parts = t.loc[done, ["wait_s", "charge_s", "break_s", "rest_s"]].sum(axis=1)
    assert (lasted + EPS >= parts).all()
    # without queues (shared plugs reorder trucks), the rules only add time: the same run
    # without them never arrives later
    free = stations.assign(plugs=1000)
    ruled = build_result(_engine(net, free, trips, cfg, seed, vehicles)).trips
    plain = build_result(_engine(net, free, trips, cfg, seed, builtin_models())).trips
    both = (ruled["status"] == "completed") & (plain["status"] == "completed")
    assert (plain.loc[both, "arrived_s"] <= ruled.loc[both, "arrived_s"] + EPS).all()
    assert (plain["break_s"].fillna(0) == 0).all()


def test_long_transit_takes_breaks_and_rests():
    """A 2,000 km leg with 1 MW chargers every 250 km: the truck charges and rests, and the
    timeline meets the rules."""
    net = line_network([250e3] * 8, speed_kph=80.0)
    stations = pd.DataFrame(
        {
            "station_id": [f"s{i}" for i in range(1, 8)],
            "node": list(range(1, 8)),
            "plugs": 2,
            "power_kw": 1000.0,
            "connectors": "MCS",
        }
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": [0],
            "vehicle_model": ["mercedes_eactros_600"],
            "origin": [0],
            "destination": [8],
            "depart_s": [6 * H],
            "chain_seq": [0],
        }
    )
    cfg = SimSettings(initial_soc=1.0)
    eng = _engine(net, stations, trips, cfg, 1, _aetr_models())
    assert check_timeline(eng.drive_log, 1) >= 5
    t = build_result(eng).trips.iloc[0]
    assert t["status"] == "completed"
    assert t["rest_s"] == pytest.approx(2 * 11 * H)  # 25 h of driving: two daily rests
    assert t["charging_stops"] >= 2
    drive = 2000.0 / 80.0 * H
    assert t["arrived_s"] - t["departed_s"] >= float(diesel_elapsed_s(drive)) - EPS
