"""Service targets: which KPI each one bounds, the value it is judged on (the stranded
count net of cars that started below reach), the replication intervals of those values, and
one judgement per target (:func:`judge_targets`) shared by the design loop's stop, the
study's verdict and a rollout stage's ``targets_met``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats as sps

from sim.api import summarise
from sim.kpis import kpi


class TargetBounds(Protocol):
    """What a target judgement reads: :class:`Targets` or a study's ``targets`` section."""

    @property
    def wait_p95_min(self) -> float | None: ...
    @property
    def stranded(self) -> float | None: ...
    @property
    def trips_completed_share(self) -> float | None: ...


@dataclass
class Targets:
    wait_p95_min: float | None = 10.0
    stranded: int | None = 0
    trips_completed_share: float | None = None
    max_iterations: int = 3


#: Target (attribute of :class:`Targets`) -> (KPI name in the registry, sense of the bound).
TARGET_KPIS: dict[str, tuple[str, str]] = {
    "wait_p95_min": (kpi("wait_p95_min").name, "max"),
    "stranded": (kpi("stranded_vehicles").name, "max"),
    "trips_completed_share": (kpi("share_trips_completed").name, "min"),
}
_FORMAT = {"wait_p95_min": ".1f", "stranded": ".1f", "trips_completed_share": ".3f"}


def excluded_below_reach(kpis: dict[str, float], name: str) -> float:
    """What the target on KPI ``name`` leaves out: for the stranded target, the cars that
    started below the reach of any charger (``stranded_below_reach``; they count against
    the car, not the network, the design-loop issue); 0 for the other targets."""
    if name != "stranded_vehicles":
        return 0.0
    return float(kpis.get("stranded_below_reach", 0.0) or 0.0)


def target_intervals(runs: pd.DataFrame, *, count_bound: bool = True) -> pd.DataFrame:
    """95 % intervals of the values the service targets are judged on, from the per-run
    KPIs of the replications (one row per run): each run's stranded vehicles net of its
    own cars below reach (:func:`target_value`), the other target KPIs as they are.

    The net interval must come from the runs' differences: shifting the interval of the
    gross count by the mean excluded count kept the gross count's spread (the corridor
    study's 0.6 stranded "up to 4.8" from runs whose net counts varied by well under 1).

    ``count_bound``: where the runs all agree, the exact count bounds of
    :func:`with_count_bound`. Off for a sample of the fleet (``demand.max_trips``), which
    no run count confirms (:func:`sampled_fleet`): scaled by the expansion factor, the
    bound of a sample with nobody stranded would read as a miss of hundreds of vehicles."""
    cols = {}
    for name, _sense in TARGET_KPIS.values():
        if name not in runs.columns:
            continue
        x = runs[name].astype(float)
        if name == "stranded_vehicles" and "stranded_below_reach" in runs.columns:
            x = (x - runs["stranded_below_reach"].astype(float)).clip(lower=0.0)
        cols[name] = x
    if not cols:
        return pd.DataFrame()
    out = summarise(pd.DataFrame(cols))
    return (
        with_count_bound(out, runs, stranded=cols.get("stranded_vehicles")) if count_bound else out
    )


#: Counts of failures (vehicles stranded, by cause; trips and charging visits given up):
#: where the runs all agree, the KPI table bounds each as the stranded target is bounded
#: (:func:`with_count_bound`), so that a zero reads the same in every row.
FAILURE_COUNTS = (
    "stranded_vehicles",
    "stranded_no_charger",
    "stranded_queue",
    "stranded_below_reach",
    "trips_abandoned",
    "trips_no_road_path",
    "sessions_balked",
)


