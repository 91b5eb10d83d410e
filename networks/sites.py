"""Candidate charger sites and existing stations, from OSM tags and from configuration.

A *candidate* is a place where a new charger could be built (fuel stations, car parks,
hotels, malls and supermarkets, existing ``amenity=charging_station`` by default). An
*existing* station stays open in every scenario: it comes from the config (by OSM id or
lat/lon) and from OSM ``amenity=charging_station``. Every site is snapped to the road
network; sites farther than the snap limit are reported, never silently snapped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from networks.errors import ConfigError, UnknownOSMObjectError
from networks.road_network import RoadNetwork
from networks.validate import validate_snap_distance

logger = logging.getLogger(__name__)

#: Default OSM tags (``key=value``; ``key=*`` for any value) that make a candidate site.
DEFAULT_CANDIDATE_TAGS: tuple[str, ...] = (
    "amenity=fuel",
    "amenity=parking",
    "tourism=hotel",
    "tourism=motel",
    "shop=mall",
    "shop=supermarket",
    "amenity=charging_station",
)

SITE_COLUMNS = [
    "site_id",
    "osm_type",
    "osm_id",
    "name",
    "kind",
    "tags",
    "lon",
    "lat",
    "node",
    "snap_m",
    "existing",
]


@dataclass(frozen=True)
class StationSpec:
    """An existing station named in a config: by OSM id, or by coordinates."""

    name: str
    osm_id: int | None = None
    osm_type: str | None = None  # 'node' / 'way' / None (either)
    lon: float | None = None
    lat: float | None = None
    plugs: int = 2
    power_kw: float = 50.0

    def __post_init__(self) -> None:
        if self.osm_id is None and (self.lon is None or self.lat is None):
            raise ConfigError(f"existing station {self.name!r}: give osm_id or both lon and lat")
        if self.plugs < 1:
            raise ConfigError(
                f"existing station {self.name!r}: plugs must be >= 1, got {self.plugs}"
            )
        if not self.power_kw > 0:
            raise ConfigError(
                f"existing station {self.name!r}: power_kw must be > 0, got {self.power_kw}"
            )


def parse_tag_rules(rules: Sequence[str]) -> list[tuple[str, str]]:
    """Parse ``key=value`` rules; raises :class:`ConfigError` for malformed ones."""
    parsed = []
    for rule in rules:
        key, sep, value = str(rule).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(
                f"candidate tag rule {rule!r} must look like 'amenity=fuel' or 'shop=*'"
            )
        parsed.append((key.strip(), value.strip()))
    return parsed


def _match_kind(tags: dict, rules: list[tuple[str, str]]) -> str | None:
    for key, value in rules:
        if key in tags and (value == "*" or tags[key] == value):
            return f"{key}={tags[key]}"
    return None


def candidate_sites(
    network: RoadNetwork,
    pois: pd.DataFrame,
    *,
    tags: Sequence[str] = DEFAULT_CANDIDATE_TAGS,
    max_snap_m: float = 300.0,
) -> gpd.GeoDataFrame:
    """Candidate sites from POIs matching ``tags``, snapped to ``network``.

    Parameters
    ----------
    network : RoadNetwork
        The network to snap to.
    pois : pandas.DataFrame
        POIs as produced by :func:`networks.osm_read.read_osm` (``osm_type``, ``osm_id``,
        ``lon``, ``lat``, ``name``, ``tags``).
    tags : sequence of str
        ``key=value`` rules; the first matching rule gives the site's ``kind``.
    max_snap_m : float
        Sites farther from the network (metres) are dropped and counted in
        ``gdf.attrs["dropped"]``; ``inf`` keeps every site.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`SITE_COLUMNS`, WGS84 points.
    """
    max_snap_m = validate_snap_distance(max_snap_m, what="max_snap_m")
    rules = parse_tag_rules(tags)
    if pois.empty:
        return _empty_sites()
    kinds = pois["tags"].map(lambda t: _match_kind(t, rules))
    sel = pois.loc[kinds.notna()].copy()
    sel["kind"] = kinds[kinds.notna()]
    gdf = _snap_frame(network, sel, max_snap_m=max_snap_m, what="candidate site")
    gdf["existing"] = gdf["kind"].eq("amenity=charging_station")
    logger.info(
        "%d candidate sites (%d beyond %.0f m of the network dropped)",
        len(gdf),
        gdf.attrs.get("dropped", 0),
        max_snap_m,
    )
    return gdf


def existing_stations(
    network: RoadNetwork,
    pois: pd.DataFrame,
    specs: Sequence[StationSpec] = (),
    *,
    include_osm: bool = True,
    max_snap_m: float = 300.0,
    source: str = "",
) -> gpd.GeoDataFrame:
    """Existing stations from config specs and (optionally) OSM ``amenity=charging_station``.

    Raises
    ------
    ConfigError
        When ``max_snap_m`` is negative, NaN or not a number.
    UnknownOSMObjectError
        When a spec's OSM id is not among the POIs of ``source``.
    SnapDistanceError
        When a configured station lies farther than ``max_snap_m`` from the network.
    """
    max_snap_m = validate_snap_distance(max_snap_m, what="max_snap_m")
    rows = []
    for spec in specs:
        if spec.osm_id is not None:
            hit = pois[pois["osm_id"] == spec.osm_id] if not pois.empty else pois
            if spec.osm_type and not hit.empty:
                hit = hit[hit["osm_type"] == spec.osm_type]
            if hit.empty:
                raise UnknownOSMObjectError(
                    f"existing station {spec.name!r}: OSM {spec.osm_type or 'object'} {spec.osm_id} is not in "
                    f"{source or 'the OSM data'} (or has no amenity/tourism/shop/leisure/office tag); check the "
                    "id or give lon/lat instead"
                )
            row = hit.iloc[0]
            rows.append(
                {
                    "osm_type": row["osm_type"],
                    "osm_id": int(row["osm_id"]),
                    "name": spec.name,
                    "kind": "config",
                    "tags": row["tags"],
                    "lon": row["lon"],
                    "lat": row["lat"],
                    "plugs": spec.plugs,
                    "power_kw": spec.power_kw,
                }
            )
        else:
            rows.append(
                {
                    "osm_type": None,
                    "osm_id": None,
                    "name": spec.name,
                    "kind": "config",
                    "tags": {},
                    "lon": spec.lon,
                    "lat": spec.lat,
                    "plugs": spec.plugs,
                    "power_kw": spec.power_kw,
                }
            )
    configured = pd.DataFrame(rows)
    labels = configured["name"].tolist() if rows else []
    if rows:
        network.snap_strict(
            configured["lon"], configured["lat"], max_distance_m=max_snap_m, labels=labels
        )
    parts = [configured]
    if include_osm and not pois.empty:
        osm = pois[pois["tags"].map(lambda t: t.get("amenity") == "charging_station")].copy()
        known = set(configured["osm_id"].dropna().astype(int)) if rows else set()
        osm = osm[~osm["osm_id"].isin(known)]
        osm["kind"] = "amenity=charging_station"
        osm["plugs"] = osm["tags"].map(_capacity)
        osm["power_kw"] = np.nan
        parts.append(osm)
    frame = (
        pd.concat([p for p in parts if not p.empty], ignore_index=True)
        if any(not p.empty for p in parts)
        else pd.DataFrame(columns=["osm_type", "osm_id", "name", "kind", "tags", "lon", "lat"])
    )
    gdf = _snap_frame(network, frame, max_snap_m=max_snap_m, what="existing station")
    gdf["existing"] = True
    return gdf


def _capacity(tags: dict) -> int:
    try:
        return max(1, int(tags.get("capacity", 2)))
    except (TypeError, ValueError):
        return 2


def _snap_frame(
    network: RoadNetwork, frame: pd.DataFrame, *, max_snap_m: float, what: str
) -> gpd.GeoDataFrame:
    if frame.empty:
        return _empty_sites()
    frame = frame.reset_index(drop=True)
    snap = network.snap(
        frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), max_distance_m=max_snap_m
    )
    frame["node"] = snap.node
    frame["snap_m"] = np.round(snap.distance_m, 1)
    dropped = int((~snap.within).sum())
    if dropped:
        far = frame.loc[~snap.within, "name"].fillna("").head(5).tolist()
        logger.warning(
            "%d %s(s) farther than %.0f m from the network were dropped (e.g. %s)",
            dropped,
            what,
            max_snap_m,
            far,
        )
    frame = frame.loc[snap.within].reset_index(drop=True)
    frame["site_id"] = [
        f"{t}/{int(i)}" if t is not None and pd.notna(i) else f"xy/{k}"
        for k, (t, i) in enumerate(zip(frame["osm_type"], frame["osm_id"], strict=True))
    ]
    frame["tags"] = frame["tags"].map(lambda t: json.dumps(t, ensure_ascii=False, sort_keys=True))
    frame["name"] = frame["name"].fillna("")
    gdf = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
    )
    extra = [c for c in gdf.columns if c not in SITE_COLUMNS and c != "geometry"]
    gdf = gdf[[c for c in SITE_COLUMNS if c in gdf.columns] + extra + ["geometry"]]
    gdf.attrs["dropped"] = dropped
    return gdf


def _empty_sites() -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame({c: [] for c in SITE_COLUMNS}, geometry=[], crs="EPSG:4326")
    gdf.attrs["dropped"] = 0
    return gdf


def parse_station_spec(text: str, *, what: str = "station") -> StationSpec:
    """``NAME=OSM_ID`` (optionally ``NAME=way/ID`` or ``NAME=node/ID``) or
    ``NAME=LON,LAT`` -> :class:`StationSpec`; a clear :class:`ConfigError` otherwise."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ConfigError(f"{what} {text!r}: expected NAME=OSM_ID or NAME=LON,LAT")
    if "," in value:
        try:
            lon, lat = (float(v) for v in value.split(","))
        except ValueError:
            raise ConfigError(f"{what} {text!r}: LON,LAT must be two numbers") from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ConfigError(
                f"{what} {text!r}: longitude must be within [-180, 180] and latitude within "
                "[-90, 90] degrees"
            )
        return StationSpec(name=name, lon=lon, lat=lat)
    kind, _, ident = value.rpartition("/")
    try:
        return StationSpec(name=name, osm_id=int(ident), osm_type=kind or None)
    except ValueError:
        raise ConfigError(
            f"{what} {text!r}: OSM id must be an integer (optionally way/ID or node/ID)"
        ) from None
