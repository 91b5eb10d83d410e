"""The design loop within each site's grid capacity (issue 18 follow-up) on a transparent
scenario model, with the study's real grid fit (:func:`planner.study.grid_fit.fit_plan`).

``simulate`` here is the Erlang C / Allen-Cunneen queue of :mod:`planner.study.sizing` per
station: 12 arrivals an hour in the busy hour shared by the new stations, 25 kWh sessions
lasting ``25 / power_kw`` hours (so a throttled plug charges slower). With 50 kW plugs on
150 kW connections a site carries 3 plugs; the target (p95 wait <= 40 min) needs 9 plugs at
one site, or 3 sites of 3 plugs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.config.study import config_from_dict
from planner.siting.checker import grid_violations
from planner.study.grid_fit import fit_plan, loop_grid, site_keys
from planner.study.loop import ScenarioOutcome, Targets, closed_loop
from planner.study.sizing import erlang_c

ARRIVALS_PER_H = 12
SESSION_KWH = 25.0
CS2 = 0.05  # constant sessions: station_load clips the variation at 0.05
NODES = [10, 20, 30]
TARGET = 40.0


def p95_wait_min(c: int, lam: float, service_h: float) -> float:
    a = lam * service_h
    if lam <= 0:
        return 0.0
    if a >= c:
        return math.inf
    pw = erlang_c(c, a)
    rate = (c / service_h - lam) * 2.0 / (1.0 + CS2)
    return 0.0 if pw <= 0.05 else 60 * math.log(pw / 0.05) / rate


class Result:
    def __init__(self, sessions: pd.DataFrame) -> None:
        self.sessions = sessions


def make_simulate(log: list[pd.DataFrame]):
    def simulate(stations: pd.DataFrame) -> ScenarioOutcome:
        log.append(stations.copy())
        new = stations[~stations["existing"].astype(bool)]
        lam = ARRIVALS_PER_H // max(1, len(new))
        rows, waits = [], []
        for k, s in enumerate(new.itertuples()):
            service = SESSION_KWH / float(s.power_kw)
            t0 = 8 * 3600.0 + np.arange(lam) * 3600.0 / lam
            rows.append(
                pd.DataFrame(
                    {
                        "station": k,
                        "station_id": s.station_id,
                        "arrive_s": t0,
                        "start_s": t0,
                        "end_s": t0 + service * 3600.0,
                        "status": "charged",
                    }
                )
            )
            waits.append(p95_wait_min(int(s.plugs), lam, service))
        per = pd.DataFrame({"station_id": stations["station_id"], "wait_p95_min": 0.0})
        unserved = pd.DataFrame({"node": [n for n in NODES if n not in set(stations["node"])]})
        unserved["weight"] = 1.0
        kpis = {"wait_p95_min": max(waits, default=0.0), "stranded_vehicles": 0.0}
        sessions = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        return ScenarioOutcome(kpis, per, unserved, detail={"result": Result(sessions)})

    return simulate


def optimize(unserved, fixed, n_sites, budget_left):
    nodes = unserved["node"].tolist()[: n_sites or len(unserved)]
    return pd.DataFrame(
        {
            "station_id": [f"s{n}" for n in nodes],
            "node": nodes,
            "plugs": 1,
            "power_kw": 50.0,
            "existing": False,
            "name": [f"site {n}" for n in nodes],
            "lon": 0.0,
            "lat": 0.0,
            "capex": 1000.0 + 100.0,
        }
    )


EXISTING = pd.DataFrame(
    {
        "station_id": ["e1"],
        "node": [1],
        "plugs": [2],
        "power_kw": [50.0],
        "existing": [True],
        "name": ["hotel"],
        "lon": [0.0],
        "lat": [0.0],
    }
)


def _cfg(tmp_path, grid: dict | None = None, grid_kw: float = 150.0):
    return config_from_dict(
        {
            "name": "g",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "capacitated"},
            "candidates": {"grid_kw": grid_kw, "power_kw": 50, "plug_cost": 100},
            "grid": grid or {},
        },
        base_dir=tmp_path,
    )


def _cand(kw=(150.0, 150.0, 150.0), price=(np.nan, np.nan, np.nan)):
    return pd.DataFrame(
        {
            "site_id": [f"s{n}" for n in NODES],
            "node": NODES,
            "grid_kw": list(kw),
            "upgrade_cost_per_kw": list(price),
            "plug_cost": 100.0,
            "power_kw": 50.0,
        }
    )


def _run(cfg, cand, *, grid=True, budget=None, max_plugs=12, iterations=6):
    log: list[pd.DataFrame] = []
    res = closed_loop(
        EXISTING,
        simulate=make_simulate(log),
        optimize=optimize,
        targets=Targets(TARGET, 0, None, iterations),
        first_round_sites=1,
        budget=budget,
        plug_cost=100.0,
        max_plugs=max_plugs,
        grid=loop_grid(cfg, cand) if grid else None,
    )
    return res, log


def test_loop_sizes_within_capacity_and_spills_to_new_sites(tmp_path):
    """No upgrade price: the uniform max_plugs would put 9 plugs (450 kW) on a 150 kW
    connection. The grid-aware loop stops at 3, names the site and its connection, sites
    more stations and meets the target; every simulated plan is within capacity and the
    final fit changes nothing (no post-loop surprise). The old loop "met" the target with
    one 9-plug site that the fit cuts to 3 plugs (unstable queue)."""
    cfg, cand = _cfg(tmp_path), _cand()
    res, log = _run(cfg, cand)
    assert res.targets_met
    assert sorted(res.selected["station_id"]) == ["s10", "s20", "s30"]
    capped = [c for it in res.iterations for c in it.get("capped", [])]
    assert any(
        c.limit == "grid" and "site 10" in c.sentence and "grid connection of 150 kW" in c.sentence
        for c in capped
    )
    for plan in log[1:]:  # every proposal within capacity (the existing one kept connected)
        new = plan[~plan["existing"].astype(bool)]
        assert (new["plugs"] * new["power_kw"] <= 150.0 + 1e-9).all()
    fit = fit_plan(cfg, res.stations, cand)
    assert not fit.changed and fit.upgrade_cost == 0
    assert (fit.stations["plugs"].to_numpy() == res.simulated["plugs"].to_numpy()).all()
    assert res.proposal.kpis["wait_p95_min"] <= TARGET
    assert res.capex == pytest.approx(3 * 1100 + 6 * 100)

    old, _ = _run(cfg, cand, grid=False)
    assert old.targets_met and len(old.selected) == 1  # one site, plugs over its capacity
    assert int(old.stations.set_index("station_id").loc["s10", "plugs"]) > 3
    after = fit_plan(cfg, old.stations, cand).stations.set_index("station_id")
    assert after.loc["s10", "plugs"] == 3  # the fit's cut: 12 arrivals/h on 3 plugs
    assert math.isinf(p95_wait_min(3, ARRIVALS_PER_H, 0.5))


def test_priced_upgrade_counts_in_capex_and_budget(tmp_path):
    cfg = _cfg(tmp_path, {"upgrade_cost_per_kw": 2.0})
    cand = _cand(price=(2.0, 2.0, 2.0))
    res, log = _run(cfg, cand)
    assert res.targets_met and len(res.selected) == 1  # one site, upgraded
    plugs = int(res.stations.set_index("station_id").loc["s10", "plugs"])
    assert plugs > 3
    up_kw = plugs * 50.0 - 150.0
    assert res.upgrade_cost == pytest.approx(2.0 * up_kw)
    assert res.capex == pytest.approx(1100 + (plugs - 1) * 100 + 2.0 * up_kw)
    fit = fit_plan(cfg, res.stations, cand)
    assert fit.upgrade_cost == pytest.approx(res.upgrade_cost) and not fit.changed
    # a budget that pays the plugs but not all the upgrade they need
    budget = 1100 + (plugs - 1) * 100 + up_kw  # half the upgrade's price short
    tight, _ = _run(cfg, cand, budget=budget)
    assert tight.capex <= budget + 1e-9
    assert tight.upgrade_cost == pytest.approx(fit_plan(cfg, tight.stations, cand).upgrade_cost)


def test_managed_site_sized_with_throttled_power(tmp_path):
    """Managed charging: 150 kW serves 6 sessions of 25 kWh an hour, so no plug count
    carries 12 arrivals/h; the loop names the binding connection and sites more stations;
    it simulates the throttled plan, so the fit changes nothing afterwards."""
    cfg = _cfg(tmp_path, {"managed_charging": True})
    cand = _cand()
    res, log = _run(cfg, cand)
    capped = [c for it in res.iterations for c in it.get("capped", [])]
    assert any(c.managed and "managed charging within its 150 kW" in c.sentence for c in capped)
    assert len(res.selected) >= 2
    for plan in log[1:]:  # throttled: the draw never exceeds the connection
        new = plan[~plan["existing"].astype(bool)]
        assert (new["plugs"] * new["power_kw"] <= 150.0 + 1e-6).all()
    fit = fit_plan(cfg, res.stations, cand)
    assert np.allclose(fit.stations["power_kw"], res.simulated["power_kw"])
    assert (fit.stations["plugs"].to_numpy() == res.simulated["plugs"].to_numpy()).all()


def _bays(cap: float, price: float):
    stations = pd.DataFrame(
        {
            "station_id": ["hub:mcs", "hub:ccs_truck", "solo"],
            "node": [5, 5, 6],
            "plugs": [2, 1, 2],
            "power_kw": [1000.0, 400.0, 1000.0],
            "existing": False,
            "added_plugs": 0,
            "plug_class": ["mcs", "ccs_truck", None],
            "bay_draw_kw": [1000.0, 400.0, np.nan],
            "bay_cost": [500.0, 150.0, np.nan],
        }
    )
    cand = pd.DataFrame(
        {
            "site_id": ["hub", "solo"],
            "grid_kw": [cap, 5000.0],
            "upgrade_cost_per_kw": [price, price],
            "plug_cost": 100.0,
            "power_kw": 1000.0,
        }
    )
    return stations, cand


def test_truck_bay_site_fitted_on_its_total_draw(tmp_path):
    """Two bay rows of one site (2 x 1 MW MCS + 1 x 400 kW CCS = 2.4 MW) on a 2.2 MW
    connection: each row alone fits, the site does not."""
    stations, cand = _bays(2200.0, np.nan)
    assert site_keys(stations).tolist() == ["hub", "hub", "solo"]
    cfg = _cfg(tmp_path)
    fit = fit_plan(cfg, stations, cand).stations.set_index("station_id")
    assert fit.loc["hub:mcs", "plugs"] == 1 and fit.loc["hub:ccs_truck", "plugs"] == 1
    assert fit.loc["hub:mcs", "grid_kw"] == 2200.0 and fit.loc["solo", "plugs"] == 2
    # priced: the site buys 200 kW, shared over its rows by their draw
    cfg = _cfg(tmp_path, {"upgrade_cost_per_kw": 10.0})
    stations, cand = _bays(2200.0, 10.0)
    fit = fit_plan(cfg, stations, cand).stations.set_index("station_id")
    assert fit.loc[["hub:mcs", "hub:ccs_truck"], "upgrade_kw"].sum() == pytest.approx(200.0)
    assert fit["upgrade_cost"].sum() == pytest.approx(2000.0)
    assert fit.loc["solo", "upgrade_kw"] == 0
    # managed: both rows throttled by 2200 / 2400
    cfg = _cfg(tmp_path, {"managed_charging": True})
    fit = fit_plan(cfg, *_bays(2200.0, np.nan)).stations.set_index("station_id")
    assert fit.loc["hub:mcs", "power_kw"] == pytest.approx(1000 * 2200 / 2400)
    assert fit.loc["hub:ccs_truck", "power_kw"] == pytest.approx(400 * 2200 / 2400)
    draw = (fit["plugs"] * fit["power_kw"]).groupby(site_keys(fit.reset_index()).values).sum()
    assert draw["hub"] == pytest.approx(2200.0)


def test_loop_adds_bays_within_the_site_total(tmp_path):
    """The loop's grid book counts a site's other rows: with 2.2 MW and a CCS bay drawing
    400 kW, the MCS row may grow to 1 bay only."""
    from planner.study.grid_fit import SiteBook

    stations, cand = _bays(2200.0, np.nan)
    stations = stations.assign(plugs=[1, 1, 1])
    fitted = fit_plan(_cfg(tmp_path), stations, cand).stations
    book = SiteBook(fitted)
    assert book.room(0) == 0 and book.room(1) == 2  # 1800 kW drawn: 400 kW left
    assert book.room(2) == 4


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kw=st.lists(st.sampled_from([40.0, 100.0, 150.0, 260.0, 1e9]), min_size=3, max_size=3),
    price=st.lists(st.sampled_from([np.nan, 0.5, 5.0]), min_size=3, max_size=3),
    managed=st.booleans(),
    max_plugs=st.integers(2, 12),
    budget=st.sampled_from([None, 2500.0, 6000.0]),
)
def test_no_loop_plan_violates_capacity(tmp_path, kw, price, managed, max_plugs, budget):
    """Random capacities, upgrade prices, managed charging, plug caps and budgets: every
    plan the loop simulates and the plan it returns are within each site's capacity unless
    a paid upgrade covers it (the checker's rule); the loop planned no plug the fit would
    cut; the fit of the returned plan equals the plan simulated last; the budget holds,
    upgrades included."""
    dprice = {} if managed else {"upgrade_cost_per_kw": 1.0}
    cfg = _cfg(tmp_path, {"managed_charging": managed, **dprice})
    cand = _cand(kw, price)
    res, log = _run(cfg, cand, budget=budget, max_plugs=max_plugs, iterations=4)
    fit = fit_plan(cfg, res.stations, cand).stations
    by = cand.set_index("site_id")
    for plan in [*log[1:], res.simulated]:
        new = plan[~plan["existing"].astype(bool)]
        cap = new["station_id"].map(by["grid_kw"]).to_numpy()
        ok_up = ~np.isnan(new["station_id"].map(by["upgrade_cost_per_kw"]).to_numpy())
        draw = (new["plugs"] * new["power_kw"]).to_numpy()
        over = draw > cap + 1e-6
        assert not (over & (managed | ~ok_up)).any()
    v = grid_violations(
        fit["plugs"].to_numpy(),
        fit["power_kw"].to_numpy(),
        fit["grid_kw"].to_numpy(),
        upgrade_kw=fit["upgrade_kw"].to_numpy(),
        upgradable=~np.isnan(fit["grid_price"].to_numpy()),
    )
    assert v == []
    assert (fit["plugs"].to_numpy() == res.simulated["plugs"].to_numpy()).all()
    assert np.allclose(fit["power_kw"], res.simulated["power_kw"])
    # the loop never plans a plug its site's connection cannot carry (nothing to cut)
    assert (res.stations["plugs"].to_numpy() == res.simulated["plugs"].to_numpy()).all()
    assert res.upgrade_cost == pytest.approx(float(fit["upgrade_cost"].sum()))
    if budget is not None:
        assert res.capex <= budget + 1e-6
