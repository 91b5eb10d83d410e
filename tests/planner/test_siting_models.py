"""Siting models: published optima (OR-Library, 25-node FRLM network), brute force on small
synthetic instances, the independent checker, and the error diagnoses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import csgraph

from planner._errors import (
    BudgetError,
    CheckerError,
    InfeasibleModelError,
    ModelInputError,
    NoCandidatesError,
    UnreachableDemandError,
)
from planner.siting import FRLM, MCLP, Capacitated, PMedian, SetCover, check_result
from planner.siting.instances.orlib import read_frlm_network, read_orlib_optima, read_orlib_pmed

# ----------------------------------------------------------------------------- published instances
FAST_PMED = ["pmed1", "pmed2", "pmed5", "pmed6", "pmed9", "pmed11", "pmed13"]


@pytest.fixture(scope="module")
def pmed_optima(data_dir):
    return read_orlib_optima(data_dir / "bench" / "orlib-pmed" / "optimal.csv")


@pytest.mark.parametrize("name", FAST_PMED)
def test_pmedian_orlib_reaches_known_optimum(data_dir, pmed_optima, name):
    inst = read_orlib_pmed(data_dir / "bench" / "orlib-pmed" / f"{name}.txt")
    model = PMedian.from_cost_matrix(inst.cost, p=inst.p)
    res = model.solve(time_limit_s=120, threads=2, seed=0)
    assert res.optimal, res.message
    assert res.objective == pytest.approx(pmed_optima[name])
    assert res.selected.size == inst.p
    model.check(res)  # independent recomputation


def _frlm_25(data_dir):
    """Routes of all 300 OD pairs of the 25-node network, gravity flows W_i W_j / d^1.5."""
    nodes, arcs = read_frlm_network(data_dir / "bench" / "frlm-25node")
    n = len(nodes)
    idx = {v: i for i, v in enumerate(nodes["id"])}
    u, v = arcs["u"].map(idx).to_numpy(), arcs["v"].map(idx).to_numpy()
    length = arcs["length"].to_numpy(float)
    g = sparse.coo_matrix((np.r_[length, length], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    dist, pred = csgraph.dijkstra(g, directed=True, return_predecessors=True)
    w = nodes["weight"].to_numpy(float)
    route_km, site_idx, flows = [], [], []
    for a, b in itertools.combinations(range(n), 2):
        path = [b]
        while path[-1] != a:
            path.append(int(pred[a, path[-1]]))
        path = path[::-1]
        route_km.append(
            np.r_[0.0, np.cumsum([dist[path[k], path[k + 1]] for k in range(len(path) - 1)])]
        )
        site_idx.append(np.asarray(path))
        flows.append(w[a] * w[b] / dist[a, b] ** 1.5)
    return n, route_km, [r.copy() for r in route_km], site_idx, np.asarray(flows)


@pytest.mark.parametrize("range_km", [8.0, 12.0])
def test_frlm_25_node_network_optimal_and_checked(data_dir, range_km):
    n, route_km, site_km, site_idx, flows = _frlm_25(data_dir)
    prev = 0.0
    for p in (1, 2, 3):
        model = FRLM.from_paths(
            route_km, site_km, site_idx, flows, n_sites=n, range_km=range_km, p=p
        )
        res = model.solve(time_limit_s=60)
        assert res.optimal
        model.check(res)
        assert res.objective >= prev - 1e-9  # more stations never refuel less
        prev = res.objective
    # brute force p = 1 and 2 with the checker's tank rule as the ground truth
    from planner.siting.checker import round_trip_ok

    def value(open_):
        return sum(
            f
            for rk, sk, si, f in zip(route_km, site_km, site_idx, flows, strict=True)
            if round_trip_ok(rk, sk[np.isin(si, open_)], range_km)
        )

    for p in (1, 2):
        best = max(value(np.array(c)) for c in itertools.combinations(range(n), p))
        for solver in ("auto", "cp-sat", "highs"):
            model = FRLM.from_paths(
                route_km, site_km, site_idx, flows, n_sites=n, range_km=range_km, p=p
            )
            res = model.solve(solver=solver)
            model.check(res)
            assert res.optimal and res.objective == pytest.approx(best, rel=1e-9), solver


def test_frlm_min_sites_refuels_all_coverable_flow(data_dir):
    n, route_km, site_km, site_idx, flows = _frlm_25(data_dir)
    model = FRLM.from_paths(
        route_km, site_km, site_idx, flows, n_sites=n, range_km=12.0, p=None, fixed_open=[0]
    )
    res = model.solve(time_limit_s=60)
    model.check(res)
    assert res.optimal and res.details["coverage_fraction"] == pytest.approx(1.0)
    # one site fewer cannot refuel everything
    k = res.selected.size
    fewer = FRLM.from_paths(
        route_km, site_km, site_idx, flows, n_sites=n, range_km=12.0, p=k - 1, fixed_open=[0]
    ).solve()
    assert fewer.objective < flows.sum() * (1 - 1e-9)


# ----------------------------------------------------------------------------- synthetic brute force
def _synthetic(seed: int, n: int = 14, m: int = 7):
    """Synthetic (made-up) travel times: random points on a plane, seconds."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 1000, (m, 2))
    cost = np.round(np.linalg.norm(a[:, None] - b[None], axis=2))
    cost[rng.random((n, m)) < 0.1] = np.inf
    cost[:, 0] = np.where(np.isinf(cost[:, 0]), 900.0, cost[:, 0])  # site 0 reaches everyone
    return cost, rng.integers(1, 5, n).astype(float), rng.integers(1, 4, m).astype(float)


