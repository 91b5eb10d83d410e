"""The city coverage curve reads every point's share from one travel-time matrix and reuses
the MCLP's cost matrix across points: the same table as solving and measuring each point on
its own (synthetic 6 x 6 grid, not real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _optimizer(tmp_path):
    from planner.config.study import config_from_dict
    from planner.study.inputs import StudyNetwork
    from planner.study.optimize_city import CityOptimizer
    from sim.synthetic import grid_network

    net = grid_network(6, 6, spacing_m=500.0)
    cfg = config_from_dict(
        {
            "name": "g",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "mclp", "threshold_min": 1, "p": 4},
            "targets": {"wait_p95_min": None},
        },
        base_dir=tmp_path,
    )
    rng = np.random.default_rng(5)
    trips = pd.DataFrame(
        {
            "origin": rng.integers(0, 36, 60),
            "destination": rng.integers(0, 36, 60),
            "depart_s": 8 * 3600.0,
        }
    )
    nodes = [0, 5, 14, 21, 30, 35, 8]
    cand = pd.DataFrame(
        {
            "site_id": [f"c{n}" for n in nodes],
            "name": [f"c{n}" for n in nodes],
            "node": nodes,
            "lon": net.lon[nodes],
            "lat": net.lat[nodes],
            "site_cost": 1000.0,
            "plug_cost": 100.0,
            "power_kw": 50.0,
            "connectors": "",
        }
    )
    return CityOptimizer(cfg, StudyNetwork(net, None, pd.DataFrame(), "grid"), cand, trips, {})


def test_coverage_curve_equals_solving_and_measuring_each_point(tmp_path):
    opt = _optimizer(tmp_path)
    existing = pd.DataFrame(
        {"station_id": ["e"], "node": [17], "plugs": [2], "power_kw": [50.0], "name": ["e"]}
    )
    curve = opt.coverage_curve(existing, max_new=6, points=6)
    # reference: each point solved and measured on its own (a fresh optimizer: no cache)
    ref = _optimizer(tmp_path)
    dem = ref.all_demand()
    rows = [{"n_stations": 1, "new_stations": 0, "coverage_share": ref.coverage_share(existing)}]
    for p in ref.curve_counts(6, 10, 6):
        chosen, _ = ref._solve("mclp", dem, existing, p, None)
        st = pd.concat(
            [existing, ref.stations_frame(chosen, np.ones(len(chosen), dtype=int))],
            ignore_index=True,
        )
        rows.append(
            {
                "n_stations": len(st),
                "new_stations": len(chosen),
                "coverage_share": ref.coverage_share(st),
            }
        )
    pd.testing.assert_frame_equal(curve, pd.DataFrame(rows), check_exact=True)
    assert curve["coverage_share"].is_monotonic_increasing
    assert curve["coverage_share"].iloc[-1] > curve["coverage_share"].iloc[0]


def test_the_cost_matrix_is_kept_for_the_same_arguments_only(tmp_path):
    opt = _optimizer(tmp_path)
    dem, cols = np.array([0, 1]), np.array([5, 6])
    first = opt._cost_matrix(dem, cols, 60.0)
    assert opt._cost_matrix(dem, cols, 60.0) is not first  # outside the curve: not kept
    opt._keep_cost = True
    a = opt._cost_matrix(dem, cols, 60.0)
    assert opt._cost_matrix(dem, cols, 60.0) is a
    assert not a.flags.writeable  # a model writing into it would change the next solve
    b = opt._cost_matrix(dem, cols, None)
    assert b is not a and np.isfinite(b).all()
    c = opt._cost_matrix(np.array([0, 2]), cols, None)  # other demand nodes
    assert c is not b and c.shape == (2, 2)
    d = opt._cost_matrix(np.array([0, 2]), np.array([5, 7]), None)  # other columns
    assert d is not c and d[1, 1] != c[1, 1]
    # same bytes, other dtype: [1] as int64 and [1, 0] as int32 are different arguments
    e = opt._cost_matrix(np.array([1], dtype=np.int64), cols, None)
    f = opt._cost_matrix(np.array([1, 0], dtype=np.int32), cols, None)
    assert e.shape == (1, 2) and f.shape == (2, 2)
    # the curve leaves nothing kept behind
    opt.coverage_curve(pd.DataFrame(columns=["station_id", "node", "plugs", "power_kw"]))
    assert opt._last_cost is None and not opt._keep_cost


def test_the_coverage_measure_says_what_the_share_counts(tmp_path):
    """ "Demand covered" 62 % -> 97 % read as served demand to a planner, while the trips that
    needed a public charger completed 0.8 % before (review, 2026-12-07): the label is the
    siting model's measure, in words."""
    from sim.kpis import KPIS

    opt = _optimizer(tmp_path)
    assert opt.coverage_measure() == (
        f"trip origins within {opt.cfg.model.threshold_min:g} min (free-flow) of a station, "
        "whatever its connectors"
    )
    assert KPIS["coverage_share"].label == "Siting coverage"
