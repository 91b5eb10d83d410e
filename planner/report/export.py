"""Machine-readable outputs of one study run: GeoPackage, GeoJSON, CSV/Parquet, KPIs, manifest.

:func:`write_outputs` only reads a :class:`~planner.study.result.StudyResult` and writes into
an existing folder. The pipeline wraps the whole run in :func:`planner.report.atomic.atomic_dir`, so
the folder appears only when complete; each file is still written to a temporary sibling and
moved into place, so a file is never seen half-written either.

Helpers shared with :mod:`planner.report.html` (:func:`as_wgs84`, :func:`kpi_table`,
:func:`json_safe`) live here so both writers agree on units and labels.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from planner.report.atomic import (
    OutputWriteError,
    atomic_path,
    write_bytes_atomic,
    write_text_atomic,
)
from planner.report.columns import LAYER_COLUMNS
from planner.report.gis_styles import write_layer_styles
from planner.report.numbers import COST_UNIT, study_currency
from planner.study.result import StudyResult
from planner.study.verdict import targets_met
from sim.kpis import KPIS

logger = logging.getLogger(__name__)

__all__ = ["LAYERS", "as_wgs84", "json_safe", "kpi_table", "write_outputs"]

#: GeoPackage layers, in the order QGIS lists them, with the geometry type used when empty.
LAYERS: dict[str, str] = {
    "roads": "LineString",
    "demand": "Point",
    "candidates": "Point",
    "existing": "Point",
    "selected": "Point",
}


# --------------------------------------------------------------------------- shared helpers


def json_safe(obj: Any) -> Any:
    """Convert ``obj`` into plain JSON types (strict JSON: NaN and infinities become ``None``).

    Handles numpy scalars and arrays, pandas objects and timestamps, paths, sets, bytes,
    dataclasses and pydantic models; anything else unknown becomes its ``str``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((json_safe(v) for v in obj), key=str)
    if isinstance(obj, np.ndarray):
        return [json_safe(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return [
            json_safe(r) for r in obj.drop(columns="geometry", errors="ignore").to_dict("records")
        ]
    if isinstance(obj, pd.Series):
        return json_safe(obj.to_dict())
    if isinstance(obj, (pd.Timedelta, dt.timedelta)):
        return obj.total_seconds()
    if isinstance(obj, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return None if pd.isna(obj) else obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe(dataclasses.asdict(obj))
    if hasattr(obj, "model_dump"):  # pydantic v2 models (e.g. the study config)
        return json_safe(obj.model_dump(mode="json"))
    if hasattr(obj, "__geo_interface__"):
        return json_safe(obj.__geo_interface__)
    return str(obj)


def as_wgs84(frame: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """Return ``frame`` as a GeoDataFrame in EPSG:4326.

    Accepts a GeoDataFrame in any CRS (a missing CRS is taken as WGS84, as the contract
    says), a plain DataFrame with ``lon``/``lat`` columns, or ``None``.
    """
    if frame is None:
        return gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        gdf = frame
    elif "geometry" in frame.columns:
        gdf = gpd.GeoDataFrame(frame, geometry="geometry")
    elif {"lon", "lat"} <= set(frame.columns):
        gdf = gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
        )
    else:
        gdf = gpd.GeoDataFrame(
            frame, geometry=gpd.GeoSeries([None] * len(frame), index=frame.index)
        )
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    return gdf


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, (bool, np.bool_))
        and math.isfinite(float(v))
    )


def kpi_table(result: StudyResult) -> pd.DataFrame:
    """One row per KPI: ``kpi, label, unit, better, before, after, delta`` and, when
    replication statistics exist, ``<scenario>_mean/_ci_low/_ci_high/_n`` per scenario.

    KPIs follow the registry order (:data:`sim.kpis.KPIS`), then any other key in alphabetical order. ``delta``
    is ``after - before`` when both are finite numbers, else ``None``.
    """
    iv = result.kpi_intervals
    has_iv = iv is not None and not iv.empty and {"scenario", "kpi"} <= set(iv.columns)
    known = (
        set(result.kpis_before)
        | set(result.kpis_after)
        | (set(iv["kpi"].astype(str)) if has_iv else set())
    )
    keys = [k for k in KPIS if k in known] + sorted(known - set(KPIS))
    currency = study_currency(result)
    rows = []
    for k in keys:
        entry = KPIS.get(k)
        label, unit, better = (
            (entry.label, entry.unit, entry.better)
            if entry is not None
            else (k.replace("_", " ").capitalize(), "", "")
        )
        if unit == COST_UNIT:  # the study's own currency (candidates.currency)
            unit = currency
        b, a = result.kpis_before.get(k), result.kpis_after.get(k)
        delta = float(a) - float(b) if _is_number(a) and _is_number(b) else None  # type: ignore[arg-type]
        rows.append(
            {
                "kpi": k,
                "label": label,
                "unit": unit,
                "better": better,
                "before": json_safe(b),
                "after": json_safe(a),
                "delta": delta,
            }
        )
    table = pd.DataFrame(
        rows, columns=["kpi", "label", "unit", "better", "before", "after", "delta"]
    )
    if has_iv:
        stats = [c for c in ("mean", "ci_low", "ci_high", "n") if c in iv.columns]
        for scen, part in iv.assign(kpi=iv["kpi"].astype(str)).groupby("scenario", sort=False):
            part = part.drop_duplicates("kpi", keep="last").set_index("kpi")[stats]
            part.columns = [f"{scen}_{c}" for c in stats]
            table = table.merge(part, left_on="kpi", right_index=True, how="left")
    return table.reset_index(drop=True)


# --------------------------------------------------------------------------- writers


def _flatten_value(v: Any) -> Any:
    if isinstance(v, (dict, list, tuple, set, np.ndarray)):
        return json.dumps(json_safe(v), ensure_ascii=False)
    return v


def _plain_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Make attribute columns writable by OGR/CSV: dicts/lists become JSON strings, mixed
    object columns become strings, categoricals their values, timedeltas seconds."""
    df = df.copy()
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        if col == geom:
            continue
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object).where(s.notna(), None)
        if pd.api.types.is_timedelta64_dtype(s.dtype):
            df[col] = s.dt.total_seconds()
            continue
        if s.dtype == object:
            s = s.map(_flatten_value)
            kinds = {
                type(v) for v in s if v is not None and not (isinstance(v, float) and math.isnan(v))
            }
            if kinds and kinds <= {bool, np.bool_}:  # booleans with gaps (e.g. after a left join)
                s = s.astype("boolean")
            elif len(kinds) > 1 and not kinds <= {int, float, np.int64, np.float64}:
                s = s.map(
                    lambda v: (
                        None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                    )
                )
        df[col] = s
    df.columns = [str(c) for c in df.columns]
    if "fid" in df.columns and not pd.api.types.is_integer_dtype(df["fid"]):
        df = df.rename(columns={"fid": "fid_"})  # GPKG reserves 'fid' for an integer key
    return df


def _gdal_reason(exc: Exception) -> str:
    """GDAL's error without the SQL it ran (a full disk quotes kilobytes of ``CREATE TABLE``
    before "failed: database or disk is full")."""
    text = str(exc)
    if len(text) <= 300:
        return text
    head, sep, reason = text.rpartition(") failed: ")
    if sep:
        return f"{head.split('(', 1)[0].strip() or 'GDAL'} failed: {reason}"
    return f"{text[:140]} … {text[-140:]}"


def _layer(result: StudyResult, layer: str) -> gpd.GeoDataFrame:
    """Layer ``layer`` of ``result``. A layer no step filled (no rows and no attribute
    columns: ``selected`` and ``candidates`` of ``evplan simulate``) gets its documented
    columns (:data:`planner.report.columns.LAYER_COLUMNS`, text fields), so that its
    GeoPackage layer and CSV keep them for a GIS project that styles or joins on them."""
    gdf = getattr(result, layer)
    geom = gdf.active_geometry_name if isinstance(gdf, gpd.GeoDataFrame) else None
    if len(gdf) or any(c != geom for c in gdf.columns):
        return _no_limit_empty(gdf)
    cols = {c: pd.Series([], dtype=object) for c in LAYER_COLUMNS.get(layer, {})}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


#: Columns where the model's ``inf`` means "no limit", written empty as documented (a
#: CSV said ``inf`` where the GeoJSON said ``null``)
NO_LIMIT_COLUMNS = ("grid_kw",)


def _no_limit_empty(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` with an infinite :data:`NO_LIMIT_COLUMNS` value written as empty."""
    cols = [c for c in NO_LIMIT_COLUMNS if c in gdf.columns]
    if not cols:
        return gdf
    out = gdf.copy()
    for c in cols:
        v = pd.to_numeric(out[c], errors="coerce")
        out[c] = v.where(np.isfinite(v))
    return out