def with_count_bound(
    intervals: pd.DataFrame, runs: pd.DataFrame, *, stranded: pd.Series | None = None
) -> pd.DataFrame:
    """``intervals`` (:func:`sim.summarise` rows) with the exact count bounds as floors,
    from the per-run KPIs ``runs`` (2 or more runs): the upper end of every failure count
    (:data:`FAILURE_COUNTS`) at least the Poisson bound of the runs' counts
    (:func:`count_upper_bound`; ``stranded``, default the runs' ``stranded_vehicles``, for
    that row), the ``share_trips_completed`` row's lower end at most the Clopper-Pearson
    bound of the runs' pooled trips (:func:`share_lower_bound`), and the same quantities in
    the other unit with the same bounds: ``share_vehicles_stranded`` (the stranded count's
    bound over the runs' mean vehicles) and ``trips_completed`` (the share's bound times
    the mean trips).

    A t-interval collapses when the runs agree (no truck stranded in 2 runs: [0, 0], a
    certainty two runs cannot give; every trip completed: [100 %, 100 %]). Then, and only
    then (:func:`_collapsed`), the exact bound for the count is the floor; runs that differ
    keep their t-interval. Used for the judged values and for the study's KPI table, so
    that they agree. Every failure count of the table and the same quantities in the other
    unit get it: only the stranded row and the completed share had it, so the cargo study's
    4 clean runs (no truck stranded) read "0-0.92" stranded vehicles beside "0-0" stranded
    at a queue (every stranding there), "0-0" trips abandoned and "0.0 %-0.0 %" of the
    vehicles stranded, and 120-120 trips completed beside 99.2 %-100 %."""
    out = intervals.copy()
    floored: set[str] = set()
    for name in FAILURE_COUNTS:
        x = stranded if name == "stranded_vehicles" and stranded is not None else runs.get(name)
        if name not in out.index or x is None:
            continue
        v = x.to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if v.size > 1 and _collapsed(v):
            _floor(out, name, "ci_high", count_upper_bound(float(v.sum()), v.size))
            floored.add(name)
    share = "share_trips_completed"
    if share in out.index and {"trips", "trips_completed", share} <= set(runs.columns):
        both = runs[["trips", "trips_completed", share]].astype(float)
        both = both[np.isfinite(both).all(axis=1) & (both["trips"] > 0)]
        if len(both) > 1 and _collapsed(both[share].to_numpy()):
            low = share_lower_bound(
                float(both["trips_completed"].sum()), float(both["trips"].sum())
            )
            _floor(out, share, "ci_low", low)
            _floor(out, "trips_completed", "ci_low", low * float(both["trips"].mean()))
    # the stranded count as a share of the vehicles: the count's bound over the vehicles
    if stranded is None and "stranded_vehicles" in floored and "vehicles" in runs:
        n = float(runs["vehicles"].astype(float).mean())
        if n > 0:
            bound = min(1.0, float(out.loc["stranded_vehicles", "ci_high"]) / n)
            _floor(out, "share_vehicles_stranded", "ci_high", bound)
    return out


def _floor(out: pd.DataFrame, name: str, end: str, value: float) -> None:
    """Widen row ``name``'s interval in place so that its ``end`` (``ci_low`` or
    ``ci_high``) reaches ``value``; nothing when the row is absent or already wider."""
    if name not in out.index or not math.isfinite(value):
        return
    now = float(out.loc[name, end])
    out.loc[name, end] = min(now, value) if end == "ci_low" else max(now, value)


def _collapsed(values: np.ndarray) -> bool:
    """Whether the runs all gave the same value: the t-interval then has zero width.

    Only then is the exact bound a floor. Runs that differ keep their t-interval, even
    where it is narrower than the Poisson one: strandings are often *less* variable than
    Poisson counts (the same trips strand in every run where no charger reaches them: the
    cargo baseline's runs vary with a standard deviation of 2.9 where Poisson's would be
    9.1), and a Poisson floor there turned genuine passes into misses (counts 8, 9, 8, 9
    against a target of 10: t-bound 9.4, Poisson 11.9; review of 2026-12-07)."""
    return bool(values.size) and bool(np.all(values == values[0]))


