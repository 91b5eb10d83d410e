"""The data the report's map draws: road lines simplified and quantised to 1e-5 degrees
(about 1 m, to keep national networks at a few megabytes) and point layers with the
properties shown in tooltips."""

from __future__ import annotations

import logging
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.report.export import as_wgs84, json_safe
from planner.study.result import StudyResult

logger = logging.getLogger(__name__)

__all__ = ["ATTRIBUTION", "map_payload", "road_lines"]

ATTRIBUTION = "© OpenStreetMap contributors"
MAX_POINTS = 20_000  # per map layer; beyond this the heaviest demand points are kept
_Q = 1e-5  # coordinate quantum of the map data: 5 decimals of a degree, about 1 m
# Station columns shown in tooltips; both the contract's and the pipeline's names are accepted.
_STATION_PROPS = (
    "site_id",
    "station_id",
    "plugs",
    "power_kw",
    "utilisation",
    "mean_wait_min",
    "wait_mean_min",
    "wait_p95_min",
    "sessions",
    "sessions_per_day",
    "opened_round",
    "opening_year",
    "connectors",
    "capex",
    "renewable",
    "approximate",
    "plant",
    "renewable_share",
    "co2_kg",
    "grid_kw",
    "upgrade_kw",
    "managed",
)
#: Tooltip properties that are 0-1 shares (shown in percent by the map script)
_SHARE_PROPS = ("utilisation", "renewable_share")
#: Most place names drawn on the map (the largest by demand).
MAX_PLACES = 60
_CANDIDATE_PROPS = (
    "site_id",
    "kind",
    "cost",
    "site_cost",
    "renewable",
    "approximate",
    "plant",
    "grid_kw",
)
_DEMAND_PROPS = ("kind", "weight")
_MAJOR = {"motorway", "trunk", "primary"}
_MID = {"secondary", "tertiary"}


# --------------------------------------------------------------------------- map data


def _road_class(highway: Any) -> str:
    if isinstance(highway, str):
        highway = highway.split(";")  # merged ways: "primary;secondary"
    values = highway if isinstance(highway, (list, tuple)) else [highway]
    kinds = {str(v).removesuffix("_link") for v in values}
    if kinds & _MAJOR:
        return "major"
    if kinds & _MID:
        return "mid"
    return "minor"


def road_lines(roads: gpd.GeoDataFrame | None) -> dict[str, list[np.ndarray]]:
    """Road network as merged, simplified lon/lat polylines per drawing class.

    Classes are 'major'/'mid'/'minor' from ``highway`` when present, else 'major' for
    roads with a ``ref`` (national corridors) and 'road' for the rest. Segments are merged
    into chains and simplified with a tolerance of 1/4000 of the network's extent: enough
    for a screen, and a national network shrinks by an order of magnitude.
    """
    g = as_wgs84(roads)
    g = g[
        g.geometry.notna()
        & ~g.geometry.is_empty
        & g.geom_type.isin(["LineString", "MultiLineString"])
    ]
    if g.empty:
        return {}
    if "highway" in g.columns and g["highway"].notna().any():
        cls = g["highway"].map(_road_class)
    elif "ref" in g.columns and g["ref"].notna().any():
        cls = np.where(g["ref"].notna() & (g["ref"].astype(str) != ""), "major", "road")
    else:
        cls = np.full(len(g), "road")
    x0, y0, x1, y1 = g.total_bounds
    tol = max(math.hypot(x1 - x0, y1 - y0) / 4000.0, _Q)
    out: dict[str, list[np.ndarray]] = {}
    for name in ("minor", "road", "mid", "major"):  # drawing order: small roads underneath
        geoms = g.geometry.to_numpy()[np.asarray(cls) == name]
        if not len(geoms):
            continue
        # Edges share exact node coordinates, so chains merge without a (slow) noding union.
        merged = shapely.line_merge(shapely.multilinestrings(shapely.get_parts(geoms)))
        parts = shapely.get_parts(shapely.simplify(merged, tol, preserve_topology=False))
        out[name] = _chain([shapely.get_coordinates(p) for p in parts if not p.is_empty])
    return out


