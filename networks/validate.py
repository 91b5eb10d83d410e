"""Validators for user-given options, shared by the networks API, the CLI and the config
schema: bounding boxes, coordinates, snap distances, routing cutoffs and the worker-count
environment variables (``EVPLAN_THREADS``, ``EVPLAN_SIM_WORKERS``)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from networks.errors import ConfigError, EmptyBBoxError

__all__ = [
    "encoding_hint",
    "lonlat_hint",
    "not_wgs84",
    "positive_int_env",
    "validate_bbox",
    "validate_cutoff",
    "validate_snap_distance",
]

_SIDES = ("west", "south", "east", "north")
_ORDER = "(west, south, east, north) in WGS84 degrees, e.g. (71.3, 51.0, 71.6, 51.3)"


def validate_bbox(
    bbox: Sequence[float] | str, *, what: str = "bbox"
) -> tuple[float, float, float, float]:
    """Check a ``(west, south, east, north)`` bounding box and return it as floats.

    Parameters
    ----------
    bbox : sequence of 4 numbers, or str
        Longitudes/latitudes in degrees; a string is split on commas (``"W,S,E,N"``, as
        the CLI's ``--bbox`` takes it).
    what : str
        How the message names the value (e.g. ``"--bbox"``, ``"network.bbox"``).

    Returns
    -------
    tuple of float
        ``(west, south, east, north)``.

    Raises
    ------
    ConfigError
        Not four finite numbers, a longitude outside [-180, 180] or a latitude outside
        [-90, 90]; the message names the side.
    EmptyBBoxError
        ``west >= east`` or ``south >= north`` (empty or inverted; a box across the
        antimeridian is not supported). Also a :class:`~networks.errors.EmptyAreaError`.
    """
    parts: Sequence[object] = bbox.split(",") if isinstance(bbox, str) else bbox
    try:
        if isinstance(parts, str | bytes) or len(parts) != 4:
            raise TypeError
        values = tuple(_number(v) for v in parts)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} {bbox!r}: expected four numbers {_ORDER}") from None
    for side, v in zip(_SIDES, values, strict=True):
        limit = 180.0 if side in ("west", "east") else 90.0
        if not math.isfinite(v):
            raise ConfigError(f"{what} {bbox!r}: {side} = {v!r} is not a finite number")
        if not -limit <= v <= limit:
            kind = "longitude" if limit == 180.0 else "latitude"
            raise ConfigError(
                f"{what} {bbox!r}: {side} = {v!r} is outside [-{limit:g}, {limit:g}] ({kind}); "
                f"expected {_ORDER}"
            )
    west, south, east, north = values
    for lo, hi, (a, b) in ((west, east, ("west", "east")), (south, north, ("south", "north"))):
        if lo >= hi:
            raise EmptyBBoxError(
                f"{what} {bbox!r} is empty or inverted: {a} {lo!r} >= {b} {hi!r}; expected "
                f"{_ORDER} with west < east and south < north"
            )
    return west, south, east, north


def validate_snap_distance(value: object, *, what: str = "max_distance_m") -> float:
    """Check a maximum snap distance in metres: a number ``>= 0``; ``inf`` means no limit.

    Raises
    ------
    ConfigError
        Negative, NaN or not a number (the message names ``what`` and the value).
    """
    try:
        if isinstance(value, str | bytes):
            raise TypeError
        v = _number(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{what} = {value!r} is not a number; give the snap limit in metres (>= 0)"
        ) from None
    if math.isnan(v) or v < 0:
        raise ConfigError(
            f"{what} = {value!r} is not a valid snap limit: it must be a distance in metres "
            ">= 0 (inf for no limit); a negative or NaN limit would drop every site"
        )
    return v


def validate_cutoff(value: object) -> float:
    """Check a routing cutoff (seconds or metres): ``None`` is no limit (``inf``), else a
    number ``>= 0``.

    Raises
    ------
    ConfigError
        Not a number, negative or NaN (NaN would put every pair "beyond" it).
    """
    if value is None:
        return math.inf
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"cutoff must be a number (or None), got {value!r}") from None
    if not limit >= 0:
        raise ConfigError(f"cutoff must be 0 or more (None or inf: no limit), got {value!r}")
    return limit


def not_wgs84(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which points are not WGS84 coordinates: blank (NaN), infinite, a longitude outside
    [-180, 180] or a latitude outside [-90, 90]."""
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))


