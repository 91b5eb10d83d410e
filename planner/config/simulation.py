"""The ``targets`` and ``simulation`` sections of a study file: the service targets a plan
must meet and how the simulation that checks it is run (docs/simulation.md).

``simulation.ci_half_width`` maps a KPI the simulator reports per replication to the
half-width its 95 % interval must reach before more replications stop being added
(``simulation.max_replications``). Its keys are checked against the KPI registry
(:data:`sim.kpis.KPIS`) when the file is read: a misspelt name would otherwise never match
a replicated KPI and be ignored without a word.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from planner.config._strict import Number
from planner.config._strict import StrictSection as _Strict

__all__ = ["SimulationConfig", "TargetsConfig", "replicated_kpis"]

#: Registered KPIs the planner computes once per plan, after the simulation (not per
#: replication, so they have no replication interval): the plan's size and cost
#: (planner/study/optimize*.py), the demand scale (planner/study/simulate.py) and the grid
#: block (planner/study/grid.py, grid_step.py).
_PLAN_KPIS = frozenset(
    {
        "coverage_share",
        "n_stations",
        "n_sites",
        "n_plugs",
        "capex",
        "demand_expansion_factor",
        "energy_renewable_kwh",
        "renewable_share_charging",
        "co2_charging_kg",
        "grid_upgrade_kw",
        "grid_upgrade_cost",
        "stations_managed",
        "wait_p95_min_unmanaged",
        "wait_mean_min_unmanaged",
    }
)


def replicated_kpis() -> list[str]:
    """Names of the KPIs with a replication interval, in registry order.

    Returns
    -------
    list of str
        The registered KPIs (:data:`sim.kpis.KPIS`) the simulator reports per replication:
        the keys ``simulation.ci_half_width`` may use.
    """
    # Imported here: the registry lives with the simulator, and a study file without a
    # ci_half_width section need not load it.
    from sim.kpis import KPIS

    return [k for k in KPIS if k not in _PLAN_KPIS]


def _replicated_kpi(name: str) -> str:
    known = replicated_kpis()
    if name in known:
        return name
    why = "is computed once per plan, not per replication" if name in _PLAN_KPIS else "is unknown"
    raise ValueError(f"KPI {name!r} {why}; give a half-width for one of: {', '.join(known)}")


#: A KPI name with a replication interval (the key of ``simulation.ci_half_width``).
ReplicatedKPI = Annotated[str, AfterValidator(_replicated_kpi)]


def _positive(width: float) -> float:
    # An interval of width 0 is reached only by identical replications, so the doubling
    # would always run to max_replications; a negative one never.
    if not width > 0:
        raise ValueError(
            "a half-width must be > 0 in the KPI's unit (e.g. 2 for "
            "wait_p95_min in minutes); leave the KPI out to ask for no interval"
        )
    return width


#: A half-width of a 95 % interval, in the KPI's unit.
HalfWidth = Annotated[Number, AfterValidator(_positive)]


class TargetsConfig(_Strict):
    wait_p95_min: float | None = Field(10.0, gt=0)
    stranded: int | None = Field(0, ge=0)
    trips_completed_share: float | None = Field(None, gt=0, le=1)
    max_iterations: int = Field(3, ge=1, le=20)

    @field_validator("trips_completed_share")
    @classmethod
    def _confirmable(cls, share: float | None) -> float | None:
        # a target is met on its 95 % bound (planner.study.targets), and the exact lower
        # bound of N completed trips of N is 0.025 ** (1 / N) < 1: 100 % could only be
        # missed, whatever the plan and however many runs
        if share is not None and share >= 1.0:
            raise ValueError(
                "a completed share of 1 (100 %) can never be confirmed: the exact 95 % lower "
                "bound of N completed trips out of N is 0.025^(1/N), below 1 for any N; set "
                "a share below 1 (0.99 is confirmed by about 370 trips with none failed) or "
                "bound the failures with targets.stranded"
            )
        return share


class SimulationConfig(_Strict):
    days: int = Field(1, ge=1, le=31)
    replications: int = Field(1, ge=1, le=100)
    # more replications (doubling, up to this many) until every service-target KPI's 95 %
    # interval is within its half-width below; None: exactly `replications`
    max_replications: int | None = Field(None, ge=1, le=200)
    ci_half_width: dict[ReplicatedKPI, HalfWidth] = Field(
        default_factory=lambda: {
            "wait_p95_min": 2.0,
            "stranded_vehicles": 1.0,
            "share_trips_completed": 0.005,
        }
    )
    temperature_c: float = Field(20.0, ge=-50, le=50)
    seasons: dict[str, Number] = Field(default_factory=dict)
    home_charging_share: float = Field(0.6, ge=0, le=1)
    balk_after_min: float = Field(30.0, gt=0)
    # "steady" (the long-run distribution, docs/simulation.md), fixed, or uniform [low, high]
    start_soc: Literal["steady"] | float | tuple[Number, Number] = "steady"
    # days simulated before the measured ones (state of charge and queues carry over);
    # None: 2 for city and corridor demand, 0 for OD tables
    warmup_days: int | None = Field(None, ge=0, le=7)
    # days simulated after the measured ones, not measured, so that the measured trips'
    # late stops meet the traffic of a day that goes on (without them the corridor's last
    # stops met empty stations: 20 % of its counted visits, none waiting); None: 0 for city
    # and OD demand, 1 for corridor, 2 for freight (trucks drive 2-4 days)
    cooldown_days: int | None = Field(None, ge=0, le=7)
    comfort_buffer: float = Field(0.2, ge=0, le=0.9)  # Franke & Krems 2013 (TR-A 48): 20-25 %
    look_ahead: bool = True
    precondition: bool = False
    # hourly travel-time multipliers: "auto" = the city per-road-class profile for city
    # studies, free flow otherwise; "none" = free flow; 24 numbers >= 1 (every road); or a
    # mapping {motorway: [24], arterial: [24], local: [24]} (a class left out: free flow)
    congestion: Literal["auto", "none"] | list[Number] | dict[str, list[Number]] = "auto"
    # "fast": vehicles that never reach a public-charging decision are settled in numpy and
    # only the others run as SimPy events (identical results); "full": every vehicle in SimPy
    engine: Literal["fast", "full"] = "fast"

    @field_validator("congestion")
    @classmethod
    def _congestion(cls, v):
        def bad(row) -> bool:
            return len(row) != 24 or any(not x >= 1 for x in row)

        if isinstance(v, list) and bad(v):
            raise ValueError("congestion must be 'auto', 'none' or 24 hourly factors >= 1")
        if isinstance(v, dict):
            from networks.road_classes import ROAD_CLASSES

            unknown = sorted(set(v) - set(ROAD_CLASSES))
            if unknown:
                raise ValueError(
                    f"congestion names unknown road class(es) {unknown}; "
                    f"known: {list(ROAD_CLASSES)}"
                )
            for name, row in v.items():
                if bad(row):
                    raise ValueError(f"congestion.{name} must be 24 hourly factors >= 1")
        return v

    @field_validator("start_soc")
    @classmethod
    def _soc(cls, v):
        if v == "steady":
            return v
        lo, hi = (v, v) if isinstance(v, int | float) else v
        if not 0 < lo <= hi <= 1:
            raise ValueError(
                f"start_soc must be in (0, 1] or a [low, high] pair with low <= high, got {v!r}"
            )
        return v

    grid_kg_co2_per_kwh: float | None = Field(None, ge=0)
