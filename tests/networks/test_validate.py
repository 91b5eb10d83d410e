"""Bounding box and snap-distance validation at the networks API (synthetic inputs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from networks import (
    ConfigError,
    EmptyAreaError,
    EmptyBBoxError,
    RoadNetwork,
    validate_bbox,
    validate_snap_distance,
)
from networks.corridor import corridor_graph_from_osm
from networks.load import download_network
from networks.sites import StationSpec, candidate_sites, existing_stations
from tests.networks.test_networks_synthetic import _random_graph


@pytest.mark.parametrize(
    "bbox, want",
    [
        ((71.3, 51.0, 71.6, 51.3), (71.3, 51.0, 71.6, 51.3)),
        ([71, 51, 72, 52], (71.0, 51.0, 72.0, 52.0)),
        ("71.3, 51.0,71.6,51.3", (71.3, 51.0, 71.6, 51.3)),
        ((-180, -90, 180, 90), (-180.0, -90.0, 180.0, 90.0)),
        (np.array([76.8, 43.1, 77.1, 43.4]), (76.8, 43.1, 77.1, 43.4)),
    ],
)
def test_valid_bboxes(bbox, want):
    got = validate_bbox(bbox)
    assert got == want and all(type(v) is float for v in got)


@pytest.mark.parametrize(
    "bbox, error, needles",
    [
        ((71.3, 51.0, 71.6), ConfigError, ["four numbers", "(west, south, east, north)"]),
        ("71.3,51.0,71.6", ConfigError, ["'71.3,51.0,71.6'", "four numbers"]),
        ((71.3, "x", 71.6, 51.3), ConfigError, ["four numbers"]),
        (None, ConfigError, ["four numbers"]),
        ((71.3, 51.0, 71.6, math.nan), ConfigError, ["north = nan is not a finite number"]),
        ((190.0, 51.0, 191.0, 51.3), ConfigError, ["west = 190.0 is outside [-180, 180]"]),
        ((71.3, 51.0, 181.0, 51.3), ConfigError, ["east = 181.0", "longitude"]),
        ((71.3, -91.0, 71.6, 51.3), ConfigError, ["south = -91.0 is outside [-90, 90]"]),
        ((51.0, 71.3, 51.3, 91.6), ConfigError, ["north = 91.6", "latitude"]),
        ((71.5, 51.2, 71.4, 51.3), EmptyBBoxError, ["empty or inverted", "west 71.5 >= east 71.4"]),
        ((71.3, 51.3, 71.6, 51.3), EmptyBBoxError, ["south 51.3 >= north 51.3"]),
    ],
)
def test_invalid_bboxes_name_the_side(bbox, error, needles):
    with pytest.raises(error) as exc:
        validate_bbox(bbox, what="--bbox")
    msg = str(exc.value)
    assert msg.startswith("--bbox ")
    for needle in needles:
        assert needle in msg


def test_empty_bbox_error_is_config_and_empty_area_error():
    with pytest.raises(ConfigError):
        validate_bbox((2, 0, 1, 1))
    with pytest.raises(EmptyAreaError):
        validate_bbox((0, 2, 1, 1))


def test_download_functions_check_the_bbox_before_going_online(tmp_path):
    with pytest.raises(ConfigError, match="west = 200.0 is outside"):
        download_network(bbox=(200.0, 51.0, 201.0, 51.3), cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="south = -95.0"):
        corridor_graph_from_osm((71.3, -95.0, 71.6, 51.3), cache_dir=tmp_path)
    with pytest.raises(EmptyBBoxError, match="south 51.3 >= north 51.0"):
        corridor_graph_from_osm((71.3, 51.3, 71.6, 51.0), cache_dir=tmp_path)


@pytest.mark.parametrize("value", [-1.0, -math.inf, math.nan, "300", None, True])
def test_bad_snap_distance_is_a_config_error(value):
    with pytest.raises(ConfigError, match=r"max_distance_m = "):
        validate_snap_distance(value)


def test_snap_distance_accepts_zero_and_inf():
    assert validate_snap_distance(0) == 0.0
    assert validate_snap_distance(np.float32(12.5)) == 12.5
    assert validate_snap_distance(math.inf) == math.inf


@pytest.fixture(scope="module")
def net():
    return RoadNetwork.from_graph(_random_graph(1), name="synthetic")


@pytest.mark.parametrize("value, shown", [(-5.0, "-5.0"), (math.nan, "nan")])
def test_snap_and_sites_reject_bad_limits(net, value, shown):
    lon, lat = net.lon[:2], net.lat[:2]
    with pytest.raises(ConfigError, match=f"max_distance_m = {shown}"):
        net.snap(lon, lat, max_distance_m=value)
    with pytest.raises(ConfigError, match=f"max_distance_m = {shown}"):
        net.snap_strict(lon, lat, max_distance_m=value)
    pois = pd.DataFrame(
        {
            "osm_type": ["node"],
            "osm_id": [1],
            "lon": [net.lon[0]],
            "lat": [net.lat[0]],
            "name": ["Fuel"],
            "tags": [{"amenity": "fuel"}],
        }
    )
    with pytest.raises(ConfigError, match=f"max_snap_m = {shown}"):
        candidate_sites(net, pois, max_snap_m=value)
    with pytest.raises(ConfigError, match=f"max_snap_m = {shown}"):
        candidate_sites(net, pois.iloc[:0], max_snap_m=value)
    spec = StationSpec(name="Here", lon=float(net.lon[1]), lat=float(net.lat[1]))
    with pytest.raises(ConfigError, match=f"max_snap_m = {shown}"):
        existing_stations(net, pois, [spec], max_snap_m=value)


def test_infinite_snap_limit_keeps_far_points(net):
    res = net.snap([net.lon[0], 70.0], [net.lat[0], 43.0], max_distance_m=math.inf)
    assert res.within.all()


@pytest.mark.parametrize("value", ["abc", "-3", "0", "2.5"])
def test_bad_evplan_threads_is_a_config_error_naming_it(net, monkeypatch, value):
    """``EVPLAN_THREADS=abc`` escaped as a ValueError from ``int()`` (the CLI's "internal
    error", exit 70, once routing had started) and ``-3`` or ``0`` became 1 silently. Now
    routing raises a ConfigError naming the variable, its value and the fix (synthetic
    network)."""
    monkeypatch.setenv("EVPLAN_THREADS", value)
    with pytest.raises(ConfigError) as err:
        net.travel_time_matrix([0], [1])
    msg = str(err.value)
    assert f"EVPLAN_THREADS={value!r}" in msg and "whole number >= 1" in msg and "unset" in msg


@pytest.mark.parametrize("value, want", [("3", 3), (" 2 ", 2), ("", None)])
def test_positive_int_env_reads_a_count(monkeypatch, value, want):
    from networks.validate import positive_int_env

    monkeypatch.setenv("EVPLAN_TEST_COUNT", value)
    assert positive_int_env("EVPLAN_TEST_COUNT", meaning="a count") == want
    monkeypatch.delenv("EVPLAN_TEST_COUNT")
    assert positive_int_env("EVPLAN_TEST_COUNT", meaning="a count") is None
