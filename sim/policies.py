"""Pluggable charging policies: *when* to charge, *where*, and *how much*.

A :class:`ChargingPolicy` bundles three small objects. Any object with the same method
signature can replace the defaults (duck typing; the protocols below document them). The
engine calls them only at decision points (trip start, after a charge, after balking), with
plain floats and small per-station numpy arrays, never with a network.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim._errors import SimSettingsError


class StationChoice:
    """What a *where* policy sees at a decision point. Arrays are indexed by station
    position (0..S-1) and already adjusted to the vehicle model (speed cap, consumption).

    Attributes
    ----------
    t_to, l_to, e_to : numpy.ndarray
        Time (s), length (m), energy (kWh) from the current position to each station.
    t_from, l_from, e_from : numpy.ndarray
        Time, length, energy from each station to the leg's destination.
    t_direct, e_direct : float
        Time and energy from the current position straight to the destination.
    energy_kwh, capacity_kwh, reserve_kwh : float
        The vehicle's energy now, its usable capacity, and the policy reserve.
    allowed : numpy.ndarray of bool
        Compatible (connector, AC/DC) and not yet tried on this leg.
    present, plugs : numpy.ndarray or None
        Cars at each station now (charging + queueing, what operator apps and roaming maps
        show) and its plugs; None when the engine does not share occupancy.
    """

    __slots__ = (
        "t_to",
        "l_to",
        "e_to",
        "t_from",
        "l_from",
        "e_from",
        "t_direct",
        "e_direct",
        "energy_kwh",
        "capacity_kwh",
        "reserve_kwh",
        "allowed",
        "present",
        "plugs",
    )

    def __init__(
        self,
        t_to,
        l_to,
        e_to,
        t_from,
        l_from,
        e_from,
        t_direct,
        e_direct,
        energy_kwh,
        capacity_kwh,
        reserve_kwh,
        allowed,
        present=None,
        plugs=None,
    ) -> None:
        self.t_to, self.l_to, self.e_to = t_to, l_to, e_to
        self.t_from, self.l_from, self.e_from = t_from, l_from, e_from
        self.t_direct, self.e_direct = t_direct, e_direct
        self.energy_kwh, self.capacity_kwh, self.reserve_kwh = energy_kwh, capacity_kwh, reserve_kwh
        self.allowed = allowed
        self.present, self.plugs = present, plugs

    def detour_s(self) -> np.ndarray:
        """Extra time of going through each station: ``t(o,s) + t(s,d) - t(o,d)``."""
        return self.t_to + self.t_from - self.t_direct


class WhenPolicy(Protocol):
    """Called positionally (hot path): ``needs_charge(energy, capacity, leg, trip_start,
    has_home, next_kwh)``; ``next_kwh`` (energy from the leg's destination to the nearest
    compatible public charger or the home/depot charger) is passed only to policies whose
    ``needs_charge`` takes six arguments."""

    def needs_charge(
        self,
        energy_kwh: float,
        capacity_kwh: float,
        leg_kwh: float,
        trip_start: bool,
        has_home: bool,
    ) -> bool: ...


class WherePolicy(Protocol):
    def choose(self, c: StationChoice) -> int: ...


class HowMuchPolicy(Protocol):
    def target_kwh(self, energy_kwh: float, capacity_kwh: float, need_kwh: float) -> float: ...


#: Comfort buffer of real drivers: the MINI E field trial in Berlin (TU Chemnitz; 40 EVs
#: leased for 6 months; Franke, Neumann, Buehler, Cocron & Krems 2012, "Experiencing range in
#: an electric vehicle: understanding psychological barriers", Applied Psychology 61(3)).
#: The figure is Franke & Krems 2013, "Interacting with limited mobility resources:
#: psychological range levels in electric vehicle use", Transportation Research Part A 48
#: 109-122 (abstract: users "were comfortable with utilizing approximately 75-80 % of their
#: available range resources"), i.e. a 20-25 % buffer; tested in
#: tests/sim/test_published_figures_drivers.py. (Until 2026-12-08 this comment gave that
#: title with "Transportation Research Part F 21", where Franke & Krems 2013 is a different
#: paper, "Understanding charging behaviour of electric vehicle users".)
COMFORT_BUFFER_SOC = 0.2


@dataclass(frozen=True)
class SocThreshold:
    """When to charge, before each leg (and at trip start):

    * hard rule: the destination cannot be reached keeping ``reserve_soc`` of the capacity;
    * comfort and look-ahead (``look_ahead=True``): after the leg the driver could not reach
      a compatible public charger or her home/depot charger (``next_kwh``, 0 at the end of
      the chain or at home) keeping ``buffer_soc`` (:data:`COMFORT_BUFFER_SOC`); with
      ``look_ahead=False`` only the arrival keeps the buffer;
    * threshold: at trip start, the state of charge is below ``threshold_soc``
      (``home_waits=True``: vehicles with a home charger skip this rule).
    """

    threshold_soc: float = 0.2
    reserve_soc: float = 0.05
    home_waits: bool = True
    buffer_soc: float = COMFORT_BUFFER_SOC
    look_ahead: bool = True

    def __post_init__(self) -> None:
        _unit("SocThreshold.threshold_soc", self.threshold_soc)
        _unit("SocThreshold.reserve_soc", self.reserve_soc, upper=0.5)
        _unit("SocThreshold.buffer_soc", self.buffer_soc, upper=0.9)

    def needs_charge(
        self, energy_kwh, capacity_kwh, leg_kwh, trip_start, has_home, next_kwh=0.0
    ) -> bool:
        left = energy_kwh - leg_kwh
        if left < self.reserve_soc * capacity_kwh:
            return True
        if self.buffer_soc > 0 and left - (next_kwh if self.look_ahead else 0.0) < (
            self.buffer_soc * capacity_kwh
        ):
            return True
        if trip_start and not (has_home and self.home_waits):
            return energy_kwh < self.threshold_soc * capacity_kwh
        return False

    def margin_kwh(self, capacity_kwh: float, next_kwh: float) -> float:
        """Energy the driver wants left at the destination (reserve, or buffer + look-ahead)."""
        comfort = self.buffer_soc * capacity_kwh + (next_kwh if self.look_ahead else 0.0)
        return max(self.reserve_soc * capacity_kwh, comfort)


def CannotReach(reserve_soc: float = 0.05) -> SocThreshold:  # noqa: N802 - policy "class"
    """Charge only when the destination is out of reach (keeping ``reserve_soc``; no comfort
    buffer, no look-ahead: the pre-2025 evplan driver)."""
    return SocThreshold(
        threshold_soc=0.0, reserve_soc=reserve_soc, buffer_soc=0.0, look_ahead=False
    )


@dataclass(frozen=True)
class MinDetour:
    """Among stations reachable with the energy on board, pick the one with the smallest
    detour ``t(o,s) + t(s,d) - t(o,d)`` from which the destination is reachable after a
    full charge. If none qualifies (long corridor legs), pick the reachable station closest
    in time to the destination that gets the vehicle nearer to it (en-route stop), so the
    next decision continues from there. Ties go to the lower station position.

    ``max_detour_s`` (optional) excludes stations with a larger detour.

    Queue-aware (``queue_aware=True``, when the engine passes expected waits): among the
    stations that let the driver finish, she takes the one with the least detour + expected
    wait, but only among those whose detour is at most ``max_extra_detour_s`` more than the
    smallest detour. Expected wait = cars ahead beyond the free plugs x ``session_s`` / plugs,
    from the occupancy operator apps and roaming maps show (no reservation, no oracle of
    future arrivals). ``session_s`` = 30 min, a typical DC session (assumption: DC sessions
    average roughly 20-45 min in public charging data); ``max_extra_detour_s`` = 10 min
    (assumption, the planner's coverage threshold for city studies).
    """

    max_detour_s: float = math.inf
    queue_aware: bool = True
    session_s: float = 1800.0
    max_extra_detour_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("max_detour_s", "session_s", "max_extra_detour_s"):
            v = getattr(self, name)
            # seconds >= 0; inf is meaningful (no cap, or a busy station never chosen)
            if not is_real(v) or not float(v) >= 0:
                raise SimSettingsError(f"MinDetour.{name} = {v!r} must be seconds >= 0")
            # held as a Python float: a numpy float32 (or float16) would make the engine's
            # scalar sums (sim._pick: a Python float + this) round in float32, where
            # the vector ones here are float64; the value itself is exact in float64
            object.__setattr__(self, name, float(v))

    def choose(self, c: StationChoice) -> int:
        # no errstate here: inf arithmetic does not warn and this runs at every decision
        reach = c.allowed & (c.e_to <= c.energy_kwh) & (c.t_to < math.inf) & (c.t_from < math.inf)
        if not reach.any():
            return -1
        detour = c.t_to + c.t_from - c.t_direct
        if self.max_detour_s < math.inf:
            reach &= detour <= self.max_detour_s
            if not reach.any():
                return -1
        finish = reach & (c.e_from <= c.capacity_kwh - c.reserve_kwh)
        if finish.any():
            d_fin = np.where(finish, detour, math.inf)
            best = int(np.argmin(d_fin))
            if self.queue_aware and c.present is not None and c.present[best] >= c.plugs[best]:
                wait = np.maximum(c.present - c.plugs + 1, 0) * (self.session_s / c.plugs)
                near = d_fin <= d_fin[best] + self.max_extra_detour_s
                return int(np.argmin(np.where(near, d_fin + wait, math.inf)))
            return best
        progress = reach & (c.t_from < c.t_direct)
        if not progress.any():
            # nothing ahead is reachable: top up where we are (a station at the current
            # position, or one no farther from the destination) if the battery is not full
            if c.energy_kwh >= c.capacity_kwh * (1 - 1e-6):
                return -1
            progress = reach & (c.t_from <= c.t_direct)
            if not progress.any():
                return -1
        return int(np.argmin(np.where(progress, c.t_from, math.inf)))


@dataclass(frozen=True)
class TargetSoc:
    """Charge to ``target_soc`` of capacity; if the next leg needs more (plus the reserve)
    charge up to that, never beyond ``max_soc``."""

    target_soc: float = 0.8
    max_soc: float = 1.0

    def __post_init__(self) -> None:
        _unit("TargetSoc.target_soc", self.target_soc, lower_open=True)
        _unit("TargetSoc.max_soc", self.max_soc, lower_open=True)
        if self.max_soc < self.target_soc:
            raise SimSettingsError(
                f"TargetSoc.max_soc = {self.max_soc} is below target_soc = {self.target_soc}"
            )

    def target_kwh(self, energy_kwh, capacity_kwh, need_kwh) -> float:
        want = max(self.target_soc * capacity_kwh, need_kwh)
        return min(want, self.max_soc * capacity_kwh)


@dataclass(frozen=True)
class EnoughToFinish:
    """Charge just enough for the next leg plus the reserve plus ``margin_soc``."""

    margin_soc: float = 0.1

    def __post_init__(self) -> None:
        _unit("EnoughToFinish.margin_soc", self.margin_soc)

    def target_kwh(self, energy_kwh, capacity_kwh, need_kwh) -> float:
        return min(capacity_kwh, need_kwh + self.margin_soc * capacity_kwh)


@dataclass(frozen=True)
class ChargingPolicy:
    """The three decisions. ``reserve_soc`` of :attr:`when` (if it has one) is also the
    reserve used by *where* and *how much*."""

    when: WhenPolicy = field(default_factory=SocThreshold)
    where: WherePolicy = field(default_factory=MinDetour)
    how_much: HowMuchPolicy = field(default_factory=TargetSoc)

    @property
    def reserve_soc(self) -> float:
        return float(getattr(self.when, "reserve_soc", 0.0))


def _unit(name: str, value: float, *, upper: float = 1.0, lower_open: bool = False) -> None:
    ok = is_real(value) and math.isfinite(value) and value <= upper
    ok = ok and (value > 0 if lower_open else value >= 0)
    if not ok:
        rng = f"({0}, {upper}]" if lower_open else f"[0, {upper}]"
        raise SimSettingsError(f"charging policy: {name} = {value!r} must be in {rng}")


def is_real(v: object) -> bool:
    """A real number (Python or numpy; not a bool or a string): the settings' and policies'
    test of a numeric field before its range is checked."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool)
