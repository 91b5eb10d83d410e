"""The simulation step of a study: its trips on a station set, with replications.

:class:`StudySimulator` turns a stations table into a
:class:`~planner.study.loop.ScenarioOutcome` (mean KPIs, per-station statistics, unserved
demand) that the closed loop reads; the SimPy model itself lives in :mod:`sim`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd

import sim
from planner.config.study import StudyConfig
from planner.study.demand import build_trips, with_driving_rules
from planner.study.inputs import StudyNetwork
from planner.study.loop import ScenarioOutcome, target_intervals
from planner.study.replications import (
    EXTENSIVE_KPIS,
    confirmation_seed,
    defined,
    half_widths,
    mean_causes,
    mean_unserved,
    scaled,
    scaled_kpis,
)
from planner.study.sizing import plugs_in_use_max
from planner.study.targets import judge_targets, with_count_bound
from sim.connectors import station_connectors

logger = logging.getLogger(__name__)

__all__ = [
    "CITY_CONGESTION",
    "CITY_CONGESTION_BY_CLASS",
    "EXTENSIVE_KPIS",
    "StudySimulator",
    "confirmation_seed",
    "half_widths",
    "sim_settings",
    "study_vehicles",
    "mean_unserved",
    "unserved_demand",
]

#: Trip statuses that count as demand the network did not serve.
NOT_COMPLETED = ("stranded", "unroutable", "cancelled", "abandoned")

#: Default hourly travel-time multipliers of city studies (``simulation.congestion: auto``):
#: free flow at night, +50-90 % in the morning (7-9 h) and evening (16-19 h) peaks, +35 %
#: during the day. Shaped like the hourly congestion profiles of the TomTom Traffic Index
#: (congestion level = extra travel time over free flow; large cities show 50-90 % at the
#: peaks and 25-40 % over the day). Not calibrated on Almaty data (assumption): it brings
#: the median city leg from the ~55 km/h free-flow speed of the OSM speed defaults down to
#: about 30 km/h at the peaks. Override with 24 numbers from local traffic data.
CITY_CONGESTION: tuple[float, ...] = (
    *(1.0,) * 6,  # 0-5 h
    1.1, 1.5, 1.8, 1.6,  # 6-9 h
    *(1.35,) * 6,  # 10-15 h
    1.5, 1.8, 1.9, 1.6,  # 16-19 h
    1.3, 1.15, 1.05, 1.05,  # 20-23 h
)  # fmt: skip

#: Per-road-class scale of the excess travel time ``F - 1`` of :data:`CITY_CONGESTION` for
#: ``congestion: auto`` in city studies (docs/simulation.md, "Congestion per road class").
#: The ordering follows the Texas A&M Transportation Institute's Urban Mobility Report,
#: which reports separate peak travel time indices for freeways and for arterial streets,
#: freeways being the more congested in large cities; the ratios themselves (motorway 1.25,
#: arterial 1.0, local 0.6) are assumptions, not calibrated figures. The arterial profile
#: is the city profile itself (arterials carry most urban vehicle-km in cities without a
#: freeway network, like Almaty); its 1.8-1.9 peaks sit at the top of the published
#: city-wide TTI range (US BTS, Transportation Statistics Annual Report 2003, from TTI's
#: Urban Mobility Study: 75-area average 1.39 in 2000, Los Angeles 1.90).
CITY_CLASS_SCALE: dict[str, float] = {"motorway": 1.25, "arterial": 1.0, "local": 0.6}
#: Default per-class hourly factors of city studies (``simulation.congestion: auto``).
CITY_CONGESTION_BY_CLASS: dict[str, tuple[float, ...]] = {
    name: tuple(round(1.0 + a * (f - 1.0), 6) for f in CITY_CONGESTION)
    for name, a in CITY_CLASS_SCALE.items()
}


def sim_settings(cfg: StudyConfig, *, temperature_c: float | None = None) -> sim.SimSettings:
    """The simulation settings of a study (at its temperature unless another is given)."""
    sc = cfg.simulation
    factors: tuple[float, ...] | dict[str, tuple[float, ...]] | None
    if isinstance(sc.congestion, list):
        factors = tuple(sc.congestion)
    elif isinstance(sc.congestion, dict):
        factors = {k: tuple(v) for k, v in sc.congestion.items()}
    elif sc.congestion == "auto" and cfg.demand.kind == "city":
        factors = CITY_CONGESTION_BY_CLASS
    else:
        factors = None
    when = sim.SocThreshold(buffer_soc=sc.comfort_buffer, look_ahead=sc.look_ahead)
    settings = sim.SimSettings(
        ambient_temp_c=sc.temperature_c if temperature_c is None else temperature_c,
        initial_soc=sc.start_soc,
        policy=sim.ChargingPolicy(when=when),
        max_wait_s=sc.balk_after_min * 60.0,
        home_charging_share=sc.home_charging_share,
        horizon_s=None,
        warmup_s=cfg.warmup_days() * 86_400.0,
        # the time measures (utilisation, station peaks, time series) over the generated
        # days only: Almaty's trips after midnight had made one measured day read as two
        measure_end_s=(
            (cfg.warmup_days() + sc.days) * 86_400.0 if cfg.demand.kind != "od_table" else None
        ),
        precondition=sc.precondition,
        time_factors=factors,
        engine=sc.engine,
    )
    if sc.grid_kg_co2_per_kwh is not None:  # otherwise the simulator's sourced default
        settings = dataclasses.replace(settings, grid_kg_co2_per_kwh=sc.grid_kg_co2_per_kwh)
    return settings


def study_vehicles(cfg: StudyConfig) -> dict:
    """The vehicle models a study may use: the built-in catalogue or the study's own, with
    the study's driving-time rules for trucks (:func:`planner.study.demand.with_driving_rules`)."""
    models = (
        sim.load_vehicle_models(cfg.vehicles.catalogue)
        if cfg.vehicles.catalogue is not None
        else sim.builtin_models()
    )
    return with_driving_rules(cfg, models)


