"""What the design loop (:mod:`planner.study.loop`) reads from a simulated plan: the
:class:`ScenarioOutcome` a simulation hands it, each station's load and the plugs it had in
use at once, whether queues call for plugs, the sites' grid book, and the sentence saying
why the loop stopped early. Pure functions of the outcome (``kpis`` and ``detail``).

:class:`ScenarioOutcome` is defined here, beside what reads it, so that the loop's helper modules can
name it without importing the loop (an import cycle); :mod:`planner.study.loop`
re-exports it, where its users import it from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from planner.study.grid_fit import LoopGrid, SiteBook
from planner.study.sizing import plugs_in_use_max, station_load
from planner.study.targets import Targets

__all__ = [
    "ScenarioOutcome",
    "fleet_load",
    "in_use_max",
    "queue_cause",
    "queue_trouble",
    "site_book",
    "stop_reason",
]


@dataclass
class ScenarioOutcome:
    """What one simulated scenario tells the loop.

    Attributes
    ----------
    kpis : dict
        Mean KPIs over replications (``wait_p95_min``, ``stranded_vehicles``,
        ``share_trips_completed``, ...; names from :data:`sim.kpis.KPIS`).
    per_station : DataFrame
        ``station_id, sessions, wait_p95_min, utilisation`` for every station.
    unserved : DataFrame
        ``node, weight``: demand the scenario served badly (stranded, not completed, long
        waits), the input for the next siting round.
    detail : Any
        Whatever the caller wants to keep (tables of the first replication).
    """

    kpis: dict[str, float]
    per_station: pd.DataFrame
    unserved: pd.DataFrame
    detail: Any = None


def site_book(grid: LoopGrid | None, fitted: pd.DataFrame | None) -> SiteBook:
    """A fresh account of each site's grid capacity for one sizing (none without a grid)."""
    return SiteBook(fitted, managed=grid.managed) if grid is not None else SiteBook(None)


def queue_cause(kpis: dict[str, Any]) -> bool:
    """Whether drivers gave up at a queue (stranded there, or abandoned a trip)."""
    return (kpis.get("stranded_queue") or 0) > 0 or (kpis.get("trips_abandoned") or 0) > 0


def queue_trouble(kpis: dict[str, Any], missed: list[str], targets: Targets) -> bool:
    """Whether plugs are sized for the wait target: the target is set and either missed
    (``missed``, as :func:`planner.study.targets.missed_targets` words it) or drivers gave up at a queue."""
    wait_missed = any(m.startswith("wait_p95_min") for m in missed)
    return targets.wait_p95_min is not None and (wait_missed or queue_cause(kpis))


def fleet_load(outcome: Any, days: int, target_min: float | None = None) -> pd.DataFrame | None:
    """Each station's load (:func:`planner.study.sizing.station_load`) from ``outcome``'s
    simulated sessions, a sampled fleet's (demand.max_trips) arrivals scaled to the whole
    fleet; None when the outcome carries no sessions to size on."""
    detail = outcome.detail if isinstance(outcome.detail, dict) else {}
    result = detail.get("result")
    if result is None or not hasattr(result, "sessions"):
        return None
    load = station_load(result.sessions, days=days, target_min=target_min)
    load["peak_arrivals_per_h"] *= float(outcome.kpis.get("demand_expansion_factor") or 1.0)
    return load


def in_use_max(outcome: Any) -> pd.Series:
    """The most plugs charging at once at each station (by id) in any run of ``outcome``:
    the seed run's and every replication's, after the warm-up and over every charged
    session (``detail["in_use_per_run"]``, :func:`planner.study.sizing.plugs_in_use_max` from the warm-up's end);
    an outcome without them (tests, older callers): its first run's sessions and every
    replication's charging sessions."""
    detail = outcome.detail if isinstance(outcome.detail, dict) else {}
    counted = detail.get("in_use_per_run")
    if counted:
        both = pd.concat(list(counted))
        return both.groupby(both.index.astype(str)).max()
    tables = []
    result = detail.get("result")
    if result is not None and hasattr(result, "sessions"):
        tables.append(result.sessions)
    tables += list(detail.get("charging_per_run") or [])
    per_run = [plugs_in_use_max(ses) for ses in tables]
    if not per_run:
        return pd.Series(dtype=float)
    best = pd.concat(per_run)
    return best.groupby(best.index.astype(str)).max()


def stop_reason(
    *,
    service_missed: bool,
    no_road_path: bool = False,
    sized: bool = True,
    wait_target: bool = True,
    budget_spent: bool = False,
    grid_bound: int = 0,
    capped: int = 0,
) -> str:
    """Why the design loop stopped before its last round: neither remedy had anything to do.

    New sites serve trips that were not completed (or a station at its plug cap): the loop
    calls for none when only queue targets are missed, or when no trip is left that a site
    could serve (the unserved demand is empty). Plugs relieve queues: they are sized when
    the wait target is missed or drivers gave up at a queue. The sentence says which remedy
    found nothing and why, from what the round measured (nothing it did not measure).
    """
    if not service_missed:
        sites = "no new site was called for (the targets missed are queue targets)"
    elif budget_spent:
        sites = "the budget left buys no new site"
    else:
        sites = "no trip is left unserved that a new site could serve" + (
            " (trips with no road path are left)" if no_road_path else ""
        )
    if not sized:
        plugs = (
            "no queue called for more plugs"
            if wait_target
            else "plugs are not sized (no wait target)"
        )
        return f"{sites}, and {plugs}"
    limits = [
        *([f"{capped} station(s) at the plug cap"] if capped else []),
        *(["the budget is spent"] if budget_spent else []),
        *([f"the grid connection binds at {grid_bound} station(s)"] if grid_bound else []),
    ]
    plugs = "the plug sizing added no plug" + (f" ({'; '.join(limits)})" if limits else "")
    return f"{sites}, and {plugs}"