@pytest.mark.parametrize("seed", range(6))
def test_models_match_brute_force_on_synthetic_instances(seed):
    cost, w, c = _synthetic(seed)
    m = cost.shape[1]
    free = range(1, m)
    thr = 350.0
    cov = cost <= thr

    def covered(open_):
        return w[cov[:, list(open_)].any(axis=1)].sum()

    # p-median with site 0 fixed open, p = 2
    pm = PMedian.from_cost_matrix(cost, w, p=2, fixed_open=[0])
    r = pm.solve()
    pm.check(r)
    best = min((w * cost[:, [0, *s]].min(axis=1)).sum() for s in itertools.combinations(free, 2))
    assert r.optimal and r.objective == pytest.approx(best)
    # MCLP with p = 2 and with a budget
    for kw, solver in (
        ({"p": 2}, "auto"),
        ({"budget": 5.0}, "auto"),
        ({"p": 2}, "cp-sat"),
        ({"budget": 5.0}, "highs"),
    ):
        mc = MCLP.from_cost_matrix(cost, w, threshold=thr, fixed_open=[0], candidate_costs=c, **kw)
        r = mc.solve(solver=solver)
        mc.check(r)
        feas = [
            s
            for k in range(m)
            for s in itertools.combinations(free, k)
            if ("p" not in kw or len(s) <= kw["p"])
            and ("budget" not in kw or c[[0, *s]].sum() <= kw["budget"])
        ]
        assert r.optimal and r.objective == pytest.approx(max(covered([0, *s]) for s in feas))
    # set cover: cheapest reaching 80 % (when reachable)
    target = 0.8 * w.sum()
    feas = [
        s
        for k in range(m)
        for s in itertools.combinations(free, k)
        if covered([0, *s]) >= target - 1e-9
    ]
    sc = SetCover.from_cost_matrix(
        cost, w, threshold=thr, coverage=0.8, candidate_costs=c, fixed_open=[0]
    )
    if not feas:
        with pytest.raises(InfeasibleModelError, match="coverage target"):
            sc.solve()
    else:
        for solver in ("auto", "cp-sat"):
            r = sc.solve(solver=solver)
            sc.check(r)
            assert r.optimal and r.objective == pytest.approx(min(c[list(s)].sum() for s in feas))


def test_mclp_sparse_input_aggregates_identical_rows():
    from planner.siting.instances.synthetic import synthetic_city

    city = synthetic_city(20_000, 60, rng=np.random.default_rng(3), side=60, cutoff_s=300.0)
    model = MCLP.from_cost_matrix(city.cost, city.weights, threshold=240.0, p=6)
    res = model.solve(time_limit_s=60)
    model.check(res)
    assert res.optimal
    assert res.details["demand_groups"] < 20_000 / 5


