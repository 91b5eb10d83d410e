"""Zones (district polygons) to network nodes, and zone populations from official tables."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from networks.csv_header import repeated_columns, repeated_columns_message
from networks.road_network import RoadNetwork
from networks.validate import lonlat_hint
from sim._checks import require_network
from sim._errors import DemandError, UnknownZoneError

logger = logging.getLogger(__name__)

# Latin letters that GIS exports use in place of Kazakh Cyrillic ones (e.g. "Əуезов").
_CONFUSABLE = str.maketrans({"ə": "ә", "Ə": "Ә"})
#: Zone properties tried, in order, to name a zone in messages and population joins.
NAME_FIELDS = ("name_ru", "name_kz", "name", "name_object")
#: Most residents one zone (district) may have. No city on Earth has 50 million: the largest
#: urban agglomerations have about 37 to 42 million (Tokyo 37.4 million in 2018, UN DESA
#: World Urbanization Prospects 2018; Jakarta about 42 million in its 2025 revision), and a
#: district is a part of one. A larger figure is a typo or a unit error (``1e15``), and the
#: fleet drawn from it would not fit in memory (1e15 residents asked numpy for 26 TiB).
MAX_ZONE_POPULATION = 50_000_000


def normalise_name(name: object) -> str:
    """Case-folded, NFKC-normalised name with Latin/Cyrillic confusables unified."""
    s = unicodedata.normalize("NFKC", str(name)).translate(_CONFUSABLE).casefold()
    return " ".join(s.split())


def zone_ids(zones: gpd.GeoDataFrame, zone_col: str | None) -> pd.Index:
    """The zone identifiers: column ``zone_col`` or the index."""
    if zone_col is None:
        return pd.Index(zones.index)
    if zone_col not in zones.columns:
        raise DemandError(
            f"zones have no column {zone_col!r} to identify them; columns: {list(zones.columns)}"
        )
    ids = pd.Index(zones[zone_col])
    if not ids.is_unique:
        src = zones.attrs.get("source")
        keys = pd.Series(ids)
        repeated = keys[keys.duplicated(keep=False)]
        groups = [
            _features(zones, rows.tolist(), zone_col)
            for rows in repeated.groupby(repeated, sort=False).groups.values()
        ]
        raise DemandError(
            (f"{src}: " if src else "")
            + f"zone ids in column {zone_col!r} are not unique: {'; '.join(groups[:5])}. "
            "Give each zone its own name, or delete a repeated feature"
        )
    return ids


def check_zone_geometries(
    zones: gpd.GeoDataFrame, *, source: str | Path = "zones", zone_col: str | None = None
) -> None:
    """Raise :class:`~sim._errors.DemandError` naming every feature without a usable polygon.

    A GeoJSON feature with ``"geometry": null`` (or an empty geometry) is read without
    complaint by geopandas but has no point to place trips at; the message names the file
    (``source``), the feature's position in it (0-based, as in the file's ``features``
    list) and its name (``zone_col`` or the first of :data:`NAME_FIELDS` it carries).
    """
    geom = zones.geometry
    bad = np.flatnonzero((geom.isna() | geom.is_empty).to_numpy())
    if not bad.size:
        return
    label = zone_col if zone_col in zones.columns else None
    label = label or next((f for f in NAME_FIELDS if f in zones.columns), None)
    feats = [
        f"feature {i}" + (f" ({label} {zones[label].iloc[i]!r})" if label else "")
        for i in bad[:10].tolist()
    ]
    raise DemandError(
        f"{source}: {bad.size} zone(s) have no geometry (null or empty): {', '.join(feats)}; "
        "give each feature a polygon or delete it from the file"
    )


def _label_field(zones: gpd.GeoDataFrame, zone_col: str | None) -> str | None:
    """The field that names a zone in messages: ``zone_col`` or the first of
    :data:`NAME_FIELDS` the zones carry (None: they have none)."""
    if zone_col is not None and zone_col in zones.columns:
        return zone_col
    return next((f for f in NAME_FIELDS if f in zones.columns), None)


def _features(zones: gpd.GeoDataFrame, positions: Sequence[int], label: str | None) -> str:
    """``features 0 and 8 (name_ru 'A', 'A')``: positions as in the file's feature list."""
    pos = [int(i) for i in positions]
    nums = str(pos[0]) if len(pos) == 1 else ", ".join(map(str, pos[:-1])) + f" and {pos[-1]}"
    text = f"feature{'s' if len(pos) > 1 else ''} {nums}"
    if label is not None:
        text += f" ({label} " + ", ".join(repr(zones[label].iloc[i]) for i in pos) + ")"
    return text


