"""p-median at scale: Beasley's instance generator and the branch-and-bound on the
Lagrangian bound, against brute force (the heavy n = 500-900 instances are in
``benchmarks/bench_siting.py``)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse import csgraph

from planner.siting import PMedian, check_result
from planner.siting.instances.orlib import beasley_pmed
from planner.siting.pmedian.branch import lagrangian_branch_and_bound
from planner.siting.pmedian.lagrange import evaluate


def test_beasley_generator_builds_the_documented_graph():
    inst = beasley_pmed(100, 5, seed=3)
    again = beasley_pmed(100, 5, seed=3)
    assert inst.name == "beasley-n100-p5-s3" and inst.n == 100 and inst.p == 5
    np.testing.assert_array_equal(inst.cost, again.cost)  # a function of the seed
    assert not np.array_equal(inst.cost, beasley_pmed(100, 5, seed=4).cost)
    D = inst.cost
    assert np.isfinite(D).all() and (np.diag(D) == 0).all()  # connected
    np.testing.assert_array_equal(D, D.T)
    assert (D == np.round(D)).all() and D[~np.eye(100, dtype=bool)].min() >= 1
    # shortest paths: the triangle inequality holds everywhere
    assert (D[:, :, None] <= D[:, None, :] + D.T[None, :, :] + 1e-9).all()
    # the pairs whose distance is shorter than any path through a third vertex are edges; with
    # 100**2 // 50 = 200 edges drawn (some pairs twice, some edges not shortest) the
    # graph of those pairs is connected and has at most 200 edges, lengths 1..100
    direct = np.ones_like(D, dtype=bool)
    for k in range(100):
        through = D[:, [k]] + D[[k], :]
        mask = np.ones(100, dtype=bool)
        mask[k] = False
        direct[np.ix_(mask, mask)] &= D[np.ix_(mask, mask)] < through[np.ix_(mask, mask)]
    np.fill_diagonal(direct, False)
    edges = np.argwhere(np.triu(direct))
    assert 99 <= edges.shape[0] <= 200
    assert D[direct].max() <= 100
    g = sparse.coo_matrix((D[direct], np.nonzero(direct)), shape=D.shape).tocsr()
    assert csgraph.connected_components(g, directed=False)[0] == 1
    with pytest.raises(ValueError):
        beasley_pmed(10, 0, seed=0)


@pytest.mark.parametrize("seed", range(4))
def test_branch_and_bound_matches_brute_force(seed):
    """The branch-and-bound alone (from the root, a poor incumbent, no reductions before)
    finds the brute-force optimum and proves it."""
    inst = beasley_pmed(30, 4, seed=seed, edges=45)
    WD = inst.cost
    best = min(evaluate(WD, np.array(c)) for c in itertools.combinations(range(30), 4))
    cols = np.arange(30, dtype=np.int64)
    poor = np.array([0, 1, 2, 3], dtype=np.int64)
    out = lagrangian_branch_and_bound(
        WD,
        cols[:0],
        cols,
        4,
        WD.min(axis=1) + 1.0,
        (poor, evaluate(WD, poor)),
        tol=1 - 1e-7,
        deadline=time.monotonic() + 60,
        root_bound=-np.inf,
    )
    assert out.proven and out.value == best and out.bound == best
    assert out.open_cols.size == 4 and evaluate(WD, out.open_cols) == best
    assert out.nodes >= 1


def test_branch_and_bound_reports_a_valid_bound_when_stopped():
    inst = beasley_pmed(60, 5, seed=1, edges=90)
    WD = inst.cost
    cols = np.arange(60, dtype=np.int64)
    poor = np.arange(5, dtype=np.int64)
    out = lagrangian_branch_and_bound(
        WD,
        cols[:0],
        cols,
        5,
        WD.min(axis=1),
        (poor, evaluate(WD, poor)),
        tol=1 - 1e-7,
        deadline=time.monotonic() - 1.0,  # already past: the root bound is all it has
        root_bound=100.0,
    )
    assert not out.proven and out.bound == 100.0 and out.value == evaluate(WD, poor)


def _solve_generated(n: int, p: int, seed: int) -> str:
    """Solve a generated instance through the default path; proven optimal, checked
    independently and confirmed by the HiGHS residual solve; returns the solver name."""
    inst = beasley_pmed(n, p, seed=seed)
    model = PMedian.from_cost_matrix(inst.cost, p=p)
    res = model.solve(time_limit_s=60, threads=2)
    assert res.optimal, res.message
    check_result("pmedian", model.raw, res)
    other = model.solve(time_limit_s=60, threads=2, solver="highs")
    assert other.optimal and other.objective == res.objective
    return res.solver


@pytest.mark.parametrize(("n", "p", "seed"), [(200, 5, 1), (300, 5, 2)])
def test_pmedian_on_generated_instances_proven_and_checked(n, p, seed):
    _solve_generated(n, p, seed)


def test_generated_instance_needs_and_passes_the_branch_and_bound():
    """n = 150, p = 10 (seed 3) leaves a residual after the reductions and the root's
    interchange polish: the default path solves it with the branch-and-bound (not HiGHS)
    and proves the optimum HiGHS confirms."""
    assert _solve_generated(150, 10, 3) == "lagrangian-bnb"


def _brute_force(WD: np.ndarray, forced: np.ndarray, cand: np.ndarray, p: int) -> float:
    """Best objective with ``forced`` open and ``p`` more of ``cand``, by enumeration."""
    base = WD[:, forced].min(axis=1) if forced.size else np.full(WD.shape[0], np.inf)
    combos = np.array(list(itertools.combinations(cand.tolist(), p)), dtype=np.int64)
    # rows x combos: each row's cheapest column in the combination, vectorised
    served = np.minimum(base[:, None], WD[:, combos].min(axis=2))
    return float(served.sum(axis=0).min())


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(8, 22),
    p=st.integers(1, 4),
    n_forced=st.integers(0, 2),
    metric=st.booleans(),
    strong_k=st.sampled_from([0, 1, 4]),
)
# strong branching fixed open more columns than the node could still open (p_left < 0),
# and the node's dual then crashed on an empty column set
@example(seed=255, n=12, p=3, n_forced=0, metric=False, strong_k=4)
def test_branch_and_bound_equals_brute_force_property(seed, n, p, n_forced, metric, strong_k):
    """On random instances (shortest-path or arbitrary integer costs, some columns forced
    open, poor incumbent, every strong-branching setting) the search proves the
    brute-force optimum; its answer opens exactly the forced columns plus ``p``."""
    rng = np.random.default_rng(seed)
    if metric:
        WD = beasley_pmed(n, 1, seed=seed, edges=2 * n).cost
    else:
        WD = rng.integers(1, 60, size=(n, n)).astype(np.float64)
        WD *= rng.integers(1, 4, size=(n, 1))  # row weights
    cols = rng.permutation(n).astype(np.int64)
    forced, cand = np.sort(cols[:n_forced]), cols[n_forced:]
    p = min(p, cand.size - 1)
    best = _brute_force(WD, forced, cand, p)
    poor = np.concatenate([forced, cand[:p]])
    out = lagrangian_branch_and_bound(
        WD,
        forced,
        cand,
        p,
        np.zeros(n),
        (poor, evaluate(WD, poor)),
        tol=1 - 1e-7,
        deadline=time.monotonic() + 60,
        root_bound=-np.inf,
        strong_k=strong_k,
    )
    assert out.proven and out.value == best and out.bound == best
    assert evaluate(WD, out.open_cols) == best
    assert np.isin(forced, out.open_cols).all()
    assert np.unique(out.open_cols).size == forced.size + p


@pytest.mark.parametrize("budget", [0.0, 0.02, 0.1, 0.5])
def test_branch_and_bound_stopped_early_keeps_valid_bounds(budget):
    """Stopped at any point, the result is honest: a feasible solution whose value is
    at least the optimum, and a bound at most the optimum (the true gap)."""
    inst = beasley_pmed(40, 4, seed=11, edges=60)
    WD = inst.cost
    cols = np.arange(40, dtype=np.int64)
    best = _brute_force(WD, cols[:0], cols, 4)
    poor = np.arange(4, dtype=np.int64)
    out = lagrangian_branch_and_bound(
        WD,
        cols[:0],
        cols,
        4,
        np.zeros(40),
        (poor, evaluate(WD, poor)),
        tol=1 - 1e-7,
        deadline=time.monotonic() + budget,
        root_bound=-np.inf,
    )
    assert out.bound <= best <= out.value == evaluate(WD, out.open_cols)
    assert out.open_cols.size == 4
    if out.proven:
        assert out.value == best


def test_pmedian_time_limited_stop_is_feasible_with_its_true_gap():
    """Through the model: a limit too short to finish reports FEASIBLE, a bound below
    the proven optimum and the gap between them, and passes ``check_result``."""
    inst = beasley_pmed(150, 10, seed=3)
    model = PMedian.from_cost_matrix(inst.cost, p=10)
    exact = model.solve(time_limit_s=60)
    assert exact.optimal
    short = model.solve(time_limit_s=0.05)
    check_result("pmedian", model.raw, short)
    assert short.objective >= exact.objective and short.best_bound <= exact.objective
    if not short.optimal:
        assert short.status == "FEASIBLE"
        gap = (short.objective - short.best_bound) / short.objective
        assert short.gap == pytest.approx(gap)
