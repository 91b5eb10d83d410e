"""A staged study says when its simulation ranks the methods the other way from the siting
objective (code review of 2026-12-07: the corridor rollout's look-ahead plan refuelled 70
more stage-weighted trips, and the myopic plan stranded fewer vehicles in every stage,
which no output said). Synthetic timelines."""

from __future__ import annotations

import pandas as pd

from planner.study.rollout import simulated_contrast


def _timeline(myopic: list[float], lookahead: list[float]) -> pd.DataFrame:
    years = [2025, 2027, 2030]
    return pd.DataFrame(
        {
            "method": ["myopic"] * 3 + ["lookahead"] * 3,
            "year": years * 2,
            "stranded_vehicles": myopic + lookahead,
        }
    )


def test_the_note_names_every_stage_when_the_myopic_plan_strands_fewer():
    note = simulated_contrast(_timeline([219.0, 452.0, 1015.0], [233.0, 494.0, 1091.0]), "refuels")
    assert note is not None
    assert "219 / 452 / 1,015" in note and "233 / 494 / 1,091" in note
    assert "2025, 2027, 2030" in note and "plan refuels more stage-weighted trips" in note


def test_no_note_when_the_look_ahead_plan_does_as_well_in_some_stage():
    assert (
        simulated_contrast(_timeline([219.0, 452.0, 1015.0], [219.0, 494.0, 1091.0]), "x") is None
    )
    assert simulated_contrast(_timeline([300.0, 500.0, 900.0], [233.0, 494.0, 1091.0]), "x") is None
    assert simulated_contrast(pd.DataFrame({"year": [2025]}), "x") is None
