"""Bad arguments to the siting models' public constructors: each is refused with a domain
error of :mod:`planner._errors` whose message names the argument, the offending value and
the fix, never an ``AttributeError`` or a numpy error from deep inside.

All instances are tiny and made up.
"""

from __future__ import annotations

import decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner._errors import ModelInputError
from planner.siting import FRLM, MCLP, Capacitated, PMedian, SetCover

COST = np.array([[100.0, 500.0, 900.0], [700.0, 50.0, 800.0], [400.0, 300.0, 60.0]])
W = np.array([1.0, 2.0, 3.0])


def _frlm(**kw):
    """Three 30-km routes, each passing one site at km 10 (sites 0, 1, 2)."""
    base = dict(
        route_km=[np.array([0.0, 10.0, 30.0])] * 3,
        site_km=[np.array([10.0])] * 3,
        site_idx=[np.array([0]), np.array([1]), np.array([2])],
        flows=[1.0, 2.0, 3.0],
        n_sites=3,
        range_km=50.0,
        p=1,
    )
    base.update(kw)
    return FRLM.from_paths(
        base.pop("route_km"), base.pop("site_km"), base.pop("site_idx"), base.pop("flows"), **base
    )


BUILDERS = {
    "pmedian": lambda **kw: PMedian.from_cost_matrix(COST, W, **{"p": 1, **kw}),
    "mclp": lambda **kw: MCLP.from_cost_matrix(COST, W, **{"threshold": 200.0, "p": 1, **kw}),
    "cover": lambda **kw: SetCover.from_cost_matrix(COST, W, **{"threshold": 200.0, **kw}),
    "capacitated": lambda **kw: Capacitated.from_cost_matrix(
        COST, W / 10, **{"threshold": 200.0, "max_plugs": 4, **kw}
    ),
    "frlm": _frlm,
}


# ---------------------------------------------------------------------- 1. duplicate labels
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_repeated_site_labels_are_refused_naming_the_label_and_the_fix(kind):
    """Before, two columns labelled ``"a"`` were accepted and a result's labels could not
    say which of the two sites was opened."""
    with pytest.raises(ModelInputError) as err:
        BUILDERS[kind](site_labels=["a", "b", "a"])
    msg = str(err.value)
    assert "site_labels must be unique" in msg
    assert "'a' at columns [0, 2]" in msg  # the value and where it repeats
    assert "give each site its own label" in msg  # the fix


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_distinct_labels_still_label_the_result(kind):
    model = BUILDERS[kind](site_labels=["a", "b", ("c", 1)])
    assert model.site_labels.tolist() == ["a", "b", ("c", 1)]  # a tuple stays one label


def test_labels_that_are_not_a_sequence_name_the_argument():
    with pytest.raises(ModelInputError, match=r"site_labels must be a sequence of 3 labels.*'abc'"):
        BUILDERS["mclp"](site_labels="abc")
    with pytest.raises(ModelInputError, match=r"site_labels has 2 entries but there are 3 sites"):
        BUILDERS["mclp"](site_labels=["a", "b"])
    with pytest.raises(ModelInputError, match=r"site_labels must hold hashable labels"):
        BUILDERS["mclp"](site_labels=[["a"], ["a"], ["b"]])


def _line_network():
    from sim.synthetic import line_network

    return line_network([2_000.0] * 4)  # 5 nodes 2 km apart


def _points(net, nodes, **cols):
    return gpd.GeoDataFrame(
        cols, geometry=gpd.points_from_xy(net.lon[nodes], net.lat[nodes]), crs="EPSG:4326"
    )