def _write_gpkg(result: StudyResult, path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with atomic_path(path) as tmp:
        for layer, empty_type in LAYERS.items():
            gdf = _plain_columns(as_wgs84(_layer(result, layer)))
            kwargs: dict[str, Any] = {}
            families = {t.removeprefix("Multi") for t in gdf.geom_type.dropna()}
            if not families:  # empty layer: keep its columns and a sensible type for QGIS
                kwargs["geometry_type"] = empty_type
            elif len(families) > 1:  # e.g. zone polygons mixed with points
                kwargs["geometry_type"] = "Unknown"
            if not tmp.exists():
                # GeoPackage 1.2: read without warnings by the LTS GDAL/QGIS releases
                # (GDAL 3.6 / QGIS 3.22 warn on the 1.4 files newer GDAL writes by default)
                kwargs["dataset_options"] = {"VERSION": "1.2"}
            try:
                pyogrio.write_dataframe(
                    gdf, tmp, layer=layer, driver="GPKG", append=tmp.exists(), **kwargs
                )
            except Exception as exc:
                # A missing layer is a failed write (a full disk shows up here): the run fails
                # and the previous study.gpkg stays, rather than a smaller file replacing it.
                raise OutputWriteError(
                    f"could not write layer {layer!r} of {path}: {_gdal_reason(exc)}; nothing "
                    "was replaced (the previous output, if any, is unchanged)"
                ) from exc
            counts[layer] = len(gdf)
        write_layer_styles(tmp, list(LAYERS))  # QGIS opens the layers styled
    logger.info("wrote %s (%s)", path, ", ".join(f"{k}: {v}" for k, v in counts.items()))
    return counts


#: Decimals of GeoJSON coordinates: 6 (about 0.1 m), as RFC 7946 section 11.2 advises.
GEOJSON_DECIMALS = 6


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, GEOJSON_DECIMALS)
    if isinstance(obj, list | tuple):
        return [_round_coords(v) for v in obj]
    return obj


