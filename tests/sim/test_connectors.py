"""Connector standards are checked wherever they are read (sim.connectors): a misspelt
name would match no car, and the design loop would then buy plugs of the misspelt kind
(carmaker review, 2026-12-07: ``connectors: [GBT]`` added a "GBT" plug to a real station)."""

from __future__ import annotations

import pandas as pd
import pytest

from sim import StationError, VehicleSpecError, load_vehicle_models
from sim.connectors import CONNECTOR_STANDARDS, check_connectors
from sim.inputs import validate_stations
from sim.synthetic import grid_network


@pytest.mark.parametrize(
    "name,guess",
    [
        ("GBT", "GB/T"),
        ("gb/t", "GB/T"),
        ("CHAdeMo", "CHAdeMO"),
        ("ccs 2", "CCS2"),
        ("Typ2", "Type2"),
    ],
)
def test_a_near_miss_names_the_standard_it_means(name, guess):
    msg = check_connectors([name])
    assert msg is not None
    assert f"unknown connector {name!r}" in msg and f"did you mean {guess!r}" in msg


def test_known_standards_pass_and_a_far_miss_lists_them():
    assert check_connectors(list(CONNECTOR_STANDARDS)) is None
    msg = check_connectors(["Schuko"])
    assert msg is not None and "did you mean" not in msg and "GB/T" in msg and "CCS2" in msg
    # several unknown names: each named, the known standards listed once
    msg = check_connectors(["GBT", "CCS2", "Schuko"])
    assert msg is not None and msg.startswith(
        "unknown connectors 'GBT' (did you mean 'GB/T'?), 'Schuko';"
    )
    assert msg.count("NACS") == 1


def test_a_connector_string_is_split_like_the_catalogue_does():
    """``VehicleModel(connectors="CCS2; Type2")`` from Python split the string into letters."""
    import dataclasses

    from sim import builtin_models

    m = dataclasses.replace(builtin_models()["byd_atto3"], connectors="CCS2; Type2")
    assert m.connectors == ("CCS2", "Type2")
    m = dataclasses.replace(m, connectors=[" CCS2 ", "Type2"])  # stripped, as in a table
    assert m.connectors == ("CCS2", "Type2")


def test_a_catalogue_model_with_an_unknown_connector_is_refused(tmp_path):
    p = tmp_path / "cars.yaml"
    p.write_text("models:\n  my_car:\n    extends: byd_atto3\n    connectors: [GBT]\n")
    with pytest.raises(VehicleSpecError) as exc:
        load_vehicle_models(p)
    msg = str(exc.value)
    assert str(p) in msg and "my_car" in msg and "'GBT'" in msg and "'GB/T'" in msg


def test_a_station_with_an_unknown_connector_is_refused():
    net = grid_network(3, 3)
    stations = pd.DataFrame(
        {
            "station_id": ["ok", "typo"],
            "node": [0, 4],
            "plugs": [1, 1],
            "power_kw": [50.0, 50.0],
            "connectors": ["CCS2;GB/T", "CCS2;CHAdeMo"],
        }
    )
    with pytest.raises(StationError) as exc:
        validate_stations(net, stations, ac_dc_threshold_kw=22.0)
    msg = str(exc.value)
    assert "'typo'" in msg and "'CHAdeMo'" in msg and "'CHAdeMO'" in msg and "'ok'" not in msg
    assert "at 'typo': CHAdeMo" in msg  # which station has which bad name