def test_repeated_labels_in_a_candidates_frame_name_its_column():
    net = _line_network()
    demand = _points(net, [0, 2, 4], w=[1.0, 1.0, 1.0])
    cands = _points(net, [1, 3], site_id=["s1", "s1"])
    with pytest.raises(ModelInputError) as err:
        MCLP.from_geodataframe(demand, cands, net, weight_col="w", threshold=600.0, p=1)
    assert "candidates_gdf column 'site_id'" in str(err.value)
    assert "'s1' at columns [0, 1]" in str(err.value)
    # without a label column the index labels the sites: a repeated index is refused too
    cands = _points(net, [1, 3]).set_axis([7, 7])
    with pytest.raises(ModelInputError, match=r"candidates_gdf index.*7 at columns \[0, 1\]"):
        PMedian.from_geodataframe(demand, cands, net, weight_col="w", p=1)
    ok = MCLP.from_geodataframe(
        demand,
        _points(net, [1, 3], site_id=["s1", "s2"]),
        net,
        weight_col="w",
        threshold=600.0,
        p=1,
    )
    assert ok.site_labels.tolist() == ["s1", "s2"]


# ---------------------------------------------------------------------- 2. capacitated messages
@pytest.mark.parametrize(
    ("kw", "parts"),
    [
        ({"plug_kw": [50.0, 0.0, -5.0]}, ["plug_kw", "sites [1, 2]", "[0.0, -5.0]", "plug_kw=50"]),
        ({"max_plugs": [4, -1, 4]}, ["max_plugs must be >= 0", "sites [1]", "[-1]", "use 0"]),
        ({"max_plugs": [4.0, 4.5, 4.0]}, ["max_plugs must be integers", "float64", "4.5"]),
        ({"max_plugs": [4, 4]}, ["max_plugs has shape (2,)", "3 sites", "one per site"]),
        (
            {"existing_plugs": [1, 0, 0]},
            ["existing_plugs are only allowed at fixed-open", "sites [0]", "[1", "fixed_open"],
        ),
        (
            {"existing_plugs": [1.5, 0, 0], "fixed_open": [0]},
            ["existing_plugs must be whole numbers", "sites [0]", "1.5"],
        ),
        ({"grid_kw": [100.0, np.nan, -1.0]}, ["grid_kw must be >= 0", "sites [1, 2]", "inf"]),
        (
            {"upgrade_cost_per_kw": [1.0, np.inf, -2.0]},
            ["upgrade_cost_per_kw", "sites [1, 2]", "[inf, -2.0]", "nan where no upgrade"],
        ),
        ({"utilisation": 1.5}, ["utilisation must be a share in (0, 1], got 1.5", "0.6"]),
        ({"coverage": 0}, ["coverage must be a share in (0, 1], got 0", "coverage=0.9"]),
        ({"threshold": -5.0}, ["threshold must be a finite number >= 0", "-5.0", "seconds"]),
        ({"plug_kw": "fast"}, ["plug_kw must be numbers", "'fast'", "one per site"]),
    ],
)
def test_capacitated_messages_name_the_argument_the_value_and_the_fix(kw, parts):
    """Before, e.g. ``grid_kw`` and ``upgrade_cost_per_kw`` said only "must be >= 0",
    ``existing_plugs`` neither the sites nor the values, and a wrong-length ``max_plugs``
    surfaced as numpy's broadcast error."""
    with pytest.raises(ModelInputError) as err:
        BUILDERS["capacitated"](**kw)
    for part in parts:
        assert part in str(err.value), (part, str(err.value))


def test_capacitated_accepts_what_it_accepted_before():
    model = BUILDERS["capacitated"](
        max_plugs=np.array([4, 2, 6]),
        plug_kw=50,
        grid_kw=[np.inf, 200.0, 100.0],
        upgrade_cost_per_kw=[np.nan, 1.0, np.nan],
        existing_plugs=[2.0, 0, 0],  # integral floats are whole numbers
        fixed_open=[0],
    )
    assert model.raw["existing_plugs"].tolist() == [2, 0, 0]
    assert model.raw["cap"].tolist() == [4, 2, 2]  # site 2: 100 kW / 50 kW, no upgrade