def _geojson_text(gdf: gpd.GeoDataFrame) -> str:
    gdf = _plain_columns(as_wgs84(gdf))
    data = json_safe(gdf.to_geo_dict(na="null", drop_id=True))
    for feature in data.get("features", []):
        geom = feature.get("geometry")
        if geom and "coordinates" in geom:
            geom["coordinates"] = _round_coords(geom["coordinates"])
    return json.dumps(data, ensure_ascii=False)


def _geoparquet_bytes(df: pd.DataFrame) -> bytes | None:
    """The table as GeoParquet (points at its ``lon``/``lat``, CRS in the metadata), or
    None for tables without locations."""
    lon, lat = next(
        ((a, b) for a, b in (("lon", "lat"), ("origin_lon", "origin_lat")) if a in df and b in df),
        (None, None),
    )
    if lon is None:
        return None
    gdf = gpd.GeoDataFrame(
        _plain_columns(pd.DataFrame(df)),
        geometry=gpd.points_from_xy(df[lon], df[lat]),
        crs="EPSG:4326",
    )
    buf = io.BytesIO()
    gdf.to_parquet(buf, index=False)
    return buf.getvalue()


def _csv_frame(gdf: pd.DataFrame) -> pd.DataFrame:
    """Attributes plus ``lon``/``lat`` for points (``wkt`` for other shapes)."""
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        return _plain_columns(pd.DataFrame(gdf))
    g = gdf.geometry
    df = pd.DataFrame(gdf.drop(columns=g.name))
    if len(g) and (g.geom_type == "Point").all():
        if "lon" not in df.columns:
            df["lon"] = g.x.round(7).to_numpy()
        if "lat" not in df.columns:
            df["lat"] = g.y.round(7).to_numpy()
    elif len(g):
        df["wkt"] = g.to_wkt().to_numpy()
    return _plain_columns(df)


def _csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    try:
        df.to_parquet(buf, index=False)
    except Exception as exc:  # noqa: BLE001 - arrow rejects mixed object columns; flatten and retry
        logger.debug("parquet needs plain columns (%s)", exc)
        buf = io.BytesIO()
        flat = _plain_columns(df)
        if isinstance(flat, gpd.GeoDataFrame):
            flat.to_parquet(buf, index=False)
        else:
            flat.astype({c: str for c in flat.columns if flat[c].dtype == object}).to_parquet(
                buf, index=False
            )
    return buf.getvalue()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "table"


