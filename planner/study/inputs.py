"""Turn a validated study config into its inputs: network, existing stations, candidates.

Kept apart from :mod:`planner.study.run` (which runs the loop) so each step can be tested
and timed on its own.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from networks.errors import ConfigError
from networks.load import (
    DEFAULT_CACHE_DIR,
    LoadedNetwork,
    download_network,
    file_sha256,
    load_network,
)
from networks.road_network import RoadNetwork
from networks.sites import DEFAULT_CANDIDATE_TAGS, StationSpec, candidate_sites, existing_stations
from planner.config.inputs import CorridorSource
from planner.config.study import StudyConfig

logger = logging.getLogger(__name__)

STATION_COLUMNS = [
    "station_id",
    "node",
    "plugs",
    "power_kw",
    "existing",
    "name",
    "lon",
    "lat",
    "connectors",
]


def connector_text(connectors: list[str] | None) -> str:
    """A connector list as the simulator's ``connectors`` text (``""`` = any connector)."""
    return ";".join(c.strip() for c in connectors) if connectors else ""


@dataclass
class StudyNetwork:
    """The network of a study and what came with it."""

    network: RoadNetwork
    graph: nx.MultiDiGraph | None
    pois: pd.DataFrame
    source_label: str
    input_files: list[Path] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def build_network(cfg: StudyConfig) -> StudyNetwork:
    """Load, download (when asked) or build the study's road network."""
    nc = cfg.network
    cache = nc.cache_dir if nc.cache_dir is not None else DEFAULT_CACHE_DIR
    if nc.source is not None:
        loaded: LoadedNetwork = load_network(
            nc.source,
            network_type=nc.network_type,
            speeds_kph=nc.speeds_kph or None,
            cache_dir=cache,
        )
        return StudyNetwork(
            loaded.network,
            loaded.graph,
            loaded.pois,
            loaded.source,
            [nc.source],
            loaded.report.as_dict(),
        )
    if nc.corridor is not None:
        from networks import corridor

        cc = nc.corridor
        G, net = corridor.build_national_network(
            cc.roads,
            cc.places,
            official_population_csv=cc.official_population,
            snap_tolerance_m=cc.snap_tolerance_m,
            place_distance_km=cc.place_distance_km,
            min_population=cc.min_population,
            speeds_kph={"default": cc.default_speed_kph, **cc.speeds_kph},
        )
        _check_places_attached(G, cc)
        if cc.max_edge_km is not None:
            from networks.corridor import metric_crs_for
            from networks.graph_edit import densify

            G, added = densify(G, max_edge_km=cc.max_edge_km, crs=metric_crs_for(net.bbox))
            net = RoadNetwork.from_graph(G, name=net.name)
            logger.info(
                "corridor densified: %d nodes added so no edge exceeds %g km", added, cc.max_edge_km
            )
        files = [p for p in (cc.roads, cc.places, cc.official_population) if p is not None]
        empty = pd.DataFrame(columns=["osm_type", "osm_id", "lon", "lat", "name", "tags"])
        return StudyNetwork(
            net,
            G,
            empty,
            f"national roads {cc.roads.name}",
            files,
            {"nodes": net.n_nodes, "edges": G.number_of_edges()},
        )
    loaded = download_network(
        place=nc.place,
        bbox=nc.bbox,
        network_type=nc.network_type,
        speeds_kph=nc.speeds_kph or None,
        cache_dir=cache,
    )
    return StudyNetwork(
        loaded.network, loaded.graph, loaded.pois, loaded.source, [], loaded.report.as_dict()
    )


