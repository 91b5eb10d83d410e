"""The comparison step of a study: the carmaker's vehicle x season matrix (the coverage curve
and the state-of-charge trace come from the optimiser, :mod:`planner.study.optimize`)."""

from __future__ import annotations

import math

import pandas as pd

from planner.config.study import StudyConfig
from planner.study.simulate import StudySimulator

__all__ = ["vehicle_matrix"]


def vehicle_matrix(
    cfg: StudyConfig, simulator: StudySimulator, existing: pd.DataFrame, proposal: pd.DataFrame
) -> pd.DataFrame:
    """The carmaker's view: share of the study's trips each compared model completes, per
    season, with the existing stations and with the proposal (one replication each)."""
    models = cfg.vehicles.compare
    seasons = cfg.simulation.seasons or {"study": cfg.simulation.temperature_c}
    rows = []
    for model in models:
        trips = simulator.trips.assign(vehicle_model=model)
        for season, temp in seasons.items():
            row = {"vehicle_model": model, "season": season, "temperature_c": temp}
            for label, st in (("before", existing), ("after", proposal)):
                k = simulator(st, temperature_c=temp, trips=trips, replications=1).kpis
                row[f"share_{label}"] = k.get("share_trips_completed", math.nan)
                row[f"stranded_{label}"] = k.get("stranded_vehicles", math.nan)
            row["trips_feasible_share"] = row["share_after"]
            rows.append(row)
    return pd.DataFrame(rows)
