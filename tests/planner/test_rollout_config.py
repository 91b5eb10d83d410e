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


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ({"a": True}, "scenario 'a'"),
        ({"a": -1.0}, "must be > 0"),
        ({"a": {"demand": 1.0, "temp": -3}}, "temp"),
        ({"a": {"temperature_c": -90}}, "temperature_c"),
        ({"a": {"demand": 0}}, "demand"),
    ],
)
def test_bad_scenarios_are_refused_with_their_name(scenarios, message):
    with pytest.raises(ValidationError, match=message):
        RolloutConfig(scenarios=scenarios)
