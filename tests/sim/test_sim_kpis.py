"""The KPI registry: every emitted KPI is registered, labels are unique, intervals use ranges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import KPI, KPIS, SimError, SimSettings, UnknownKPIError, kpi, simulate, summarise
from sim.synthetic import line_network

STUDY_KPIS = ("coverage_share", "n_stations", "n_plugs", "capex")


def _result():
    net = line_network([20_000.0] * 3, speed_kph=60.0)
    stations = pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [1], "power_kw": [50.0]})
    trips = pd.DataFrame(
        [(v, "byd_atto3", 0, 3, 600.0 * v, 0) for v in range(12)],
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    return simulate(net, stations, trips, settings=SimSettings(initial_soc=(0.05, 0.4)), seed=3)


def test_every_emitted_kpi_is_registered():
    emitted = _result().kpis()
    assert set(emitted) <= set(KPIS)
    assert set(STUDY_KPIS) <= set(KPIS)


def test_registry_is_consistent():
    labels = [k.label for k in KPIS.values()]
    assert len(labels) == len(set(labels)), "two KPIs share a label"
    for name, k in KPIS.items():
        assert isinstance(k, KPI) and k.name == name
        assert k.better in ("higher", "lower", "")
        assert k.range[0] <= k.range[1]
        if k.unit == "share":
            assert k.range == (0.0, 1.0)
    assert KPIS["co2_avoided_kg"].range == (-math.inf, math.inf)
    for alias in ("trips_completed_share", "peak_kw_max", "co2_avoided_t"):
        assert alias not in KPIS
    with pytest.raises(TypeError):
        KPIS["x"] = KPIS["trips"]  # type: ignore[index]


def test_unknown_kpi_names_the_registered_ones():
    with pytest.raises(UnknownKPIError, match="unknown KPI 'wait_max'.*wait_p95_min") as err:
        kpi("wait_max")
    assert isinstance(err.value, KeyError) and isinstance(err.value, SimError)
    assert kpi("capex").unit == "cost units"


def test_display_uses_decimals_and_percent():
    assert kpi("share_trips_completed").display(0.97312) == "97.3 %"
    assert kpi("energy_public_kwh").display(12345.6) == "12,346"
    assert kpi("wait_mean_min").display(math.nan) == "-"


def test_intervals_are_truncated_to_the_registered_range():
    runs = pd.DataFrame(
        {
            "share_trips_completed": [0.99, 1.0, 1.0],
            "wait_mean_min": [0.0, 0.0, 3.0],
            "co2_avoided_kg": [-5.0, 1.0, 2.0],
            "not_a_kpi": [0.0, 0.0, 3.0],
        }
    )
    s = summarise(runs)
    assert s.loc["share_trips_completed", "ci_high"] == 1.0
    assert s.loc["wait_mean_min", "ci_low"] == 0.0
    assert s.loc["co2_avoided_kg", "ci_low"] < -5.0
    assert s.loc["not_a_kpi", "ci_low"] < 0.0  # unregistered: left as computed
    assert np.isclose(s.loc["not_a_kpi", "mean"], 1.0)
