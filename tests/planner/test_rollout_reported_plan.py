"""A staged rollout with scenarios reports the plan its notes recommend. The notes name the
robust first stage (min-max regret over ``rollout.scenarios``), but the stations table, map
and KPIs were the look-ahead plan of the study's own scenario (the base optimum), whose
first stage may be another (the corridor rollout: the base optimum loses 814 refuelled
trips in a severe winter, the robust first stage at most 415). The plan reported is now the
robust first stage, then the later stages that do best after it in the study's own demand
(the look-ahead plan itself when it opens the robust first stage).

The siting instances are synthetic: two stages, one new site each, sites A, B and C beside
an existing station E; the base demand favours A first (then B), a severe winter leaves
only B's demand. Everything but :func:`planner.study.rollout.staged_plans` itself (trips,
models, design loop, simulator) is a synthetic stand-in."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from planner.config.study import load_config
from planner.siting.multiperiod import StagedMCLP
from planner.siting.multiperiod_robust import robust_first_stage
from planner.study import rollout
from tests.e2e.test_pipeline import CONFIGS

#: demand points a, b, c (rows) x sites E (existing, reaches nothing), A, B, C (columns)
COST = np.array([[9.0, 0.1, 9.0, 9.0], [9.0, 9.0, 0.1, 9.0], [9.0, 9.0, 9.0, 0.1]])
SITES = ["A", "B", "C"]


def _model(weights: list[float]) -> StagedMCLP:
    """Synthetic: the same demand at a, b, c in both stages, one site a stage."""
    return StagedMCLP.from_cost_matrix(
        COST,
        np.array([weights, weights]),
        threshold=0.3,
        site_costs=np.ones(4),
        budgets=np.ones(2),
        max_new=np.ones(2),
        years=np.array([2025.0, 2027.0]),
        fixed_open=np.array([0]),
    )


BASE = [5.0, 4.0, 0.5]  # A first (5 + 9 = 14); B first gives 4 + 9 = 13
SEVERE = [0.0, 10.0, 0.0]  # only B's demand: B first gives 20, A first 10


def test_robust_choice_carries_each_scenarios_plan_after_its_first_stage():
    scen = {"base": _model(BASE), "severe": _model(SEVERE)}
    choice = robust_first_stage(scen, time_limit_s=10)
    assert choice.first_stage.tolist() == [2]  # B: regret 1 in base, 0 in severe
    assert choice.max_regret == pytest.approx(1.0)
    row = next(r for r in choice.table if r["sites"] == [2])
    for name, model in scen.items():
        plan = choice.plans[name]
        assert plan[0].tolist() == [2] and len(plan) == 2
        assert model.evaluate(plan).objective == pytest.approx(row[f"{name}_objective"])
    assert choice.plans["base"][1].tolist() == [1]  # then A, the best after B


def _synthetic_study(
    monkeypatch, severe: list[float], *, scenarios: dict | None = None, study_models=None
):
    """The corridor rollout's config cut to the synthetic instance (look-ahead only, two
    stages of one new site, a base and a severe-winter scenario unless ``scenarios``), with
    synthetic trips, models, design loop and simulator. ``study_models`` (a list) gets the
    models of the study's own demand."""
    cfg = load_config(
        CONFIGS / "corridor-kaz01-rollout.yaml",
        overrides={"rollout.method": "lookahead", "vehicles.compare": []},
    )
    cfg.stages = cfg.stages[:2]
    for st in cfg.stages:
        st.new_sites = 1
    cfg.rollout.scenarios = scenarios or {
        "base": 1.0,
        "severe": {"demand": 1.0, "temperature_c": -30},
    }

    def staged_model(cfg, optimizer, existing, trips, vehicles, *, temperatures=None):
        if temperatures in (None, [None]):
            model = _model(BASE)
            if study_models is not None:
                study_models.append(model)
            return model
        return _model(severe)

    def closed_loop(stations, **_kw):  # the stations as given, simulated as they are
        out = SimpleNamespace(kpis={"trips": 10.0}, detail={})
        return SimpleNamespace(stations=stations.copy(), capex=0.0, proposal=out)

    monkeypatch.setattr(rollout, "stage_trips", lambda *a, **k: pd.DataFrame())
    monkeypatch.setattr(rollout, "staged_model", staged_model)
    monkeypatch.setattr(rollout, "closed_loop", closed_loop)
    monkeypatch.setattr(rollout, "loop_grid", lambda *a: None)

    def row(sid: str, existing: bool) -> dict:
        return {"station_id": sid, "node": ord(sid), "plugs": 1, "power_kw": 100.0,
                "existing": existing, "name": sid, "lon": 70.0, "lat": 45.0,
                "connectors": "CCS2"}  # fmt: skip

    class Optimizer:
        candidates = pd.DataFrame({"site_id": SITES})

        def for_trips(self, *_a):
            return self

        def empty(self):
            return pd.DataFrame(columns=[*row("A", False), "capex"])

        def stations_frame(self, chosen, plugs):
            new = pd.DataFrame([row(SITES[j], False) for j in chosen], columns=[*row("A", False)])
            return new.assign(plugs=plugs, capex=1.0)

    existing = pd.DataFrame([row("E", True)])
    simulator = SimpleNamespace(confirmation=lambda: None)
    return rollout.staged_plans(cfg, None, existing, {}, Optimizer(), lambda *a: simulator)


