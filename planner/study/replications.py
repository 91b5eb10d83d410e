"""The statistics of a study's replications: which KPIs are fleet totals
(:data:`EXTENSIVE_KPIS`, scaled for a sample of the fleet), the half-widths the adaptive
replication count reads (:func:`half_widths`), the seed of the confirmation runs, and the
means over runs of the unserved demand and the stranding causes. Used by
:class:`planner.study.simulate.StudySimulator`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

import sim
from planner.study.targets import target_intervals

__all__ = [
    "EXTENSIVE_KPIS",
    "scaled_kpis",
    "confirmation_seed",
    "defined",
    "half_widths",
    "mean_causes",
    "mean_unserved",
    "scaled",
]

#: KPIs that are totals over the fleet: scaled by the demand expansion factor when the
#: simulated fleet is a sample (``demand.max_trips``). Waits, shares and peaks are not.
EXTENSIVE_KPIS = (
    "trips",
    "trips_completed",
    "trips_abandoned",
    "trips_no_road_path",
    "vehicles",
    "stranded_vehicles",
    "stranded_no_charger",
    "stranded_queue",
    "stranded_below_reach",
    "station_visits",
    "sessions_public",
    "sessions_balked",
    "detour_km_total",
    "energy_public_kwh",
    "energy_home_kwh",
    "energy_delivered_kwh",
    "ev_km",
    "co2_ice_kg",
    "co2_ev_kg",
    "co2_avoided_kg",
)


def mean_unserved(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """The mean of several runs' :func:`unserved_demand` (``node``, ``destination``,
    ``weight``): an OD pair unserved once in one run of four weighs 0.25 trips, so the
    optimiser's plug sizing from the weights keeps a single run's scale."""
    if not runs:
        return pd.DataFrame({"node": [], "destination": [], "weight": []})
    df = pd.concat(runs, ignore_index=True)
    out = df.groupby(["node", "destination"], as_index=False)["weight"].sum()
    out["weight"] /= len(runs)
    return out


def confirmation_seed(seed: int) -> int:
    """The seed of a study's confirmation runs: a stream of its own, derived from the
    study seed (deterministic, and independent of the design rounds' runs)."""
    return int(np.random.SeedSequence((seed, 0xC0F1)).generate_state(1, dtype=np.uint32)[0])


def half_widths(per_run: pd.DataFrame, factor: float = 1.0) -> dict[str, float]:
    """Half-width of the 95 % Student-t interval of each KPI over the runs, as
    ``simulation.ci_half_width`` asks for it: for the target KPIs, of the values the targets
    are judged on (the stranded count net of cars below reach, run by run:
    :func:`target_intervals`); every KPI before any truncation to its range (a wait interval
    cut at 0 looked narrower than it is), and in fleet units for a sampled fleet (extensive
    KPIs x ``factor``). NaN with fewer than 2 runs where the value is defined (no interval:
    more runs are needed)."""
    # std and count of each KPI as sim.summarise computes them (its interval is truncated
    # to the KPI's range, the std is not), the target KPIs' from their judged values
    stats = sim.summarise(per_run.select_dtypes("number"))
    judged = target_intervals(per_run)
    stats.loc[judged.index, ["std", "n"]] = judged[["std", "n"]]
    out: dict[str, float] = {}
    for name, n, std in zip(stats.index, stats["n"], stats["std"], strict=True):
        n = int(n)
        h = float(sps.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else math.nan
        out[name] = h * factor if name in EXTENSIVE_KPIS else h
    return out


def defined(per_run: pd.DataFrame, name: str) -> bool:
    """Whether KPI ``name`` is defined (finite) in at least one run."""
    return bool(np.isfinite(per_run[name].to_numpy(dtype=float)).any())


def scaled_kpis(kpis: dict[str, float], factor: float) -> dict[str, float]:
    """KPIs with the totals (:data:`EXTENSIVE_KPIS`) scaled to the whole fleet by the
    demand expansion ``factor`` (the shares and waits of a sample stand as they are)."""
    return {k: v * factor if k in EXTENSIVE_KPIS else v for k, v in kpis.items()}


def scaled(intervals: pd.DataFrame, factor: float) -> pd.DataFrame:
    """Replication intervals with the totals (:data:`EXTENSIVE_KPIS`) scaled to the whole
    fleet by the demand expansion ``factor``."""
    if not len(intervals):
        return intervals
    rows = intervals.index.isin(EXTENSIVE_KPIS)
    out = intervals.copy()
    for col in ("mean", "std", "ci_low", "ci_high"):
        out.loc[rows, col] *= factor
    return out


def mean_causes(runs: list[dict[str, int]]) -> dict[str, float]:
    """The mean count of each stranding cause over ``runs`` (0 in a run without it)."""
    keys = sorted({k for run in runs for k in run})
    return {k: sum(run.get(k, 0) for run in runs) / len(runs) for k in keys}
