"""The report's "Notes and assumptions" give every modelling number its source or call it
an assumption pointing to the register (docs/assumptions.md), as the grid factor and grid
losses notes cite OWID/Ember and the World Bank: "90% charging efficiency", the corridor's
"80% of the shortest-range fleet vehicle's battery" and the renewables' performance ratio,
clearness and wind capacity factor were printed with no source."""

from __future__ import annotations

import pandas as pd

from tests.planner.test_study_behaviour import _cfg  # a minimal study file, loaded

REGISTER = "assumption, docs/assumptions.md"


def test_co2_note_labels_the_charging_efficiency_an_assumption(tmp_path):
    from planner.study.result import _co2_note

    note = _co2_note(_cfg(tmp_path))
    assert f"90% charging efficiency ({REGISTER})" in note
    assert "(Kazakhstan 2021, OWID/Ember)" in note and "(World Bank WDI)" in note


def test_corridor_range_note_points_to_the_register(tmp_path):
    from planner.study.optimize_corridor import range_note

    note = range_note(_cfg(tmp_path, "corridor", "simulation:\n  temperature_c: -20\n"), 162.0)
    assert note.startswith("Corridor planned for a range of 162 km (80% of the shortest-range")
    assert "at 90 km/h and -20 C" in note
    assert "assumptions, docs/assumptions.md" in note
    cfg = _cfg(tmp_path, "corridor")
    own = cfg.model_copy(update={"model": cfg.model.model_copy(update={"range_km": 150.0})})
    assert range_note(own, 150.0) == "Corridor planned for a range of 150 km (model.range_km)."


def test_renewables_note_cites_each_input(tmp_path):
    from planner.study.grid_step import renewables_note

    plants = pd.DataFrame({"key": ["s1", "w1"]})
    note = renewables_note(_cfg(tmp_path), plants, 0.123)
    assert "performance ratio 0.8 (IEA PVPS T13-05:2014" in note
    assert "clearness 1 (clear sky, an upper bound: assumption, docs/assumptions.md)" in note
    assert "capacity factor 0.35 (assumption from Global Wind Atlas" in note
    assert f"within 25 km ({REGISTER})" in note
    assert f"peaking at 15 h ({REGISTER})" in note
    assert note.endswith("renewable share of public charging 12.3%.")
    # the share of a plant's output the chargers may take: all of it, an upper bound
    assert "with 100% of the output (all of it, an upper bound: assumption" in note
    own = _cfg(
        tmp_path,
        extra="renewables:\n  solar_performance_ratio: 0.7\n  wind_capacity_factor: 0.3\n",
    )
    mine = renewables_note(own, plants, 0.1)
    assert "performance ratio 0.7 (renewables.solar_performance_ratio)" in mine
    assert "capacity factor 0.3 (renewables.wind_capacity_factor)" in mine
    half = renewables_note(_cfg(tmp_path, extra="renewables:\n  charger_share: 0.5\n"), plants, 0.1)
    assert "with 50% of the output (renewables.charger_share)" in half
