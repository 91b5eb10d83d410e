"""The fast path's station choice (``StopsMixin._pick``, issue 15) against the reference
(``_choice`` + ``MinDetour.choose``), decision by decision, on synthetic grids with random
occupancy, energy, direct time and stations already tried.

The end-to-end equality tests (``test_sim_fast.py``) reach the queue-aware branch only
where their scenarios make it matter; here every branch is drawn directly: stations out of
reach or not, the best station free or full, expected waits below or above the detour
slack, stations already tried."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim import ChargingPolicy, MinDetour, SimSettings
from sim.catalogue import builtin_models
from sim.inputs import validate_stations, validate_trips
from sim.model import Engine
from sim.synthetic import grid_network


def _engine(seed: int, plugs: list[int], policy: MinDetour) -> Engine:
    """A prepared (not run) fast-path engine on a synthetic 6 x 6 grid."""
    rng = np.random.default_rng(seed)
    net = grid_network(6, 6, spacing_m=1500.0)
    n = 36
    nodes = rng.choice(n, len(plugs), replace=False)
    stations = pd.DataFrame(
        {
            "station_id": [f"s{i}" for i in range(len(plugs))],
            "node": nodes,
            "plugs": plugs,
            "power_kw": 50.0,
        }
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": range(n),
            "vehicle_model": "byd_atto3",
            "origin": range(n),
            "destination": (np.arange(n) * 7 + 5) % n,
            "depart_s": 3600.0,
            "chain_seq": 0,
        }
    )
    vehicles = builtin_models()
    cfg = SimSettings(engine="fast", policy=ChargingPolicy(where=policy))
    st_ = validate_stations(net, stations, ac_dc_threshold_kw=cfg.ac_dc_threshold_kw)
    tr = validate_trips(net, trips, vehicles)
    eng = Engine(net, st_, tr, vehicles, cfg, np.random.default_rng(seed))
    eng._init_waits()
    return eng


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0 * inf in MinDetour
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_pick_equals_the_reference_choice(seed):
    # every value from one drawn seed (uniform over the ranges; hypothesis' own draws
    # cluster on simple values and rarely reach a station outside the "near" set)
    rng = np.random.default_rng(seed)
    n_st = int(rng.integers(2, 8))
    plugs = [int(p) for p in rng.choice([1, 2, 4], n_st)]
    policy = MinDetour(
        # (inf is accepted by MinDetour: 0 * inf = nan for a free station, as in its vector
        # expression; nan is refused)
        session_s=float(rng.choice([1800.0, 300.0, 900.0, 0.0, np.inf])),
        max_extra_detour_s=float(rng.choice([600.0, 0.0, 1200.0, 60.0])),
    )
    eng = _engine(int(rng.integers(0, 2**16)), plugs, policy)
    assert eng._fast_where() is policy
    cap, prow = eng.v_cap[0], eng.routes.prow
    for _ in range(5):
        present = rng.integers(0, 7, n_st)
        for s, p in enumerate(present.tolist()):
            # as the fast path does at every change of occupancy
            eng._occupy(s, p - int(eng.st_present[s]))
        cur, dest = (int(prow[x]) for x in rng.integers(0, 36, 2))
        energy, t_direct = float(rng.uniform(2.0, 60.0)), float(rng.uniform(0.0, 3000.0))
        tried = set(rng.integers(0, n_st, int(rng.integers(0, 3))).tolist())
        got = eng._pick(0, cur, dest, t_direct, 0.0, energy, cap, set(tried), policy)[0]
        c = eng._choice(0, cur, dest, t_direct, 0.0, energy, cap, set(tried))
        ref = int(eng.where(c))
        event(_branch(c, present, eng.st_plugs, ref))
        assert got == ref


def _branch(c, present, plugs, ref: int) -> str:
    """Which branch of MinDetour.choose the reference took (for the coverage events)."""
    finish = c.allowed & (c.e_to <= c.energy_kwh) & (c.t_to < np.inf) & (c.t_from < np.inf)
    finish &= c.e_from <= c.capacity_kwh - c.reserve_kwh
    d_fin = np.where(finish, c.t_to + c.t_from - c.t_direct, np.inf)
    best = int(d_fin.argmin())
    if d_fin[best] == np.inf:
        return "no station to finish"
    if present[best] < plugs[best]:
        return "best station free"
    return "queue-aware: " + ("other station" if ref != best else "best kept")


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0 * inf in MinDetour
def test_a_float32_detour_allowance_gives_the_reference_choice(monkeypatch):
    """A numpy float32 ``max_extra_detour_s`` whose limit falls between a station's detour
    in float64 and in float32 (found by review): the fast choice must still be the
    reference's (it summed a Python float and the float32 in float32, while MinDetour sums
    in float64). Synthetic grid with non-round edge times, so detours are not whole."""
    import sys

    plain = grid_network
    monkeypatch.setattr(
        sys.modules[__name__],
        "grid_network",
        lambda nx, ny, spacing_m: plain(nx, ny, spacing_m=1234.567, speed_kph=37.0),
    )
    checked = 0
    for seed in range(6):
        base = _engine(seed, [1] * 5, MinDetour())
        cap, pos, net = base.v_cap[0], base.routes.positions, base.routes.network
        for a in range(len(pos)):
            for b2 in range(len(pos)):
                t_direct = float(net.travel_time_matrix([pos[a]], [pos[b2]])[0, 0])
                if not 0 < t_direct < np.inf:
                    continue
                c = base._choice(0, a, b2, t_direct, 0.0, 50.0, cap, set())
                fin = c.allowed & (c.e_to <= 50.0) & (c.t_to < np.inf) & (c.t_from < np.inf)
                fin &= c.e_from <= cap - c.reserve_kwh
                if fin.sum() < 2:
                    continue
                d = np.where(fin, c.t_to + c.t_from - t_direct, np.inf)
                b = int(d.argmin())
                for j in np.flatnonzero(fin & (d > d[b])):
                    x = np.float32(d[j] - d[b])
                    if float(x) < d[j] - d[b]:
                        x = np.nextafter(x, np.float32(np.inf))
                    # station j is "near" in float64 but not with a float32 sum
                    if not (d[j] <= d[b] + x and d[j] > d.item(b) + x):
                        continue
                    pol = MinDetour(max_extra_detour_s=x)
                    assert type(pol.max_extra_detour_s) is float
                    eng = _engine(seed, [1] * 5, pol)
                    eng._occupy(b, 3 - int(eng.st_present[b]))
                    got = eng._pick(0, a, b2, t_direct, 0.0, 50.0, cap, set(), pol)[0]
                    ref = int(eng.where(eng._choice(0, a, b2, t_direct, 0.0, 50.0, cap, set())))
                    assert got == ref, (seed, a, b2, j)
                    checked += 1
                    if checked == 5:
                        return
    assert checked > 0  # the case was constructed at least once