def positive_int_env(name: str, *, meaning: str) -> int | None:
    """Read an environment variable that holds a count of worker processes.

    Parameters
    ----------
    name : str
        The variable, e.g. ``"EVPLAN_THREADS"``.
    meaning : str
        What the number sets and what unsetting it gives, for the message (e.g.
        ``"routing worker processes; unset: up to 4"``).

    Returns
    -------
    int or None
        The count (``>= 1``); ``None`` when the variable is unset or blank (the caller's
        default applies).

    Raises
    ------
    ConfigError
        The value is not a whole number ``>= 1``. The message names the variable, the value
        and the fix. (An earlier ``int(env)`` let ``abc`` escape as a ValueError, an
        "internal error" once the run had started, and turned ``-3`` into 1 silently.)
    """
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < 1:
        raise ConfigError(
            f"environment variable {name}={raw!r} is not a positive integer ({meaning}); "
            f"set it to a whole number >= 1 (e.g. {name}=2) or unset it"
        )
    return value


#: How a GeoJSON file must give its coordinates, and how to fix one that does not.
GEOJSON_LONLAT = (
    "GeoJSON must be WGS84 longitude, latitude in that order (RFC 7946): reproject the file "
    "(e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson) or swap its coordinates"
)
#: A nearest road farther than this (m) is no gap in the network's coverage: the
#: coordinates are in the wrong CRS or order (Kazakhstan is about 3,000 km wide).
FAR_FROM_NETWORK_M = 1_000_000.0


def encoding_hint(exc: BaseException) -> str:
    """``"; save it as UTF-8"`` when ``exc`` is a text decoding error (a file saved as
    Latin-1 or Windows-1251), else ``""``: the codec's own message ("'utf-8' codec can't
    decode byte 0xe9 in position 1") does not say what to do."""
    if isinstance(exc, UnicodeDecodeError) or "codec can't decode" in str(exc):
        return "; save it as UTF-8 (GeoJSON and CSV inputs are UTF-8 text)"
    return ""


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def lonlat_hint(
    bounds: Sequence[float], network_bbox: Sequence[float], *, distance_m: float = 0.0
) -> str:
    """Why points of a file may lie far from the road network, when their coordinates
    look wrong rather than the network short: a sentence, or ``""``.

    Parameters
    ----------
    bounds : sequence of 4 floats
        ``(min_x, min_y, max_x, max_y)`` of the file's geometries, read as lon/lat.
    network_bbox : sequence of 4 floats
        The network's ``(min_lon, min_lat, max_lon, max_lat)``.
    distance_m : float
        The distance to the nearest node that was found, if any.

    Returns
    -------
    str
        Names the file's bounds and the likely cause (a projected CRS such as EPSG:3857,
        latitude and longitude swapped, or no overlap with the network) and the fix
        (:data:`GEOJSON_LONLAT`); ``""`` when the bounds are lon/lat degrees that overlap
        the network and ``distance_m`` is below :data:`FAR_FROM_NETWORK_M`.
    """
    b = [float(v) for v in bounds]
    shown = "(" + ", ".join(f"{v:.6g}" for v in b) + ")"
    net = "(" + ", ".join(f"{v:.6g}" for v in network_bbox) + ")"
    if not_wgs84(np.array(b[0::2]), np.array(b[1::2])).any():
        cause = (
            f"its coordinates {shown} are not longitude/latitude degrees: the file is likely "
            "in a projected CRS in metres (such as EPSG:3857) without declaring it"
        )
    elif not _overlap(b, network_bbox) and _overlap([b[1], b[0], b[3], b[2]], network_bbox):
        cause = (
            f"its bounds {shown} lie where the network's {net} would with longitude and "
            "latitude swapped: the file likely gives (lat, lon)"
        )
    elif not _overlap(b, network_bbox):
        cause = (
            f"its bounds {shown} do not overlap the road network's {net}: a wrong CRS or "
            "coordinate order, or the file of another area"
        )
    elif distance_m > FAR_FROM_NETWORK_M:
        cause = (
            f"a point of it is {distance_m / 1000:,.0f} km from the road network {net}, "
            "farther than a gap in the roads explains: a wrong CRS or coordinate order"
        )
    else:
        return ""
    return f"{cause}. {GEOJSON_LONLAT}"


def _number(value: object) -> float:
    if isinstance(value, bool) or value is None:
        raise TypeError
    if isinstance(value, str):
        return float(value.strip())
    return float(value)  # type: ignore[arg-type]
