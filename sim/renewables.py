"""Renewable plants' hourly output and hour-by-hour matching of charging energy.

Pure numpy/pandas/pvlib; no planner import. Assumptions and sources (see docs/grid.md):

* **Solar**: clear-sky irradiance by pvlib's Ineichen-Perez model (Ineichen & Perez 2002,
  *Solar Energy* 73(3) 151-157) with pvlib's monthly Linke turbidity climatology
  (Remund et al. 2003, SoDa; the ``LinkeTurbidities.h5`` file shipped inside pvlib, so
  nothing is downloaded), transposed to a fixed south-facing plane tilted at the latitude
  (isotropic sky, Liu & Jordan 1963, ground albedo 0.2) and multiplied by a performance ratio
  of :data:`SOLAR_PERFORMANCE_RATIO` (0.80: modern utility plants reach 0.75-0.85, IEA PVPS
  Task 13 report T13-05:2014 "Analysis of long-term performance of PV systems"). Clear sky is
  an **upper bound** (no clouds); ``clearness`` scales it (1.0 = clear sky).
* **Wind**: no measured hourly series of a Kazakh wind farm is in the data folder, so the
  profile is an assumption, stated as such: a mean capacity factor of
  :data:`WIND_CAPACITY_FACTOR` (0.35; onshore wind on the Kazakh steppe has mean 100 m wind
  speeds of 6-8 m/s in the Global Wind Atlas, typical of capacity factors of 0.3-0.4), with a
  cosine diurnal shape of relative amplitude :data:`WIND_DIURNAL_AMPLITUDE` (0.15) peaking at
  :data:`WIND_PEAK_HOUR` (15 h local, daytime mixing of continental steppe air). The daily
  mean equals the capacity factor exactly (tested).
* **Matching**: a station's charging energy drawn from the grid side of the charger
  (``grid_kwh`` of the sessions table, i.e. battery energy / charging efficiency) is spread
  evenly over each session's charging time and summed per hour; each hour, a plant's output
  serves the stations matched to it up to their draw, shared in proportion to their draw
  when several stations share one plant; the rest is grid energy at the grid factor (one
  number, or 24 hourly numbers). Energy is conserved per station and hour (tested).
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "SOLAR_PERFORMANCE_RATIO",
    "WIND_CAPACITY_FACTOR",
    "WIND_DIURNAL_AMPLITUDE",
    "WIND_PEAK_HOUR",
    "MatchResult",
    "clear_sky_ghi",
    "hourly_energy",
    "match_hourly",
    "solar_profile_kw",
    "wind_profile_kw",
]

#: Performance ratio of a utility PV plant (IEA PVPS T13-05:2014: 0.75-0.85 for modern plants).
SOLAR_PERFORMANCE_RATIO = 0.80
#: Mean capacity factor assumed for Kazakh steppe wind (assumption, see the module docstring).
WIND_CAPACITY_FACTOR = 0.35
#: Relative amplitude of the assumed diurnal wind cycle (assumption).
WIND_DIURNAL_AMPLITUDE = 0.15
#: Local hour of the assumed diurnal wind maximum (assumption).
WIND_PEAK_HOUR = 15.0
#: Standard test condition irradiance (W/m2) at which a PV plant gives its rated power.
STC_W_M2 = 1000.0


@contextmanager
def _quiet_pvlib():
    """pvlib 0.16 calls ``DatetimeIndex.dayofyear``, deprecated in pandas 3 (a warning about
    pvlib's code, not ours); silence only that category, only around pvlib calls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _hour_times(day: str, hours: int, tz: str) -> pd.DatetimeIndex:
    """Hour-centred timestamps (``hh:30``) of ``hours`` hours from local midnight of ``day``:
    the hourly mean of a smooth irradiance curve is close to its value at mid-hour."""
    start = pd.Timestamp(day).tz_localize(tz) if pd.Timestamp(day).tz is None else pd.Timestamp(day)
    return pd.date_range(start + pd.Timedelta(minutes=30), periods=hours, freq="1h")


def clear_sky_ghi(
    lat: float,
    lon: float,
    times: pd.DatetimeIndex,
    *,
    altitude_m: float | None = None,
    linke_turbidity: float | None = None,
) -> pd.DataFrame:
    """Clear-sky ``ghi, dni, dhi`` (W/m2) by pvlib's Ineichen-Perez model.

    ``linke_turbidity`` None: pvlib's monthly climatology (Remund et al. 2003, read from the
    file shipped with pvlib: offline). ``altitude_m`` None: pvlib's shipped altitude map.
    """
    import pvlib

    alt = pvlib.location.lookup_altitude(lat, lon) if altitude_m is None else altitude_m
    loc = pvlib.location.Location(lat, lon, altitude=alt)
    with _quiet_pvlib():
        if linke_turbidity is None:
            return loc.get_clearsky(times, model="ineichen")
        return loc.get_clearsky(times, model="ineichen", linke_turbidity=linke_turbidity)


def solar_profile_kw(
    lat: float,
    lon: float,
    capacity_kw: float,
    *,
    day: str,
    tz: str = "Asia/Almaty",
    hours: int = 24,
    tilt_deg: float | None = None,
    azimuth_deg: float = 180.0,
    performance_ratio: float = SOLAR_PERFORMANCE_RATIO,
    clearness: float = 1.0,
    altitude_m: float | None = None,
) -> np.ndarray:
    """Hourly AC output (kW, mean over each hour) of a fixed-tilt PV plant under clear sky.

    Parameters
    ----------
    lat, lon : float
        Plant location (degrees).
    capacity_kw : float
        Rated (DC, STC) capacity.
    day : str
        Local date of hour 0 (``"2024-06-21"``); ``hours`` may run over several days.
    tz : str
        IANA time zone of the simulation clock (hour 0 = local midnight).
    tilt_deg : float, optional
        Panel tilt; the latitude by default. ``azimuth_deg`` 180 = facing south.
    performance_ratio : float
        AC yield / (irradiance on the plane / 1000 W/m2 x capacity).
    clearness : float
        Factor on the clear-sky output (1.0 = clear sky, an upper bound).
    """
    import pvlib

    if capacity_kw < 0 or not 0 < performance_ratio <= 1 or not 0 <= clearness <= 1:
        raise ValueError(
            f"solar plant: capacity_kw {capacity_kw} must be >= 0, performance_ratio "
            f"{performance_ratio} in (0, 1] and clearness {clearness} in [0, 1]"
        )
    times = _hour_times(day, hours, tz)
    alt = pvlib.location.lookup_altitude(lat, lon) if altitude_m is None else altitude_m
    cs = clear_sky_ghi(lat, lon, times, altitude_m=alt)
    with _quiet_pvlib():
        sun = pvlib.solarposition.get_solarposition(times, lat, lon, altitude=alt)
    tilt = abs(lat) if tilt_deg is None else tilt_deg
    poa = pvlib.irradiance.get_total_irradiance(
        tilt,
        azimuth_deg,
        sun["apparent_zenith"],
        sun["azimuth"],
        cs["dni"],
        cs["ghi"],
        cs["dhi"],
        albedo=0.2,
        model="isotropic",
    )["poa_global"]
    kw = np.nan_to_num(poa.to_numpy(dtype=float)) / STC_W_M2 * capacity_kw * performance_ratio
    return np.clip(kw * clearness, 0.0, capacity_kw)


def wind_profile_kw(
    capacity_kw: float,
    *,
    hours: int = 24,
    capacity_factor: float = WIND_CAPACITY_FACTOR,
    diurnal_amplitude: float = WIND_DIURNAL_AMPLITUDE,
    peak_hour: float = WIND_PEAK_HOUR,
) -> np.ndarray:
    """Hourly output (kW) of a wind plant: ``capacity x CF x (1 + A cos(2 pi (h - peak)/24))``
    at mid-hour; its daily mean is ``capacity x CF``."""
    if not 0 <= capacity_factor <= 1 or not 0 <= diurnal_amplitude < 1:
        raise ValueError(
            f"wind plant: capacity_factor {capacity_factor} must be in [0, 1] and "
            f"diurnal_amplitude {diurnal_amplitude} in [0, 1)"
        )
    if capacity_factor * (1 + diurnal_amplitude) > 1:
        raise ValueError(
            f"wind plant: capacity_factor {capacity_factor} x (1 + amplitude "
            f"{diurnal_amplitude}) exceeds 1 at the peak; lower one of them"
        )
    h = np.arange(hours) + 0.5
    shape = 1.0 + diurnal_amplitude * np.cos(2 * np.pi * (h - peak_hour) / 24.0)
    return capacity_kw * capacity_factor * shape


def hourly_energy(
    station: np.ndarray,
    start_s: np.ndarray,
    end_s: np.ndarray,
    energy_kwh: np.ndarray,
    *,
    n_stations: int,
    n_hours: int,
) -> np.ndarray:
    """Energy per station and hour (``(n_stations, n_hours)`` kWh): each session's energy
    spread evenly over ``[start_s, end_s)`` and split at the hour boundaries (vectorised).

    Sessions outside ``[0, n_hours h)`` are clipped to it (their energy outside is dropped,
    so pass the hours the sessions cover); zero-length sessions put their energy in the hour
    they start.
    """
    st = np.asarray(station, dtype=np.int64)
    a = np.asarray(start_s, dtype=float)
    b = np.maximum(np.asarray(end_s, dtype=float), a)
    e = np.nan_to_num(np.asarray(energy_kwh, dtype=float))
    out = np.zeros((n_stations, n_hours))
    if st.size == 0:
        return out
    if (st < 0).any() or (st >= n_stations).any():
        raise ValueError("hourly_energy: station index out of range")
    h0 = np.floor(a / 3600.0).astype(np.int64)
    h1 = np.maximum(np.ceil(b / 3600.0).astype(np.int64) - 1, h0)
    pieces = h1 - h0 + 1
    rows = np.repeat(np.arange(st.size), pieces)
    hour = np.repeat(h0, pieces) + (
        np.arange(rows.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    )
    lo = np.maximum(a[rows], hour * 3600.0)
    hi = np.minimum(b[rows], (hour + 1) * 3600.0)
    dur = b - a
    share = np.where(dur[rows] > 0, (hi - lo) / np.where(dur[rows] > 0, dur[rows], 1.0), 1.0)
    keep = (hour >= 0) & (hour < n_hours)
    np.add.at(out, (st[rows[keep]], hour[keep]), e[rows[keep]] * share[keep])
    return out


@dataclass
class MatchResult:
    """Hour-by-hour matching of stations' charging energy with renewable output.

    Arrays are ``(n_stations, n_hours)`` kWh (``co2_kg`` in kg); ``total = renewable + grid``.
    """

    total_kwh: np.ndarray
    renewable_kwh: np.ndarray
    grid_kwh: np.ndarray
    co2_kg: np.ndarray

    def per_station(self) -> pd.DataFrame:
        """Per-station totals: ``energy_kwh, renewable_kwh, grid_kwh, renewable_share, co2_kg``."""
        tot = self.total_kwh.sum(axis=1)
        ren = self.renewable_kwh.sum(axis=1)
        return pd.DataFrame(
            {
                "energy_kwh": tot,
                "renewable_kwh": ren,
                "grid_kwh": self.grid_kwh.sum(axis=1),
                "renewable_share": np.divide(ren, tot, out=np.zeros_like(tot), where=tot > 0),
                "co2_kg": self.co2_kg.sum(axis=1),
            }
        )


def match_hourly(
    demand_kwh: np.ndarray,
    plant_of_station: np.ndarray,
    plant_kwh: np.ndarray,
    *,
    grid_kg_per_kwh: float | np.ndarray,
    grid_loss_share: float = 0.0,
) -> MatchResult:
    """Match each station's hourly draw with the output of its plant, hour by hour.

    Parameters
    ----------
    demand_kwh : array (n_stations, n_hours)
        Energy each station draws in each hour.
    plant_of_station : int array (n_stations,)
        Plant serving each station, ``-1`` for none.
    plant_kwh : array (n_plants, n_hours)
        Energy each plant can give to chargers in each hour.
    grid_kg_per_kwh : float or array (24,) or (n_hours,)
        Grid emission factor (kg CO2 per kWh generated); 24 values repeat daily.
    grid_loss_share : float
        Share of generated grid energy lost before the charger (grid energy is grossed up
        by ``1 / (1 - loss)`` for its CO2; local plant output is not).
    """
    d = np.asarray(demand_kwh, dtype=float)
    n_s, n_h = d.shape
    p = np.asarray(plant_of_station, dtype=np.int64)
    pk = np.asarray(plant_kwh, dtype=float).reshape(-1, n_h)
    if p.shape != (n_s,) or (p >= pk.shape[0]).any():
        raise ValueError(
            "match_hourly: plant_of_station must hold one plant index (or -1) per station"
        )
    if (d < 0).any() or (pk < 0).any():
        raise ValueError("match_hourly: energies must be >= 0")
    ren = np.zeros_like(d)
    has = p >= 0
    if has.any() and pk.shape[0]:
        # total draw on each plant per hour, and what the plant covers of it
        want = np.zeros_like(pk)
        np.add.at(want, p[has], d[has])
        covered = np.minimum(want, pk)
        frac = np.divide(covered, want, out=np.zeros_like(want), where=want > 0)
        ren[has] = d[has] * frac[p[has]]
    grid = d - ren
    f = np.asarray(grid_kg_per_kwh, dtype=float)
    if f.ndim == 0:
        factor = np.full(n_h, float(f))
    elif f.size == 24:
        factor = np.resize(f, n_h)
    elif f.size == n_h:
        factor = f
    else:
        raise ValueError(
            f"grid_kg_per_kwh must be one number, 24 hourly values or {n_h}, got {f.size}"
        )
    if not 0 <= grid_loss_share < 1:
        raise ValueError(f"grid_loss_share {grid_loss_share} must be in [0, 1)")
    co2 = grid / (1.0 - grid_loss_share) * factor[None, :]
    return MatchResult(d, ren, grid, co2)