def _check_places_attached(G: nx.MultiDiGraph, cc: CorridorSource) -> None:
    """Corridor and freight demand start and end at the places attached to the roads: when
    the filters left none, say which (the study failed later with "needs a network with
    named places (network.corridor)", wrong for a study that sets it)."""
    if any(d.get("place") for _, d in G.nodes(data=True)):
        return
    from networks.places import read_places

    places = read_places(cc.places, official_population_csv=cc.official_population)
    big = places[places["population"] >= cc.min_population]
    if big.empty:
        top = places.iloc[0] if len(places) else None
        largest = (
            f" (the largest, {top['name']}, has {int(top['population']):,})"
            if top is not None
            else ""
        )
        raise ConfigError(
            f"network.corridor.min_population {cc.min_population:,} leaves no place of "
            f"{cc.places}{largest}: lower it so that the trips have places to start and end"
        )
    far = G.graph.get("places_unattached") or []
    nearest = min(far, key=lambda f: f["distance_km"]) if far else None
    near = (
        f" (the nearest, {nearest['name']}, is {nearest['distance_km']:g} km away)"
        if nearest
        else ""
    )
    raise ConfigError(
        f"network.corridor.place_distance_km {cc.place_distance_km:g} leaves no place of "
        f"{cc.places} attached: all {len(big):,} with at least {cc.min_population:,} "
        f"inhabitants are farther from the roads{near}; raise it (default 15 km)"
    )


def build_existing(cfg: StudyConfig, sn: StudyNetwork) -> pd.DataFrame:
    """Existing stations as the simulation's station table (plus geometry columns)."""
    specs = [
        StationSpec(
            name=s.name,
            osm_id=s.osm_id,
            osm_type=s.osm_type,
            lon=s.lon,
            lat=s.lat,
            plugs=s.plugs,
            power_kw=s.power_kw,
        )
        for s in cfg.existing_stations
    ]
    snap_m = max(cfg.candidates.max_snap_m, 300.0)
    gdf = existing_stations(
        sn.network, sn.pois, specs, include_osm=True, max_snap_m=snap_m, source=sn.source_label
    )
    for col in ("name", "power_kw", "plugs"):  # none given and none found: empty columns
        if col not in gdf.columns:
            gdf[col] = pd.Series(dtype=object if col == "name" else float)
    gdf["power_kw"] = gdf["power_kw"].fillna(cfg.candidates.power_kw)
    gdf["plugs"] = gdf["plugs"].fillna(2).astype(int)
    default = connector_text(cfg.candidates.connectors)
    by_name = {
        s.name: connector_text(s.connectors) if s.connectors is not None else default
        for s in cfg.existing_stations
    }
    gdf["connectors"] = [by_name.get(str(n), default) for n in gdf["name"]]
    return _as_stations(named_by_kind(gdf), existing=True)


def reach_sites(existing: pd.DataFrame, candidates: pd.DataFrame) -> np.ndarray:
    """Nodes where the study could have a charger: its existing stations and candidate
    sites. A car stranded on its first leg counts against the network unless none of them
    was within its reach (:func:`sim.simulate`'s ``reach_sites``)."""
    nodes = [df["node"].to_numpy(dtype=np.int64) for df in (existing, candidates) if len(df)]
    return np.unique(np.concatenate(nodes)) if nodes else np.empty(0, dtype=np.int64)