def test_capacitated_hand_checked_plugs_and_grid_limit():
    # synthetic: three demand rows, two sites; site 1 is out of reach of rows 0-1
    cost = np.array([[100.0, 900.0], [200.0, 900.0], [300.0, 100.0]])
    demand = np.array([1.2, 0.6, 0.3])  # charging hours per hour
    model = Capacitated.from_cost_matrix(
        cost,
        demand,
        threshold=600,
        max_plugs=10,
        site_costs=[100.0, 100.0],
        plug_costs=[10.0, 10.0],
        utilisation=0.6,
    )
    res = model.solve()
    model.check(res)
    # everything fits at site 0 with ceil(2.1 / 0.6) = 4 plugs: 100 + 40
    assert res.optimal and res.objective == pytest.approx(140.0)
    assert res.plugs.tolist() == [4, 0]
    # a 150 kW grid limit at 50 kW per plug caps site 0 at 3 plugs (1.8 h/h): site 1 takes row 2
    model = Capacitated.from_cost_matrix(
        cost,
        demand,
        threshold=600,
        max_plugs=10,
        site_costs=[100.0, 100.0],
        plug_costs=[10.0, 10.0],
        utilisation=0.6,
        plug_kw=50.0,
        grid_kw=150.0,
    )
    res = model.solve()
    model.check(res)
    assert res.plugs.tolist() == [3, 1] and res.objective == pytest.approx(240.0)
    # a 100 kW limit everywhere cannot serve it all
    model = Capacitated.from_cost_matrix(
        cost, demand, threshold=600, max_plugs=10, utilisation=0.6, plug_kw=50.0, grid_kw=100.0
    )
    with pytest.raises(InfeasibleModelError, match="coverage"):
        model.solve()


def test_capacitated_budget_maximises_served_demand_with_existing_plugs():
    cost = np.array([[100.0, 900.0], [200.0, 900.0], [300.0, 100.0]])
    demand = np.array([1.2, 0.6, 0.3])
    model = Capacitated.from_cost_matrix(
        cost,
        demand,
        threshold=600,
        max_plugs=4,
        site_costs=[0.0, 100.0],
        plug_costs=[10.0, 10.0],
        existing_plugs=[1, 0],
        fixed_open=[0],
        utilisation=0.6,
        budget=20.0,
    )
    res = model.solve()
    model.check(res)
    # 1 existing + 2 bought plugs at site 0 serve 3 x 0.6 = 1.8 h/h; site 1 is too dear
    assert res.plugs.tolist() == [3, 0] and res.objective == pytest.approx(1.8)


# ----------------------------------------------------------------------------- checker and errors
def test_checker_catches_a_tampered_result():
    cost, w, c = _synthetic(1)
    model = PMedian.from_cost_matrix(cost, w, p=2, fixed_open=[0])
    res = model.solve()
    import dataclasses

    worse = dataclasses.replace(res, objective=res.objective - 1.0)
    with pytest.raises(CheckerError, match="objective"):
        model.check(worse)
    extra = dataclasses.replace(
        res, selected=np.r_[res.selected, [s for s in range(1, 7) if s not in res.selected][0]]
    )
    with pytest.raises(CheckerError, match="p = 2"):
        model.check(extra)
    report = check_result("pmedian", model.raw, extra, strict=False)
    assert not report.ok and len(report.violations) >= 1
    # site indices the inputs do not have: -1 wrapped around to the last site, 99 crashed
    m = cost.shape[1]
    for sel, why in (([-1], "outside the site indices"), ([99], "outside the site indices"),
                     ([0.5], "not whole site indices")):  # fmt: skip
        bad = dataclasses.replace(res, selected=np.array(sel))
        with pytest.raises(CheckerError, match=why):
            model.check(bad)
    mclp = MCLP.from_cost_matrix(cost, w, threshold=300, p=1, fixed_open=[m - 1])
    sol = mclp.solve()
    wrapped = dataclasses.replace(sol, selected=np.array([-1]))  # "site m - 1", fixed open
    assert "outside the site indices 0.." in "; ".join(
        check_result("mclp", mclp.raw, wrapped, strict=False).violations
    )


