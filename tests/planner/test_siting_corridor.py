"""Round-trip refuelability (FRLM coverage) against a direct fuel-tank simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.study.optimize_corridor import round_trip_refuelable


def _drivable_by_tank(stations: list[float], length: float, range_km: float) -> bool:
    """Drive o -> d -> o repeatedly: refill to full at every station, start with some tank
    f0 and require the trip to be repeatable (arrive home with at least f0 again)."""
    stops = sorted(set(min(max(s, 0.0), length) for s in stations))
    if not stops:  # no station: one round trip on a battery charged at home
        return 2 * length <= range_km
    legs = [*stops, *[2 * length - s for s in reversed(stops)]]  # positions on the loop
    for f0 in np.linspace(0, range_km, 401):
        fuel, pos, ok = f0, 0.0, True
        for x in legs:
            fuel -= x - pos
            if fuel < -1e-9:
                ok = False
                break
            fuel, pos = range_km, x
        fuel -= 2 * length - pos
        if ok and fuel >= f0 - 1e-6:
            return True
    return False


@settings(max_examples=500, deadline=None)
@given(
    length=st.floats(1, 500),
    range_km=st.floats(10, 300),
    stations=st.lists(st.floats(0, 500), max_size=6),
)
def test_rule_matches_tank_simulation(length, range_km, stations):
    stations = [s for s in stations if s <= length]
    # away from the exact boundary the discretised f0 search is exact enough
    want = _drivable_by_tank(stations, length, range_km)
    got = round_trip_refuelable(np.array(stations), length, range_km)
    if got != want:
        km = sorted(stations)
        margins = (
            [range_km - 2 * length]
            if not km
            else [range_km - 2 * km[0], range_km - 2 * (length - km[-1]), *(range_km - np.diff(km))]
        )
        assert min(abs(m) for m in margins) < 2 * range_km / 400  # only ties at the boundary differ


def test_examples():
    assert round_trip_refuelable(np.array([]), 40, 100)
    assert not round_trip_refuelable(np.array([]), 60, 100)
    assert round_trip_refuelable(np.array([50, 140]), 190, 100)
    assert not round_trip_refuelable(np.array([50, 160]), 190, 100)  # 110 km gap


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_frlm_cover_sets_agree_with_the_refuelling_rule(data):
    """With every site fixed open, the arc-cover model covers exactly the refuellable trips."""
    from planner.siting.frlm.arc_cover import solve_frlm

    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    n_routes, range_km = data.draw(st.integers(1, 6)), data.draw(st.floats(20, 200))
    route_km, site_km, site_idx = [], [], []
    n_sites = 0
    for _ in range(n_routes):
        km = np.concatenate([[0.0], np.cumsum(rng.uniform(5, 80, rng.integers(1, 8)))])
        on = rng.random(km.size) < 0.5
        route_km.append(km)
        site_km.append(km[on])
        site_idx.append(np.arange(n_sites, n_sites + on.sum()))
        n_sites += int(on.sum())
    sol = solve_frlm(
        route_km,
        site_km,
        site_idx,
        np.ones(n_routes),
        max(n_sites, 1),
        range_km=range_km,
        fixed=np.arange(n_sites),
        p=0,
        time_limit_s=10,
        threads=1,
    )
    want = [
        round_trip_refuelable(s, km[-1], range_km) for s, km in zip(site_km, route_km, strict=True)
    ]
    assert sol.covered.tolist() == want


def test_frlm_small_instance_optimal_by_enumeration():
    """A synthetic 3-route corridor: the p-site optimum equals brute-force enumeration."""
    import itertools

    from planner.siting.frlm.arc_cover import solve_frlm

    rng = np.random.default_rng(7)
    route_km = [np.concatenate([[0.0], np.cumsum(rng.uniform(10, 40, 9))]) for _ in range(3)]
    site_km = [km for km in route_km]
    site_idx = [np.arange(10) + 10 * r for r in range(3)]
    flows = np.array([5.0, 3.0, 2.0])
    for p in (1, 2, 3, 4):
        sol = solve_frlm(
            route_km, site_km, site_idx, flows, 30, range_km=90, fixed=np.array([], dtype=int), p=p
        )
        best = 0.0
        for combo in itertools.combinations(range(30), p):
            got = sum(
                f
                for f, km, idx in zip(flows, route_km, site_idx, strict=True)
                if round_trip_refuelable(km[np.isin(idx, combo)], km[-1], 90)
            )
            best = max(best, got)
        assert sol.status == "OPTIMAL" and sol.objective == pytest.approx(best)
