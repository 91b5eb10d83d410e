"""The simulation step of a study: its trips on a station set, with replications.

:class:`StudySimulator` turns a stations table into a
:class:`~planner.study.loop.ScenarioOutcome` (mean KPIs, per-station statistics, unserved
demand) that the closed loop reads; the SimPy model itself lives in :mod:`sim`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

import sim
from planner.config.study import StudyConfig
from planner.study.demand import build_trips
from planner.study.inputs import StudyNetwork
from planner.study.loop import ScenarioOutcome

__all__ = ["StudySimulator", "sim_settings", "study_vehicles", "unserved_demand"]

#: Trip statuses that count as demand the network did not serve.
NOT_COMPLETED = ("stranded", "unroutable", "cancelled")


def sim_settings(cfg: StudyConfig, *, temperature_c: float | None = None) -> sim.SimSettings:
    """The simulation settings of a study (at its temperature unless another is given)."""
    sc = cfg.simulation
    settings = sim.SimSettings(
        ambient_temp_c=sc.temperature_c if temperature_c is None else temperature_c,
        initial_soc=sc.start_soc,
        max_wait_s=sc.balk_after_min * 60.0,
        home_charging_share=sc.home_charging_share,
        horizon_s=None,
    )
    if sc.grid_kg_co2_per_kwh is not None:  # otherwise the simulator's sourced default
        settings = dataclasses.replace(settings, grid_kg_co2_per_kwh=sc.grid_kg_co2_per_kwh)
    return settings


def study_vehicles(cfg: StudyConfig) -> dict:
    """The vehicle models a study may use: the built-in catalogue or the study's own."""
    return (
        sim.load_vehicle_models(cfg.vehicles.catalogue)
        if cfg.vehicles.catalogue is not None
        else sim.builtin_models()
    )


def unserved_demand(
    res: sim.SimulationResult,
    trips: pd.DataFrame,
    *,
    wait_target_min: float | None,
    detour_limit_min: float,
) -> pd.DataFrame:
    """Demand the scenario served badly, at the origin node of the trip leg concerned:
    trips not completed (stranded, unroutable, cancelled), and public charging stops that
    balked, waited longer than the target or detoured longer than the coverage threshold."""
    t = res.trips
    bad_trip = t["status"].isin(NOT_COMPLETED)
    rows = [t.loc[bad_trip, ["origin", "destination"]].assign(weight=1.0)]
    ses = res.sessions[res.sessions["station"] >= 0]
    if len(ses):
        poor = ses["status"].eq("balked") | (ses["detour_s"] > detour_limit_min * 60.0)
        if wait_target_min is not None:
            poor |= ses["wait_s"] > wait_target_min * 60.0
        od = (
            t.set_index("trip_id")[["origin", "destination"]]
            .reindex(ses.loc[poor, "trip_id"])
            .dropna()
        )
        rows.append(od.astype(np.int64).reset_index(drop=True).assign(weight=1.0))
    df = pd.concat(rows, ignore_index=True).rename(columns={"origin": "node"})
    return df.groupby(["node", "destination"], as_index=False)["weight"].sum()


class StudySimulator:
    """Simulates a study's trips for any station set, with replications.

    Attributes
    ----------
    runs : int
        Simulations run so far (replications included), for the manifest.
    """

    def __init__(
        self, cfg: StudyConfig, sn: StudyNetwork, trips: pd.DataFrame, vehicles: dict
    ) -> None:
        self.cfg, self.sn, self.trips, self.vehicles = cfg, sn, trips, vehicles
        self.runs = 0

    def _redraw(self, rng: np.random.Generator) -> pd.DataFrame:
        # Replications redraw the demand (same settings, independent generator): the
        # intervals then reflect demand variability, not only the initial state of charge.
        return build_trips(self.cfg, self.sn, self.vehicles, rng=rng)

    def __call__(
        self,
        stations: pd.DataFrame,
        *,
        temperature_c: float | None = None,
        trips: pd.DataFrame | None = None,
        replications: int | None = None,
    ) -> ScenarioOutcome:
        cfg = self.cfg
        trips = self.trips if trips is None else trips
        reps = cfg.simulation.replications if replications is None else replications
        settings = sim_settings(cfg, temperature_c=temperature_c)
        st = stations[["station_id", "node", "plugs", "power_kw", "name"]].copy()
        first = sim.simulate(
            self.sn.network, st, trips, vehicles=self.vehicles, settings=settings, seed=cfg.seed
        )
        self.runs += 1
        kpis = first.kpis()
        intervals = pd.DataFrame()
        if reps > 1:
            source = self._redraw if trips is self.trips else trips
            summary = sim.replicate(
                self.sn.network,
                st,
                source,
                replications=reps,
                vehicles=self.vehicles,
                settings=settings,
                seed=cfg.seed,
            )
            assert isinstance(summary, pd.DataFrame)  # return_runs=False: the summary only
            intervals = summary
            self.runs += reps
            kpis = {k: float(v) for k, v in intervals["mean"].items()}
        unserved = unserved_demand(
            first,
            trips,
            wait_target_min=cfg.targets.wait_p95_min,
            detour_limit_min=cfg.model.threshold_min,
        )
        return ScenarioOutcome(
            kpis, first.station_stats(), unserved, detail={"result": first, "intervals": intervals}
        )
