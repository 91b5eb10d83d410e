"""User OD tables (CSV or Parquet) instead of generated demand.

Columns (one row per trip, or per ``count`` identical trips):

* where: ``origin``/``destination`` -- zone ids when ``zones`` is given, else network node
  indices; or ``origin_lon, origin_lat, destination_lon, destination_lat`` (WGS84 degrees,
  snapped; used as they are even when ``zones`` is given);
* when: ``depart_s`` (seconds from the start of day 0) or ``depart_time`` (clock time
  ``HH:MM[:SS]``, hours 0-23, minutes and seconds 0-59) plus optional ``day`` (0-based
  integer; trips after midnight go on the next day);
* optional: ``vehicle_id`` (rows sharing it form one chain, ordered by ``chain_seq`` or
  departure), ``vehicle_model`` (else drawn from ``vehicle_mix`` / ``default_model``),
  ``chain_seq``, ``count`` (integer >= 1; expands into separate vehicles),
  ``initial_soc`` (in [0, 1]; blank = the simulation's default).

Zone ids are matched as strings, so ``7`` in the table matches zone ``"7"``. A zone id that
is not among the zones raises :class:`~sim._errors.UnknownZoneError` naming the file, the
column, the offending values with row numbers, and the known zones. Any other bad value
raises :class:`~sim._errors.DemandTableError` naming the file, column, rows and values
(row numbers as in a CSV: header = row 1).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from networks import SnapDistanceError
from networks.csv_header import repeated_columns, repeated_columns_message
from networks.road_network import RoadNetwork
from networks.validate import encoding_hint
from sim._checks import RngLike, as_generator, require_network, vehicle_catalogue
from sim._errors import DemandError, DemandTableError, UnknownZoneError
from sim.catalogue import default_car_mix, resolve_models
from sim.demand.city import DAY_S, MAX_TRIPS, mix_probabilities
from sim.demand.zones import shown_cell, zone_ids, zone_nodes

logger = logging.getLogger(__name__)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DemandTableError(f"OD table {path} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix == ".csv" and (repeated := repeated_columns(path)):
        # pandas would read the second origin_lon as origin_lon.1 and ignore it
        raise DemandTableError(f"OD table {path}: {repeated_columns_message(repeated)}")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:  # pandas/pyarrow raise many types for corrupt files
        raise DemandTableError(
            f"OD table {path} cannot be read ({type(exc).__name__}: {exc}); "
            + (encoding_hint(exc).removeprefix("; ") or "check that it is a valid CSV/Parquet file")
        ) from exc
    raise DemandTableError(
        f"OD table {path} has unsupported extension {suffix!r}; use .csv or .parquet"
    )


# A clock time: H:MM or HH:MM, optional :SS. Hours stop at 23 because later days are given
# by the 'day' column (docs/simulation.md: depart_time HH:MM[:SS] + day); "25:30" would be
# a second, undocumented way to say day 1 at 01:30 and hides typos such as "25:99".
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_CLOCK_HELP = (
    "expected HH:MM or HH:MM:SS, a clock time with hours 0-23 and minutes/seconds 0-59; put "
    "trips of later days in the 'day' column (0-based) or give 'depart_s' in seconds from "
    "the start of day 0"
)


def _bad_cells(raw: pd.Series, bad: np.ndarray, file_row: np.ndarray, limit: int = 8) -> str:
    """``row N = value`` for the first ``limit`` distinct file rows where ``bad`` is set
    (rows repeat after a ``count`` expansion)."""
    vals = raw.to_numpy()
    out: dict[int, str] = {}
    for i in np.flatnonzero(bad):
        r = int(file_row[i])
        if r not in out:
            out[r] = f"row {r} = {shown_cell(vals[i])}"
        if len(out) == limit:
            break
    more = int(len(set(file_row[np.flatnonzero(bad)].tolist()))) - len(out)
    return "; ".join(out.values()) + (f" (and {more} more row(s))" if more > 0 else "")


def _clock_seconds(col: pd.Series) -> np.ndarray:
    """Seconds after midnight of ``HH:MM[:SS]`` texts; NaN where a value is not one."""
    if pd.api.types.is_timedelta64_dtype(col):  # Parquet may store durations
        t = col.dt.total_seconds().to_numpy(dtype=float)
        return np.where((t >= 0) & (t < DAY_S), t, np.nan)
    # vectorised (tables of a million trips): texts and datetime.time values alike (their
    # str() is HH:MM:SS; numbers and blanks never match the pattern)
    parts = col.astype(str).str.strip().str.extract(_CLOCK.pattern)
    h, mi, sec = (pd.to_numeric(parts[i]).to_numpy(dtype=float) for i in range(3))
    sec = np.nan_to_num(sec, nan=0.0)
    with np.errstate(invalid="ignore"):
        ok = (h < 24) & (mi < 60) & (sec < 60)
    return np.where(ok, h * 3600.0 + mi * 60.0 + sec, np.nan)


def _times(df: pd.DataFrame, where: str, file_row: np.ndarray) -> np.ndarray:
    if "depart_s" in df.columns:
        t = pd.to_numeric(df["depart_s"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(t) | (t < 0)
        if bad.any():
            raise DemandTableError(
                f"{where}: column 'depart_s' must hold seconds >= 0 from the start of day 0; "
                f"bad value(s): {_bad_cells(df['depart_s'], bad, file_row)} (header = row 1)"
            )
    elif "depart_time" in df.columns:
        t = _clock_seconds(df["depart_time"])
        bad = np.isnan(t)
        if bad.any():
            raise DemandTableError(
                f"{where}: column 'depart_time' has invalid time(s): "
                f"{_bad_cells(df['depart_time'], bad, file_row)} (header = row 1); {_CLOCK_HELP}"
            )
    else:
        raise DemandTableError(
            f"{where}: needs a 'depart_s' (seconds) or 'depart_time' (HH:MM) column"
        )
    if "day" in df.columns:
        day = pd.to_numeric(df["day"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(day) | (day < 0) | (day != np.floor(day))
        if bad.any():
            raise DemandTableError(
                f"{where}: column 'day' must hold integers >= 0 (0 = first day); bad value(s): "
                f"{_bad_cells(df['day'], bad, file_row)} (header = row 1)"
            )
        t = t + day * DAY_S
    return t


def _trip_counts(df: pd.DataFrame, where: str) -> np.ndarray | None:
    """The ``count`` column as trips per row (None without one), checked: whole numbers
    >= 1, and at most :data:`~sim.demand.city.MAX_TRIPS` trips in the whole table, before
    a row is expanded (a count of 1e9 was expanded until the kernel killed evplan)."""
    file_row = np.arange(len(df)) + 2  # header is line 1
    if "count" not in df.columns:
        if len(df) > MAX_TRIPS:
            raise DemandTableError(
                f"{where} has {len(df):,} rows (trips), more than the {MAX_TRIPS:,} trips "
                "evplan simulates; give a smaller table (a sample of the trips)"
            )
        return None
    cnt = pd.to_numeric(df["count"], errors="coerce")
    bad = (cnt.isna() | (cnt < 1) | (cnt != np.floor(cnt))).to_numpy()
    if bad.any():
        raise DemandTableError(
            f"{where}: column 'count' must hold whole numbers >= 1 (trips per row); bad "
            f"value(s): {_bad_cells(df['count'], bad, file_row)} (header = row 1)"
        )
    if "vehicle_id" in df.columns:
        raise DemandTableError(
            f"{where}: use either 'count' (aggregated trips) or 'vehicle_id' (chains), not both"
        )
    counts = cnt.to_numpy(dtype=float)  # no int64 overflow for a count of 1e30
    total = float(counts.sum())
    if total > MAX_TRIPS:
        top = np.argsort(-counts, kind="stable")[:3]
        shown = "; ".join(f"row {file_row[i]} = {counts[i]:,.0f}" for i in top.tolist())
        raise DemandTableError(
            f"{where}: column 'count' adds up to {total:,.0f} trips, more than the "
            f"{MAX_TRIPS:,} trips evplan simulates in one study; the largest counts: {shown} (header = row 1). Fix the counts (a typo?) or give a "
            "sample of the trips"
        )
    return counts.astype(np.int64)


def check_od_table(path: str | Path) -> int:
    """The number of trips an OD table holds (its rows, or the sum of its ``count``
    column), read and checked as :func:`read_od_table` does before it expands the counts:
    what ``evplan validate`` checks without a network.

    Raises
    ------
    DemandTableError
        Missing or unreadable file, no rows, a bad ``count`` value, or more than
        :data:`~sim.demand.city.MAX_TRIPS` trips; the message names the file and the rows.
    """
    path = Path(path)
    where = f"OD table {path}"
    df = _read(path).reset_index(drop=True)
    if df.empty:
        raise DemandTableError(f"{where} has no rows")
    counts = _trip_counts(df, where)
    return len(df) if counts is None else int(counts.sum())


def read_od_table(
    path: str | Path,
    *,
    network: RoadNetwork,
    rng: RngLike,
    zones: gpd.GeoDataFrame | None = None,
    zone_col: str | None = None,
    vehicles: Mapping | None = None,
    vehicle_mix: Mapping[str, float] | None = None,
    default_model: str | None = None,
    max_snap_m: float = 500.0,
) -> pd.DataFrame:
    """Read a user OD table into a trips table (module docstring for the columns).

    Zone trip ends get a random node inside the zone (drawn from ``rng``).

    Parameters
    ----------
    path : str or Path
        CSV or Parquet file.
    network : RoadNetwork
        Road network; trip ends become its node indices.
    rng : numpy Generator, SeedSequence or int
        Draws nodes inside zones and vehicle models; an integer seed >= 0 or a SeedSequence
        is turned into a generator with :func:`numpy.random.default_rng`.
    zones : GeoDataFrame, optional
        Zone polygons; ``origin``/``destination`` then hold zone ids.
    zone_col : str, optional
        Column of ``zones`` with the zone ids; the index by default.
    vehicles : mapping, optional
        Vehicle catalogue (model key -> :class:`~sim.vehicles.VehicleModel`); the built-in
        one by default.
    vehicle_mix : mapping, optional
        Vehicle model -> share for rows without a ``vehicle_model``.
    default_model : str, optional
        One model for rows without a ``vehicle_model`` (instead of ``vehicle_mix``).
    max_snap_m : float
        Farthest a trip end given by coordinates may lie from its nearest node (metres).

    Returns
    -------
    DataFrame
        Trips table plus ``source_row`` (and ``origin_zone``/``destination_zone`` with zones).

    Raises
    ------
    DemandError
        ``rng`` is not a generator or a seed.
    DemandTableError
        Missing file, unsupported format, missing columns, bad values.
    UnknownZoneError
        Zone ids not among ``zones``.
    UnknownVehicleModelError
        ``vehicle_model`` values not in the catalogue.
    """
    require_network(network)
    rng = as_generator(rng, where="read_od_table", error=DemandError)
    path = Path(path)
    where = f"OD table {path}"
    raw = _read(path)
    if raw.empty:
        raise DemandTableError(f"{where} has no rows")
    vehicles = vehicle_catalogue(vehicles)
    df = raw.reset_index(drop=True)
    file_row = np.arange(len(df)) + 2  # header is line 1
    rep = _trip_counts(df, where)
    if rep is not None:
        df = df.loc[df.index.repeat(rep)].reset_index(drop=True)
        file_row = np.repeat(file_row, rep)
    depart = _times(df, where, file_row)
    origin, dest = _ends(df, network, zones, zone_col, rng, where, file_row, max_snap_m)
    if "vehicle_model" in df.columns and df["vehicle_model"].notna().all():
        model = df["vehicle_model"].astype(str).to_numpy(dtype=object)
        resolve_models(np.unique(model), vehicles, what=where)
    elif default_model is not None:
        resolve_models([default_model], vehicles, what=f"{where} default_model")
        model = np.full(len(df), default_model, dtype=object)
    else:
        keys, p = mix_probabilities(vehicle_mix or default_car_mix(vehicles), "vehicle_mix")
        resolve_models(keys, vehicles, what="vehicle_mix")
        model = np.asarray(keys, dtype=object)[rng.choice(len(keys), size=len(df), p=p)]
    out = pd.DataFrame(
        {
            "vehicle_id": df["vehicle_id"].to_numpy()
            if "vehicle_id" in df.columns
            else np.arange(len(df), dtype=np.int64),
            "vehicle_model": model,
            "origin": origin,
            "destination": dest,
            "depart_s": depart,
        }
    )
    if "vehicle_id" in df.columns and "vehicle_model" in df.columns:
        # a vehicle keeps one model: the first row's
        out["vehicle_model"] = out.groupby("vehicle_id", sort=False)["vehicle_model"].transform(
            "first"
        )
    if "chain_seq" in df.columns:
        out["chain_seq"] = pd.to_numeric(df["chain_seq"], errors="coerce").to_numpy()
        if out["chain_seq"].isna().any():
            raise DemandTableError(f"{where}: column 'chain_seq' must be integers")
    else:
        out["chain_seq"] = (
            out.groupby("vehicle_id", sort=False)["depart_s"].rank(method="first").astype(np.int64)
            - 1
        )
    out["chain_seq"] = out["chain_seq"].astype(np.int64)
    if "initial_soc" in df.columns:
        out["initial_soc"] = _initial_soc(df, where, file_row)
    if zones is not None and {"origin", "destination"} <= set(df.columns):
        # zone ids placed the trip ends; a table by coordinates does not use the zones
        for extra in ("origin", "destination"):
            out[f"{extra}_zone"] = df[extra].astype(str).str.strip().to_numpy()
    out["source_row"] = file_row
    logger.info("read %d trips from %s", len(out), path)
    return out


def _initial_soc(df: pd.DataFrame, where: str, file_row: np.ndarray) -> np.ndarray:
    """The ``initial_soc`` column as floats in [0, 1]; blank cells stay NaN (the
    simulation's own starting charge applies to those vehicles)."""
    raw = df["initial_soc"]
    soc = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = (raw.notna().to_numpy() & np.isnan(soc)) | (soc < 0) | (soc > 1)
    if bad.any():
        raise DemandTableError(
            f"{where}: column 'initial_soc' must be a state of charge in [0, 1] (0.8 = 80 %) "
            f"or blank; bad value(s): {_bad_cells(raw, bad, file_row)} (header = row 1)"
        )
    return soc


def _coordinates(df: pd.DataFrame, where: str, file_row: np.ndarray) -> dict[str, np.ndarray]:
    """The four trip-end coordinate columns as floats, checked to be WGS84 degrees."""
    out: dict[str, np.ndarray] = {}
    for end in ("origin", "destination"):
        for axis, lim in (("lon", 180.0), ("lat", 90.0)):
            col = f"{end}_{axis}"
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(v) | (np.abs(np.nan_to_num(v)) > lim)
            if bad.any():
                raise DemandTableError(
                    f"{where}: column {col!r} must hold WGS84 {'longitudes' if axis == 'lon' else 'latitudes'} "
                    f"in [-{lim:g}, {lim:g}] degrees; bad value(s): "
                    f"{_bad_cells(df[col], bad, file_row)} (header = row 1). Fix the "
                    "coordinates (are longitude and latitude swapped?)"
                )
            out[col] = v
    return out


def _ends(
    df, network, zones, zone_col, rng, where, file_row, max_snap_m
) -> tuple[np.ndarray, np.ndarray]:
    cols = set(df.columns)
    if {"origin", "destination"} <= cols:
        if zones is not None:
            ids = zone_ids(zones, zone_col)
            known = {str(z): z for z in ids}
            zn = zone_nodes(network, zones, zone_col=zone_col)
            res = []
            for col in ("origin", "destination"):
                vals = df[col].astype(str).str.strip().to_numpy()
                unknown = ~np.isin(vals, list(known))
                if unknown.any():
                    bad = [
                        f"{v!r} (row {r})"
                        for v, r in zip(vals[unknown], file_row[unknown], strict=True)
                    ][:8]
                    raise UnknownZoneError(
                        f"{where}: column {col!r} has {int(unknown.sum())} value(s) that are not zones: "
                        f"{', '.join(bad)}; known zones: {sorted(known)[:30]}. Fix the ids or pass the right zones/zone_col."
                    )
                nodes = np.empty(len(vals), dtype=np.int64)
                for zs, zid in known.items():  # fixed zone order -> reproducible draws
                    sel = np.flatnonzero(vals == zs)
                    if sel.size:
                        nodes[sel] = zn[zid][rng.integers(zn[zid].size, size=sel.size)]
                res.append(nodes)
            return res[0], res[1]
        res = []
        for col in ("origin", "destination"):
            v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            bad = np.isnan(v) | (v < 0) | (v >= network.n_nodes) | (v != np.floor(v))
            if bad.any():
                rows = file_row[bad][:8].tolist()
                raise DemandTableError(
                    f"{where}: column {col!r} must hold node indices 0..{network.n_nodes - 1} (no zones were given); "
                    f"bad rows {rows}. To read zone ids give the zones (read_od_table's zones=; "
                    "demand.zones in a study config), or use lon/lat columns."
                )
            res.append(v.astype(np.int64))
        return res[0], res[1]
    need = {"origin_lon", "origin_lat", "destination_lon", "destination_lat"}
    if need <= cols:
        if zones is not None:
            logger.info("%s gives trip ends as coordinates; the zones are not used", where)
        xy = _coordinates(df, where, file_row)
        ends = []
        for end in ("origin", "destination"):
            try:
                ends.append(
                    network.snap_strict(
                        xy[f"{end}_lon"],
                        xy[f"{end}_lat"],
                        max_distance_m=max_snap_m,
                        labels=[f"{end} row {r}" for r in file_row],
                    )
                )
            except SnapDistanceError as exc:
                raise DemandTableError(
                    f"{where}: {exc} (the limit is read_od_table's max_snap_m; "
                    "demand.od_snap_m in a study config)"
                ) from None
        return ends[0], ends[1]
    ids = "zone ids" if zones is not None else "node indices"
    raise DemandTableError(
        f"{where}: needs 'origin' and 'destination' columns ({ids}) or "
        f"origin_lon/origin_lat/destination_lon/destination_lat; has {sorted(cols)}"
    )
