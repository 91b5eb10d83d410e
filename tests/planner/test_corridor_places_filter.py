"""A corridor whose place filters leave no place says which filter did it (a review: the
freight study with ``network.corridor.min_population: 100000000`` failed with "demand.kind
'corridor' needs a network with named places (network.corridor)", wrong for a study that
sets network.corridor). Real data: the national roads and GeoNames places."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from networks.errors import ConfigError
from planner.config.study import load_config
from planner.study.inputs import build_network

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        (
            {"network.corridor.min_population": 100_000_000},
            ("min_population 100,000,000", "Almaty"),
        ),
        ({"network.corridor.place_distance_km": 0.001}, ("place_distance_km 0.001", "raise it")),
    ],
)
def test_filters_that_leave_no_place_are_named(override, needles, data_dir):
    os.environ.setdefault("EVPLAN_DATA_DIR", str(data_dir))
    cfg = load_config(CONFIGS / "cargo-china.yaml", overrides=override)
    with pytest.raises(ConfigError) as err:
        build_network(cfg)
    text = str(err.value)
    assert all(n in text for n in needles), text
    assert "kz-places-geonames.csv" in text


def test_the_shipped_corridor_keeps_its_places(data_dir):
    os.environ.setdefault("EVPLAN_DATA_DIR", str(data_dir))
    sn = build_network(load_config(CONFIGS / "corridor-kaz01.yaml"))
    assert any(d.get("place") for _, d in sn.graph.nodes(data=True))