def unserved_demand(
    res: sim.SimulationResult,
    *,
    wait_target_min: float | None,
    detour_limit_min: float,
) -> pd.DataFrame:
    """Demand the scenario served badly, at the origin node of the trip leg concerned:
    trips not completed (stranded, abandoned, cancelled; not those with no road path, which
    no site can serve), and public charging stops that balked, waited longer than the target
    or detoured longer than the coverage threshold."""
    res = res.measured()
    t = res.trips
    bad_trip = t["status"].isin(NOT_COMPLETED)
    if "strand_cause" in t.columns:
        # trips with no road path: no site can serve them (the verdict says so instead)
        bad_trip &= t["strand_cause"].ne("no_road_path")
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
    if "strand_cause" in t.columns:
        # out of range: the car ran dry between origin and destination; a site near either
        # end can serve it, so the destination side counts as unserved demand too
        far = t["strand_cause"].eq("no_charger_in_range")
        rows.append(
            t.loc[far, ["destination", "origin"]]
            .rename(columns={"destination": "origin", "origin": "destination"})
            .assign(weight=1.0)
        )
    df = pd.concat(rows, ignore_index=True).rename(columns={"origin": "node"})
    return df.groupby(["node", "destination"], as_index=False)["weight"].sum()


class RunSummary(NamedTuple):
    """What the study keeps of each replication (the full result is not kept)."""

    waits: np.ndarray  #: waits (min) of the public charging stops, for the charts
    hourly: pd.Series  #: mean plug utilisation by hour of day
    charging: pd.DataFrame  #: public charging sessions, for the hourly CO2 matching
    unserved: pd.DataFrame  #: :func:`unserved_demand`, for the design loop's next round
    causes: dict[str, int]  #: trips stranded or abandoned, by cause
    in_use: pd.Series  #: most plugs charging at once after the warm-up, per station id


