"""FRLM conventions (``short_trips``, ``origin_charge``): the rule by hand, the model's arc
sets against the checker's tank rule on random routes, and the 25-node network under every
convention against brute force with the checker's rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner._errors import ModelInputError
from planner.siting import FRLM
from planner.siting.checker import round_trip_ok
from planner.siting.frlm.arc_cover import path_cover_sets

from .test_siting_models import _frlm_25

CONVENTIONS = list(itertools.product(("free", "cycle"), ("half", "full")))


@pytest.mark.parametrize(
    ("L", "stations", "R", "expected"),
    [
        # short trip (2L = 6 <= 8): free needs nothing; the cycle rule needs one station
        (
            3.0,
            [],
            8.0,
            {"free-half": True, "cycle-half": False, "free-full": True, "cycle-full": True},
        ),
        (
            3.0,
            [1.0],
            8.0,
            dict.fromkeys(("free-half", "cycle-half", "free-full", "cycle-full"), True),
        ),
        # L = 10, R = 12, a station at km 5: cycle stops 5, 15 (gaps 10, 10) -> refuelled
        (
            10.0,
            [5.0],
            12.0,
            dict.fromkeys(("free-half", "cycle-half", "free-full", "cycle-full"), True),
        ),
        # a station at km 7: cycle gaps 6 and 14 (across the origin) -> only a full start works
        (
            10.0,
            [7.0],
            12.0,
            {"free-half": False, "cycle-half": False, "free-full": True, "cycle-full": True},
        ),
        # no station on a long trip: 0 -> 20 is one gap of 20 > 12 even when starting full
        (
            10.0,
            [],
            12.0,
            dict.fromkeys(("free-half", "cycle-half", "free-full", "cycle-full"), False),
        ),
        # a station at km 2: full start gaps 2, 16, 2 -> too far between 2 and 18
        (
            10.0,
            [2.0],
            12.0,
            dict.fromkeys(("free-half", "cycle-half", "free-full", "cycle-full"), False),
        ),
    ],
)
def test_round_trip_rule_by_hand(L, stations, R, expected):
    route = np.unique(np.r_[0.0, L / 2, L, stations])  # stations stand at route nodes
    for key, want in expected.items():
        st, oc = key.split("-")
        got = round_trip_ok(route, np.asarray(stations, float), R, short_trips=st, origin_charge=oc)
        assert got is want, key
        # the model's arc sets say the same for the one site at those stations
        idx = np.arange(len(stations), dtype=np.int64)
        sets = path_cover_sets(
            [route],
            [np.asarray(stations, float)],
            [idx],
            R,
            short_trips=st,
            origin_charge=oc,
        )[0]
        assert (sets is None or all(s for s in sets)) is want, key


@pytest.mark.parametrize(("short_trips", "origin_charge"), CONVENTIONS)
def test_arc_sets_agree_with_the_checker_on_random_routes(short_trips, origin_charge):
    """For random routes and random open sets, 'every arc set holds an open site' (the
    model) equals the checker's gap rule, under each convention."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        k = int(rng.integers(1, 7))
        route = np.r_[0.0, np.cumsum(rng.integers(1, 6, k).astype(float))]
        on = rng.random(route.size) < 0.5
        km, idx = route[on], np.flatnonzero(on)
        R = float(rng.integers(3, 30))
        sets = path_cover_sets(
            [route], [km], [idx], R, short_trips=short_trips, origin_charge=origin_charge
        )[0]
        for open_ in itertools.chain.from_iterable(
            itertools.combinations(idx.tolist(), r) for r in range(idx.size + 1)
        ):
            model = sets is None or all(s & set(open_) for s in sets)
            here = km[np.isin(idx, open_)]
            rule = round_trip_ok(
                route, here, R, short_trips=short_trips, origin_charge=origin_charge
            )
            assert model is rule, (route.tolist(), km.tolist(), R, open_)