def check_repeated_features(
    zones: gpd.GeoDataFrame, *, source: str | Path = "zones", zone_col: str | None = None
) -> None:
    """Raise :class:`~sim._errors.DemandError` when a polygon appears in more than one
    feature (a district pasted twice into the file).

    Its residents would be counted twice, or, with a population table, two zones would
    match one row. The message names the file (``source``), the name field (``zone_col``,
    else the first of :data:`NAME_FIELDS` the zones carry), the names and the features'
    positions (0-based, as in the file's ``features`` list). Run after
    :func:`check_zone_geometries` (a missing geometry is reported there).
    """
    geom = shapely.normalize(np.asarray(zones.geometry.values))
    keys = pd.Series(shapely.to_wkb(geom))
    repeated = keys[keys.duplicated(keep=False)]
    if repeated.empty:
        return
    label = _label_field(zones, zone_col)
    groups = [
        _features(zones, rows.tolist(), label)
        for rows in repeated.groupby(repeated, sort=False).groups.values()
    ]
    raise DemandError(
        f"{source}: the same polygon is given more than once: {'; '.join(groups[:10])}. "
        "Keep one feature per zone: delete the repeated feature(s)"
    )


def zone_nodes(
    network: RoadNetwork,
    zones: gpd.GeoDataFrame,
    *,
    zone_col: str | None = None,
    max_fallback_m: float = 5000.0,
) -> dict[object, np.ndarray]:
    """Network nodes inside each zone polygon.

    A zone containing no node (small polygon, clipped network) gets the node nearest to its
    representative point if that is within ``max_fallback_m``; otherwise
    :class:`~sim._errors.DemandError` names the zone (and the zones' file, when
    ``zones.attrs["source"]`` holds it, as the study layer sets). So does a zone without
    geometry (:func:`check_zone_geometries`).
    """
    require_network(network)
    if zones.crs is None:
        raise DemandError("zones have no CRS; set one (district GeoJSON is EPSG:4326)")
    ids = zone_ids(zones, zone_col)
    check_zone_geometries(zones, zone_col=zone_col)
    z = zones.to_crs("EPSG:4326").reset_index(drop=True)
    x0, y0, x1, y1 = z.total_bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        # metres read as degrees (a GeoJSON in EPSG:3857: the format has no CRS member, so
        # it is read as lon/lat); snapping ended "point(s) are not WGS84", naming no file
        src = zones.attrs.get("source")
        raise DemandError(
            (f"{src}: " if src else "")
            + "the zones' "
            + lonlat_hint(z.total_bounds, network.bbox).removeprefix("its ")
        )
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(network.lon, network.lat), crs="EPSG:4326")
    hit = gpd.sjoin(pts, z[["geometry"]], predicate="within", how="inner")
    hit = hit[~hit.index.duplicated(keep="first")]  # a node on a shared border belongs to one zone
    by_zone = hit.groupby("index_right").groups
    out: dict[object, np.ndarray] = {}
    for i, zid in enumerate(ids):
        nodes = np.sort(np.asarray(by_zone.get(i, []), dtype=np.int64))
        if nodes.size == 0:
            rp = z.geometry.iloc[i].representative_point()
            snap = network.snap(rp.x, rp.y, max_distance_m=max_fallback_m)
            if not snap.within[0]:
                src = zones.attrs.get("source")
                # zones in metres (EPSG:3857 read as degrees) or as (lat, lon) were reported
                # as "nearest node is 14034191 m away" with no word on the likely cause
                hint = lonlat_hint(
                    z.total_bounds, network.bbox, distance_m=float(snap.distance_m[0])
                )
                raise DemandError(
                    (f"{src}: " if src else "")
                    + f"zone {zid!r} contains no node of road network {network.name!r} and its nearest "
                    f"node is {snap.distance_m[0]:.0f} m away; "
                    + (
                        f"check the zones file: {hint}"
                        if hint
                        else "the network does not cover this zone"
                    )
                )
            logger.warning(
                "zone %r contains no network node; using the nearest node (%.0f m)",
                zid,
                snap.distance_m[0],
            )
            nodes = snap.node
        out[zid] = nodes
    return out