class StudySimulator:
    """Simulates a study's trips for any station set, with replications.

    Attributes
    ----------
    runs : int
        Simulations run so far (replications included), for the manifest.
    """

    def __init__(
        self,
        cfg: StudyConfig,
        sn: StudyNetwork,
        trips: pd.DataFrame,
        vehicles: dict,
        *,
        reach_sites: np.ndarray | None = None,
    ) -> None:
        self.cfg, self.sn, self.trips, self.vehicles = cfg, sn, trips, vehicles
        # where the study could have a charger (existing stations and candidate sites): a
        # car stranded on its first leg counts against the network unless none of them was
        # within its reach (sim.simulate's reach_sites)
        self.reach_sites = reach_sites
        self.runs = 0

    def confirmation(self) -> Callable[[pd.DataFrame], ScenarioOutcome] | None:
        """What the design loop confirms a plan on before it stops: the same simulation on
        fresh replications (:func:`confirmation_seed`), independent of the runs the rounds
        tuned the plan on; None with a single replication (nothing to confirm on)."""
        if self.cfg.simulation.replications <= 1:
            return None
        return partial(self.__call__, seed=confirmation_seed(self.cfg.seed))

    def _sites(self, st: pd.DataFrame) -> np.ndarray | None:
        """The reach sites of a run on stations ``st``: the study's, and the stations'."""
        if self.reach_sites is None:
            return None
        return np.union1d(self.reach_sites, st["node"].to_numpy(dtype=np.int64))

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
        seed: int | None = None,
    ) -> ScenarioOutcome:
        cfg = self.cfg
        seed = cfg.seed if seed is None else seed
        trips = self.trips if trips is None else trips
        reps = cfg.simulation.replications if replications is None else replications
        settings = sim_settings(cfg, temperature_c=temperature_c)
        cols = ["station_id", "node", "plugs", "power_kw", "name"]
        # "existing" rides along into the result's stations table (the engine ignores it):
        # without it every station of stations_after read as new, the hotels included
        extra = [c for c in ("connectors", "existing") if c in stations]
        st = stations[cols + extra].copy()
        made: list[sim.SimulationResult] = []

        def seed_run() -> sim.SimulationResult:
            # the run the tables, charts and the next round read (made once)
            if not made:
                made.append(
                    sim.simulate(
                        self.sn.network,
                        st,
                        trips,
                        vehicles=self.vehicles,
                        settings=settings,
                        seed=seed,
                        reach_sites=self._sites(st),
                    )
                )
            return made[0]

        intervals = judged = pd.DataFrame()
        factor = float(trips.attrs.get("expansion_factor", 1.0))
        if reps > 1:
            # the seed run is made here while the replication workers run (when the first
            # replication comes back): made alone before them, it held every round of the
            # Almaty rollout's 2035 stage 8 s longer (one more run on the 2 cores' time)
            intervals, kept, reps, per_run = self._replicate(
                st, trips, reps, settings, seed, alongside=seed_run
            )
            # (a sample's stranded count gets no Poisson floor: nothing confirms a sample)
            judged = target_intervals(per_run, count_bound=factor == 1.0)
            if factor == 1.0:
                # the KPI table's count bounds agree with the verdict's (gross counts)
                intervals = with_count_bound(intervals, per_run)
            self.runs += reps
            kpis = {k: float(v) for k, v in intervals["mean"].items()}
        else:
            kpis = seed_run().kpis()
            kept = [self._summary(seed_run())]  # the seed run is the one run kept
        # charts, CO2 matching, the loop's next round: the runs the KPIs are the mean of
        # (the seed run alone may leave nothing unserved while the replications' mean
        # misses a target)
        first = seed_run()
        self.runs += 1
        waits, hourly = [r.waits for r in kept], [r.hourly for r in kept]
        unserved = mean_unserved([r.unserved for r in kept])
        if factor != 1.0:  # a sample of the fleet: totals scaled to the whole fleet
            kpis = scaled_kpis(kpis, factor)
            intervals, judged = scaled(intervals, factor), scaled(judged, factor)
        kpis["demand_expansion_factor"] = factor
        # the plugs in use, the seed run's read before the cut to the measured trips
        # (sizing.plugs_in_use_max); with one run it is already the one kept
        in_use = [r.in_use for r in kept]
        if reps > 1:
            in_use.insert(0, plugs_in_use_max(first.sessions, since_s=settings.warmup_s))
        every_row, first = first, first.measured()
        return ScenarioOutcome(
            kpis,
            first.station_stats(),
            unserved,
            detail={
                "result": first,
                # the seed run with every simulated trip and session, warm-up and cool-down
                # days' too (``measured`` false): the exported tables, from which the time
                # measures (utilisation: plug time busy within the measured days, whichever
                # trip it served) can be traced (planner.study.result.all_rows)
                "result_all_rows": every_row,
                "intervals": intervals,
                # the same for the values the targets are judged on (stranded: net of the
                # cars below reach, run by run)
                "target_intervals": judged,
                "waits_min": np.concatenate(waits),
                "utilisation_by_hour": pd.concat(hourly, axis=1),
                "replications": reps,
                # the runs the KPIs are the mean of: CO2 matching averages over the same runs
                "charging_per_run": [r.charging for r in kept],
                # the most plugs in use at once, the seed run's and each run's: what the
                # design loop may trim to (planner.study.loop_reads.in_use_max)
                "in_use_per_run": in_use,
                # stranded or abandoned trips by cause: the mean over the same runs
                "causes": mean_causes([r.causes for r in kept]),
                "connector_gaps": self.connector_gaps(first, st),
            },
        )

    def unserved(self, res: sim.SimulationResult) -> pd.DataFrame:
        """The demand ``res`` served badly (:func:`unserved_demand` with the study's wait
        target and coverage threshold)."""
        return unserved_demand(
            res,
            wait_target_min=self.cfg.targets.wait_p95_min,
            detour_limit_min=self.cfg.model.threshold_min,
        )

    def _summary(self, res: sim.SimulationResult) -> RunSummary:
        """What the charts, the CO2 matching and the design loop need of a run."""
        return RunSummary(
            public_waits_min(res),
            hourly_utilisation(res),
            public_charging(res),
            self.unserved(res),
            _stranding_causes(res),
            plugs_in_use_max(res.sessions, since_s=res.settings.warmup_s),
        )

    def _keep_run(
        self,
        into: list[RunSummary],
        alongside: Callable[[], object] | None,
        _run: int,
        res: sim.SimulationResult,
    ) -> None:
        """Keep a replication's :meth:`_summary` (the full result is not kept); then call
        ``alongside`` (work for this process while the workers run the others)."""
        into.append(self._summary(res))
        if alongside is not None:
            alongside()

    def connector_gaps(self, res: sim.SimulationResult, stations: pd.DataFrame) -> pd.DataFrame:
        """Strandings a connector caused: a car stranded with no charger in range while a
        station within the coverage threshold of its trip's origin had no plug it can use.
        One row per such station and missing connector (the model's first one), with the
        number of trips (the design loop's "compatible plugs" remedy)."""
        empty = pd.DataFrame(columns=["station_id", "connector", "trips"])
        t = res.trips
        if "strand_cause" not in t.columns or "connectors" not in stations or not len(stations):
            return empty
        far = t[t["strand_cause"].eq("no_charger_in_range")]
        if far.empty:
            return empty
        # parsed as the engine parses them: a missing value is "any connector" (no gap),
        # not a plug type called "nan" that no car can use
        conn = [station_connectors(x) for x in stations["connectors"]]
        tt = self.sn.network.travel_time_matrix(
            far["origin"].to_numpy(dtype=np.int64),
            stations["node"].to_numpy(dtype=np.int64),
            cutoff=self.cfg.model.threshold_min * 60.0,
        )
        rows = []
        for k, model_key in enumerate(far["vehicle_model"].astype(str)):
            model = self.vehicles.get(model_key)
            if model is None or not model.connectors:
                continue
            wanted = set(model.connectors)
            near = [
                j
                for j in np.argsort(tt[k])
                if np.isfinite(tt[k, j]) and conn[j] and not conn[j] & wanted
            ]
            if near:
                rows.append((stations["station_id"].iloc[near[0]], model.connectors[0]))
        if not rows:
            return empty
        gaps = pd.DataFrame(rows, columns=["station_id", "connector"])
        return (
            gaps.groupby(["station_id", "connector"], as_index=False)
            .size()
            .rename(columns={"size": "trips"})
        )

    def _replicate(
        self,
        st: pd.DataFrame,
        trips: pd.DataFrame,
        reps: int,
        settings: sim.SimSettings,
        seed: int,
        *,
        alongside: Callable[[], object] | None = None,
    ) -> tuple[pd.DataFrame, list[RunSummary], int, pd.DataFrame]:
        """Replications until every target KPI's 95 % interval is as narrow as asked
        (``simulation.ci_half_width``), doubling up to ``simulation.max_replications``; the
        runs already made are kept and the series is extended (same seed sequence)."""
        sc = self.cfg.simulation
        cap = max(reps, sc.max_replications or reps)
        source = self._redraw if trips is self.trips else trips
        kept: list[RunSummary] = []
        runs: list[pd.DataFrame] = []
        done = 0
        while True:
            out = sim.replicate(
                self.sn.network,
                st,
                source,
                replications=reps,
                vehicles=self.vehicles,
                settings=settings,
                seed=seed,
                on_run=partial(self._keep_run, kept, alongside),
                return_runs=True,
                start=done,
                reach_sites=self._sites(st),
            )
            assert isinstance(out, tuple)  # return_runs=True: (summary, per-run KPIs)
            runs.append(out[1])
            done = reps
            per_run = pd.concat(runs, ignore_index=True)
            summary = sim.summarise(per_run)
            half = half_widths(per_run, float(trips.attrs.get("expansion_factor", 1.0)))
            # too wide, or defined in a single run (no interval yet: more runs may give one)
            wide = [
                k
                for k, tol in sc.ci_half_width.items()
                if k in half and (half[k] > tol or (math.isnan(half[k]) and defined(per_run, k)))
            ]
            # a target met on its mean but not on its 95 % bound is a question of runs, not
            # of chargers: more runs first (the loop would otherwise add sites for it)
            wide += [k for k in self._bound_only(summary, per_run, trips) if k not in wide]
            if not wide or reps >= cap:
                if wide:
                    logger.info("intervals still wider than asked after %d runs: %s", reps, wide)
                return summary, kept, reps, per_run
            reps = min(cap, reps * 2)
            logger.info("intervals of %s too wide: %d replications", ", ".join(wide), reps)

    def _bound_only(
        self, summary: pd.DataFrame, per_run: pd.DataFrame, trips: pd.DataFrame
    ) -> list[str]:
        """The target KPIs within their targets on the runs' mean but missed on the 95 %
        bound (:attr:`TargetJudgement.missed_on_bound_only`), judged as the study judges
        them. None for a sample of the fleet (``demand.max_trips``): no run count confirms a
        target on a sample's queues (:func:`planner.study.targets.sampled_fleet`)."""
        if float(trips.attrs.get("expansion_factor", 1.0)) != 1.0:
            return []
        kpis = {k: float(v) for k, v in summary["mean"].items()}
        judged = judge_targets(kpis, self.cfg.targets, target_intervals(per_run))
        return [j.name for j in judged if j.missed_on_bound_only]


