"""The exact fast path (issue 15): ``engine="fast"`` gives the same tables and KPIs, value
for value, as the all-SimPy reference ``engine="full"``."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import SimSettings, simulate
from sim.synthetic import grid_network
from tests.sim.test_sim_properties import scenarios

_CLASS_JAM = {
    "motorway": [1.0] * 7 + [1.8] * 3 + [1.2] * 14,
    "local": [1.0] * 7 + [1.3] * 3 + [1.1] * 14,
}


def assert_same_results(a, b) -> None:
    """Every table equal (exact floats, same row order) and every KPI equal (NaN == NaN)."""
    for name in ("trips", "sessions", "station_timeseries", "stations", "vehicles"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    ka, kb = a.kpis(), b.kpis()
    assert ka.keys() == kb.keys()
    for key, x in ka.items():
        y = kb[key]
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), key


def _both(net, stations, trips, cfg: SimSettings, seed: int):
    fast = simulate(
        net, stations, trips, settings=dataclasses.replace(cfg, engine="fast"), seed=seed
    )
    full = simulate(
        net, stations, trips, settings=dataclasses.replace(cfg, engine="full"), seed=seed
    )
    return fast, full


@st.composite
def fast_scenarios(draw):
    net, stations, trips, cfg, seed = draw(scenarios())
    trips = trips.copy()
    if draw(st.booleans()):  # whole minutes: many vehicles leave at the same instant
        trips["depart_s"] = (trips["depart_s"] // 60.0) * 60.0
    kw: dict = {}
    if draw(st.booleans()):
        kw["time_factors"] = draw(st.sampled_from([_CLASS_JAM, tuple([1.3] * 24)]))
    if draw(st.booleans()):
        kw["horizon_s"] = draw(st.sampled_from([2 * 3600.0, 6 * 3600.0, 9 * 3600.0]))
    return net, stations, trips, dataclasses.replace(cfg, **kw), seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fast_scenarios())
def test_fast_path_equals_full_engine(scenario):
    net, stations, trips, cfg, seed = scenario
    fast, full = _both(net, stations, trips, cfg, seed)
    assert_same_results(fast, full)
    t = fast.timings
    assert t["vehicles_settled"] + t["vehicles_as_events"] == len(fast.vehicles)
    assert fast.events <= full.events


def test_most_vehicles_are_settled_and_queues_still_couple_the_others():
    """A city-like day: most vehicles never need a public charger (settled without events),
    a low-charge minority queues at one single-plug station; both paths agree exactly."""
    net = grid_network(8, 8, spacing_m=800.0)
    rng = np.random.default_rng(5)
    n_veh = 120
    rows = []
    for v in range(n_veh):
        nodes = rng.integers(0, 64, 4)
        nodes[-1] = nodes[0]
        t0 = float(rng.integers(6 * 60, 10 * 60)) * 60.0
        for k in range(3):
            rows.append((v, "byd_atto3", nodes[k], nodes[k + 1], t0 + k * 3 * 3600.0, k))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    trips["initial_soc"] = np.where(np.arange(len(trips)) // 3 % 10 == 0, 0.12, 0.85)
    stations = pd.DataFrame({"station_id": ["hub"], "node": [27], "plugs": [1], "power_kw": [50.0]})
    cfg = SimSettings(home_charging_share=0.5, time_factors=_CLASS_JAM)
    fast, full = _both(net, stations, trips, cfg, 3)
    assert_same_results(fast, full)
    settled = fast.timings["vehicles_settled"]
    assert 0.8 * n_veh <= settled < n_veh
    assert (fast.sessions["wait_s"] > 0).any()  # the queue coupled the event vehicles
    assert fast.events < 0.3 * full.events


class _FiveArgWhen:
    """A custom *when* policy without look-ahead (five arguments): the fast path calls it
    per vehicle instead of evaluating it as arrays."""

    def needs_charge(self, energy_kwh, capacity_kwh, leg_kwh, trip_start, has_home):
        return energy_kwh - leg_kwh < 0.3 * capacity_kwh


def test_custom_when_policy_takes_the_scalar_route_and_agrees():
    from sim import ChargingPolicy

    net, stations, trips, cfg, seed = _small_city()
    cfg = dataclasses.replace(cfg, policy=ChargingPolicy(when=_FiveArgWhen()))
    fast, full = _both(net, stations, trips, cfg, seed)
    assert_same_results(fast, full)
    assert 0 < fast.timings["vehicles_settled"] < len(fast.vehicles)


def _small_city():
    net = grid_network(6, 6, spacing_m=900.0)
    rng = np.random.default_rng(9)
    rows = []
    for v in range(40):
        nodes = rng.integers(0, 36, 3)
        nodes[-1] = nodes[0]
        for k in range(2):
            rows.append((v, "byd_atto3", nodes[k], nodes[k + 1], 8 * 3600.0 + k * 4 * 3600.0, k))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    stations = pd.DataFrame({"station_id": ["a"], "node": [14], "plugs": [1], "power_kw": [50.0]})
    return net, stations, trips, SimSettings(initial_soc=(0.25, 0.9), home_charging_share=0.5), 4