def join_population(
    zones: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    zone_name_fields: Sequence[str] = NAME_FIELDS,
    table_name_col: str = "district_name",
    tokens_col: str | None = "osm_match_tokens",
    population_col: str = "official_population",
    out_col: str = "population",
    source: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Attach ``table[population_col]`` to zones by matching names.

    A zone matches a table row when any of its ``zone_name_fields`` equals the row's
    ``table_name_col`` or one of its ``|``-separated ``tokens_col`` entries, after
    :func:`normalise_name` (so ``"Əуезов ауданы"`` with a Latin schwa matches ``"Әуезов ауданы"``).

    ``source`` (the table's file) only labels error messages; row numbers in them count
    the header as row 1, as a spreadsheet shows a CSV read with :func:`pandas.read_csv`.

    Raises
    ------
    UnknownZoneError
        A zone matches no row, or a row matches several zones.
    DemandError
        A column is missing, a name appears in more than one row, or a matched row's
        population is missing, not a number or negative.
    """
    where = "population table" if source is None else f"population table {source}"
    fields = [f for f in zone_name_fields if f in zones.columns]
    if not fields:
        raise DemandError(
            f"zones have none of the name fields {list(zone_name_fields)}; columns: {list(zones.columns)}"
        )
    check_population_table(
        table, table_name_col=table_name_col, population_col=population_col, source=source
    )
    lookup: dict[str, int] = {}
    for r, row in enumerate(table.itertuples(index=False)):
        names = [getattr(row, table_name_col)]
        if tokens_col and tokens_col in table.columns and isinstance(getattr(row, tokens_col), str):
            names += getattr(row, tokens_col).split("|")
        for n in names:
            lookup.setdefault(normalise_name(n), r)
    rows: list[int | None] = []
    unmatched: list[str] = []
    for _, z in zones.iterrows():
        match = next(
            (lookup[normalise_name(z[f])] for f in fields if normalise_name(z[f]) in lookup), None
        )
        rows.append(match)
        if match is None:
            unmatched.append(" / ".join(str(z[f]) for f in fields))
    if unmatched:
        raise UnknownZoneError(
            f"{len(unmatched)} zone(s) have no population row: {unmatched[:5]}; {where} names: "
            f"{table[table_name_col].tolist()}. Add a matching name or token ({tokens_col!r}) to the table."
        )
    if len(set(rows)) != len(rows):
        # name the zones (file, name field, feature positions) and the row: "row(s) ['Medeu']
        # match more than one zone" said neither which file nor which features
        src = zones.attrs.get("source", "zones")
        names = table[table_name_col].to_numpy()
        shown = [
            f"{_features(zones, [i for i, x in enumerate(rows) if x == r], fields[0])} "
            f"match row {r + 2} ({table_name_col} {names[r]!r})"
            for r in dict.fromkeys(x for x in rows if x is not None and rows.count(x) > 1)
        ]
        raise UnknownZoneError(
            f"{src}: zones must each match their own row of the {where}, but "
            f"{'; '.join(shown[:5])} (header = row 1). Delete a repeated feature from the "
            "zones, or give the zones distinct names (and each its own row)"
        )
    out = zones.copy()
    idx = np.asarray(rows, dtype=np.int64)
    pop = pd.to_numeric(table[population_col], errors="coerce").to_numpy(dtype=float)[idx]
    bad = idx[np.isnan(pop) | (pop < 0)]
    if bad.size:
        raw = table[population_col].to_numpy()
        names = table[table_name_col].to_numpy()
        shown = [
            f"row {r + 2} ({table_name_col} {names[r]!r}) = {shown_cell(raw[r])}"
            for r in np.unique(bad)[:10].tolist()
        ]
        raise DemandError(
            f"{where}: column {population_col!r} must hold a number >= 0 for every matched zone; "
            f"bad value(s): {'; '.join(shown)} (header = row 1). Fix the population in these rows"
        )
    out[out_col] = pop
    return out


def read_population_table(
    path: str | Path, *, field: str = "demand.zone_population"
) -> pd.DataFrame:
    """A population table (CSV) as read for :func:`join_population`; a
    :class:`~sim._errors.DemandError` naming ``field`` and the file when it cannot be read
    or its header repeats a column name (pandas would read the repeat as ``name.1``)."""
    if repeated := repeated_columns(path):
        raise DemandError(f"{field}: population table {path}: {repeated_columns_message(repeated)}")
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:  # missing file, bad CSV, undecodable bytes
        raise DemandError(
            f"{field}: cannot read {path} as CSV ({type(exc).__name__}: {exc}); check the "
            "path and the file (UTF-8 text)"
        ) from exc


def check_population_table(
    table: pd.DataFrame,
    *,
    table_name_col: str = "district_name",
    population_col: str = "official_population",
    source: str | Path | None = None,
) -> None:
    """The checks of a population table that need no zones (``evplan validate`` runs them
    on ``demand.zone_population``; :func:`join_population` runs them first): both columns
    present, each name once, no population above :data:`MAX_ZONE_POPULATION` in any row, and
    not every population 0 (a total of zero).

    Cells that are blank or not numbers are refused by :func:`join_population` in the rows
    that match a zone (other rows are not read).

    Raises
    ------
    DemandError
        Naming the file (``source``), the rows (header = row 1), the names and the values.
    """
    where = "population table" if source is None else f"population table {source}"
    for col in (table_name_col, population_col):
        if col not in table.columns:
            raise DemandError(
                f"{where} has no column {col!r}; its columns are {list(table.columns)}. "
                f"Add the column (or rename the one that holds it to {col!r})"
            )
    _check_repeated_names(table, table_name_col, where)
    pop = pd.to_numeric(table[population_col], errors="coerce").to_numpy(dtype=float)
    numbers = pop[~np.isnan(pop)]
    # every figure 0: whichever rows the zones match, the city has no residents and no
    # fleet (city_trips said "bad zones []", naming no file). Blank, text and negative
    # cells are named by join_population in the rows it reads, so only all-zero is refused
    if numbers.size and (numbers == 0).all():
        raise DemandError(
            f"{where}: column {population_col!r} is 0 in every row, so the zones' population "
            "total is zero and no EV has a home zone. Give each zone its number of residents"
        )
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero(pop > MAX_ZONE_POPULATION)  # NaN (blank, text) is not compared
    if big.size:
        raw = table[population_col].to_numpy()
        names = table[table_name_col].to_numpy()
        shown = [
            f"row {r + 2} ({table_name_col} {names[r]!r}) = "
            + (f"{raw[r]:,.0f}" if isinstance(raw[r], int | float) else shown_cell(raw[r]))
            for r in big[:10].tolist()
        ]
        raise DemandError(
            f"{where}: column {population_col!r} holds a population above "
            f"{MAX_ZONE_POPULATION:,} (more than any city on Earth) in {'; '.join(shown)} "
            "(header = row 1). Give the zone's residents: is the figure a typo or in the wrong "
            "unit?"
        )


def _check_repeated_names(table: pd.DataFrame, name_col: str, where: str) -> None:
    """Raise :class:`~sim._errors.DemandError` naming every ``name_col`` value (after
    :func:`normalise_name`) that appears in more than one row.

    Without this the first row wins and the others are silently ignored, so a district
    pasted twice with different figures would keep whichever came first.
    """
    keys = pd.Series(table[name_col].map(normalise_name).to_numpy())  # positional index
    # blank names (empty spreadsheet lines) match no zone: not repeats of each other
    blank = table[name_col].isna().to_numpy() | (keys.str.len() == 0).to_numpy()
    keys = keys[~blank]
    repeated = keys[keys.duplicated(keep=False)]
    if repeated.empty:
        return
    raw = table[name_col].to_numpy()
    shown = []
    for _, rows in repeated.groupby(repeated, sort=False).groups.items():
        pos = [int(i) + 2 for i in rows]  # +2: header is row 1
        nums = ", ".join(map(str, pos[:-1])) + f" and {pos[-1]}"
        shown.append(f"{raw[pos[0] - 2]!r} in rows {nums}")
    raise DemandError(
        f"{where}: {name_col} must name each zone once, but {'; '.join(shown[:10])} "
        "(header = row 1). Keep one row per zone: delete the repeats or merge their populations"
    )


def shown_cell(value: object) -> str:
    """A table cell for a message: blank cells as 'blank', text quoted, numbers as read
    (population tables here, OD tables in :mod:`sim.demand.od_table`)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "blank"
    return repr(value) if isinstance(value, str) else str(value)