#: Columns of a run's public charging sessions kept for the hourly CO2 matching
CHARGING_COLUMNS = ["station", "station_id", "status", "start_s", "end_s", "grid_kwh"]


def public_charging(res: sim.SimulationResult) -> pd.DataFrame:
    """The public charging sessions of a run's measured days (what
    :func:`planner.study.grid.emissions` matches hour by hour with renewable output)."""
    ses = res.measured().sessions
    ses = ses[(ses["station"] >= 0) & (ses["status"] == "charged")]
    return ses[CHARGING_COLUMNS].reset_index(drop=True)


def hourly_utilisation(res: sim.SimulationResult) -> pd.Series:
    """Mean plug utilisation by hour of day over a run's measured days (index 0-23)."""
    ts = res.measured().station_timeseries
    if ts.empty:
        return pd.Series(dtype=float)
    hour = (ts["t_s"] // 3600 % 24).astype(int)
    return ts.assign(hour=hour).groupby("hour")["utilisation"].mean()


def public_waits_min(res: sim.SimulationResult) -> np.ndarray:
    """Waits (min) of the public charging stops of a run's measured days."""
    ses = res.measured().sessions
    return ses.loc[ses["station"] >= 0, "wait_s"].to_numpy(dtype=float) / 60.0


def _stranding_causes(res: sim.SimulationResult) -> dict[str, int]:
    """Trips stranded or abandoned in the measured days, by cause."""
    t = res.measured().trips  # (the KPIs' period: the warm-up days left out)
    if "strand_cause" not in t.columns:
        return {}
    causes = t["strand_cause"].dropna().astype(str)
    causes = causes[causes != ""]
    return {str(k): int(v) for k, v in causes.value_counts().items()}
