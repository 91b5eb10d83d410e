"""Driver behaviour against the field study it cites (sim/policies.py, docs/simulation.md).

Franke & Krems (2013), "Interacting with limited mobility resources: psychological range
levels in electric vehicle use", Transportation Research Part A 48, 109-122 (the MINI E
field trial in Berlin, 40 EVs over 6 months): users "were comfortable with utilizing
approximately 75-80 % of their available range resources". The default driver, of library
calls and of studies, must therefore set off on a leg that uses 75 % of a full battery and
stop to charge before one that would use more than 80 %.
"""

from __future__ import annotations

import pytest

from planner.config.simulation import SimulationConfig
from sim import SimSettings, SocThreshold

CAPACITY_KWH = 60.0
COMFORTABLE = 0.75  # low end of the study's comfortable share of the available range
MOST = 0.80  # high end


def _library_driver():
    return SimSettings().policy.when


def _study_driver():
    # what planner.study.simulate.sim_settings builds from a study's simulation section
    return SocThreshold(buffer_soc=SimulationConfig.model_fields["comfort_buffer"].default)


@pytest.mark.parametrize("driver", [_library_driver, _study_driver], ids=["library", "study"])
@pytest.mark.parametrize("has_home", [False, True])
def test_default_driver_uses_the_comfortable_share_of_range_and_no_more(driver, has_home):
    when = driver()
    full = CAPACITY_KWH

    def charges_first(share_of_range: float) -> bool:
        # a full battery, the destination at a charger (nothing to look ahead to)
        return when.needs_charge(
            full, CAPACITY_KWH, share_of_range * full, True, has_home, next_kwh=0.0
        )

    assert not charges_first(COMFORTABLE), "the driver refuses a leg she is comfortable with"
    assert not charges_first(MOST - 0.005)
    assert charges_first(MOST + 0.01), "the driver sets off on more than 80 % of her range"
    assert charges_first(0.9)
