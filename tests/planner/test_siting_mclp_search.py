"""MCLP iterated search: exact pair exchanges, local optima, never past the optimum.

All instances here are synthetic (random, made up), checked against brute force.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.siting._covering import covered_weight, greedy_cover
from planner.siting.mclp import search as search_module
from planner.siting.mclp.search import PairSearch, iterated_search
from tests.planner.test_siting_mclp_bounds import _instance


@st.composite
def p_instances(draw):
    """Random coverage matrices (every group covered) with a site count p < J."""
    K = draw(st.integers(2, 25))
    J = draw(st.integers(3, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    G = rng.random((K, J)) < draw(st.floats(0.1, 0.6))
    G[np.arange(K), rng.integers(0, J, K)] = True
    w = rng.integers(1, 20, K).astype(float)
    p = draw(st.integers(1, J - 1))
    return G, w, p


def _value(G, w, s) -> float:
    return float(w[G[:, list(s)].any(axis=1)].sum()) if len(s) else 0.0


@settings(max_examples=80, deadline=None)
@given(p_instances(), st.integers(0, 3), st.booleans())
def test_best_pair_is_the_brute_force_best_pair_to_add(data, top_exp, pooled):
    G, w, p = data
    inst = _instance(G, w)
    J = G.shape[1]
    # a small shortlist forces the doubling path of the certificate
    old = search_module.TOP
    search_module.TOP = 2**top_exp
    try:
        rng = np.random.default_rng(J * 31 + p)
        pool = np.sort(rng.choice(J, max(2, J - 2), replace=False)) if pooled else None
        s = PairSearch(inst, pool)
        keep = np.arange(max(0, p - 2))
        i, j, add = s.best_pair(keep, s.counts(keep))
    finally:
        search_module.TOP = old
    allowed = set(range(J) if pool is None else pool.tolist()) - set(keep.tolist())
    base = _value(G, w, keep)
    best = max(
        (_value(G, w, list(keep) + [a, b]) - base for a, b in itertools.combinations(allowed, 2)),
        default=-np.inf,
    )
    if best == -np.inf:
        assert i < 0
        return
    assert add == pytest.approx(best)
    assert {i, j} <= allowed and i != j
    assert _value(G, w, list(keep) + [i, j]) - base == pytest.approx(add)


@settings(max_examples=60, deadline=None)
@given(p_instances())
def test_pair_search_ends_at_a_two_exchange_local_optimum(data):
    G, w, p = data
    inst = _instance(G, w)
    J = G.shape[1]
    start = greedy_cover(inst, np.ones(J), p=p, budget=None)
    sel, val = PairSearch(inst).run(start, deadline=time.monotonic() + 30, seed=1)
    assert val == pytest.approx(covered_weight(inst, sel))
    assert sel.size == start.size and len(set(sel.tolist())) == sel.size
    assert val >= covered_weight(inst, start)
    # no exchange of one or two sites covers more
    rest = [j for j in range(J) if j not in set(sel.tolist())]
    for k in (1, 2):
        for out in itertools.combinations(sel.tolist(), k):
            keep = [j for j in sel.tolist() if j not in out]
            for inn in itertools.combinations(rest, k):
                assert _value(G, w, keep + list(inn)) <= val + 1e-9


@settings(max_examples=30, deadline=None)
@given(p_instances(), st.integers(0, 2**31 - 1))
def test_iterated_search_is_feasible_never_beats_brute_force_and_often_meets_it(data, seed):
    G, w, p = data
    inst = _instance(G, w)
    J = G.shape[1]
    opt = max(_value(G, w, s) for s in itertools.combinations(range(J), p))
    # a start with fewer sites than p is completed greedily
    start = greedy_cover(inst, np.ones(J), p=max(0, p - 1), budget=None)
    sel, val, figures = iterated_search(
        inst, start, p=p, deadline=time.monotonic() + 0.1, seed=seed
    )
    assert val == pytest.approx(covered_weight(inst, sel))
    assert sel.size <= p and len(set(sel.tolist())) == sel.size
    assert val <= opt + 1e-9
    assert figures["search_objective"] == val


@pytest.mark.parametrize("seed", range(6))
def test_iterated_search_finds_the_optimum_of_small_instances(seed):
    """On 40 x 12 instances the search meets brute force (p = 3 uses pair exchanges, p = 8
    the 1-swap descent); the stall rule ends it (the deadline is only a guard, so the
    answer depends on the seed alone, not on the machine's load)."""
    rng = np.random.default_rng(seed)
    G = rng.random((40, 12)) < 0.25
    G[np.arange(40), rng.integers(0, 12, 40)] = True
    w = rng.integers(1, 50, 40).astype(float)
    inst = _instance(G, w)
    for p in (3, 8):
        opt = max(_value(G, w, s) for s in itertools.combinations(range(12), p))
        start = greedy_cover(inst, np.ones(12), p=p, budget=None)
        t0 = time.monotonic()
        sel, val, figures = iterated_search(inst, start, p=p, deadline=t0 + 60, seed=seed)
        assert figures["search_iterations"] < 10_000  # stopped by the stall rule
        assert val == opt


def test_the_pool_limits_the_sites_that_may_enter():
    rng = np.random.default_rng(3)
    G = rng.random((60, 15)) < 0.3
    G[np.arange(60), rng.integers(0, 15, 60)] = True
    inst = _instance(G, rng.integers(1, 9, 60).astype(float))
    pool = np.arange(5, 15)
    start = np.array([0, 1, 2])
    sel, _, _ = iterated_search(
        inst, start, p=3, deadline=time.monotonic() + 0.3, seed=0, pool=pool
    )
    # sites outside the pool can only stay from the start, never enter
    assert set(sel.tolist()) <= set(pool.tolist()) | {0, 1, 2}


def test_the_search_is_reproducible_from_its_seed():
    rng = np.random.default_rng(11)
    G = rng.random((80, 20)) < 0.2
    G[np.arange(80), rng.integers(0, 20, 80)] = True
    inst = _instance(G, rng.integers(1, 30, 80).astype(float))
    start = greedy_cover(inst, np.ones(20), p=6, budget=None)
    runs = [
        iterated_search(inst, start, p=6, deadline=time.monotonic() + 60, seed=5) for _ in range(2)
    ]
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][2] == runs[1][2]