def _opened(plans: dict, year: int) -> list[str]:
    st = plans["stations"]
    return sorted(st.loc[st["opening_year"] == year, "station_id"])


def test_the_stations_are_the_robust_plan_the_notes_recommend(monkeypatch):
    plans = _synthetic_study(monkeypatch, SEVERE)
    assert plans["summary"]["robust"]["first_stage"] == ["B"]
    assert any(n.startswith("Robust first stage") and ": B, worst" in n for n in plans["notes"])
    # the table is that plan: B first, then the best after it for the study's own demand
    # (the old code's table was the look-ahead plan: A in 2025, B in 2027)
    assert _opened(plans, 2025) == ["B"] and _opened(plans, 2027) == ["A"]
    assert plans["method"] == "robust"
    assert plans["summary"]["robust"]["plan"] == [["B"], ["A"]]
    tl = plans["timeline"]
    assert set(tl["method"]) == {"lookahead", "robust"}  # both simulated, each its own rows
    assert any("robust in the timeline" in n for n in plans["notes"])


def test_a_look_ahead_plan_that_opens_the_robust_first_stage_is_the_one_reported(monkeypatch):
    plans = _synthetic_study(monkeypatch, [5.0, 0.0, 0.0])  # a winter where A is best too
    assert plans["summary"]["robust"]["first_stage"] == ["A"]
    assert plans["method"] == "lookahead" and set(plans["timeline"]["method"]) == {"lookahead"}
    assert _opened(plans, 2025) == ["A"] and _opened(plans, 2027) == ["B"]
    assert any("opens the robust first stage" in n for n in plans["notes"])


def test_the_plan_listed_is_the_look_ahead_plan_when_it_is_the_one_reported(monkeypatch):
    """No scenario is the study itself (each has a temperature) and the look-ahead plan
    opens the robust first stage: that plan is reported, so ``kpis.json``'s
    ``rollout.robust.plan`` lists it, and the study's later stages are not solved again
    after that first stage (a time-limited solve could stop at other sites than the plan
    reported, which the list then named)."""
    study_models: list = []
    again: list = []  # solves of the study's own model after a fixed first stage
    depth = [0]  # (the look-ahead solve's own myopic hint solves stage by stage: nested)
    real_solve = StagedMCLP.solve

    def solve(self, *args, **kwargs):
        top = depth[0] == 0
        if top and kwargs.get("fixed_before") is not None:
            if any(self is m for m in study_models):
                again.append(kwargs["fixed_before"])
        depth[0] += 1
        try:
            return real_solve(self, *args, **kwargs)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(StagedMCLP, "solve", solve)
    winters = {
        "mild": {"demand": 1.0, "temperature_c": -10},
        "severe": {"demand": 1.0, "temperature_c": -30},
    }
    plans = _synthetic_study(
        monkeypatch, [5.0, 0.0, 0.0], scenarios=winters, study_models=study_models
    )
    assert plans["summary"]["robust"]["first_stage"] == ["A"]
    assert plans["method"] == "lookahead"
    assert _opened(plans, 2025) == ["A"] and _opened(plans, 2027) == ["B"]
    assert plans["summary"]["robust"]["plan"] == [["A"], ["B"]]  # the plan reported
    assert study_models and not again
