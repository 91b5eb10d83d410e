"""The vehicle comparison's caption (planner.report.sections.vehicle_matrix_caption) says what
a cell is and under which assumptions (carmaker review, 2026-12-07)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from planner.report.sections import vehicle_matrix_caption


def _result(*, factor=1.0, precondition=False, temperature_c=-20, seasons=None, years=None):
    sim_cfg = {"precondition": precondition, "temperature_c": temperature_c}
    sim_cfg["seasons"] = seasons or {}
    tables = {} if years is None else {"rollout_timeline": pd.DataFrame({"year": years})}
    return SimpleNamespace(
        manifest={"config_resolved": {"simulation": sim_cfg}},
        kpis_after={"demand_expansion_factor": factor},
        tables=tables,
    )


def test_a_plain_study_says_one_run_of_a_one_model_fleet_and_the_cold_assumption():
    text = vehicle_matrix_caption(_result(seasons={"winter": -20}))
    assert "one simulation run (no interval)" in text and "a fleet of it alone" in text
    assert "without battery preconditioning" in text
    assert "designed at" not in text and "sample" not in text and "stage" not in text


def test_a_sampled_rollout_names_its_year_sample_and_design_temperature():
    text = vehicle_matrix_caption(
        _result(
            factor=286.0,
            precondition=True,
            temperature_c=20,
            seasons={"summer": 25, "winter": -20},
            years=[2025, 2030, 2035],
        )
    )
    assert "last stage, 2035" in text and "1 in 286 trips" in text
    assert "The plan was designed at +20 °C." in text
    assert "preconditioning" not in text


def test_the_models_are_listed_also_without_a_vehicle_comparison(tmp_path):
    """A study with no ``compare:`` still shows the models it used (review, 2026-12-07)."""
    from planner.report.html import write_report
    from tests.planner.test_export import synthetic_result

    res = synthetic_result()
    res.vehicle_matrix = pd.DataFrame()
    res.tables["vehicle_models"] = pd.DataFrame(
        {
            "vehicle_model": ["my_car"],
            "name": ["My car"],
            "battery_kwh": [61.5],
            "consumption_kwh_per_km": [0.168],
            "source": ["data sheet"],
        }  # fmt: skip
    )
    html = write_report(res, tmp_path).read_text()
    assert "Vehicle comparison not available" in html
    assert 'id="vehicle-models"' in html and ">0.168<" in html


def test_a_truck_with_the_studys_driving_rules_is_still_the_built_in_model():
    """A freight study switches its trucks' driving rules on: not a user's model."""
    import dataclasses

    from planner.study.compare import _is_builtin
    from sim import builtin_models

    built = builtin_models()["mercedes_eactros_600"]
    other_rules = "" if built.driving_rules else "aetr"
    assert _is_builtin(built, dataclasses.replace(built, driving_rules=other_rules))
    assert not _is_builtin(built, dataclasses.replace(built, battery_kwh=700.0))
    assert not _is_builtin(None, built)
