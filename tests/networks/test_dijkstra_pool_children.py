"""A worker of another process pool (sim.replicate, the study's vehicle comparison) computes
its Dijkstra serially: a pool of its own would keep it from exiting (multiprocessing waits
for a worker's children, and no atexit handler stops the pool there)."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import networks._dijkstra_pool as pool
from sim.synthetic import grid_network


def _pool_in_child(_: int) -> bool:
    return pool._get_pool(2) is not None


def _matrix_in_child(_: int) -> np.ndarray:
    net = grid_network(8, 8)
    return net.travel_time_matrix(np.arange(64), np.arange(0, 64, 3))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_pool_worker_gets_no_dijkstra_pool_and_exits(monkeypatch):
    monkeypatch.setenv("EVPLAN_THREADS", "2")
    monkeypatch.setattr(pool, "MIN_PARALLEL_VALUES", 0)  # (inherited by the children)
    assert pool._get_pool(2) is not None  # this process may have one
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        assert list(ex.map(_pool_in_child, range(2))) == [False, False]
        # a matrix that would use the pool here is computed serially there, and the
        # workers still exit (the with-block would hang otherwise)
        got = list(ex.map(_matrix_in_child, range(2)))
    want = grid_network(8, 8).travel_time_matrix(np.arange(64), np.arange(0, 64, 3))
    for g in got:
        np.testing.assert_array_equal(g, want)
