"""Fastest-route blocks computed in worker processes (``networks._dijkstra_pool``) equal the
in-process ones bit for bit: times, lengths and the road-class split, whatever the split of
the sources (synthetic random networks)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal

import networkx as nx
import numpy as np
import pytest

import networks._dijkstra_pool as pool
from networks.road_network import RoadNetwork

_CLASSES = ("motorway", "primary", "secondary", "residential")


def _random_network(seed: int, n: int = 120) -> RoadNetwork:
    """A synthetic strongly connected road graph with mixed road classes and one-ways."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(name=f"synthetic random {seed}")
    G.graph["crs"] = "EPSG:4326"
    for i in range(n):
        G.add_node(i, x=76.9 + rng.uniform(0, 0.1), y=43.2 + rng.uniform(0, 0.1))

    def edge(a: int, b: int) -> None:
        length = float(rng.uniform(50, 3000))
        speed = float(rng.choice([20.0, 40.0, 60.0, 90.0]))
        G.add_edge(
            a,
            b,
            length=length,
            speed_kph=speed,
            travel_time=length / (speed / 3.6),
            highway=str(rng.choice(_CLASSES)),
            oneway=True,
            osmid=len(G.edges),
        )

    for i in range(n):  # a ring keeps it strongly connected
        edge(i, (i + 1) % n)
    for _ in range(4 * n):
        a, b = rng.integers(0, n, 2)
        if a != b:
            edge(int(a), int(b))
    return RoadNetwork.from_graph(G, name=f"synthetic random {seed}")


_FORK = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")


def _spy(monkeypatch) -> list[bool]:
    """Records, per call of route_matrices, whether the worker processes computed it."""
    called: list[bool] = []
    real = pool.route_blocks_in_pool

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        called.append(out is not None)
        return out

    monkeypatch.setattr("networks.road_network.route_blocks_in_pool", spy)
    return called


@_FORK
@pytest.mark.parametrize(("seed", "all_dst", "result_values"), [(1, False, None), (2, True, 600)])
def test_pooled_route_matrices_equal_in_process(monkeypatch, seed, all_dst, result_values):
    net = _random_network(seed)
    org = np.r_[np.arange(net.n_nodes), 5, 5]  # (duplicate origins are computed once)
    dst = None if all_dst else np.arange(0, net.n_nodes, 3)
    monkeypatch.setenv("EVPLAN_THREADS", "1")
    want = net.route_matrices(org, dst, by_class=True, cutoff=200.0)
    assert np.isinf(want[0]).any() and np.isfinite(want[0]).any()  # the cutoff bites

    monkeypatch.setenv("EVPLAN_THREADS", "2")
    monkeypatch.setattr(pool, "MIN_PARALLEL_VALUES", 0)
    monkeypatch.setattr(pool, "ROUTE_TASK_VALUES", 7 * 5 * net.n_nodes)  # 7-source sub-blocks
    if result_values is not None:  # many small tasks instead of two per worker
        monkeypatch.setattr(pool, "ROUTE_RESULT_VALUES", result_values)
    called = _spy(monkeypatch)
    got = net.route_matrices(org, dst, by_class=True, cutoff=200.0)
    assert called == [True]  # the worker processes computed it
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_pool_not_used_for_small_blocks(monkeypatch):
    net = _random_network(3, n=30)
    src = np.arange(net.n_nodes)
    assert src.size * net.n_nodes < pool.MIN_PARALLEL_VALUES
    assert (
        pool.route_blocks_in_pool(net.time, [net.length], src, src, limit=np.inf, workers=2) is None
    )


@_FORK
def test_an_error_of_the_computation_is_raised_not_recomputed(monkeypatch):
    net = _random_network(4, n=40)
    monkeypatch.setattr(pool, "MIN_PARALLEL_VALUES", 0)
    src = np.array([0, 1, 10_000])  # out of range: scipy raises in the worker
    with pytest.raises(ValueError, match="indices out of range"):
        pool.route_blocks_in_pool(net.time, [net.length], src, None, limit=np.inf, workers=2)


@_FORK
def test_a_broken_pool_falls_back_to_this_process(monkeypatch, caplog):
    net = _random_network(5, n=60)
    org = np.arange(net.n_nodes)
    monkeypatch.setenv("EVPLAN_THREADS", "1")
    want = net.route_matrices(org, org)
    monkeypatch.setenv("EVPLAN_THREADS", "2")
    monkeypatch.setattr(pool, "MIN_PARALLEL_VALUES", 0)
    ex = pool._get_pool(2)
    assert ex is not None
    ex.submit(os.getpid).result()  # (its workers are up)
    for pid in list(ex._processes):  # a worker killed (e.g. by the OOM killer)
        os.kill(pid, signal.SIGKILL)
    called = _spy(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="networks._dijkstra_pool"):
        got = net.route_matrices(org, org)
    assert called == [False]
    assert "computing in this process" in caplog.text
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    # the next call gets a fresh pool
    assert pool._get_pool(2) is not None and pool._get_pool(2) is not ex
