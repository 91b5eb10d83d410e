"""The ``grid`` and ``renewables`` sections of a study file (docs/grid.md).

```yaml
grid:
  substations: ${EVPLAN_DATA_DIR:-../../shared/data}/kz/substations.geojson
  near_substation_kw: 500
  upgrade_cost_per_kw: 200
renewables:
  plants: ${EVPLAN_DATA_DIR:-../../shared/data}/kz/karaganda-renewable-plants.csv
  day: '2024-06-21'              # local date of simulation hour 0 (a real date, YYYY-MM-DD)
  timezone: Asia/Almaty          # IANA name, read offline from the tz database
```

The date and the time zone are checked here, when the file is read, because they are
first used only after the network is built and the plan made: a misspelt zone would
otherwise end a long ``evplan run`` with an internal error.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from planner.config._strict import Number
from planner.config._strict import StrictSection as _Strict

__all__ = ["GridConfig", "RenewablesConfig", "check_iso_day", "check_time_zone"]

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class GridConfig(_Strict):
    """Grid capacity per candidate site and what happens above it (docs/grid.md).

    A site's capacity (kW available without upgrade) is, first found: its own
    ``candidates.extra[].grid_kw``; ``near_substation_kw`` (or the substation's
    ``capacity_kw`` property) when it lies within ``substation_radius_km`` of a point of
    ``substations`` (GeoJSON points the user supplies); ``candidates.grid_kw``; no limit.
    Above it, a site pays ``upgrade_cost_per_kw`` for the missing kW; with no upgrade price
    its plugs are capped at ``capacity / power_kw``; with ``managed_charging`` the plugs'
    power is throttled instead so the station never draws more than its capacity (sessions
    take longer; the simulation measures the effect on waits).
    """

    upgrade_cost_per_kw: float | None = Field(None, ge=0)
    substations: Path | None = None
    substation_radius_km: float = Field(10.0, gt=0)
    near_substation_kw: float | None = Field(None, gt=0)
    managed_charging: bool = False
    # 24 hourly grid emission factors (kg CO2/kWh, hour 0 = local midnight); None: the
    # one factor of simulation.grid_kg_co2_per_kwh (or the simulator's default)
    hourly_kg_co2_per_kwh: list[Number] | None = None

    @field_validator("hourly_kg_co2_per_kwh")
    @classmethod
    def _hourly(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 24 or any(not x >= 0 for x in v)):
            raise ValueError("hourly_kg_co2_per_kwh must be 24 numbers >= 0 (hour 0 = midnight)")
        return v


def _both_kinds() -> list[Literal["solar", "wind"]]:
    return ["solar", "wind"]


def check_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone of the local tz database, else ``ValueError``.

    Parameters
    ----------
    name : str
        A time zone name such as ``"Asia/Almaty"``.

    Returns
    -------
    str
        ``name`` unchanged.

    Raises
    ------
    ValueError
        Unknown or malformed name; the message suggests the closest known zone.
    """
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: empty, absolute or "../" keys; OSError: a folder of the database
        # ("Asia"). Both are as unknown to the solar model as a misspelt name.
        known = sorted(zoneinfo.available_timezones())
        by_lower = {k.lower(): k for k in known}
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
        hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
        raise ValueError(
            f"unknown time zone{hint}; give an IANA time zone name such as 'Asia/Almaty', "
            "'Asia/Aqtobe' or 'UTC' (the local time of the plants)"
        ) from None
    return name


def check_iso_day(day: str) -> str:
    """``day`` if it is a real calendar date written ``YYYY-MM-DD``, else ``ValueError``."""
    # fromisoformat alone would also take "20240621" and week dates ("2024-W25-5"), which
    # the renewables model (pandas.Timestamp) may read differently; the pattern pins the form.
    why = "not written YYYY-MM-DD"
    if _ISO_DAY.match(day):
        try:
            dt.date.fromisoformat(day)
            return day
        except ValueError as exc:
            why = str(exc)
    raise ValueError(f"not a date ({why}); give a real date written YYYY-MM-DD, e.g. 2024-06-21")


class RenewablesConfig(_Strict):
    """Renewable plants with hourly output (sim/renewables.py; docs/grid.md).

    Each located plant of ``plants`` (CSV: key, name, kind, capacity_mw, lon, lat,
    location_quality plant|town|none, location_source) becomes a candidate site (flagged
    renewable, and approximate when placed at its town from ``places``); charging energy of
    stations within ``match_radius_km`` of a plant is matched hour by hour with its output,
    of which the chargers may take ``charger_share``.
    """

    plants: Path | None = None
    places: Path | None = None  # GeoNames CSV for plants located at a town; None: the corridor's
    towns: dict[str, str] = Field(default_factory=dict)  # plant key -> GeoNames place name
    kinds: list[Literal["solar", "wind"]] = Field(default_factory=_both_kinds)
    as_candidates: bool = True
    match_radius_km: float = Field(25.0, ge=0)
    # share of each plant's hourly output the matched chargers may take (the rest goes to
    # the grid and its other customers); 1: all of it, an upper bound (energy review,
    # 2026-12-07: a 10-60 MW plant then covers any nearby station whatever its yield)
    charger_share: float = Field(1.0, gt=0, le=1)
    day: str = "2024-06-21"  # local date of sim hour 0
    timezone: str = "Asia/Almaty"
    solar_tilt_deg: float | None = Field(None, ge=0, le=90)  # None: the latitude
    solar_performance_ratio: float = Field(0.80, gt=0, le=1)
    solar_clearness: float = Field(1.0, ge=0, le=1)  # 1 = clear sky (an upper bound)
    wind_capacity_factor: float = Field(0.35, ge=0, le=1)
    wind_diurnal_amplitude: float = Field(0.15, ge=0, lt=1)
    wind_peak_hour: float = Field(15.0, ge=0, lt=24)

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, v: object) -> object:
        # An unquoted 2024-06-21 is a date to YAML; it means the same as the quoted string.
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = v.isoformat()
        return check_iso_day(v) if isinstance(v, str) else v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        return check_time_zone(v)