@pytest.mark.parametrize(("short_trips", "origin_charge"), CONVENTIONS)
def test_frlm_25_node_network_under_each_convention(data_dir, short_trips, origin_charge):
    """p = 1, 2 at R = 12 against brute force with the checker's rule under the same
    convention; p = 3 optimal, checked and monotone; the min-sites variant checked."""
    n, route_km, site_km, site_idx, flows = _frlm_25(data_dir)
    R = 12.0
    kw = dict(n_sites=n, range_km=R, short_trips=short_trips, origin_charge=origin_charge)

    cache: dict[tuple[int, tuple[int, ...]], bool] = {}
    on_route = [si.tolist() for si in site_idx]

    def ok(q: int, open_: set[int]) -> bool:
        key = (q, tuple(j for j in on_route[q] if j in open_))
        if key not in cache:
            here = [k for k, j in zip(site_km[q], on_route[q], strict=True) if j in open_]
            cache[key] = round_trip_ok(
                route_km[q],
                np.asarray(here, dtype=float),
                R,
                short_trips=short_trips,
                origin_charge=origin_charge,
            )
        return cache[key]

    def value(open_):
        return sum(f for q, f in enumerate(flows) if ok(q, set(open_)))

    prev = value([])
    for p in (1, 2, 3):
        model = FRLM.from_paths(route_km, site_km, site_idx, flows, p=p, **kw)
        res = model.solve(time_limit_s=60)
        assert res.optimal
        model.check(res)  # the checker reads the conventions from model.raw
        assert res.details["short_trips"] == short_trips
        assert res.details["origin_charge"] == origin_charge
        assert res.objective >= prev - 1e-9
        prev = res.objective
        if p <= 2:
            best = max(value(list(c)) for c in itertools.combinations(range(n), p))
            assert res.objective == pytest.approx(best, rel=1e-9)
    model = FRLM.from_paths(route_km, site_km, site_idx, flows, p=None, **kw)
    res = model.solve(time_limit_s=60)
    model.check(res)
    assert res.optimal
    # the fewest sites refuel everything all sites together can refuel
    assert res.details["refuelled_flow"] == pytest.approx(value(list(range(n))), rel=1e-9)


def test_conventions_change_the_25_node_results(data_dir):
    """The defaults keep the earlier results; the other conventions differ from them (the
    reason they are options): at R = 12, p = 1 the short-trip rule alone moves the refuelled
    share from 0.597 to 0.160, a full start to 0.638 with another site."""
    n, route_km, site_km, site_idx, flows = _frlm_25(data_dir)
    got = {}
    for st, oc in CONVENTIONS:
        res = FRLM.from_paths(
            route_km,
            site_km,
            site_idx,
            flows,
            n_sites=n,
            range_km=12.0,
            p=1,
            short_trips=st,
            origin_charge=oc,
        ).solve(time_limit_s=60)
        got[st, oc] = (round(res.objective / flows.sum(), 3), res.selected.tolist())
    default = FRLM.from_paths(
        route_km, site_km, site_idx, flows, n_sites=n, range_km=12.0, p=1
    ).solve(time_limit_s=60)
    assert (round(default.objective / flows.sum(), 3), default.selected.tolist()) == got[
        "free", "half"
    ]
    assert got["free", "half"] == (0.597, [20])
    assert got["cycle", "half"] == (0.160, [19])
    # a full start makes short trips refuellable anyway: short_trips no longer matters
    assert got["free", "full"] == got["cycle", "full"] == (0.638, [21])


def test_bad_convention_is_a_clear_error():
    with pytest.raises(ModelInputError, match="short_trips"):
        FRLM.from_paths(
            [np.array([0.0, 5.0])],
            [np.array([0.0])],
            [np.array([0])],
            [1.0],
            n_sites=1,
            range_km=4.0,
            p=1,
            short_trips="never",
        )
    with pytest.raises(ModelInputError, match="origin_charge"):
        FRLM.from_paths(
            [np.array([0.0, 5.0])],
            [np.array([0.0])],
            [np.array([0])],
            [1.0],
            n_sites=1,
            range_km=4.0,
            p=1,
            origin_charge="empty",
        )