def test_time_limited_run_reports_gap(data_dir):
    inst = read_orlib_pmed(data_dir / "bench" / "orlib-pmed" / "pmed15.txt")
    res = PMedian.from_cost_matrix(inst.cost, p=inst.p).solve(time_limit_s=0.05)
    assert res.objective >= res.best_bound
    if not res.optimal:
        assert res.status == "FEASIBLE" and "time limit" in res.message and res.gap >= 0


def test_error_diagnoses():
    cost, w, c = _synthetic(2)
    with pytest.raises(BudgetError, match="below"):
        MCLP.from_cost_matrix(
            cost, w, threshold=300, budget=1.0, candidate_costs=c + 5, fixed_open=[0, 1]
        )
    with pytest.raises(NoCandidatesError):
        MCLP.from_cost_matrix(cost, w, threshold=300, p=1, fixed_open=list(range(cost.shape[1])))
    with pytest.raises(NoCandidatesError):
        PMedian.from_cost_matrix(np.zeros((3, 0)), p=1)
    far = np.full((4, 3), 5000.0)
    with pytest.raises(UnreachableDemandError, match="threshold"):
        MCLP.from_cost_matrix(far, threshold=300, p=1).solve()
    with pytest.raises(UnreachableDemandError, match="cannot reach"):
        PMedian.from_cost_matrix(np.full((2, 3), np.inf), p=1).solve()
    with pytest.raises(ModelInputError, match="exceeds"):
        PMedian.from_cost_matrix(cost, p=50)
    with pytest.raises(ModelInputError, match="NaN"):
        PMedian.from_cost_matrix(np.array([[np.nan, 1.0]]), p=1)
    with pytest.raises(InfeasibleModelError, match="coverage target"):
        SetCover.from_cost_matrix(
            np.array([[100.0, 900.0], [900.0, 900.0]]), threshold=300, coverage=1.0
        ).solve()


def test_mclp_from_geodataframe_on_almaty(almaty):
    import geopandas as gpd

    net = almaty.network
    rng = np.random.default_rng(0)
    d = rng.choice(net.n_nodes, 300, replace=False)
    s = rng.choice(net.n_nodes, 25, replace=False)
    demand = gpd.GeoDataFrame(
        {"w": rng.integers(1, 5, 300)},
        geometry=gpd.points_from_xy(net.lon[d], net.lat[d]),
        crs="EPSG:4326",
    )
    cands = gpd.GeoDataFrame(
        {"site_id": [f"s{k}" for k in range(25)], "existing": [True] + [False] * 24},
        geometry=gpd.points_from_xy(net.lon[s], net.lat[s]),
        crs="EPSG:4326",
    )
    model = MCLP.from_geodataframe(demand, cands, net, weight_col="w", threshold=600.0, p=3)
    res = model.solve()
    model.check(res)
    assert res.optimal and len(res.selected_labels) <= 3 and "s0" not in res.selected_labels
    assert res.summary()["fixed_open"] == [0]


# ----------------------------------------------------------------------------- FRLM on a road network
def _ladder_network():
    """Synthetic (made-up) corridor: two parallel two-way roads of 9 nodes, 14-26 km links,
    joined by 2-5 km rungs, random speeds (so every fastest route is unique and not always
    the shortest). Returns the :class:`networks.RoadNetwork` and the same graph in networkx."""
    import networkx as nx

    from networks import RoadNetwork

    rng = np.random.default_rng(7)
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for row in (0, 1):
        for i in range(9):
            G.add_node(100 * (row + 1) + i, x=70.0 + 0.25 * i, y=48.0 + 0.05 * row)

    def road(u, v, km):
        t = km / rng.uniform(60.0, 110.0) * 3600.0
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, length=1000.0 * km, travel_time=t)

    for row in (100, 200):
        for i in range(8):
            road(row + i, row + i + 1, rng.uniform(14.0, 26.0))
    for i in range(0, 9, 2):
        road(100 + i, 200 + i, rng.uniform(2.0, 5.0))
    H = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, **d)
    return RoadNetwork.from_graph(G, name="synthetic ladder"), H


