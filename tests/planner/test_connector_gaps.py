"""Connector gaps (the design loop's "compatible plugs" remedy) read a station's connectors as
the engine does: a station with no connectors value serves any car, so it causes no gap.
Before, its NaN was read as a plug type called "nan" that no car can use, and the loop
bought a plug of the stranded car's connector there. Synthetic 5 x 5 grid, not a real
network."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from planner.study.simulate import StudySimulator
from sim.catalogue import builtin_models
from sim.connectors import station_connectors
from sim.synthetic import grid_network

NET = grid_network(5, 5, spacing_m=1000.0)  # synthetic


def _gaps(connectors: list) -> pd.DataFrame:
    """Gaps for one car (BYD Atto 3) stranded with no charger in range at node 0, with
    stations at nodes 1 and 2 whose ``connectors`` are given."""
    sim_like = SimpleNamespace(
        sn=SimpleNamespace(network=NET),
        cfg=SimpleNamespace(model=SimpleNamespace(threshold_min=30.0)),
        vehicles=builtin_models(),
    )
    res = SimpleNamespace(
        trips=pd.DataFrame(
            {"origin": [0], "vehicle_model": ["byd_atto3"], "strand_cause": ["no_charger_in_range"]}
        )
    )
    stations = pd.DataFrame({"station_id": ["s1", "s2"], "node": [1, 2], "connectors": connectors})
    return StudySimulator.connector_gaps(sim_like, res, stations)  # type: ignore[arg-type]


def test_a_station_with_no_connectors_value_causes_no_gap():
    # an existing-stations table without the column, joined to the candidates' "CCS2"
    assert _gaps([float("nan"), float("nan")]).empty
    assert _gaps([None, ""]).empty


def test_a_station_without_the_cars_plug_is_a_gap():
    car = builtin_models()["byd_atto3"]
    other = "CHAdeMO" if "CHAdeMO" not in car.connectors else "MCS"
    gaps = _gaps([other, float("nan")])
    assert gaps.to_dict("records") == [
        {"station_id": "s1", "connector": car.connectors[0], "trips": 1}
    ]


def test_station_connectors_reads_as_the_engine():
    assert station_connectors(float("nan")) == frozenset()
    assert station_connectors(None) == frozenset()
    assert station_connectors("GB/T; CCS2") == frozenset({"GB/T", "CCS2"})
    assert station_connectors("CCS2,Type2") == frozenset({"CCS2", "Type2"})
