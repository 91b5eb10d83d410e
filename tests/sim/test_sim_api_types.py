"""Wrong types and out-of-range arguments to the public simulation API are domain errors
naming the argument, the value or type received and the fix -- not a raw numpy error or an
AttributeError deep inside (found by an audit of the public API; synthetic inputs)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from networks.errors import EvplanError
from sim import (
    DemandError,
    SimError,
    SimSettings,
    SimSettingsError,
    StationError,
    StationOffNetworkError,
    VehicleSpecError,
    builtin_models,
    demand,
    prepare_stations,
    replicate,
    simulate,
)
from tests.sim._grid_case import NET, STATIONS, TRIPS

ZONES = gpd.GeoDataFrame(  # one synthetic zone covering the grid
    {"name": ["synthetic zone"], "population": [200]},
    geometry=[box(NET.lon.min() - 0.01, NET.lat.min() - 0.01, NET.lon.max(), NET.lat.max())],
    crs="EPSG:4326",
)
PLACES = pd.DataFrame(  # synthetic places at the grid's corners
    {"name": ["p0", "p4", "p20", "p24"], "node": [0, 4, 20, 24], "population": [10, 20, 30, 40]}
)


def _od_csv(tmp_path):
    path = tmp_path / "synthetic_od.csv"
    pd.DataFrame({"origin": [0, 3, 7], "destination": [24, 12, 1], "depart_s": 0.0}).to_csv(
        path, index=False
    )
    return path


# ------------------------------------------------------------------- demand: nodes_per_zone


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_city_nodes_per_zone_must_be_an_integer_at_least_one(value):
    """0 ended in numpy's 'high <= 0', -1 in 'negative dimensions are not allowed'."""
    with pytest.raises(DemandError) as exc:
        demand.city_trips(NET, ZONES, rng=np.random.default_rng(0), nodes_per_zone=value)
    msg = str(exc.value)
    assert f"nodes_per_zone = {value!r} ({type(value).__name__})" in msg
    assert "integer >= 1" in msg and "None" in msg


@pytest.mark.parametrize("value", [1, np.int64(3), None])
def test_city_nodes_per_zone_accepts_positive_integers_and_none(value):
    trips = demand.city_trips(NET, ZONES, rng=np.random.default_rng(0), nodes_per_zone=value)
    assert len(trips) > 0
    if value == 1:  # one candidate node: every home is the same node
        assert trips.loc[trips["purpose"] == "work", "origin"].nunique() == 1


# ----------------------------------------------------------------------- demand: rng / seed


def _generators(tmp_path):
    """Every public demand generator taking ``rng``, called with the given rng."""
    od = _od_csv(tmp_path)
    return {
        "city_trips": lambda rng: demand.city_trips(NET, ZONES, rng=rng),
        "corridor_trips": lambda rng: demand.corridor_trips(
            NET, PLACES, rng=rng, trips_per_day=20, min_distance_km=1.0
        ),
        "read_od_table": lambda rng: demand.read_od_table(od, network=NET, rng=rng),
        "DepartureProfile('other').sample": lambda rng: pd.DataFrame(
            {"t": demand.OTHER_PROFILE.sample(rng, 5)}
        ),
    }


@pytest.mark.parametrize("seed", [5, np.int64(5), np.random.SeedSequence(5)])
def test_demand_generators_take_a_seed_as_rng_like_simulate(tmp_path, seed):
    """``rng=5`` ended in "'int' object has no attribute 'choice'"; a seed now goes through
    numpy.random.default_rng, as simulate's ``seed`` does."""
    for make in _generators(tmp_path).values():
        pd.testing.assert_frame_equal(make(seed), make(np.random.default_rng(seed)))


@pytest.mark.parametrize("rng", [None, 1.5, -1, True, "abc", np.random.RandomState(0)])
def test_demand_generators_name_an_rng_that_is_not_a_generator_or_seed(tmp_path, rng):
    for where, make in _generators(tmp_path).items():
        with pytest.raises(DemandError) as exc:
            make(rng)
        msg = str(exc.value)
        assert msg.startswith(f"{where}: rng = ") and f"({type(rng).__name__})" in msg
        assert "numpy.random.default_rng" in msg


# ------------------------------------------------------------- prepare_stations: given node


@pytest.mark.parametrize("node", [99, -1, 1.5, "x"])
def test_prepare_stations_checks_a_given_node_like_simulate(node):
    """A given node was passed on unchecked (99 kept, 1.5 silently truncated to 1)."""
    st = STATIONS.assign(node=[0, node])
    with pytest.raises(StationOffNetworkError) as exc:
        prepare_stations(NET, st)
    msg = str(exc.value)
    assert f"'b' (node={node!r})" in msg and "'a'" not in msg and "0..24" in msg
    with pytest.raises(StationOffNetworkError) as later:
        simulate(NET, st, TRIPS, seed=1)
    assert str(later.value) == msg  # one check, the same message


def test_prepare_stations_without_ids_names_rows():
    st = STATIONS.drop(columns="station_id").assign(node=[0, 99])
    with pytest.raises(StationOffNetworkError, match=r"'row 1' \(node=99\)"):
        prepare_stations(NET, st)


def test_prepare_stations_keeps_given_nodes_and_snaps_the_rest():
    st = pd.DataFrame(
        {
            "station_id": ["given", "snapped"],
            "node": [np.int64(7), np.nan],
            "lon": [np.nan, float(NET.lon[12])],
            "lat": [np.nan, float(NET.lat[12])],
            "plugs": 1,
            "power_kw": 50.0,
        },
        index=[10, 10],  # a repeated index must not misalign the rows
    )
    out = prepare_stations(NET, st)
    assert out["node"].tolist() == [7, 12] and out["node"].dtype == np.int64
    with pytest.raises(StationOffNetworkError, match=r"'given' \(node=30\.0\)"):
        prepare_stations(NET, st.assign(node=[30, np.nan]))