def _chain(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Join polylines end to end through intersections (greedy walk, reversing as needed).

    ``line_merge`` stops at every crossing, so a street grid stays one polyline per block;
    walking on through the junction turns it into a few long strokes, and each stroke costs
    its absolute start point once in the JSON instead of once per block.
    """
    key = [
        (tuple(np.round(p[0] / _Q).astype(np.int64)), tuple(np.round(p[-1] / _Q).astype(np.int64)))
        for p in parts
    ]
    at: dict[tuple, list[int]] = {}
    for i, (a, b) in enumerate(key):
        at.setdefault(a, []).append(i)
        at.setdefault(b, []).append(i)
    used = np.zeros(len(parts), bool)
    # Start strokes at dead ends and odd junctions first, so fewer strokes are needed.
    order = sorted(
        range(len(parts)), key=lambda i: -(len(at[key[i][0]]) % 2 + len(at[key[i][1]]) % 2)
    )
    out = []
    for start in order:
        if used[start]:
            continue
        used[start] = True
        a, b = key[start]
        if len(at[a]) % 2 == 0 and len(at[b]) % 2 == 1:  # begin from the odd end
            seq, end = [parts[start][::-1]], a
        else:
            seq, end = [parts[start]], b
        while True:
            nxt = next((j for j in at[end] if not used[j]), None)
            if nxt is None:
                break
            used[nxt] = True
            forward = key[nxt][0] == end
            seq.append(parts[nxt][1:] if forward else parts[nxt][::-1][1:])
            end = key[nxt][1] if forward else key[nxt][0]
        out.append(np.concatenate(seq))
    return out


def _encode(xy: np.ndarray) -> list[int]:
    """Quantise lon/lat to 1e-5 degrees and delta-encode: short integers in the JSON."""
    q = np.round(np.asarray(xy, dtype=float)[:, :2] / _Q).astype(np.int64)
    keep = np.ones(len(q), bool)
    keep[1:] = np.any(q[1:] != q[:-1], axis=1)  # drop points that collapse onto the previous one
    q = q[keep]
    d = q.copy()
    d[1:] -= q[:-1]
    return d.ravel().tolist()


def _props(row: pd.Series, keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = next(
        (
            row[c]
            for c in ("name", "name_en", "name_ru", "name_kz", "site_id", "station_id")
            if c in row.index and isinstance(row[c], str) and row[c]
        ),
        None,
    )
    if name:
        out["name"] = name
    for k in keys:
        if k in row.index:
            v = json_safe(row[k])
            # shares keep 6 decimals: rounded to 3, a station busy 99.96 % of the time
            # read "100.0 %" in the tooltip, where the stations table reads "> 99.9 %"
            out[k] = round(v, 6 if k in _SHARE_PROPS else 3) if isinstance(v, float) else v
    return out


def _features(
    gdf: gpd.GeoDataFrame | None, keys: tuple[str, ...], *, sizes: bool = False
) -> tuple[list, int]:
    g = as_wgs84(gdf)
    g = g[g.geometry.notna() & ~g.geometry.is_empty].reset_index(drop=True)
    total = len(g)
    weight = (
        pd.to_numeric(g["weight"], errors="coerce").fillna(0.0) if "weight" in g.columns else None
    )
    if total > MAX_POINTS:
        g = g.loc[weight.nlargest(MAX_POINTS).index] if weight is not None else g.iloc[:MAX_POINTS]
    wmax = float(weight.max()) if weight is not None and len(weight) and weight.max() > 0 else 0.0
    feats = []
    for idx, row in g.iterrows():
        props = _props(row, keys)
        for part in shapely.get_parts(row.geometry):
            t = part.geom_type
            if t == "Point":
                f: dict[str, Any] = {"t": "P", "c": _encode(np.array([[part.x, part.y]]))}
            elif t == "LineString":
                f = {"t": "L", "c": [_encode(shapely.get_coordinates(part))]}
            elif t == "Polygon":
                rings = [part.exterior, *part.interiors]
                f = {"t": "A", "c": [_encode(shapely.get_coordinates(r)) for r in rings]}
            else:
                continue
            if sizes and t == "Point":
                w = float(weight.loc[idx]) if weight is not None else 0.0
                f["r"] = round(2.5 + 7.5 * math.sqrt(max(w, 0.0) / wmax), 1) if wmax else 3
            f["p"] = props
            feats.append(f)
    return feats, total


def map_payload(
    result: StudyResult, lines: dict[str, list[np.ndarray]] | None = None
) -> dict[str, Any]:
    """The JSON the report's map script draws (see ``report_assets/map.js``)."""
    lines = road_lines(result.roads) if lines is None else lines
    layers, totals = {}, {}
    for name, keys, sizes in (
        ("demand", _DEMAND_PROPS, True),
        ("candidates", _CANDIDATE_PROPS, False),
        ("existing", _STATION_PROPS, False),
        ("selected", _STATION_PROPS, False),
    ):
        layers[name], totals[name] = _features(getattr(result, name), keys, sizes=sizes)
    bounds = [
        as_wgs84(getattr(result, k)).total_bounds
        for k in ("roads", "demand", "existing", "selected", "candidates")
    ]
    bounds = [b for b in bounds if np.all(np.isfinite(b))]
    bbox = (
        [
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        ]
        if bounds
        else [76.8, 43.2, 77.0, 43.3]
    )
    return {
        "places": _places(result.demand),
        "bbox": [round(float(v), 5) for v in bbox],
        "roads": [
            {"cls": cls, "lines": [_encode(xy) for xy in parts if len(xy) >= 2]}
            for cls, parts in lines.items()
        ],
        "layers": layers,
        "totals": totals,
    }


def _places(demand: gpd.GeoDataFrame | None) -> list[dict[str, Any]]:
    """Named demand points (corridor towns), the largest first, as map labels."""
    g = as_wgs84(demand)
    if g.empty or "name" not in g.columns:
        return []
    g = g[g["name"].astype(str).str.len() > 0]
    if "weight" in g.columns:
        g = g.sort_values("weight", ascending=False, kind="stable")
    return [
        {
            "n": str(r["name"]),
            "x": round(float(r.geometry.x), 5),
            "y": round(float(r.geometry.y), 5),
        }
        for _, r in g.head(MAX_PLACES).iterrows()
    ]
