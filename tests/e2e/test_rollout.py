"""A staged study end to end on the real Almaty extract (small settings): every stage is
simulated, sites stay open, stage budgets hold, and the outputs carry the opening year."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planner.config.study import load_config
from tests.e2e.test_pipeline import CONFIGS

#: corridor-kaz01-rollout on small settings (60 trips a day, one day, one run, one round,
#: one compared model, no seasons or coverage curve), for the tests that run it
SMALL_CORRIDOR_ROLLOUT = {
    "demand.trips_per_day": 60,
    "simulation.days": 1,
    "simulation.replications": 1,
    "simulation.max_replications": 1,
    "simulation.warmup_days": 0,
    "targets.max_iterations": 1,
    "model.solver.time_limit_s": 10,
    "vehicles.compare": ["byd_atto3"],
    "simulation.seasons": {},
    "outputs.coverage_curve": False,
}


def test_almaty_rollout_small(data_dir, net_cache_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    from planner.study.run import run_study

    cfg = load_config(
        CONFIGS / "almaty-rollout.yaml",
        overrides={
            "demand.max_trips": 400,
            "simulation.replications": 1,
            "simulation.warmup_days": 1,
            "targets.max_iterations": 1,
            "model.solver.time_limit_s": 10,
            "rollout.time_limit_s": 20,
            "vehicles.compare": ["byd_atto3"],
            "simulation.seasons": {},
            "outputs.coverage_curve": False,
        },
    )
    cfg.stages = cfg.stages[:2]
    cfg.rollout.scenarios = {"low": 0.5, "high": 2.0}
    res = run_study(cfg, out_dir=tmp_path / "roll")
    tl = res.tables["rollout_timeline"]
    # (robust: the plan reported when the look-ahead plan opens another first stage)
    assert {"myopic", "lookahead"} <= set(tl["method"]) <= {"myopic", "lookahead", "robust"}
    assert set(tl["year"]) == {2025, 2027}
    _reports_the_robust_first_stage(res)
    budgets = {st.year: st.budget for st in cfg.stages}
    assert all(row.capex <= budgets[row.year] + 1e-6 for row in tl.itertuples())
    assert (tl.groupby("method")["cumulative_capex"].diff().fillna(0) >= 0).all()
    years = res.selected["opening_year"].dropna()
    assert len(years) and set(years) <= {2025.0, 2027.0}
    robust = res.tables["rollout_robust"]
    assert {"low_regret", "high_regret", "max_regret"} <= set(robust.columns)
    assert any("regret" in n for n in res.notes)
    veh = res.tables["rollout_vehicles"]
    assert set(veh["year"]) == {2025, 2027} and set(veh["vehicle_model"]) == {"byd_atto3"}
    assert any(n.startswith("byd_atto3:") for n in res.notes)  # first usable year stated
    html = (tmp_path / "roll" / "report.html").read_text()
    assert 'id="chart-rollout"' in html and "opening_year" in html
    # the stations table names the plan it shows
    assert f'data-plan="{res.manifest["rollout"]["method"]}"' in html
    # the carmaker's table by year is in the report, with the plan and the sample it used
    assert 'id="rollout-vehicles"' in html
    assert set(veh["method"]) == {res.manifest["rollout"]["method"]}
    assert (veh["sampled_1_in"] > 1).all()  # the stages are samples (demand.max_trips)
    assert "Demand and stations of the last stage, 2027." in " ".join(html.split())
    # the models of every stage's fleet, with their share per year (the i-MiEV retires)
    roles = res.tables["vehicle_models"].set_index("vehicle_model")["role"]
    assert roles["mitsubishi_imiev_2013"] == "fleet 0.5% (2025), 0.2% (2027)"
    assert roles["byd_atto3"] == "fleet 29.0% (2025), 29.3% (2027), compared"
    assert len(json.loads((tmp_path / "roll" / "kpis.json").read_text())["stages"]) == 4
    out = pd.read_csv(tmp_path / "roll" / "tables" / "rollout_timeline.csv")
    assert len(out) == 4 and np.isfinite(out["cumulative_capex"]).all()
    # the timeline counts the measured day's trips, as the KPI table does, not the warm-up
    # day's too (it showed a city stage's trips twice or three times over)
    reported = tl[tl["method"] == res.manifest["rollout"]["method"]].iloc[-1]
    assert reported["trips"] == round(res.kpis_after["trips"])
    assert (tl["trips_simulated"] < 0.75 * 400).all()  # one of the two days of the sample


def _reports_the_robust_first_stage(res) -> None:
    """The stations reported open, in the first year, the robust first stage the notes
    name (they were the look-ahead plan's, whatever its first stage)."""
    roll = res.manifest["rollout"]
    first = roll["robust"]["first_stage"]
    year = min(res.tables["rollout_timeline"]["year"])
    sel = res.selected
    assert sorted(sel.loc[sel["opening_year"] == year, "station_id"]) == sorted(first)
    assert roll["robust"]["plan"][0] == first
    assert roll["method"] in ("robust", "lookahead")


@pytest.mark.slow
def test_corridor_rollout_lookahead_and_winter_scenario(
    data_dir, net_cache_dir, monkeypatch, tmp_path
):
    """KAZ01 (small settings): the myopic design loop and the multi-period FRLM, the
    myopic plan's regret, and the robust first stage over a mild and a severe winter, all
    in the tables, kpis.json and the GeoPackage's opening_year."""
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    from planner.study.run import run_study

    cfg = load_config(
        CONFIGS / "corridor-kaz01-rollout.yaml",
        overrides={**SMALL_CORRIDOR_ROLLOUT, "rollout.time_limit_s": 10},
    )
    cfg.stages = cfg.stages[:2]
    res = run_study(cfg, out_dir=tmp_path / "roll")
    tl = res.tables["rollout_timeline"]
    assert {"myopic", "lookahead"} <= set(tl["method"]) <= {"myopic", "lookahead", "robust"}
    assert set(tl["year"]) == {2025, 2027}
    _reports_the_robust_first_stage(res)
    caps = {st.year: st.new_sites for st in cfg.stages}
    assert all(row.new_sites <= caps[row.year] for row in tl.itertuples())
    robust = res.tables["rollout_robust"]
    for s in ("base", "mild_winter", "severe_winter"):
        assert {f"{s}_objective", f"{s}_regret"} <= set(robust.columns)
    # a colder winter shortens the range: the same plan never refuels more
    opt = robust.iloc[0]
    assert opt["severe_winter_objective"] <= opt["base_objective"] + 1e-6
    assert any("regret" in n and "Look-ahead" in n for n in res.notes)
    kpis = json.loads((tmp_path / "roll" / "kpis.json").read_text())
    roll = kpis["rollout"]
    assert roll["robust"]["scenarios"]["severe_winter"]["temperature_c"] == -30
    assert len(roll["robust"]["table"]) == len(robust) and "regret" in roll
    assert {v["year"] for v in roll["vehicles_by_year"]} == {2025, 2027}
    html = (tmp_path / "roll" / "report.html").read_text()
    assert 'id="rollout-robust"' in html and "severe_winter_regret" in html
    years = res.selected["opening_year"].dropna()
    assert len(years) and set(years) <= {2025.0, 2027.0}
    # the plugs the whole rollout added at existing stations (each stage counted its own:
    # the corridor rollout's card said 78 new plugs where the plan added 87)
    ex = res.existing.set_index("station_id")
    assert (ex["added_plugs"] >= 0).all()
    tl_plugs = tl[tl["method"] == res.manifest["rollout"]["method"]]["new_plugs"].sum()
    new_sites = pd.to_numeric(res.selected["plugs"], errors="coerce").sum()
    assert new_sites + ex["added_plugs"].sum() == tl_plugs
    import geopandas as gpd

    gpkg = next((tmp_path / "roll").glob("*.gpkg"))
    layers = gpd.list_layers(gpkg)["name"].tolist()
    assert any("opening_year" in gpd.read_file(gpkg, layer=lay).columns for lay in layers)


def test_a_season_set_scenario_counts_the_mean_over_its_seasons(
    data_dir, net_cache_dir, monkeypatch
):
    """On the real KAZ01 corridor: a scenario with seasons {-10 C, -30 C} values any plan
    at the mean of the two single-temperature scenarios, and the colder range refuels no
    more flow than the milder one."""
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    from planner.study.inputs import build_candidates
    from planner.study.rollout_models import stage_trips, staged_model
    from planner.study.run import StepTimer, make_optimizer, prepare

    cfg = load_config(
        CONFIGS / "corridor-kaz01-rollout.yaml",
        overrides={
            "demand.trips_per_day": 60,
            "simulation.days": 1,
            "rollout.scenarios.winters": {"seasons": {"mild": -10, "severe": -30}},
        },
    )
    cfg.stages = cfg.stages[:2]
    spec = cfg.rollout.scenario_specs()["winters"]
    assert spec.temperatures() == [-10.0, -30.0]
    pre = prepare(cfg, StepTimer(None))
    cand = build_candidates(cfg, pre.sn, pre.existing)
    opt = make_optimizer(cfg, pre.sn, cand, pre.trips, pre.vehicles)
    trips = [stage_trips(cfg, pre.sn, pre.vehicles, k) for k in range(2)]

    def model(temps):
        return staged_model(cfg, opt, pre.existing, trips, pre.vehicles, temperatures=temps)

    both, mild, severe = model(spec.temperatures()), model([-10.0]), model([-30.0])
    plan = mild.solve(time_limit_s=10)
    values = [m.evaluate(plan.opened).objective for m in (both, mild, severe)]
    assert values[0] == pytest.approx((values[1] + values[2]) / 2)
    assert values[2] <= values[1] + 1e-9
    both.check(both.evaluate(plan.opened))  # tank rule agrees with the cover sets
