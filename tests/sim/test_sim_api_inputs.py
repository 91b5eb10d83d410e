"""Bad arguments to the simulation API are clear errors naming the argument and value, not
silent wrong answers or hangs (found by an audit of the public API; synthetic inputs)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from sim import (
    DemandError,
    SimSettings,
    SimSettingsError,
    StationError,
    demand,
    replicate,
    simulate,
)
from tests.sim._grid_case import NET, STATIONS, TRIPS


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"timeseries_step_s": 1e-3}, "at least 1 second"),  # hung building the time series
        ({"precondition": "no"}, "True or False"),  # "no" was truthy
        ({"initial_soc": (0.1, 0.2, 0.3)}, "(low, high) pair"),  # third value dropped
        ({"initial_soc": ("a", "b")}, "numbers"),
        ({"max_wait_s": "10"}, "must be a number"),
        ({"home_charging_share": "0.5"}, "must be a number"),
        ({"ice_cold_ref_c": float("nan")}, "finite"),
    ],
)
def test_bad_settings_name_the_setting_and_value(kwargs, needle):
    ((name, value),) = kwargs.items()
    with pytest.raises(SimSettingsError) as exc:
        SimSettings(**kwargs)
    assert name in str(exc.value) and repr(value) in str(exc.value) and needle in str(exc.value)


def test_settings_accept_numpy_numbers_and_lists():
    SimSettings(max_wait_s=np.int64(600), home_charging_share=np.float64(0.3))
    SimSettings(initial_soc=[0.2, 0.8])
    # every numeric setting takes a numpy number (read from an array or a table) and keeps
    # the Python value it holds, so reports and JSON see one kind of number
    got = SimSettings(
        ambient_temp_c=np.float32(-20.0),
        max_balks_per_leg=np.int64(2),
        warmup_s=np.int32(3600),
        precondition=np.bool_(True),
        time_factors=np.full(24, 1.5),
    )
    assert type(got.ambient_temp_c) is float and got.ambient_temp_c == -20.0
    assert type(got.max_balks_per_leg) is int and type(got.warmup_s) is int
    assert got.precondition is True and got.time_factors == (1.5,) * 24


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ambient_temp_c": True},  # read as 1 C
        {"max_balks_per_leg": True},  # read as one balk
        {"warmup_s": False},
        {"grid_kg_co2_per_kwh": True},
        {"time_factors": [True] * 24},
        {"initial_soc": True},  # read as a full battery
    ],
)
def test_a_bool_is_not_a_number_of_any_setting(kwargs):
    """A bool was taken as 1 or 0 by several settings (and refused by others)."""
    ((name, value),) = kwargs.items()
    with pytest.raises(SimSettingsError, match=rf"simulation setting {name} = "):
        SimSettings(**kwargs)


def test_demand_and_replicate_counts_take_numpy_integers_and_refuse_bools():
    """``days=True`` made one day and ``days=np.int64(2)`` was refused; ``workers`` and
    ``start`` followed the same two rules."""
    zones = gpd.GeoDataFrame(
        {"name": ["synthetic zone"], "population": [100]},
        geometry=[box(NET.lon.min() - 0.01, NET.lat.min() - 0.01, NET.lon.max(), NET.lat.max())],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(0)
    two = demand.city_trips(NET, zones, rng=rng, fleet_size=5, days=np.int64(2))
    assert two["depart_s"].max() >= 86_400
    with pytest.raises(DemandError, match=r"days = True must be an integer"):
        demand.city_trips(NET, zones, rng=rng, fleet_size=5, days=True)
    with pytest.raises(SimSettingsError, match=r"workers = True must be an integer"):
        replicate(NET, STATIONS, TRIPS, replications=2, workers=True)
    with pytest.raises(SimSettingsError, match=r"start = True must be in"):
        replicate(NET, STATIONS, TRIPS, replications=2, start=True)
    runs = replicate(NET, STATIONS, TRIPS, replications=2, workers=np.int64(1), start=np.int64(1))
    assert runs is not None


def test_station_dc_must_be_true_or_false():
    """``dc = "no"`` became True through astype(bool): a DC station by mistake."""
    with pytest.raises(StationError, match=r"'dc'.*'b' \(dc='no'\)"):
        simulate(NET, STATIONS.assign(dc=["yes", "no"]), TRIPS, seed=1)
    res = simulate(NET, STATIONS.assign(dc=[1, 0]), TRIPS, seed=1)
    assert res.stations["dc"].tolist() == [True, False]
    res = simulate(NET, STATIONS.assign(dc=[False, None]), TRIPS, seed=1)
    assert res.stations["dc"].tolist() == [False, True]  # blank: 150 kW is DC


def test_trips_with_a_blank_chain_seq_or_vehicle_id_are_refused():
    """A NaN chain_seq sorted the leg last: the vehicle started from the wrong place."""
    with pytest.raises(DemandError, match=r"chain_seq .*rows \[1\]"):
        simulate(NET, None, TRIPS.assign(chain_seq=[0, np.nan, 0]), seed=1)
    with pytest.raises(DemandError, match=r"vehicle_id is blank in rows \[2\]"):
        simulate(NET, None, TRIPS.assign(vehicle_id=[0, 0, np.nan]), seed=1)


def test_city_adoption_share_is_a_share_and_an_empty_fleet_names_fleet_size():
    zones = gpd.GeoDataFrame(
        {"name": ["synthetic zone"], "population": [100]},
        geometry=[box(NET.lon.min() - 0.01, NET.lat.min() - 0.01, NET.lon.max(), NET.lat.max())],
        crs="EPSG:4326",
    )
    rng = np.random.default_rng(0)
    with pytest.raises(DemandError, match=r"adoption_share = 5\.0 must be a share"):
        demand.city_trips(NET, zones, rng=rng, adoption_share=5.0)
    for bad in (0, 2.5, True):
        with pytest.raises(DemandError, match=r"fleet_size = .* must be a whole number >= 1"):
            demand.city_trips(NET, zones, rng=rng, fleet_size=bad)
    for bad in (0, -3):  # an empty table came back
        with pytest.raises(DemandError, match=r"max_trips = .* must be a whole number >= 1"):
            demand.city_trips(NET, zones, rng=rng, fleet_size=5, max_trips=bad)


@pytest.mark.parametrize("seed", ["abc", 1.5, -1, True])
def test_a_seed_that_is_not_a_non_negative_integer_is_named(seed):
    with pytest.raises(SimSettingsError, match=r"seed = .* must be an integer >= 0"):
        simulate(NET, None, TRIPS, seed=seed)
    with pytest.raises(SimSettingsError, match=r"seed = .* must be an integer >= 0"):
        replicate(NET, None, TRIPS, replications=2, seed=seed)


def test_synthetic_networks_refuse_non_positive_lengths():
    """A negative edge made a 100 km leg 0.1 km long."""
    from sim.synthetic import grid_network, line_network

    with pytest.raises(ValueError, match="lengths_m"):
        line_network([-100_000.0, 100.0])
    with pytest.raises(ValueError, match="spacing_m"):
        grid_network(3, 3, spacing_m=-1.0)


@pytest.mark.parametrize("lat", [np.inf, 200.0, "x"])
def test_station_coordinates_to_snap_are_checked_and_the_bad_station_named(lat):
    from sim import StationOffNetworkError, prepare_stations

    st = pd.DataFrame(
        {"station_id": ["a", "b"], "lon": [76.9, 76.905], "lat": [lat, 43.2], "plugs": 1,
         "power_kw": 50.0}
    )  # fmt: skip
    with pytest.raises(StationOffNetworkError) as exc:
        prepare_stations(NET, st)
    assert "'a'" in str(exc.value) and "'b'" not in str(exc.value)


@pytest.mark.parametrize("kwargs", [{"max_detour_s": -5}, {"session_s": float("nan")},
                                    {"max_extra_detour_s": "600"}])  # fmt: skip
def test_min_detour_takes_seconds_at_least_zero(kwargs):
    from sim.policies import MinDetour

    with pytest.raises(SimSettingsError, match=f"MinDetour.{next(iter(kwargs))}"):
        MinDetour(**kwargs)
    MinDetour(max_detour_s=float("inf"), session_s=float("inf"))


def test_silent_wrong_answers_found_by_the_api_audit_are_errors():
    """Each of these ran and gave a wrong or empty answer with no error (second API audit)."""
    from networks.errors import ConfigError

    # text initial_soc was read as blank (a drawn SoC); blank stays allowed
    with pytest.raises(DemandError, match=r"initial_soc .*'abc'"):
        simulate(NET, STATIONS, TRIPS.assign(initial_soc="abc"), settings=SimSettings())
    # a NaN routing cutoff made every pair unreachable; negative was scipy's own error
    for bad in (float("nan"), -1.0, "x"):
        with pytest.raises(ConfigError, match="cutoff must be"):
            NET.travel_time_matrix([0], [1], cutoff=bad)
        with pytest.raises(ConfigError, match="cutoff must be"):
            NET.route_matrices([0], [1], cutoff=bad)
    # a warm-up as long as the horizon measured nothing (every KPI empty)
    with pytest.raises(SimSettingsError, match=r"warmup_s = 5000.* below horizon_s"):
        SimSettings(warmup_s=5000.0, horizon_s=4000.0)
    # corridor places at a fractional node were moved to the node below
    places = pd.DataFrame({"name": ["a", "b", "c"], "population": [1e5] * 3, "node": [0, 5, 3.7]})
    with pytest.raises(DemandError, match=r"whole node indices .*3\.7"):
        demand.corridor_trips(NET, places, rng=np.random.default_rng(0), trips_per_day=10)
    # 0.4 trips a day rounded to none: pandas' "No objects to concatenate"
    with pytest.raises(DemandError, match=r"trips_per_day = 0\.4 must be at least 0\.5"):
        demand.corridor_trips(
            NET, places.assign(node=[0, 5, 3]), rng=np.random.default_rng(0), trips_per_day=0.4
        )


def test_replicate_checks_trip_nodes_before_route_tables_and_one_run_has_no_interval():
    """replicate built route tables first: an out-of-range origin was an IndexError; one run
    reported std 0 and a zero-width interval (certainty from one run)."""
    with pytest.raises(DemandError, match=r"origin value\(s\) are not node indices"):
        replicate(NET, STATIONS, TRIPS.assign(origin=999), replications=2)
    with pytest.raises(SimSettingsError, match=r"replications = True"):
        replicate(NET, STATIONS, TRIPS, replications=True)
    one = replicate(NET, STATIONS, TRIPS, replications=1)
    assert one["n"].max() == 1 and one["std"].isna().all() and one["ci_low"].isna().all()
    assert one["mean"].notna().any()


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("plugs", True, "plugs"),  # True was one plug
        ("plugs", 1e20, "plugs"),  # overflowed into SimPy's own error
        ("power_kw", True, "power_kw"),
        ("station_id", np.nan, "station_id is blank"),
        ("station_id", " ", "station_id is blank"),
    ],
)
def test_station_values_the_api_audit_found_accepted(column, value, needle):
    bad = STATIONS.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[0, column] = value
    with pytest.raises(StationError, match=needle):
        simulate(NET, bad, TRIPS, settings=SimSettings())


def test_something_that_is_not_a_road_network_is_named_with_the_way_to_get_one(tmp_path):
    """``simulate("almaty.osm.pbf", ...)`` ended in ``AttributeError: 'str' object has no
    attribute 'n_nodes'``; every public function that takes the network now says what it
    got and how to get a network (a LoadedNetwork: its ``.network``)."""
    from networks.errors import NetworkTypeError
    from sim import prepare_stations

    class Loaded:  # stands for networks.LoadedNetwork: it holds the network
        network = NET

    calls = {
        "simulate": lambda net: simulate(net, STATIONS, TRIPS, seed=1),
        "replicate": lambda net: replicate(net, STATIONS, TRIPS, replications=2),
        "prepare_stations": lambda net: prepare_stations(net, STATIONS),
        "city_trips": lambda net: demand.city_trips(net, None, fleet_size=5, rng=1),
        "corridor_trips": lambda net: demand.corridor_trips(net, None, trips_per_day=5, rng=1),
        "read_od_table": lambda net: demand.read_od_table(
            tmp_path / "od.csv", network=net, rng=np.random.default_rng(0)
        ),
    }
    for call in calls.values():
        with pytest.raises(NetworkTypeError, match=r"network = 'net\.pbf' \(str\) must be a "):
            call("net.pbf")
        with pytest.raises(TypeError, match=r"\(Loaded\) must be .*use its \.network"):
            call(Loaded())