# ---------------------------------------------------------------------- 3. p above the candidates
@pytest.mark.parametrize(
    ("build", "model"),
    [
        (lambda p, **kw: BUILDERS["pmedian"](p=p, **kw), "PMedian"),
        (lambda p, **kw: BUILDERS["mclp"](p=p, **kw), "MCLP"),
        (lambda p, **kw: BUILDERS["mclp"](p=p, budget=10.0, **kw), "MCLP"),
        (lambda p, **kw: _frlm(p=p, **kw), "FRLM"),
    ],
)
def test_p_above_the_candidates_is_refused_by_every_p_model_alike(build, model):
    """MCLP and FRLM used to open every candidate silently where the p-median refused."""
    with pytest.raises(ModelInputError) as err:
        build(4)
    assert str(err.value) == (
        f"{model}: p = 4 exceeds the 3 candidate sites that can be opened; lower p to at "
        "most 3 or add candidate sites"
    )
    with pytest.raises(
        ModelInputError, match=r"p = 3 exceeds the 2 candidate .*\(1 more are fixed"
    ):
        build(3, fixed_open=[0])
    assert build(3).raw["p"] == 3  # every candidate: allowed


def test_mclp_with_p_equal_to_the_candidates_opens_them_all():
    res = BUILDERS["mclp"](p=3).solve(time_limit_s=10)
    assert res.optimal and res.selected.tolist() == [0, 1, 2]


def test_the_study_caps_a_site_count_above_the_candidates_and_says_so(tmp_path):
    """A rollout stage's ``new_sites`` is not checked against the candidates found: the
    study caps it (logged, noted in the report) now that the FRLM refuses it."""
    from networks.road_network import RoadNetwork
    from planner.config.study import config_from_dict
    from planner.study.inputs import StudyNetwork
    from planner.study.optimize_corridor import CorridorOptimizer
    from tests.planner.test_corridor_optimizer import _two_islands

    net: RoadNetwork = _two_islands()
    cfg = config_from_dict(
        {
            "name": "islands",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "corridor", "trips_per_day": 1},
            "vehicles": {"fleet": {"byd_atto3": 1.0}},
            "model": {"kind": "frlm", "range_km": 100, "p": 1},
            "targets": {"wait_p95_min": None},
        },
        base_dir=tmp_path,
    )
    trips = pd.DataFrame(
        {"origin": [0], "destination": [2], "depart_s": [8 * 3600.0], "vehicle_model": "byd_atto3"}
    )
    cand = pd.DataFrame(
        {
            "site_id": ["mid", "end"],
            "name": ["mid", "end"],
            "node": [1, 2],
            "lon": net.lon[[1, 2]],
            "lat": net.lat[[1, 2]],
            "site_cost": [1000.0, 1000.0],
            "plug_cost": [100.0, 100.0],
            "power_kw": [100.0, 100.0],
            "connectors": "",
        }
    )
    opt = CorridorOptimizer(
        cfg, StudyNetwork(net, None, pd.DataFrame(), "islands"), cand, trips, {}
    )
    fixed = pd.DataFrame(columns=["station_id", "node", "plugs", "power_kw"])
    new = opt(opt.all_demand(), fixed, 5, None)
    assert set(new["station_id"]) <= {"mid", "end"} and "mid" in set(new["station_id"])
    assert any("5 new sites were asked for" in n and "only 2 candidate" in n for n in opt.notes)


def _city_case(tmp_path, model):
    """Synthetic 4 x 4 grid, two candidates (``a`` at node 0, ``b`` at node 15)."""
    from planner.config.study import config_from_dict
    from planner.study.inputs import StudyNetwork
    from planner.study.optimize_city import CityOptimizer
    from sim.synthetic import grid_network

    net = grid_network(4, 4, spacing_m=400.0)
    cfg = config_from_dict(
        {
            "name": "g",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": model,
            "targets": {"wait_p95_min": None},
        },
        base_dir=tmp_path,
    )
    trips = pd.DataFrame({"origin": [0, 15], "destination": [15, 0], "depart_s": [8 * 3600.0] * 2})
    cand = pd.DataFrame(
        {
            "site_id": ["a", "b"],
            "name": ["a", "b"],
            "node": [0, 15],
            "lon": net.lon[[0, 15]],
            "lat": net.lat[[0, 15]],
            "site_cost": [1000.0, 1000.0],
            "plug_cost": [100.0, 100.0],
            "power_kw": [50.0, 50.0],
            "connectors": "",
        }
    )
    return CityOptimizer(cfg, StudyNetwork(net, None, pd.DataFrame(), "grid"), cand, trips, {})