def share_lower_bound(successes: float, trials: float, *, confidence: float = 0.95) -> float:
    """Lower end of the exact two-sided ``confidence`` interval of a proportion (Clopper &
    Pearson 1934): ``beta.ppf((1 - confidence) / 2, successes, trials - successes + 1)``, 0
    with no success. With every trial a success it is ``0.025 ** (1 / trials)`` at 95 %
    (0.6915 for 10 of 10, the published table value; 0.9923 for 480 of 480 trips): a share of
    100 % is never confirmed by finitely many trips."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(
            f"share_lower_bound needs 0 <= successes <= trials and trials > 0, got "
            f"successes={successes}, trials={trials}"
        )
    if successes == 0:
        return 0.0
    return float(sps.beta.ppf((1 - confidence) / 2, successes, trials - successes + 1.0))


def count_upper_bound(total: float, runs: int, *, confidence: float = 0.95) -> float:
    """Upper end of the exact two-sided ``confidence`` interval of a Poisson mean per run,
    from ``total`` events counted over ``runs`` runs (Garwood 1936):
    ``gamma.ppf((1 + confidence) / 2, total + 1) / runs``.

    With no event at all it is ``3.689 / runs`` at 95 % (Garwood's table value for a zero
    count; the one-sided "rule of three" is its 95 % one-sided counterpart, 2.996): zero
    strandings in 2 runs bound the mean at 1.84 a period, in 4 runs at 0.92. A zero count
    can never be bounded at 0 by finitely many runs, hence the reading of a zero stranded
    target in :func:`judge_targets`.
    """
    if runs < 1:
        raise ValueError(f"count_upper_bound needs at least one run, got runs={runs}")
    return float(sps.gamma.ppf(0.5 + confidence / 2, total + 1.0)) / runs


def sampled_fleet(kpis: dict[str, Any]) -> bool:
    """Whether the KPIs come from a sample of the fleet (``demand.max_trips``: a demand
    expansion factor above 1), whose queues are the sample's, not the fleet's: no target
    driven by queues can be confirmed on them."""
    return float(kpis.get("demand_expansion_factor") or 1.0) > 1.0 + 1e-9


def target_value(kpis: dict[str, float], name: str, default: float) -> float:
    """The value a service target is judged on: the KPI less what the target leaves out
    (:func:`excluded_below_reach`), never below 0 for the stranded target."""
    value = float(kpis.get(name, default))
    if name == "stranded_vehicles":
        value = max(0.0, value - excluded_below_reach(kpis, name))
    return value


@dataclass(frozen=True)
class TargetJudgement:
    """How one service target stands: ``status`` ``met`` (its pessimistic 95 % bound
    meets it, on the whole fleet), ``missed`` (the judged value is outside it) or
    ``unconfirmed`` (within it, or undefined, with nothing to confirm it on: ``why``)."""

    attr: str  #: attribute of :class:`Targets`
    name: str  #: KPI name
    sense: str  #: "max" or "min"
    bound: float
    value: float  #: the judged point value (NaN: undefined in the measured period)
    edge: float | None  #: the pessimistic 95 % bound, None without a finite interval
    status: str
    why: str = ""  #: for ``unconfirmed``: "undefined", "sampled", "one run", "few runs"
    runs: int | None = None  #: runs where the KPI is defined (with replications)
    sampled: bool = False  #: judged on a sample of the fleet (:func:`sampled_fleet`)

    @property
    def fewer_than_one(self) -> bool:
        """Whether the target is a stranded target of 0, judged as fewer than one a
        measured period (:func:`reads_fewer_than_one`)."""
        return reads_fewer_than_one(self.attr, self.bound)

    @property
    def acted_on(self) -> bool:
        """Whether the design loop acts on it: missed, or undefined in the measured period
        (a wait with no public charging session is not a wait within its target)."""
        return self.status == "missed" or self.why == "undefined"

    @property
    def within_on_value(self) -> bool:
        """Whether the point value itself is within the target (a target can be missed on
        its 95 % bound with its value within)."""
        return not math.isnan(self.value) and not beyond(self.attr, self.bound, self.value)

    @property
    def missed_on_bound_only(self) -> bool:
        """Missed on its 95 % bound while the point value is within the target, on the
        whole fleet: more runs (not more chargers) may settle it
        (:meth:`planner.study.simulate.StudySimulator` adds them up to
        ``simulation.max_replications``; a sample's runs never confirm it)."""
        return (
            self.status == "missed"
            and not self.sampled
            and self.edge is not None
            and self.within_on_value
        )


def reads_fewer_than_one(attr: str, bound: float) -> bool:
    """Whether target ``attr`` set at ``bound`` is a stranded target of 0, read as *fewer
    than one stranded vehicle per measured period* (:func:`beyond`)."""
    return attr == "stranded" and bound == 0


def beyond(attr: str, bound: float, x: float) -> bool:
    """Whether value ``x`` is outside the target ``attr`` (of :class:`Targets`) set at
    ``bound``: above an "at most" bound, below an "at least" one.

    A stranded target of 0 is read as *fewer than one stranded vehicle per measured
    period*: no finite number of runs bounds a count at 0 (:func:`count_upper_bound`, 3.689
    / runs when none stranded), so read literally it could never be met, only missed. Every
    other bound is taken as written."""
    if TARGET_KPIS[attr][1] == "min":
        return x < bound - 1e-9
    if reads_fewer_than_one(attr, bound):
        return x >= 1.0
    return x > bound + 1e-9


def judge_targets(
    kpis: dict[str, float],
    targets: TargetBounds,
    intervals: pd.DataFrame | None = None,
    *,
    replications: int | None = None,
) -> list[TargetJudgement]:
    """Every set target judged once, the same way for the design loop's stop, the verdict
    and a rollout's timeline (they had three copies of the rule, which disagreed on an
    undefined KPI and on one defined in a single run of several).

    A target is judged on the pessimistic bound of its 95 % interval (``intervals``, of the
    judged values: :func:`target_intervals`) when that bound is finite; else on the point
    value, which can only miss it (``missed``) or leave it ``unconfirmed``: within it with
    no interval (one replication, or defined in fewer than 2 runs of several), undefined in
    the measured period (e.g. a wait with no public charging session), or from a sample of
    the fleet (:func:`sampled_fleet`: queues are the sample's, so nothing is confirmed).
    """
    iv = intervals if intervals is not None and len(intervals) else None
    sampled = sampled_fleet(kpis)
    out = []
    for attr, (name, sense) in TARGET_KPIS.items():
        bound = getattr(targets, attr)
        if bound is None:
            continue
        value = target_value(kpis, name, math.nan) if name in kpis else math.nan
        edge = runs = None
        if iv is not None and name in iv.index:
            e = iv.loc[name, "ci_high" if sense == "max" else "ci_low"]
            edge = float(e) if pd.notna(e) and math.isfinite(float(e)) else None
            if "n" in iv.columns and pd.notna(iv.loc[name, "n"]):
                runs = int(iv.loc[name, "n"])
        judged = edge if edge is not None else value
        if math.isnan(judged):
            status, why = "unconfirmed", "undefined"
        elif beyond(attr, float(bound), judged):
            status, why = "missed", ""
        elif sampled:
            status, why = "unconfirmed", "sampled"
        elif edge is None:
            one = iv is None or (replications is not None and replications <= 1)
            status, why = "unconfirmed", "one run" if one else "few runs"
        else:
            status, why = "met", ""
        out.append(
            TargetJudgement(
                attr, name, sense, float(bound), value, edge, status, why, runs, sampled
            )
        )
    return out


def targets_confirmed(
    kpis: dict[str, float], targets: TargetBounds, intervals: pd.DataFrame | None = None
) -> bool:
    """Whether every set target is ``met`` (:func:`judge_targets`): what the verdict and a
    rollout stage's ``targets_met`` say."""
    return all(j.status == "met" for j in judge_targets(kpis, targets, intervals))


def only_runs_short(
    kpis: dict[str, float], targets: TargetBounds, intervals: pd.DataFrame | None = None
) -> bool:
    """Whether the only targets missed are missed on their bound alone with no failure in
    any run: a stranded target with nobody stranded, a completed-share target with every
    trip completed. Those bounds (:func:`count_upper_bound` of a zero total,
    :func:`share_lower_bound` of all successes) depend on the run count only, so no
    charger the design loop could add would move them."""
    missed = [j for j in judge_targets(kpis, targets, intervals) if j.acted_on]
    clean = {"stranded": 0.0, "trips_completed_share": 1.0}  # the value of no failure
    return bool(missed) and all(
        j.missed_on_bound_only and clean.get(j.attr) == j.value for j in missed
    )


#: Why a target within its limit is not confirmed (:class:`TargetJudgement` ``why``), for
#: the design loop's round records
UNCONFIRMED_WHY = {
    "sampled": "judged on a sample of the fleet (demand.max_trips), whose queues are the sample's",
    "one run": "one replication gives no interval",
    "few runs": "defined in fewer than 2 of the runs",
}


def unconfirmed_targets(
    kpis: dict[str, float], targets: TargetBounds, intervals: pd.DataFrame | None = None
) -> list[str]:
    """The service targets within their limits that the runs cannot confirm (``unconfirmed``
    in :func:`judge_targets` for a reason other than an undefined value, which
    :func:`missed_targets` lists), with the values and why. The design loop stops on them
    (no site or plug would confirm them) and its round record lists them: the round read
    "missed: none, confirmed: True" on a sampled fleet before 2026-12-07, while the verdict
    said the targets were not met."""
    out = []
    for j in judge_targets(kpis, targets, intervals):
        if j.status == "unconfirmed" and j.why in UNCONFIRMED_WHY:
            op = "<=" if j.sense == "max" else ">="
            out.append(
                f"{j.name} {j.value:{_FORMAT[j.attr]}} {op} {j.bound:g} unconfirmed: "
                f"{UNCONFIRMED_WHY[j.why]}"
            )
    return out


def missed_targets(
    kpis: dict[str, float], targets: TargetBounds, intervals: pd.DataFrame | None = None
) -> list[str]:
    """The service targets the design loop has not reached, with the values: those
    :func:`judge_targets` finds ``missed`` (on the pessimistic 95 % bound when there is one,
    said so that the bound is not read as the value), and those undefined in the measured
    period (a wait with no public charging session is not a wait within its target: the
    loop stopped on one before 2026-12-07 and the rollout timeline called it met)."""
    missed = []
    for j in judge_targets(kpis, targets, intervals):
        if j.status == "missed":
            v = j.value if j.edge is None else j.edge
            on = (
                ""
                if j.edge is None
                else f" ({'upper' if j.sense == 'max' else 'lower'} 95 % bound)"
            )
            op = ">" if j.sense == "max" else "<"
            limit = f"{j.bound:g}"
            if j.fewer_than_one:
                op, limit = ">=", "1 (target 0, read as fewer than one)"
            missed.append(f"{j.name} {v:{_FORMAT[j.attr]}}{on} {op} {limit}")
        elif j.why == "undefined":
            missed.append(f"{j.name} undefined in the measured period (target {j.bound:g})")
    return missed
