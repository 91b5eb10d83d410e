"""Arguments of the notebook API that raised a bare ``TypeError`` / ``AttributeError`` (or
none at all) now raise the documented domain error naming the value (review 2026-12-08)."""

from __future__ import annotations

import pandas as pd
import pytest

import evplan
from networks.errors import ConfigError
from sim import SimSettingsError, summarise
from sim.synthetic import line_network


@pytest.fixture(scope="module")
def small():
    net = line_network([20_000.0] * 4)
    st = pd.DataFrame({"station_id": [1], "node": [2], "plugs": [1], "power_kw": [50.0]})
    tr = pd.DataFrame(
        {
            "vehicle_id": [1],
            "vehicle_model": ["byd_atto3"],
            "origin": [0],
            "destination": [4],
            "depart_s": [0.0],
            "chain_seq": [0],
        }
    )
    return net, st, tr


@pytest.mark.parametrize("confidence", ["0.9", None, True, 1.5, 0, float("nan")])
def test_replicate_names_a_bad_confidence(small, confidence):
    with pytest.raises(SimSettingsError, match=r"confidence = .* must be a number in \(0, 1\)"):
        evplan.replicate(*small, replications=2, confidence=confidence)


def test_replicate_refuses_an_on_run_that_is_not_callable_before_any_run(small):
    calls = []

    def demand(rng):
        calls.append(1)
        return small[2]

    with pytest.raises(SimSettingsError, match=r"on_run = 5 \(int\) must be a callable"):
        evplan.replicate(small[0], small[1], demand, replications=2, on_run=5)
    assert not calls  # refused before any demand was drawn or run made


@pytest.mark.parametrize("confidence", [1.5, "0.95"])
def test_summarise_names_a_bad_confidence(confidence):
    runs = pd.DataFrame({"wait_p95_min": [1.0, 2.0, 3.0]})
    with pytest.raises(SimSettingsError, match="confidence"):
        summarise(runs, confidence=confidence)
    assert summarise(runs)["n"].iloc[0] == 3


@pytest.mark.parametrize("entry", ["run_study", "simulate_study", "optimize_study"])
def test_a_study_entry_point_names_a_config_that_is_not_one(entry, tmp_path):
    with pytest.raises(ConfigError, match=r"cfg = \{'name': 'x'\} \(dict\) must be a StudyConfig"):
        getattr(evplan, entry)({"name": "x"}, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_study_names_a_result_that_is_not_one(tmp_path):
    with pytest.raises(ConfigError, match=r"result = 5 \(int\) must be a StudyResult"):
        evplan.write_study(5, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5,), r"path = 5 must be the study YAML file"),
        ((None,), r"path = None must be the study YAML file"),
        (("configs/almaty.yaml", [("model.p", 3)]), r"overrides = \[\('model.p', 3\)\] must be"),
        (("configs/almaty.yaml", {5: 3}), r"overrides = \{5: 3\} must be a dict of dotted keys"),
    ],
)
def test_load_config_names_a_bad_path_or_overrides(args, match):
    path, *over = args
    with pytest.raises(ConfigError, match=match):
        evplan.load_config(path, overrides=over[0] if over else None)


def test_simulate_names_routes_that_are_not_route_tables(small):
    with pytest.raises(SimSettingsError, match=r"routes = 5 \(int\) must be a sim.RouteTables"):
        evplan.simulate(*small, routes=5)