@pytest.mark.parametrize("p", [1, 2])
def test_the_city_study_leaves_out_a_candidate_already_open(tmp_path, p, monkeypatch):
    """In a second design round a station opened in the first is fixed open under its
    candidate's id: that candidate is no column of the model (the loop would drop it), and
    ``p`` is capped at the candidates left instead of being refused."""
    import planner.study.optimize_city as city

    opt = _city_case(tmp_path, {"kind": "mclp", "threshold_min": 1, "p": 1})
    fixed = pd.DataFrame({"station_id": ["a"], "node": [0], "plugs": [2], "power_kw": [50.0]})
    demand = pd.DataFrame({"node": [0, 15], "weight": [1.0, 1.0]})
    seen: list = []
    build = city.MCLP.from_cost_matrix

    def spy(cost, *args, **kw):
        seen.append((np.shape(cost), list(kw["site_labels"]), kw["p"]))
        return build(cost, *args, **kw)

    monkeypatch.setattr(city.MCLP, "from_cost_matrix", spy)
    chosen, plugs = opt.solve_sites(demand, fixed, p, None)
    assert opt.candidates["site_id"].iloc[chosen].tolist() == ["b"]
    assert len(plugs) == 1
    # the model saw the fixed station and the one candidate still to open, p capped at 1
    assert seen == [((2, 2), ["a", "b"], 1)]
    # every candidate open already: nothing to site, no solve
    both = pd.DataFrame(
        {"station_id": ["a", "b"], "node": [0, 15], "plugs": [2, 2], "power_kw": [50.0] * 2}
    )
    chosen, plugs = opt.solve_sites(demand, both, p, None)
    assert chosen.size == 0 and plugs.size == 0


def test_the_capacitated_city_model_plans_no_plugs_on_a_candidate_already_open(tmp_path):
    """Demand at node 0 beyond what ``a``'s 2 plugs (its ``max_plugs``) serve: the model may
    not add a second site there under the candidate's id, which the design loop would drop.
    Before the fix the solve "succeeded" with plugs on that column; now the model says
    which limit binds."""
    from planner._errors import InfeasibleModelError

    opt = _city_case(tmp_path, {"kind": "capacitated", "threshold_min": 1})
    opt.cfg.candidates.max_plugs = 2
    fixed = pd.DataFrame({"station_id": ["a"], "node": [0], "plugs": [2], "power_kw": [50.0]})
    demand = pd.DataFrame({"node": [0, 15], "weight": [3.0, 0.2]})
    with pytest.raises(InfeasibleModelError, match="raise max_plugs"):
        opt.solve_sites(demand, fixed, None, None)
    # with room left at b, the same study sites b (never a) and no error
    demand = pd.DataFrame({"node": [0, 15], "weight": [1.0, 2.0]})
    chosen, plugs = opt.solve_sites(demand, fixed, None, None)
    assert opt.candidates["site_id"].iloc[chosen].tolist() == ["b"]
    assert plugs.tolist() and min(plugs) >= 1


# ---------------------------------------------------------------------- 4. wrong types
@pytest.mark.parametrize(
    ("kw", "parts"),
    [
        ({"p": "3"}, ["p must be a non-negative integer", "str '3'", "p=5"]),
        ({"p": 2.5}, ["p must be a non-negative integer", "2.5"]),
        ({"p": [1]}, ["p must be a non-negative integer", "list [1]"]),
        ({"p": True}, ["p must be a non-negative integer", "bool True"]),
        ({"p": -1}, ["p must be a non-negative integer", "-1"]),
        ({"threshold": "600"}, ["threshold must be a number, got str '600'", "seconds"]),
        ({"threshold": None}, ["threshold must be a number, got NoneType None"]),
        ({"budget": "1e6"}, ["budget must be a number, got str '1e6'"]),
        ({"candidate_costs": "cheap"}, ["candidate_costs must be one number per site", "'cheap'"]),
        ({"candidate_costs": [1, 2]}, ["candidate_costs has 2 values but there are 3 sites"]),
    ],
)
def test_wrong_scalar_and_vector_types_name_the_argument(kw, parts):
    with pytest.raises(ModelInputError) as err:
        BUILDERS["mclp"](**kw)
    for part in parts:
        assert part in str(err.value), (part, str(err.value))