def build_candidates(cfg: StudyConfig, sn: StudyNetwork, existing: pd.DataFrame) -> pd.DataFrame:
    """Candidate sites: OSM POIs by tag, named network places (corridors) and extra sites."""
    cc = cfg.candidates
    # renewable plants of renewables.plants become extra sites (planner/study/grid.py)
    from planner.study.grid import plant_sites, site_grid

    plants, plant_notes = plant_sites(cfg, sn.network)
    for note in plant_notes:
        logger.info("%s", note)
    extras = list(cc.extra) + plants
    parts = []
    if not sn.pois.empty:
        tags = cc.tags if cc.tags is not None else list(DEFAULT_CANDIDATE_TAGS)
        osm = candidate_sites(sn.network, sn.pois, tags=tags, max_snap_m=cc.max_snap_m)
        osm["renewable"] = False
        parts.append(osm)
    table = sn.network.node_table
    if cc.include_network_places and "name" in table.columns:
        named = table[table["name"].notna() & (table["name"].astype(str) != "")]
        if len(named):
            idx = named.index.to_numpy()
            parts.append(
                pd.DataFrame(
                    {
                        "site_id": [f"place/{sn.network.node_ids[i]}" for i in idx],
                        "name": named["name"].astype(str).to_numpy(),
                        "kind": "place",
                        "lon": sn.network.lon[idx],
                        "lat": sn.network.lat[idx],
                        "node": idx,
                        "snap_m": 0.0,
                        "renewable": False,
                    }
                )
            )
    if cc.include_road_nodes:
        named = set(table.index[table["name"].notna()]) if "name" in table.columns else set()
        idx = np.array([i for i in range(sn.network.n_nodes) if i not in named], dtype=np.int64)
        refs = _node_refs(sn)
        parts.append(
            pd.DataFrame(
                {
                    "site_id": [f"road/{sn.network.node_ids[i]}" for i in idx],
                    "name": [f"{refs.get(int(i), 'road')} roadside" for i in idx],
                    "kind": "road",
                    "lon": sn.network.lon[idx],
                    "lat": sn.network.lat[idx],
                    "node": idx,
                    "snap_m": 0.0,
                    "renewable": False,
                }
            )
        )
    if extras:
        lon = np.array([e.lon for e in extras])
        lat = np.array([e.lat for e in extras])
        nodes = sn.network.snap_strict(
            lon, lat, max_distance_m=cc.max_snap_m, labels=[e.name for e in extras]
        )
        snap = sn.network.snap(lon, lat)
        parts.append(
            pd.DataFrame(
                {
                    "site_id": [f"extra/{k}" for k in range(len(extras))],
                    "name": [e.name for e in extras],
                    "kind": ["renewable" if e.renewable else "extra" for e in extras],
                    "lon": lon,
                    "lat": lat,
                    "node": nodes,
                    "snap_m": np.round(snap.distance_m, 1),
                    "renewable": [e.renewable for e in extras],
                }
            )
        )
    if not parts:
        raise ConfigError(
            f"study {cfg.name!r}: no candidate sites (no OSM POI matches candidates.tags, no named network "
            "places and no candidates.extra); add tags or extra sites"
        )
    cand = pd.concat(
        [p.drop(columns=[c for c in ("geometry",) if c in p.columns]) for p in parts],
        ignore_index=True,
    )
    cand = named_by_kind(cand[~cand["site_id"].isin(existing["station_id"])])
    # Several POIs often snap to one node; one candidate per node keeps the model small and
    # exact (they are indistinguishable to the network). Renewable sites win ties.
    cand = cand.sort_values(["renewable", "snap_m"], ascending=[False, True]).drop_duplicates(
        "node"
    )
    cand = cand[~cand["node"].isin(existing["node"])].reset_index(drop=True)
    if cc.max_candidates is not None and len(cand) > cc.max_candidates:
        cand = cand.sample(cc.max_candidates, random_state=cfg.seed).reset_index(drop=True)
    cost_factor = np.where(cand["renewable"], cc.renewable_cost_factor, 1.0)
    cand["site_cost"] = cc.site_cost * cost_factor
    cand["plug_cost"] = cc.plug_cost
    cand["power_kw"] = cc.power_kw
    cand["max_plugs"] = cc.max_plugs
    cand["connectors"] = connector_text(cc.connectors)
    cand = site_grid(cfg, cand, extras)  # grid capacity and upgrade price per site
    logger.info("%d candidate sites (one per network node)", len(cand))
    if cfg.model.p is not None and cfg.model.p > len(cand):
        raise ConfigError(
            f"model.p asks for {cfg.model.p} new stations but the study has only {len(cand)} "
            "candidate sites; lower model.p or add candidates (candidates.tags, candidates.extra)"
        )
    return cand[
        [
            "site_id",
            "name",
            "kind",
            "lon",
            "lat",
            "node",
            "snap_m",
            "renewable",
            "site_cost",
            "plug_cost",
            "power_kw",
            "max_plugs",
            "connectors",
            "grid_kw",
            "upgrade_cost_per_kw",
            "approximate",
            "plant",
            "location_source",
        ]
    ]


