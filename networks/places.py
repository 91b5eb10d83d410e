"""Places on a road graph: GeoNames places, official populations, points attached to roads.

The small geometry helpers the corridor builder shares (coordinate-derived node ids, a
metric CRS, splitting an edge at points, densifying) live in :mod:`networks.graph_edit`.

Population choice: GeoNames populations are of mixed vintage (Almaty 1,977,011 in
GeoNames). Where ``kz-city-population.csv`` (Bureau of National Statistics, 2026-02-01)
names the same city, its value replaces the GeoNames one and ``population_source`` says
so. Names are matched after lower-casing, stripping accents and turning ``-``/apostrophes
into spaces, plus :data:`OFFICIAL_NAME_ALIASES` for cities whose GeoNames name differs
(Petropavl, Oral). An official name matching several places is not applied (logged).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import shapely

from networks.csv_header import repeated_columns, repeated_columns_message
from networks.errors import ConfigError, InputFileError
from networks.graph_edit import (
    GEOD,
    add_connector,
    coordinate_node_ids,
    graph_metric_crs,
    next_synthetic_osmid,
    road_edge_index,
    split_edge,
    transformer,
)
from networks.validate import encoding_hint

logger = logging.getLogger(__name__)

#: Official (BNS) city name -> GeoNames name, where they differ beyond spelling.
OFFICIAL_NAME_ALIASES = {"petropavlovsk": "petropavl", "uralsk": "oral"}
_PLACE_COLUMNS = ("geonameid", "name", "latitude", "longitude", "population")


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", re.sub(r"[-'`\u2019]", " ", s.lower())).strip()


def read_places(
    path: str | Path, *, official_population_csv: str | Path | None = None
) -> pd.DataFrame:
    """Read a GeoNames places CSV, optionally with official city populations.

    Parameters
    ----------
    path : str or Path
        CSV with ``geonameid, name, latitude, longitude, population`` (``admin1code`` and
        ``alternatenames_ru_kk`` kept when present), e.g. ``kz-places-geonames.csv``.
    official_population_csv : str or Path, optional
        CSV with ``city_name`` (or ``normalized_city_name``) and ``population`` (and
        ``reference_date``), e.g. ``kz-city-population.csv``; matched values replace GeoNames'.

    Returns
    -------
    pandas.DataFrame
        ``geonameid`` (int), ``name``, ``lon``, ``lat``, ``population`` (int),
        ``population_source`` ('geonames' or 'official <date>'), ``population_geonames``,
        plus the optional GeoNames columns; sorted by population, largest first.

    Raises
    ------
    InputFileError
        A file is missing, unreadable, lacks a required column, has no rows or has invalid
        values.
    """
    df = _read_csv(path, "places")
    missing = [c for c in _PLACE_COLUMNS if c not in df.columns]
    if missing:
        raise InputFileError(
            f"places file {path} lacks column(s) {missing}; expected GeoNames columns "
            f"{list(_PLACE_COLUMNS)} (found {list(df.columns)})"
        )
    if df.empty:  # else a study fails later with "needs a network with named places"
        raise InputFileError(
            f"places file {path} has a header but no rows; add one row per place "
            f"({', '.join(_PLACE_COLUMNS)}), e.g. 1526384,Almaty,43.25,76.91,1977011 "
            "(../shared/data/kz/kz-places-geonames.csv is a complete example)"
        )
    out = pd.DataFrame(
        {
            "geonameid": pd.to_numeric(df["geonameid"], errors="coerce"),
            "name": df["name"].astype(str),
            "lon": pd.to_numeric(df["longitude"], errors="coerce"),
            "lat": pd.to_numeric(df["latitude"], errors="coerce"),
            "population": pd.to_numeric(df["population"], errors="coerce"),
        }
    )
    bad = (
        out[["geonameid", "lon", "lat", "population"]].isna().any(axis=1)
        | ~out["lon"].between(-180, 180)
        | ~out["lat"].between(-90, 90)
        | out["population"].lt(0)
    )
    if bad.any():
        idx = np.flatnonzero(bad.to_numpy())[:5]
        shown = "; ".join(
            f"line {i + 2}: "  # +2: header line, 1-based
            + ", ".join(f"{c} = {df[c].iloc[i]!r}" for c in _PLACE_COLUMNS)
            for i in idx.tolist()
        )
        raise InputFileError(
            f"places file {path}: invalid geonameid/latitude/longitude/population ({shown}); "
            "latitude must be in [-90, 90], longitude in [-180, 180], population a whole "
            "number >= 0"
        )
    out = out.astype({"geonameid": np.int64, "population": np.int64})
    for extra, col in (("admin1code", "admin1code"), ("alternatenames_ru_kk", "alternatenames")):
        if extra in df.columns:
            out[col] = df[extra].fillna("").astype(str)
    out["population_geonames"] = out["population"]
    out["population_source"] = "geonames"
    if official_population_csv is not None:
        _apply_official(out, official_population_csv)
    return out.sort_values(["population", "geonameid"], ascending=[False, True]).reset_index(
        drop=True
    )


def _read_csv(path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{what} file {path} not found")
    if repeated := repeated_columns(path):  # pandas would read a repeat as name.1, unused
        raise InputFileError(f"{what} file {path}: {repeated_columns_message(repeated)}")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputFileError(
            f"cannot read {what} file {path} as CSV: {exc}{encoding_hint(exc)}"
        ) from exc


def _apply_official(places: pd.DataFrame, csv: str | Path) -> None:
    off = _read_csv(csv, "official population")
    name_col = "normalized_city_name" if "normalized_city_name" in off.columns else "city_name"
    if name_col not in off.columns or "population" not in off.columns:
        raise InputFileError(
            f"official population file {csv} needs 'city_name' and 'population' columns "
            f"(found {list(off.columns)})"
        )
    keys = places["name"].map(_norm)
    applied = []
    for _, row in off.iterrows():
        key = _norm(row[name_col])
        key = OFFICIAL_NAME_ALIASES.get(key, key)
        hit = np.flatnonzero(keys.to_numpy() == key)
        pop = pd.to_numeric(row["population"], errors="coerce")
        if len(hit) != 1 or not pop > 0:
            logger.warning(
                "official population for %r not applied (%s)",
                row[name_col],
                "invalid population" if len(hit) == 1 else f"{len(hit)} GeoNames matches",
            )
            continue
        places.loc[hit[0], "population"] = int(pop)
        places.loc[hit[0], "population_source"] = (
            f"official {row.get('reference_date', '')}".strip()
        )
        applied.append(places.loc[hit[0], "name"])
    logger.info("official populations applied to %d places: %s", len(applied), ", ".join(applied))


def place_class(population: int) -> str:
    """OSM ``place`` value by population: city >= 100,000 > town >= 10,000 > village."""
    return "city" if population >= 100_000 else "town" if population >= 10_000 else "village"


def attach_places(
    G: nx.MultiDiGraph,
    places: pd.DataFrame,
    *,
    max_distance_km: float = 15.0,
    min_population: int = 5_000,
    on_road_m: float = 1_000.0,
    min_split_m: float = 100.0,
    connector_speed_kph: float = 50.0,
) -> tuple[nx.MultiDiGraph, list[dict]]:
    """Attach places as named nodes at the nearest road point.

    Every place with ``population >= min_population`` is projected onto the nearest road
    edge; the edge is split there (or an end node within ``min_split_m`` is reused). A place
    within ``on_road_m`` of that point names the road node itself; a farther one becomes
    its own node at its coordinates with a straight two-way connector edge (``connector``
    True, ``highway`` 'unclassified', geodesic length, ``connector_speed_kph``). Larger
    places are attached first, so they win a shared road node.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        Road graph (graph convention); not modified, a copy is returned.
    places : pandas.DataFrame
        ``name``, ``lon``, ``lat``, ``population``, ``geonameid`` (as from :func:`read_places`).
    max_distance_km : float
        Places farther from every road are not attached but reported.

    Returns
    -------
    (networkx.MultiDiGraph, list of dict)
        The graph with place nodes (``name``, ``population``, ``place``, ``geonameid``,
        ``road_node``, ``road_distance_m``) and the places beyond ``max_distance_km``
        (``geonameid``, ``name``, ``population``, ``lon``, ``lat``, ``distance_km``).
    """
    need = [c for c in ("name", "lon", "lat", "population", "geonameid") if c not in places.columns]
    if need:
        raise ConfigError(
            f"places table lacks column(s) {need}; read it with networks.places.read_places"
        )
    if max_distance_km <= 0 or on_road_m < 0 or connector_speed_kph <= 0:
        raise ConfigError("max_distance_km and connector_speed_kph must be > 0, on_road_m >= 0")
    G = G.copy()
    sel = (
        places[places["population"] >= min_population]
        .sort_values(["population", "geonameid"], ascending=[False, True])
        .reset_index(drop=True)
    )
    if sel.empty:
        return G, []
    crs = graph_metric_crs(G)
    keys, geoms, tree = road_edge_index(G, crs)
    fwd = transformer("EPSG:4326", crs)
    pts = shapely.points(
        np.column_stack(fwd.transform(sel["lon"].to_numpy(), sel["lat"].to_numpy()))
    )
    (pi, ei), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    edge_of = np.empty(len(sel), dtype=np.int64)
    edge_of[pi] = ei
    dist_m = np.empty(len(sel))
    dist_m[pi] = dist
    far_mask = dist_m > max_distance_km * 1000.0
    far = [
        {
            "geonameid": int(r.geonameid),
            "name": r.name,
            "population": int(r.population),
            "lon": float(r.lon),
            "lat": float(r.lat),
            "distance_km": round(float(dist_m[i]) / 1000.0, 2),
        }
        for i, r in enumerate(sel.itertuples())
        if far_mask[i]
    ]
    if far:
        logger.warning(
            "%d place(s) farther than %.1f km from the roads were not attached: %s",
            len(far),
            max_distance_km,
            ", ".join(f"{f['name']} ({f['distance_km']} km)" for f in far[:10]),
        )
    # Split each road edge once at all of its places' projections.
    road_node = np.zeros(len(sel), dtype=np.int64)
    near = np.flatnonzero(~far_mask)
    along = shapely.line_locate_point(geoms[edge_of[near]], pts[near])
    for e in np.unique(edge_of[near]):
        on_e = near[edge_of[near] == e]
        u, v, k = keys[e]
        road_node[on_e] = split_edge(
            G, u, v, k, along[edge_of[near] == e], crs=crs, min_split_m=min_split_m
        )
    osmid = next_synthetic_osmid(G)
    for i in near:
        r = sel.iloc[i]
        attrs = {
            "name": str(r["name"]),
            "population": int(r["population"]),
            "place": place_class(int(r["population"])),
            "geonameid": int(r["geonameid"]),
        }
        rn = int(road_node[i])
        gap = float(GEOD.inv(r["lon"], r["lat"], G.nodes[rn]["x"], G.nodes[rn]["y"])[2])
        if gap <= on_road_m and "name" not in G.nodes[rn]:
            G.nodes[rn].update(attrs, road_node=rn, road_distance_m=round(gap, 1))
            continue
        node = int(coordinate_node_ids(r["lon"], r["lat"]))
        if node in G:  # another place at the very same coordinate: keep the larger one
            logger.warning("place %s coincides with node %d; not attached", r["name"], node)
            continue
        G.add_node(
            node,
            x=float(r["lon"]),
            y=float(r["lat"]),
            street_count=0,
            **attrs,
            road_node=rn,
            road_distance_m=round(gap, 1),
        )
        add_connector(
            G,
            node,
            rn,
            speed_kph=connector_speed_kph,
            osmid=osmid,
            connector=True,
            name=f"access {r['name']}",
        )
        osmid -= 1
    logger.info(
        "attached %d of %d places (%d beyond %.1f km)",
        len(near),
        len(sel),
        len(far),
        max_distance_km,
    )
    return G, far