def write_outputs(result: StudyResult, folder: Path, *, gpkg: bool = True) -> dict[str, Path]:
    """Write the machine-readable outputs of ``result`` into the existing ``folder``.

    Parameters
    ----------
    result : StudyResult
        What the study run produced.
    folder : Path
        Existing folder (normally the temporary folder of :func:`planner.report.atomic.atomic_dir`).
    gpkg : bool
        Write ``study.gpkg`` (the study's ``outputs.gpkg``).

    Returns
    -------
    dict of str -> Path
        Every file written, keyed by its path relative to ``folder`` (POSIX style), e.g.
        ``"study.gpkg"``, ``"tables/trips_before.parquet"``.

    Notes
    -----
    Files: ``study.gpkg`` (layers ``roads, demand, candidates, existing, selected``; empty
    layers keep their columns; a layer GDAL cannot write fails the whole write with
    :class:`~planner.report.atomic.OutputWriteError`), ``selected.geojson``, ``existing.geojson``,
    ``candidates.csv``, ``existing.csv``, ``selected.csv``, ``tables/<name>.parquet`` and
    ``.csv`` for each of ``result.tables``, ``kpis.json``, ``kpis.csv`` and ``manifest.json``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"output folder {folder} does not exist; create it (or use planner.report.atomic.atomic_dir)"
        )
    written: dict[str, Path] = {}

    def put(rel: str, data: str | bytes) -> None:
        path = folder / rel
        written[rel] = (
            write_bytes_atomic(path, data)
            if isinstance(data, bytes)
            else write_text_atomic(path, data)
        )

    counts: dict[str, int] = {}
    if gpkg:  # outputs.gpkg: false leaves the GeoPackage out (GeoJSON/CSV still written)
        counts = _write_gpkg(result, folder / "study.gpkg")
        written["study.gpkg"] = folder / "study.gpkg"

    for layer in ("selected", "existing"):
        put(f"{layer}.geojson", _geojson_text(_layer(result, layer)))
    for layer in ("candidates", "existing", "selected"):
        put(f"{layer}.csv", _csv_text(_csv_frame(as_wgs84(_layer(result, layer)))))

    used: set[str] = set()
    for name, table in result.tables.items():
        if table is None:
            continue
        stem = _safe_name(name)
        while stem in used:  # two names that sanitise alike must not overwrite each other
            stem += "_"
        used.add(stem)
        put(f"tables/{stem}.parquet", _parquet_bytes(table))
        geo = _geoparquet_bytes(table)
        if geo is not None:  # tables with locations also as GeoParquet, for GIS and DuckDB
            put(f"tables/{stem}.geoparquet", geo)
        put(f"tables/{stem}.csv", _csv_text(_csv_frame(table)))

    kt = kpi_table(result)
    put("kpis.csv", _csv_text(kt))
    iv = result.kpi_intervals
    kpis = {
        "study": result.name,
        "before": json_safe(result.kpis_before),
        "after": json_safe(result.kpis_after),
        "delta": {
            r.kpi: r.delta for r in kt.itertuples() if r.delta is not None and not pd.isna(r.delta)
        },
        "units": {r.kpi: r.unit for r in kt.itertuples()},
        "intervals": json_safe(iv) if iv is not None and not iv.empty else [],
    }
    timeline = result.tables.get("rollout_timeline")
    if timeline is not None and len(timeline):  # staged studies: the plan year by year
        kpis["stages"] = json_safe(timeline.to_dict("records"))
        # the plans' comparison: myopic regret and the robust first stage per scenario
        roll = {k: v for k, v in result.manifest.get("rollout", {}).items() if k != "timeline"}
        if roll:
            kpis["rollout"] = json_safe(roll)
    if result.verdict:  # studies with service targets: say plainly whether they were met
        kpis["targets_met"] = targets_met(result.verdict)
        kpis["verdict"] = json_safe(result.verdict)
    put("kpis.json", json.dumps(kpis, indent=2, ensure_ascii=False, allow_nan=False))

    manifest = dict(result.manifest)
    manifest["export"] = {"layers": counts}
    if result.verdict:
        manifest["targets_met"] = targets_met(result.verdict)
    put(
        "manifest.json",
        json.dumps(json_safe(manifest), indent=2, ensure_ascii=False, allow_nan=False),
    )
    logger.info("wrote %d output files into %s", len(written), folder)
    return written