def _frlm_network_case():
    """The ladder, OD pairs, flows and sites, and the routes worked out independently with
    networkx (node indices along the fastest route, cumulative km from 0)."""
    import networkx as nx

    net, H = _ladder_network()
    ids = [100, 104, 108, 200, 203, 206, 208, 102, 205]
    pairs = [(a, b) for a, b in itertools.combinations(ids, 2) if abs(a % 100 - b % 100) >= 3]
    origins = net.index_of([a for a, _ in pairs])
    destinations = net.index_of([b for _, b in pairs])
    flows = np.random.default_rng(8).integers(1, 20, len(pairs)).astype(float)
    site_nodes = net.index_of([101, 103, 105, 107, 200, 202, 204, 206, 208])
    routes = []
    for a, b in pairs:
        path = nx.shortest_path(H, a, b, weight="travel_time")
        km = np.concatenate(
            [[0.0], np.cumsum([H[u][v]["length"] / 1000.0 for u, v in itertools.pairwise(path)])]
        )
        routes.append((net.index_of(path), km))
    return net, origins, destinations, flows, site_nodes, routes


def test_frlm_from_network_equals_from_paths_and_brute_force():
    """``FRLM.from_network`` routes with ``RoadNetwork.route_paths`` (added in the networks
    package); the routes here come from networkx on the same synthetic graph."""
    from planner.siting.checker import round_trip_ok

    net, origins, destinations, flows, site_nodes, routes = _frlm_network_case()
    route_km = [km for _, km in routes]
    site_km, site_idx = [], []
    for nodes, km in routes:  # the sites on each route, in route order
        on = [(km[i], j) for i, n in enumerate(nodes) for j in np.flatnonzero(site_nodes == n)]
        site_km.append(np.array([k for k, _ in on], dtype=float))
        site_idx.append(np.array([j for _, j in on], dtype=np.int64))
    n = site_nodes.size
    range_km = 70.0

    def refuelled(open_):
        return sum(
            f
            for rk, sk, si, f in zip(route_km, site_km, site_idx, flows, strict=True)
            if round_trip_ok(rk, sk[np.isin(si, list(open_))], range_km)
        )

    objective = {}
    for p, fixed in ((1, None), (2, None), (3, [4]), (None, [4])):
        kw = dict(range_km=range_km, p=p, fixed_open=fixed)
        by_net = FRLM.from_network(net, origins, destinations, flows, site_nodes, **kw)
        for q, (rk, sk, si) in enumerate(zip(route_km, site_km, site_idx, strict=True)):
            np.testing.assert_allclose(by_net.raw["route_km"][q], rk, rtol=1e-12)
            got = sorted(
                zip(by_net.raw["site_idx"][q].tolist(), by_net.raw["site_km"][q], strict=True)
            )
            want = sorted(zip(si.tolist(), sk, strict=True))
            assert [j for j, _ in got] == [j for j, _ in want]
            np.testing.assert_allclose([k for _, k in got], [k for _, k in want], rtol=1e-12)
        by_hand = FRLM.from_paths(route_km, site_km, site_idx, flows, n_sites=n, **kw)
        r_net, r_hand = by_net.solve(time_limit_s=60), by_hand.solve(time_limit_s=60)
        by_net.check(r_net)
        assert r_net.optimal and r_hand.optimal
        assert r_net.selected.tolist() == r_hand.selected.tolist()
        assert r_net.objective == pytest.approx(r_hand.objective, rel=1e-12)
        objective[p] = r_net.objective
        # brute force with the checker's tank rule
        base = [] if fixed is None else fixed
        free = [j for j in range(n) if j not in base]
        if p is not None:
            best = max(refuelled([*base, *s]) for s in itertools.combinations(free, p))
            assert r_net.objective == pytest.approx(best, rel=1e-12)
        else:
            everything = refuelled(range(n))
            fewest = min(
                k
                for k in range(len(free) + 1)
                for s in itertools.combinations(free, k)
                if refuelled([*base, *s]) >= everything - 1e-9
            )
            assert r_net.objective == fewest
            assert r_net.details["refuelled_flow"] == pytest.approx(everything)
    # not a trivial instance: no station refuels everything, and each one more helps
    assert refuelled([]) < objective[1] < objective[2] < objective[3] < refuelled(range(n))
    assert objective[None] > 3