@pytest.mark.parametrize(
    ("cost", "parts"),
    [
        ("cost matrix", ["cost must be a 2-D demand x site matrix", "str 'cost matrix'"]),
        ({"a": [1.0]}, ["cost must be a 2-D", "dict"]),
        ([[1.0, 2.0], [3.0]], ["cost must be a 2-D", "not readable as real numbers"]),
        ([["1 min", "2 min"]], ["cost must be a 2-D", "not readable as real numbers"]),
        (np.array([[1 + 2j, 3.0]]), ["cost must be a 2-D", "complex"]),
        ([1.0, 2.0], ["cost must be a 2-D matrix (demand x sites), got shape (2,)", "reshape"]),
    ],
)
def test_a_malformed_cost_matrix_names_cost(cost, parts):
    for build in (
        lambda: PMedian.from_cost_matrix(cost, p=1),
        lambda: MCLP.from_cost_matrix(cost, threshold=1.0, p=1),
        lambda: Capacitated.from_cost_matrix(cost, [1.0], threshold=1.0, max_plugs=2),
    ):
        with pytest.raises(ModelInputError) as err:
            build()
        for part in parts:
            assert part in str(err.value), (part, str(err.value))


def test_list_and_frame_inputs_are_still_read():
    as_lists = PMedian.from_cost_matrix(COST.tolist(), W.tolist(), p=1)
    as_frame = PMedian.from_cost_matrix(pd.DataFrame(COST), pd.Series(W), p=1)
    np.testing.assert_array_equal(as_lists.raw["cost"], COST)
    np.testing.assert_array_equal(as_frame.raw["weights"], W)
    assert MCLP.from_cost_matrix(COST, W, threshold=np.float32(200), p=np.int64(1)).raw["p"] == 1
    assert PMedian.from_cost_matrix(COST, p=2.0).raw["p"] == 2  # an integral float


def test_wrong_weights_name_weights():
    with pytest.raises(ModelInputError, match=r"weights must be one number per demand row \(3\)"):
        PMedian.from_cost_matrix(COST, "heavy", p=1)
    with pytest.raises(ModelInputError, match=r"weights must be finite and >= 0.*rows \[1\].*-2"):
        PMedian.from_cost_matrix(COST, [1.0, -2.0, 1.0], p=1)


def test_frlm_wrong_types_name_the_argument():
    with pytest.raises(ModelInputError, match=r"FRLM: route_km must be a list.*float 30.0"):
        _frlm(route_km=30.0)
    with pytest.raises(ModelInputError, match=r"flows must be one flow \(trips\) per OD route"):
        _frlm(flows="many")
    with pytest.raises(ModelInputError, match=r"FRLM: range_km must be a number, got str '50'"):
        _frlm(range_km="50")
    with pytest.raises(ModelInputError, match=r"n_sites must be a non-negative integer"):
        _frlm(n_sites=3.5)
    with pytest.raises(ModelInputError, match=r"flows must be finite and >= 0.*pairs \[2\].*-3"):
        _frlm(flows=[1.0, 2.0, -3.0])


