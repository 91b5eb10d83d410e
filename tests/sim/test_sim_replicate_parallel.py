"""Replications in parallel (issue 15): a forked process pool gives the same runs, in the
same order, as one process; route tables are reused across calls on the same network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim._errors import SimSettingsError
from sim.api import replication_workers
from sim.routes import shared_tables
from sim.synthetic import grid_network


def _inputs():
    net = grid_network(6, 6)
    stations = pd.DataFrame({"station_id": ["s0"], "node": [7], "plugs": [1], "power_kw": [50.0]})
    rng = np.random.default_rng(8)
    n = 12
    trips = pd.DataFrame(
        {
            "vehicle_id": np.arange(n),
            "vehicle_model": "mitsubishi_imiev_2013",
            "origin": rng.integers(0, 36, n),
            "destination": rng.integers(0, 36, n),
            "depart_s": np.sort(rng.uniform(7 * 3600, 9 * 3600, n)),
            "chain_seq": 0,
        }
    )
    return net, stations, trips


def test_one_or_two_workers_give_the_same_runs():
    net, stations, trips = _inputs()
    settings = sim.SimSettings(initial_soc=(0.1, 0.6))
    out = {}
    for w in (1, 2):
        kept: list = []
        _, runs = sim.replicate(
            net,
            stations,
            trips,
            replications=4,
            settings=settings,
            seed=11,
            return_runs=True,
            workers=w,
            on_run=lambda i, res, kept=kept: kept.append((i, res.trips, res.sessions)),
        )
        out[w] = (runs, kept)
    pd.testing.assert_frame_equal(out[1][0], out[2][0], check_exact=True)
    assert [i for i, _, _ in out[1][1]] == [i for i, _, _ in out[2][1]] == [0, 1, 2, 3]
    for (_, t1, s1), (_, t2, s2) in zip(out[1][1], out[2][1], strict=True):
        pd.testing.assert_frame_equal(t1, t2, check_exact=True)
        pd.testing.assert_frame_equal(s1, s2, check_exact=True)
    assert out[1][0]["sessions_public"].sum() > 0  # the runs did exercise the station


def test_worker_count_rules():
    assert replication_workers(3, 8) == 3  # never more processes than runs
    assert replication_workers(5, 1) == 1
    assert 1 <= replication_workers(100) <= 100
    with pytest.raises(SimSettingsError, match="workers"):
        replication_workers(3, 0)


@pytest.mark.parametrize("value", ["abc", "-3", "0"])
def test_bad_evplan_sim_workers_is_a_config_error_naming_it(monkeypatch, value):
    """``EVPLAN_SIM_WORKERS=abc`` escaped as a ValueError from ``int()`` (an "internal
    error" in the CLI) and ``-3`` became 1 silently; now a ConfigError names the variable,
    its value and the fix."""
    from networks.errors import ConfigError

    monkeypatch.setenv("EVPLAN_SIM_WORKERS", value)
    with pytest.raises(ConfigError, match=f"EVPLAN_SIM_WORKERS={value!r}.*whole number >= 1"):
        replication_workers(3)
    monkeypatch.setenv("EVPLAN_SIM_WORKERS", "2")
    assert replication_workers(3, trips=10**6) in (1, 2)  # 1 in a daemonic/Dask process


def test_route_tables_are_reused_across_calls():
    net, stations, trips = _inputs()
    nodes = np.r_[trips["origin"].to_numpy(), trips["destination"].to_numpy()]
    a = shared_tables(net, nodes, np.array([7]))
    assert shared_tables(net, nodes[:5], np.array([7])) is a  # covered: reused
    assert shared_tables(net, nodes, np.array([8])) is not a  # other stations
    b = shared_tables(net, nodes, np.array([7]), by_class=True)
    assert b is not a and b.by_class
    assert shared_tables(net, nodes, np.array([7])) is b  # the split tables serve both


def test_other_stations_share_the_trip_leg_table():
    net, stations, trips = _inputs()
    o, d = trips["origin"].to_numpy(), trips["destination"].to_numpy()
    nodes = np.r_[o, d]
    a = shared_tables(net, nodes, np.array([3]))
    before = a.legs(o, d)
    b = shared_tables(net, nodes, np.array([4, 5]))
    assert b is not a and b._legs is a._legs  # one P x P table for both station sets
    for x, y in zip(before, b.legs(o, d), strict=True):
        assert np.array_equal(x, y)


def test_the_parent_builds_the_leg_table_the_workers_inherit(monkeypatch):
    """With a process pool, ``replicate`` builds the trips' P x P leg table before forking
    (each worker would otherwise build its own); a table too large to keep is left alone."""
    import sim.routes as routes_mod

    net, stations, trips = _inputs()
    routes_mod._TABLES.clear()
    sim.replicate(net, stations, trips, replications=2, seed=1, workers=2)
    nodes = np.r_[trips["origin"].to_numpy(), trips["destination"].to_numpy()]
    tables = shared_tables(net, nodes, np.array([7]))
    assert tables._legs._pp is not None  # built in this (the parent) process
    # too many positions for a full table: prepare_legs computes nothing
    monkeypatch.setattr(routes_mod, "_FULL_TABLE_VALUES", 1)
    big = routes_mod.RouteTables(net, nodes, np.array([7]))
    big.prepare_legs(nodes)
    assert big._legs._pp is None
    monkeypatch.undo()
    # a node outside the table's positions: legs would be gathered, not tabled
    small = routes_mod.RouteTables(net, nodes, np.array([7]))
    outside = np.setdiff1d(np.arange(net.n_nodes), nodes)[:1]
    assert outside.size == 1
    small.prepare_legs(np.r_[nodes, outside])
    assert small._legs._pp is None
    small.prepare_legs(nodes)
    assert small._legs._pp is not None


def test_two_threads_forking_at_once_each_run_their_own_task(monkeypatch):
    """Two threads start pools at the same moment (two studies in one process): each pool's
    workers run that thread's task. With the task in a module global set before the pool
    forked, thread A's workers ran thread B's task (a review of 2026-12-07)."""
    import multiprocessing as mp
    import threading

    from sim import api

    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs fork")
    both = threading.Barrier(2)
    start = api._LogRelay.start

    def start_together(self):  # both threads are past their setup before either forks
        both.wait()
        start(self)

    monkeypatch.setattr(api._LogRelay, "start", start_together)
    got: dict[str, list[str]] = {}

    def run(name: str) -> None:
        got[name] = list(api.forked_map(lambda i, name=name: f"{name}{i}", 2, 2))

    threads = [threading.Thread(target=run, args=(n,)) for n in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {"A": ["A0", "A1"], "B": ["B0", "B1"]}