# ---------------------------------------------------------------- wrong types: the tables

ENTRY_POINTS = {
    "simulate": lambda **kw: simulate(NET, kw.pop("stations", STATIONS), kw.pop("trips", TRIPS),
                                      seed=1, **kw),
    "replicate": lambda **kw: replicate(NET, kw.pop("stations", STATIONS),
                                        kw.pop("trips", TRIPS), replications=2, **kw),
}  # fmt: skip


@pytest.mark.parametrize("entry", ["simulate", "replicate", "prepare_stations"])
@pytest.mark.parametrize("kind", [list, dict])
def test_stations_that_are_not_a_dataframe_are_named(entry, kind):
    bad = kind(STATIONS.to_dict("records")) if kind is list else STATIONS.to_dict("list")
    with pytest.raises(StationError) as exc:
        if entry == "prepare_stations":
            prepare_stations(NET, bad)
        else:
            ENTRY_POINTS[entry](stations=bad)
    msg = str(exc.value)
    assert msg.startswith("stations = ") and f"({kind.__name__})" in msg
    assert "pandas DataFrame with columns station_id, node, plugs, power_kw" in msg
    assert "pandas.DataFrame(stations)" in msg


@pytest.mark.parametrize("entry", ["simulate", "replicate"])
@pytest.mark.parametrize("bad", [TRIPS.to_dict("records"), TRIPS.to_dict("list"), "trips.csv"])
def test_trips_that_are_not_a_dataframe_are_named(entry, bad):
    with pytest.raises(DemandError) as exc:
        ENTRY_POINTS[entry](trips=bad)
    msg = str(exc.value)
    assert msg.startswith("trips = ") and f"({type(bad).__name__})" in msg
    assert "pandas DataFrame with columns vehicle_id, vehicle_model, origin" in msg


def test_replicate_names_a_demand_callable_that_does_not_return_a_dataframe():
    def make_trips(rng):
        return TRIPS.to_dict("records")

    with pytest.raises(DemandError, match=r"trips callable make_trips returned \[.*\(list\)"):
        replicate(NET, STATIONS, make_trips, replications=2)


def test_empty_or_missing_stations_still_mean_no_public_charging():
    res = simulate(NET, None, TRIPS, seed=1)
    assert len(res.stations) == 0
    res = simulate(NET, STATIONS.iloc[:0], TRIPS, seed=1)
    assert len(res.stations) == 0


# ------------------------------------------------------- wrong types: settings and vehicles


@pytest.mark.parametrize("entry", ["simulate", "replicate"])
@pytest.mark.parametrize("bad", [{"max_wait_s": 600}, {}, "settings.yaml"])
def test_settings_that_are_not_simsettings_are_named(entry, bad):
    """A dict ended in "'dict' object has no attribute 'ac_dc_threshold_kw'"; an empty
    dict was silently replaced by the defaults."""
    with pytest.raises(SimSettingsError) as exc:
        ENTRY_POINTS[entry](settings=bad)
    msg = str(exc.value)
    assert msg.startswith(f"settings = {bad!r} ({type(bad).__name__})")
    assert "must be a sim.SimSettings" in msg and "SimSettings(" in msg


@pytest.mark.parametrize("entry", ["simulate", "replicate"])
@pytest.mark.parametrize("bad", [5, "byd_atto3", ["byd_atto3"]])
def test_a_vehicle_catalogue_that_is_not_a_mapping_is_named(entry, bad):
    with pytest.raises(VehicleSpecError) as exc:
        ENTRY_POINTS[entry](vehicles=bad)
    msg = str(exc.value)
    assert msg.startswith(f"vehicles = {bad!r} ({type(bad).__name__})")
    assert "sim.builtin_models()" in msg and "sim.load_vehicle_models(path)" in msg


@pytest.mark.parametrize("entry", ["simulate", "replicate"])
@pytest.mark.parametrize("bad", [5, "byd_atto3", {"battery_kwh": 60}])
def test_a_catalogue_entry_that_is_not_a_vehicle_model_is_named(entry, bad):
    with pytest.raises(VehicleSpecError) as exc:
        ENTRY_POINTS[entry](vehicles={"byd_atto3": bad})
    assert str(exc.value).startswith(
        f"vehicles['byd_atto3'] = {bad!r} ({type(bad).__name__}) must be a sim.VehicleModel"
    )


def test_one_vehicle_model_instead_of_a_catalogue_says_how_to_wrap_it():
    model = builtin_models()["byd_atto3"]
    with pytest.raises(VehicleSpecError, match=r"for one model pass \{'byd_atto3': model\}"):
        simulate(NET, STATIONS, TRIPS, vehicles=model, seed=1)


def test_demand_generators_check_the_vehicle_catalogue_too():
    with pytest.raises(VehicleSpecError, match=r"vehicles = 5 \(int\)"):
        demand.city_trips(NET, ZONES, rng=0, vehicles=5)


def test_type_errors_are_project_errors_and_good_arguments_still_run():
    """The CLI prints EvplanError messages and exits 2; the right types still work."""
    with pytest.raises(EvplanError, match="None means no public charging"):
        simulate(NET, [], TRIPS, seed=1)  # an empty list is not taken for "no stations"
    assert issubclass(VehicleSpecError, SimError)
    models = {"byd_atto3": builtin_models()["byd_atto3"]}
    res = simulate(NET, STATIONS, TRIPS, vehicles=models, settings=SimSettings(), seed=1)
    assert len(res.trips) == len(TRIPS)