def test_from_geodataframe_wrong_types_name_the_argument():
    net = _line_network()
    demand = _points(net, [0, 2, 4], w=[1.0, 1.0, 1.0])
    cands = _points(net, [1, 3], site_id=["s1", "s2"])
    kw = dict(weight_col="w", threshold=600.0, p=1)
    with pytest.raises(
        ModelInputError, match=r"demand_gdf must be a geopandas.GeoDataFrame, got list"
    ):
        MCLP.from_geodataframe([(71.0, 51.0)], cands, net, **kw)
    with pytest.raises(ModelInputError, match=r"candidates_gdf must be a geopandas.GeoDataFrame"):
        SetCover.from_geodataframe(demand, {"site_id": ["s1"]}, net, weight_col="w", threshold=1.0)
    with pytest.raises(ModelInputError, match=r"network must be a networks.RoadNetwork, got str"):
        MCLP.from_geodataframe(demand, cands, "almaty.osm.pbf", **kw)
    with pytest.raises(ModelInputError, match=r"site.*no geometry to snap"):
        MCLP.from_geodataframe(demand, pd.DataFrame({"site_id": ["s1"]}), net, **kw)
    with pytest.raises(ModelInputError, match=r"demand_gdf column 'w' must be demand weights"):
        MCLP.from_geodataframe(demand.assign(w=["a", "b", "c"]), cands, net, **kw)
    # the scalars are checked before any travel time is computed
    with pytest.raises(ModelInputError, match=r"threshold must be a number, got str"):
        MCLP.from_geodataframe(demand, cands, net, weight_col="w", threshold="600", p=1)
    with pytest.raises(ModelInputError, match=r"p must be a non-negative integer .*got str '1'"):
        PMedian.from_geodataframe(demand, cands, net, weight_col="w", p="1")
    # text flags would be read as true ("no" is a non-empty string): refused, with the values
    with pytest.raises(ModelInputError, match=r"column 'existing' must be true/false .*'no'"):
        MCLP.from_geodataframe(demand, cands.assign(existing=["no", False]), net, **kw)
    ok = MCLP.from_geodataframe(demand, cands.assign(existing=[1, None]), net, **kw)
    assert ok.raw["fixed_open"].tolist() == [0]


def test_number_arrays_of_object_dtype_are_read_as_numbers():
    """Object arrays of numbers (a column after a concat with an empty frame) were read
    before the type checks; ``None`` in ``upgrade_cost_per_kw`` means "no upgrade"."""
    base = dict(threshold=800, max_plugs=4, plug_kw=50.0, utilisation=0.5, coverage=0.5)
    plain = Capacitated.from_cost_matrix(COST, W, **base).solve().selected
    for extra in (
        {"plug_kw": np.array([50.0] * 3, dtype=object)},
        {"max_plugs": np.array([4, 4, 4], dtype=object)},
        {"grid_kw": np.array([np.inf] * 3, dtype=object)},
        {"grid_kw": 1e6, "upgrade_cost_per_kw": [None, 1.0, 1.0]},
    ):
        got = Capacitated.from_cost_matrix(COST, W, **{**base, **extra}).solve().selected
        assert list(got) == list(plain), extra
    with pytest.raises(ModelInputError, match=r"plug_kw must hold numbers.*\['a'\]"):
        Capacitated.from_cost_matrix(
            COST, W, **{**base, "plug_kw": np.array(["a", 50, 50], dtype=object)}
        )


def test_frlm_reads_routes_given_as_pandas_series():
    """Routes as pandas Series (columns of an OD frame) were read before the type checks."""
    frame = pd.DataFrame(
        {
            "route_km": [np.array([0.0, 10.0, 30.0])] * 3,
            "site_km": [np.array([10.0])] * 3,
            "site_idx": [np.array([0]), np.array([1]), np.array([2])],
        },
        index=[7, 8, 9],  # not positions: the Series are read in order
    )
    got = _frlm(route_km=frame["route_km"], site_km=frame["site_km"], site_idx=frame["site_idx"])
    assert list(got.solve().selected) == list(_frlm().solve().selected)


@pytest.mark.parametrize("p", [np.array(2), decimal.Decimal(2), 2.0, np.int64(2)])
def test_p_and_threshold_as_0d_arrays_or_decimals_are_numbers(p):
    """``np.array(2)`` (a numpy reduction) and ``Decimal`` were accepted before the checks."""
    plain = MCLP.from_cost_matrix(COST, W, threshold=200.0, p=2).solve()
    for threshold in (np.array(200.0), decimal.Decimal("200")):
        res = MCLP.from_cost_matrix(COST, W, threshold=threshold, p=p).solve()
        assert list(res.selected) == list(plain.selected) and len(res.selected) == 2