def named_by_kind(sites: pd.DataFrame) -> pd.DataFrame:
    """``sites`` with a blank ``name`` replaced by what the site is (``unnamed
    amenity=fuel``, from ``kind``), so that every output (candidates, stations tables,
    selected sites, ``--json``) calls an unnamed OSM site the same way."""
    if "name" not in sites.columns:
        return sites
    blank = sites["name"].isna() | (sites["name"].astype(str).str.strip() == "")
    if not blank.any():
        return sites
    kind = sites["kind"] if "kind" in sites.columns else pd.Series("site", index=sites.index)
    out = sites.copy()
    out.loc[blank, "name"] = "unnamed " + kind[blank].fillna("site").astype(str)
    return out


def _node_refs(sn: StudyNetwork) -> dict[int, str]:
    """Road ``ref`` of one edge at each node (for naming roadside candidates). An edge two
    roads share carries a list of refs (osmnx merges them so): ``KAZ07 / KAZ08``, not the
    list's Python spelling (``['KAZ07', 'KAZ08'] roadside`` named cargo sites until
    2026-12-07)."""
    if sn.graph is None:
        return {}
    index = {int(n): i for i, n in enumerate(sn.network.node_ids)}
    refs: dict[int, str] = {}
    for u, _, d in sn.graph.edges(data=True):
        if "ref" in d and int(u) in index:
            ref = d["ref"]
            if isinstance(ref, list | tuple | set):
                ref = " / ".join(dict.fromkeys(str(r) for r in sorted(ref, key=str)))
            refs.setdefault(index[int(u)], str(ref))
    return refs


def _as_stations(gdf: pd.DataFrame, *, existing: bool) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "station_id": gdf["site_id"].astype(str).to_numpy(),
            "node": gdf["node"].astype(int).to_numpy(),
            "plugs": gdf["plugs"].astype(int).to_numpy(),
            "power_kw": gdf["power_kw"].astype(float).to_numpy(),
            "existing": existing,
            "name": gdf["name"].astype(str).to_numpy(),
            "lon": gdf["lon"].astype(float).to_numpy(),
            "lat": gdf["lat"].astype(float).to_numpy(),
            "connectors": gdf["connectors"].astype(str).to_numpy() if "connectors" in gdf else "",
        }
    )
    return out.drop_duplicates("station_id").reset_index(drop=True)


def points_frame(df: pd.DataFrame) -> gpd.GeoDataFrame:
    """A table with ``lon``/``lat`` as WGS84 points."""
    return gpd.GeoDataFrame(
        df.copy(), geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326"
    )


def manifest(
    cfg: StudyConfig, sn: StudyNetwork, timings: dict[str, float], *, config_path: Path | None
) -> dict:
    """Config, resolved defaults, seed, package versions, input hashes, timings."""
    pkgs = {}
    for name in (
        "evplan",
        "numpy",
        "scipy",
        "pandas",
        "networkx",
        "osmnx",
        "simpy",
        "ortools",
        "geopandas",
        "shapely",
        "pyproj",
        "osmium",
        "pydantic",
        "dask",
        "distributed",
    ):
        try:
            pkgs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    files = list(sn.input_files) + [
        p
        for p in (
            cfg.demand.zones,
            cfg.demand.zone_population,
            cfg.demand.od_table,
            cfg.vehicles.catalogue,
            cfg.renewables.plants,
            cfg.grid.substations,
        )
        if p is not None
    ]
    return {
        "study": cfg.name,
        "config_file": str(config_path) if config_path else None,
        "config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest()
        if config_path
        else None,
        "config_resolved": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": pkgs,
        "inputs": {str(p): file_sha256(p) for p in files if Path(p).is_file()},
        "network": {
            "source": sn.source_label,
            **sn.report,
            # the routable arrays: one arc per ordered node pair (the fastest of parallel
            # edges); ``edges`` counts the graph's edges as ``evplan network info`` does
            "routable_arcs": sn.network.n_edges,
        },
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }
