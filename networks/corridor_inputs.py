"""Inputs of the national corridor builder (:mod:`networks.corridor`): the route polylines
file (:func:`read_national_roads`) and the per-route speeds (:func:`resolve_speeds`), each
checked with messages that name the file or parameter, the offending value and the fix."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np

from networks.errors import ConfigError, InputFileError
from networks.validate import encoding_hint

__all__ = ["DEFAULT_SPEEDS_KPH", "read_national_roads", "resolve_speeds"]

logger = logging.getLogger(__name__)

#: Travel speed in km/h per route ``ref``; ``"default"`` applies to every other ref. 90 km/h is
#: the general limit for cars outside built-up areas in Kazakhstan's traffic rules; override
#: per ref (e.g. ``{"KAZ01": 110}``) where a route is a dual carriageway.
DEFAULT_SPEEDS_KPH: dict[str, float] = {"default": 90.0}
#: What a usable roads file looks like, for messages about one that is not.
_USABLE_ROADS = (
    "a usable file is a GeoJSON FeatureCollection of LineString/MultiLineString features, each "
    'with a \'ref\' property naming its route, e.g. {"type": "Feature", "properties": {"ref": '
    '"KAZ01"}, "geometry": {"type": "LineString", "coordinates": [[71.43, 51.13], [73.1, 49.8]]}}'
)


# --------------------------------------------------------------------------- helpers
def resolve_speeds(
    speeds_kph: float | Mapping[str, float] | None,
    *,
    known_refs: Collection[str] | None = None,
    where: str = "the lines",
) -> dict[str, float]:
    """Validated ``{ref: km/h}`` with a ``"default"`` key (from :data:`DEFAULT_SPEEDS_KPH`).

    Messages name the parameter, ``speeds_kph['KAZ01']``, as callers such as a study config
    pass the user's mapping on unchanged. With ``known_refs`` (the refs of the roads,
    ``where``), a ref no road carries is an error: a misspelt one would go unnoticed.
    """
    if speeds_kph is None:
        out = dict(DEFAULT_SPEEDS_KPH)
    elif isinstance(speeds_kph, Mapping):
        out = {**DEFAULT_SPEEDS_KPH, **{str(k): v for k, v in speeds_kph.items()}}
    else:
        out = {"default": speeds_kph}
    for k, v in out.items():
        try:
            ok = np.isfinite(float(v)) and float(v) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(
                f"speeds_kph[{k!r}] must be a positive number of km/h, got {v!r}; "
                "give a speed above 0 (e.g. 90) or remove the entry"
            )
    unknown = sorted(set(out) - {"default"} - set(known_refs)) if known_refs is not None else []
    if unknown:
        known = sorted(set(known_refs or ()))
        raise ConfigError(
            f"speeds_kph names road ref(s) {unknown} not carried by any road of {where}; its refs "
            f"are {known[:50]}{' ...' if len(known) > 50 else ''}. Use one of these refs (spelt "
            "as in the roads file), or 'default' for every road"
        )
    return {k: float(v) for k, v in out.items()}


# --------------------------------------------------------------------------- reading
def read_national_roads(path: str | Path, *, ref_col: str = "ref") -> gpd.GeoDataFrame:
    """Read route polylines (GeoJSON or any vector file GeoPandas reads) in EPSG:4326.

    Parameters
    ----------
    path : str or Path
        File with LineString/MultiLineString features and a route id column.
    ref_col : str
        Name of the route id column (``ref`` in ``kz-republic-roads.geojson``).

    Returns
    -------
    geopandas.GeoDataFrame
        Line features with ``ref_col`` as str and ``isSchematic`` as bool (False if absent).

    Raises
    ------
    InputFileError
        The file is missing, unreadable, has no ``ref_col`` column or no line features.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(
            f"national roads file {path} not found; pass a GeoJSON of route LineStrings with a "
            f"'{ref_col}' property (e.g. ../shared/data/kz/kz-republic-roads.geojson)"
        )
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio/fiona raise several error types for corrupt files
        raise InputFileError(
            f"cannot read national roads file {path}: {exc}"
            + (encoding_hint(exc) or ". Is it valid GeoJSON?")
        ) from exc
    # In this order, so an empty or point-only file is not reported as lacking a ref column.
    if gdf.empty:
        raise InputFileError(
            f"national roads file {path} has no features (an empty FeatureCollection); "
            + _USABLE_ROADS.replace("'ref'", repr(ref_col))
        )
    lines = gdf.geom_type.isin(["LineString", "MultiLineString"]) & ~gdf.geometry.is_empty
    if not lines.any():
        kinds = sorted(map(str, gdf.geom_type.fillna("no geometry").unique()))
        raise InputFileError(
            f"national roads file {path} has no road lines: its {len(gdf)} feature(s) are "
            f"{', '.join(kinds)}; " + _USABLE_ROADS.replace("'ref'", repr(ref_col))
        )
    if not lines.all():
        logger.warning("%s: ignoring %d non-line or empty features", path, int((~lines).sum()))
    if ref_col not in gdf.columns:
        props = sorted(map(str, gdf.columns.drop("geometry", errors="ignore")))
        raise InputFileError(
            f"national roads file {path} has no '{ref_col}' column (feature properties: "
            f"{props}); give every feature a '{ref_col}' property naming its route (e.g. "
            '"KAZ01")'
        )
    gdf = gdf[lines].copy()
    gdf = gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf.to_crs("EPSG:4326")
    gdf[ref_col] = gdf[ref_col].astype(str)
    if "isSchematic" not in gdf.columns:
        gdf["isSchematic"] = False
    gdf["isSchematic"] = gdf["isSchematic"].fillna(False).astype(bool)
    return gdf.reset_index(drop=True)