def test_a_weights_table_is_refused_not_flattened():
    """A (2, 3) table of six numbers for six demand rows was flattened row by row and
    solved as if it were one weight per row; a one-column (n, 1) frame is still read."""
    cost6 = np.vstack([COST, COST])
    with pytest.raises(ModelInputError, match=r"weights must be one number.*shape \(2, 3\)"):
        PMedian.from_cost_matrix(cost6, np.ones((2, 3)), p=1)
    column = PMedian.from_cost_matrix(COST, pd.DataFrame({"w": W}), p=1)
    np.testing.assert_array_equal(column.raw["weights"], W)


@pytest.mark.parametrize("kind", ["pmedian", "mclp"])
def test_solve_options_read_numpy_numbers_and_refuse_bools(kind):
    """``solve(threads=np.int64(2))`` (a value read from an array) was refused while
    ``threads=True`` passed as one thread; both now follow the rule of the other
    arguments: numpy numbers are numbers, a bool is not."""
    model = BUILDERS[kind]()
    plain = model.solve(threads=1, seed=0, time_limit_s=10)
    got = model.solve(threads=np.int64(1), seed=np.uint8(0), time_limit_s=np.float32(10))
    assert list(got.selected) == list(plain.selected)
    for kw, name in (
        ({"threads": True}, "threads"),
        ({"seed": False}, "seed"),
        ({"time_limit_s": True}, "time_limit_s"),
        ({"time_limit_s": float("nan")}, "time_limit_s"),
        ({"threads": 1.5}, "threads"),
    ):
        with pytest.raises(ModelInputError, match=rf"^{name} must be"):
            model.solve(**kw)


def test_frlm_from_network_names_a_wrong_network():
    """FRLM.from_network("net.pbf", ...) ended in a bare AttributeError (n_nodes)."""
    from sim.synthetic import grid_network

    class Loaded:  # stands for networks.LoadedNetwork: it holds the network
        network = grid_network(3, 3)

    for wrong, hint in (("net.pbf", "load one with"), (Loaded(), "use its .network")):
        with pytest.raises(
            ModelInputError, match=rf"network must be a networks.RoadNetwork.*{hint}"
        ):
            FRLM.from_network(wrong, [0], [8], [1.0], [4], range_km=50.0, p=1)


def test_a_full_station_covers_none_of_the_demand_left(tmp_path):
    """The design loop's spill (review of 2026-12-07): drivers who gave up at a station
    that needs more plugs than it may have are its overflow. Before, the MCLP counted them
    as covered by that station and sited nothing for them (Almaty: 217 queue abandonments,
    "the optimiser found nothing to open"); a station flagged ``full`` now covers none of
    them, and no candidate on its own node may stand in for it."""
    opt = _city_case(tmp_path, {"kind": "mclp", "threshold_min": 1, "p": 1})
    near = opt.candidates.iloc[[0]].assign(site_id="c", name="c", node=1)
    opt.candidates = pd.concat([opt.candidates, near], ignore_index=True)
    demand = pd.DataFrame({"node": [0, 15], "weight": [3.0, 1.0]})
    fixed = pd.DataFrame(
        {"station_id": ["X"], "node": [0], "plugs": [6], "power_kw": [50.0], "full": [False]}
    )
    chosen, _ = opt.solve_sites(demand, fixed, 1, None)
    assert opt.candidates["site_id"].iloc[chosen].tolist() == ["b"]  # node 0 counted covered
    chosen, _ = opt.solve_sites(demand, fixed.assign(full=True), 1, None)
    assert opt.candidates["site_id"].iloc[chosen].tolist() == ["c"]  # the overflow, next door


def test_a_full_station_still_counts_in_a_set_cover(tmp_path):
    """The set cover must cover every demand row: leaving a full station out made the
    overflow of a node only it reaches uncoverable, and the study crashed (review of
    2026-12-07). The cover keeps it; MCLP and p-median spill."""
    opt = _city_case(tmp_path, {"kind": "cover", "threshold_min": 1})
    demand = pd.DataFrame({"node": [0], "weight": [3.0]})
    fixed = pd.DataFrame(
        {"station_id": ["X"], "node": [0], "plugs": [6], "power_kw": [50.0], "full": [True]}
    )
    chosen, _ = opt.solve_sites(demand, fixed, None, None)
    assert chosen.size == 0  # covered by X, nothing to add, no error
