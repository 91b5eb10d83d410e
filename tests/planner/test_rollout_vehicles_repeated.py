"""The staged study's carmaker table by year (planner.study.rollout._vehicles_by_year): a
model listed twice in ``vehicles.compare`` is one row per year and season and is simulated
once, as in the unstaged table (review 2026-12-08: it was two rows, two simulations).

The simulator here is a stand-in that counts its calls and answers fixed KPIs: the test is
about which cells the table asks for, not about the simulation."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from planner.config.study import load_config
from planner.study.rollout import _vehicles_by_year
from tests.e2e.test_pipeline import CONFIGS


class _CountingSimulator:
    """Answers every cell with fixed shares and counts the cells it was asked for."""

    def __init__(self, calls: list[tuple]) -> None:
        self.vehicles: dict = {}
        self._calls = calls

    def __call__(self, snapshot, *, temperature_c, trips, replications):
        self._calls.append((snapshot, temperature_c, trips["vehicle_model"].iloc[0]))
        return SimpleNamespace(
            kpis={"share_trips_completed": 0.9, "share_public_trips_completed": 0.8}
        )


def test_a_model_listed_twice_is_one_row_and_one_simulation(data_env):
    cfg = load_config(
        CONFIGS / "corridor-kaz01-rollout.yaml",
        overrides={
            "vehicles.compare": ["byd_atto3", "mitsubishi_imiev_2013", "byd_atto3"],
            "simulation.seasons": {"winter": -20},
        },
    )
    n = len(cfg.stages)
    trips = [pd.DataFrame({"vehicle_id": [1], "vehicle_model": ["byd_atto3"]}) for _ in range(n)]
    calls: list[tuple] = []
    table = _vehicles_by_year(
        cfg, trips, [f"stage {k}" for k in range(n)], lambda *_: _CountingSimulator(calls)
    )
    per_stage = ["byd_atto3", "mitsubishi_imiev_2013"]
    assert table["vehicle_model"].tolist() == per_stage * n
    assert [c[2] for c in calls] == per_stage * n
    assert table.groupby(["year", "vehicle_model", "season"]).size().eq(1).all()
