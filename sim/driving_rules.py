"""Driving-time rules of truck drivers (AETR) for the engine: breaks, daily limit, daily rest.

Source: UNECE "European Agreement concerning the Work of Crews of Vehicles engaged in
International Road Transport (AETR)", consolidated text ECE/TRANS/SC.1/2006/2 with the
amendments in force since 2010 (art. 6 driving periods, art. 7 breaks, art. 8 rest
periods). Kazakhstan is a contracting party (acceded 1995) and applies it to international
road transport, which is what the cargo corridors to China carry.

The rules as modelled (:data:`AETR`):

* **Break** (art. 7): after a driving period of 4.5 h, a break of at least 45 min, unless
  the driver begins a rest period. The split form (15 min + 30 min) is not modelled: a
  single 45-min break is what a driver planning a charging stop takes (conservative).
* **Daily driving** (art. 6): at most 9 h between two daily rests. The extension to 10 h
  twice a week is not used (conservative, and a multi-day transit cannot use it every day).
* **Daily rest** (art. 8): 11 h, to be taken within 24 h of the end of the previous daily
  rest (so a duty day -- driving, breaks, charging, queues -- lasts at most 24 - 11 = 13 h).
  The reduced rest of 9 h (three times between weekly rests) is not used (conservative).
* Weekly driving (56 h) and weekly rest (45 h after six days) are not modelled: one transit
  of the cargo study's longest flow (Zhaisan - Maikapshagai, 3,313 km, docs/cargo.md) needs
  about 40 h of driving over four days.
* Any stop counts towards the rules as it would on a tachograph: a charging stop whose
  dwell (queue + charge) is at least 45 min is a qualifying break ("charging during
  breaks"); one of 11 h is a daily rest; so is the time a truck stands between two trips.
* **Break at the charger** (:attr:`DrivingRules.break_at_charger`, assumption): when a
  charging stop is shorter than 45 min but the driver has driven at least half a driving
  period and the rest of the leg is longer than what is left of it, she stays until the
  stop is a full 45-min break (after unplugging: the bay is freed for the next truck), so
  the break falls at the charger instead of at a lay-by shortly after.
* The driver is rested when the simulation starts (the first trip begins a duty day).

Everything here is plain float arithmetic on one :class:`DriverClock` per truck; the engine
calls :meth:`DriverClock.drive` instead of a single timeout for a stretch of driving (the
pauses are added to the elapsed time; nothing else competes for a lay-by, so no events are
needed) and :meth:`DriverClock.stopped` after each charging stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim._errors import VehicleSpecError
from sim.policies import is_real
from sim.records import DriveLog

__all__ = [
    "AETR",
    "BREAK",
    "DRIVE",
    "REST",
    "RULES",
    "DriverClock",
    "DrivingRules",
    "diesel_elapsed_s",
]

H = 3600.0
#: Kinds of the intervals a clock logs (``DriveLog.kind``).
DRIVE, BREAK, REST = 0, 1, 2
_EPS = 1e-6  # seconds: chunks that reach a limit in floating point count as reaching it


@dataclass(frozen=True)
class DrivingRules:
    """Limits of one set of driving-time rules (seconds).

    Parameters
    ----------
    max_stint_s : float
        Longest driving period before a break (AETR: 4.5 h).
    break_s : float
        Shortest qualifying break (AETR: 45 min).
    daily_drive_s : float
        Most driving between two daily rests (AETR: 9 h).
    daily_rest_s : float
        Daily rest (AETR: 11 h).
    window_s : float
        A new daily rest must start within this time of the end of the previous one
        (AETR: 24 h, so the duty day is at most ``window_s - daily_rest_s``).
    break_at_charger : bool
        Extend a short charging stop to a full break when a break is due before the end of
        the leg (module docstring).
    name : str
        Label in reports.
    """

    max_stint_s: float = 4.5 * H
    break_s: float = 0.75 * H
    daily_drive_s: float = 9.0 * H
    daily_rest_s: float = 11.0 * H
    window_s: float = 24.0 * H
    break_at_charger: bool = True
    name: str = "aetr"

    def __post_init__(self) -> None:
        for f in ("max_stint_s", "break_s", "daily_drive_s", "daily_rest_s", "window_s"):
            v = getattr(self, f)
            if not (is_real(v) and math.isfinite(v) and v > 0):
                raise VehicleSpecError(f"driving rules {self.name!r}: {f} = {v!r} must be > 0 s")
        if self.max_stint_s > self.daily_drive_s:
            raise VehicleSpecError(
                f"driving rules {self.name!r}: max_stint_s {self.max_stint_s:g} exceeds "
                f"daily_drive_s {self.daily_drive_s:g}"
            )
        if self.daily_rest_s + self.daily_drive_s > self.window_s:
            raise VehicleSpecError(
                f"driving rules {self.name!r}: daily rest + daily driving exceed window_s"
            )

    @property
    def duty_s(self) -> float:
        """Longest duty day (driving, breaks and stops) between two daily rests."""
        return self.window_s - self.daily_rest_s


#: The AETR rules as modelled (module docstring).
AETR = DrivingRules()
#: Rule sets a vehicle model may name in its ``driving_rules`` field.
RULES: dict[str, DrivingRules] = {"aetr": AETR}


class DriverClock:
    """The rules' state of one truck's driver.

    Attributes
    ----------
    stint_s : float
        Driving since the last qualifying break (or rest).
    day_s : float
        Driving since the last daily rest.
    day_start_s : float
        When the current duty day began (end of the last daily rest).
    break_s, rest_s : float
        Pause time the rules added (inserted breaks, stops extended to a break, daily
        rests), cumulative; the engine records the difference per trip.
    last_s : float
        When the driver last drove or stopped (the idle time until the next departure
        counts as a pause).
    """

    __slots__ = (
        "break_s",
        "day_s",
        "day_start_s",
        "last_s",
        "log",
        "rest_s",
        "rules",
        "stint_s",
        "v",
    )

    def __init__(self, rules: DrivingRules, *, v: int = 0, log: DriveLog | None = None) -> None:
        self.rules = rules
        self.v = v
        self.log = log  # a sim.records.DriveLog (or None): every interval, for checks
        self.stint_s = self.day_s = self.break_s = self.rest_s = 0.0
        self.day_start_s = self.last_s = math.nan  # rested until the first trip

    # ------------------------------------------------------------------ pauses
    def _credit(self, start: float, dwell: float) -> None:
        """A stop of ``dwell`` seconds starting at ``start`` (not driving)."""
        r = self.rules
        if dwell >= r.daily_rest_s - _EPS:
            self.stint_s = self.day_s = 0.0
            self.day_start_s = start + dwell
        elif dwell >= r.break_s - _EPS:
            self.stint_s = 0.0

    def idle(self, now: float) -> None:
        """The truck stood from :attr:`last_s` until ``now`` (between trips)."""
        if math.isnan(self.last_s):
            self.day_start_s = self.last_s = now
            return
        if now > self.last_s:
            self._credit(self.last_s, now - self.last_s)
            self.last_s = now

    def stopped(self, arrive: float, now: float, next_drive_s: float) -> float:
        """A charging (or queue) stop from ``arrive`` to ``now``: credit it, and return the
        extra seconds the driver stays to make it a full break (0 when none is due)."""
        r = self.rules
        dwell = max(now - arrive, 0.0)
        extra = 0.0
        if (
            r.break_at_charger
            and dwell < r.break_s - _EPS
            and self.stint_s >= 0.5 * r.max_stint_s
            and next_drive_s > r.max_stint_s - self.stint_s + _EPS
        ):
            extra = r.break_s - dwell
            self.break_s += extra
            if self.log is not None:
                self.log.add(self.v, now, now + extra, BREAK)
        self._credit(arrive, dwell + extra)
        self.last_s = now + extra
        return extra

    def _pause(self, start: float, dur: float, kind: int) -> None:
        if kind == REST:
            self.rest_s += dur
        else:
            self.break_s += dur
        if self.log is not None:
            self.log.add(self.v, start, start + dur, kind)
        self._credit(start, dur)

    # ------------------------------------------------------------------ driving
    def drive(self, now: float, drive_s: float) -> float:
        """Drive ``drive_s`` seconds from ``now``; returns the elapsed time, breaks and daily
        rests inserted where the limits fall."""
        if math.isnan(self.last_s):
            self.idle(now)
        r = self.rules
        t = now
        left = drive_s
        while left > _EPS:
            duty_left = self.day_start_s + r.duty_s - t
            if self.day_s >= r.daily_drive_s - _EPS or duty_left <= _EPS:
                self._pause(t, r.daily_rest_s, REST)
                t += r.daily_rest_s
                continue
            if self.stint_s >= r.max_stint_s - _EPS:
                self._pause(t, r.break_s, BREAK)
                t += r.break_s
                continue
            chunk = min(left, r.max_stint_s - self.stint_s, r.daily_drive_s - self.day_s)
            # a break due now must still fit in the duty day: stop driving early otherwise
            chunk = min(chunk, duty_left)
            if self.log is not None:
                self.log.add(self.v, t, t + chunk, DRIVE)
            self.stint_s += chunk
            self.day_s += chunk
            left -= chunk
            t += chunk
        if left > 0:  # the sub-epsilon remainder: drive it without a check
            t += left
            self.stint_s += left
            self.day_s += left
        self.last_s = t
        return t - now


def diesel_elapsed_s(drive_s: np.ndarray | float, rules: DrivingRules = AETR) -> np.ndarray:
    """Door-to-door time of a rested diesel truck driving ``drive_s`` under ``rules``:
    no charging stops, a break after every full driving period, a daily rest after every
    full day's driving (vectorised; what :class:`DriverClock` gives for one stretch).

    A duty day of full driving (9 h + one 45-min break) is well inside the 13-h duty window,
    so the window never binds for a diesel truck under AETR.
    """
    d = np.asarray(drive_s, dtype=float)
    per_day = math.ceil(rules.daily_drive_s / rules.max_stint_s - 1e-9) - 1
    rests = np.maximum(np.ceil(d / rules.daily_drive_s - 1e-9) - 1, 0)
    last = d - rests * rules.daily_drive_s
    breaks = rests * per_day + np.maximum(np.ceil(last / rules.max_stint_s - 1e-9) - 1, 0)
    return d + rests * rules.daily_rest_s + breaks * rules.break_s
