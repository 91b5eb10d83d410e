"""The report says at the top when the fleet was sampled: the scaled totals were never
charged through the plan's plugs. A review found a 2035 rollout stage showing 337,667 kWh a
day of public charging from 30 plugs of 50 kW (36,000 kWh a day at most) with no warning
above the headline figures."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from planner.report.sections import banner

VERDICT = {
    "status": "missed",
    "targets": [
        {"kpi": "wait_p95_min", "label": "95th percentile wait", "sense": "max", "bound": 10.0,
         "value": 13.0, "ci_low": 0.0, "ci_high": 30.0, "met": False, "unconfirmed": True,
         "judged_on": "upper 95 % bound"}
    ],
    "reasons": ["a sample cannot confirm it"],
}  # fmt: skip


def _result(factor: float, energy: float, days: int = 1, verdict=VERDICT):
    stations = pd.DataFrame({"plugs": [6, 6, 6, 6, 6], "power_kw": [50.0] * 5})
    return SimpleNamespace(
        verdict=verdict,
        kpis_after={"demand_expansion_factor": factor, "energy_public_kwh": energy},
        tables={"stations_after": stations},
        manifest={"config_resolved": {"simulation": {"days": days}}},
    )


def test_a_sample_beyond_the_plugs_capacity_is_called_out():
    html = banner(_result(286.2, 337_667.0))
    assert "Sampled fleet (demand.max_trips): 1 in 286 of the trips was simulated" in html
    assert "337,667 kWh, is more than the plan&#x27;s 30 plugs could deliver" in html
    assert "(36,000 kWh in 1 day(s))" in html
    # over two measured days the plugs could deliver twice as much
    assert "72,000 kWh in 2 day(s)" in banner(_result(286.2, 337_667.0, days=2))


def test_a_sample_within_capacity_gets_the_general_warning_only():
    html = banner(_result(10.0, 20_000.0))
    assert "1 in 10 of the trips was simulated" in html
    assert "could deliver" not in html
    # also without service targets
    none = banner(_result(10.0, 20_000.0, verdict={}))
    assert "No service targets were evaluated" in none and "1 in 10 of the trips" in none


def test_the_whole_fleet_gets_no_warning():
    assert "Sampled fleet" not in banner(_result(1.0, 337_667.0))
    assert "Sampled fleet" not in banner(SimpleNamespace(verdict=VERDICT))


def test_earlier_sampled_stages_of_a_rollout_are_named():
    """The last stage simulated whole, earlier ones on samples: the banner names them (it
    read only the last stage's expansion factor)."""
    timeline = pd.DataFrame(
        {
            "method": "lookahead",
            "year": [2025, 2027, 2030],
            "trips": [17484, 56343, 3000],
            "trips_simulated": [1016, 1009, 3000],
        }
    )
    result = _result(1.0, 10_000.0)
    result.tables["rollout_timeline"] = timeline
    html = banner(result)
    assert "Stage(s) 2025, 2027 simulated a sample of the fleet" in html
    timeline["trips_simulated"] = timeline["trips"]
    assert "simulated a sample" not in banner(result)
