"""The rollout section's scenarios: a bare demand multiplier or a mapping with a temperature
(winter severity); bad values name the scenario and the fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from planner.config.rollout import RolloutConfig


def test_scenarios_take_multipliers_and_temperatures():
    r = RolloutConfig(
        scenarios={"low": 0.5, "severe": {"demand": 1.2, "temperature_c": -30, "source": "x"}}
    )
    specs = r.scenario_specs()
    assert specs["low"].demand == 0.5 and specs["low"].temperature_c is None
    assert specs["severe"].demand == 1.2 and specs["severe"].temperature_c == -30
    assert specs["low"].temperatures() == [None] and specs["severe"].temperatures() == [-30.0]
    seasons = RolloutConfig(scenarios={"s": {"seasons": {"summer": 25, "winter": -20}}})
    assert seasons.scenario_specs()["s"].temperatures() == [25.0, -20.0]


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ({"a": True}, "scenario 'a'"),
        ({"a": -1.0}, "must be > 0"),
        ({"a": {"demand": 1.0, "temp": -3}}, "temp"),
        ({"a": {"temperature_c": -90}}, "temperature_c"),
        ({"a": {"demand": 0}}, "demand"),
        ({"a": {"temperature_c": -10, "seasons": {"w": -20}}}, "not both"),
        ({"a": {"seasons": {"w": -70}}}, "season 'w'"),
    ],
)
def test_bad_scenarios_are_refused_with_their_name(scenarios, message):
    with pytest.raises(ValidationError, match=message):
        RolloutConfig(scenarios=scenarios)


def test_a_sweep_varies_a_scenario_temperature(tmp_path, data_dir, monkeypatch):
    """A scenario is an ordinary dotted field: a sweep (run on Dask like any other) over
    the severe winter (demand and temperature) plans one valid rollout study per value."""
    from pathlib import Path

    from planner.batch.plan import plan_sweep

    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    base = Path(__file__).resolve().parents[2] / "configs" / "corridor-kaz01-rollout.yaml"
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"base: {base}\noutput: out\nparameters:\n"
        "  rollout.scenarios.severe_winter:\n"
        "    - {demand: 1.0, temperature_c: -25}\n"
        "    - {demand: 1.2, temperature_c: -35}\n"
    )
    plan = plan_sweep(path)
    temps = [r.config.rollout.scenario_specs()["severe_winter"].temperature_c for r in plan.runs]
    assert temps == [-25.0, -35.0]
    assert plan.runs[1].config.rollout.scenario_specs()["severe_winter"].demand == 1.2
    path.write_text(path.read_text().replace("-35}", "-90}"))
    with pytest.raises(Exception, match="temperature_c"):
        plan_sweep(path)
