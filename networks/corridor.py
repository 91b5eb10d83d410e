"""National corridor network: a routable graph from route polylines (e.g. KAZ01-KAZ23).

Route polylines such as ``kz-republic-roads.geojson`` are drawn route by route: two routes
rarely share an exact vertex where they meet, a route is often split into many parts with
small gaps, and schematic routes are drawn town to town. :func:`corridor_graph_from_lines`
turns such lines into a graph following the project's graph convention (see
``docs/ARCHITECTURE.md`` and ``docs/corridor.md``):

1. project to a metric CRS fitted to the data (:func:`metric_crs_for`);
2. snap vertices of *different* lines that lie within ``snap_tolerance_m`` onto one
   leader vertex (bounded clusters; no chaining along a line);
3. close gaps: a dangling line end within ``gap_tolerance_m`` of another line gets a
   straight connector to it, and the target point becomes a vertex of that line;
4. node all lines at every crossing (snap-rounding on a 1 cm grid) and split them there;
5. chain degree-2 segments with the same routes into edges with WGS84 geodesic lengths,
   dropping dead-end stubs shorter than ``snap_tolerance_m`` (digitising overshoots);
6. bridge remaining islands within ``gap_tolerance_m``, keep the largest strongly
   connected component and report what was dropped (``G.graph["corridor_build"]``).

Places (GeoNames) are attached by :func:`networks.places.attach_places`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely

from networks import _corridor_lines as cl
from networks.corridor_inputs import read_national_roads, resolve_speeds
from networks.errors import ConfigError, EmptyAreaError, OfflineError
from networks.graph_edit import (
    add_connector,
    metric_crs_for,
    road_edge_index,
    split_edge,
    transformer,
)
from networks.road_network import RoadNetwork
from networks.validate import validate_bbox

logger = logging.getLogger(__name__)

#: Vertices of different lines closer than this are snapped together (metres).
DEFAULT_SNAP_TOLERANCE_M = 100.0
#: Dangling line ends closer than this to another line are connected to it (metres). In the
#: KAZ data most gaps between parts of a route are under 250 m; a few reach 1.1-1.5 km.
DEFAULT_GAP_TOLERANCE_M = 1_500.0
#: Gap tolerance for schematic lines (drawn town to town, ends accurate to a few km).
DEFAULT_SCHEMATIC_GAP_TOLERANCE_M = 5_000.0
#: osmnx ``custom_filter`` for national corridors: trunk and primary roads (and their links).
OSM_CORRIDOR_FILTER = '["highway"~"trunk|primary"]'


# --------------------------------------------------------------------------- builder
def corridor_graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    gap_tolerance_m: float = DEFAULT_GAP_TOLERANCE_M,
    schematic_gap_tolerance_m: float = DEFAULT_SCHEMATIC_GAP_TOLERANCE_M,
    speeds_kph: float | Mapping[str, float] | None = None,
    ref_col: str = "ref",
    schematic_col: str = "isSchematic",
    highway: str = "trunk",
    largest_component: bool = True,
    name: str = "corridor",
) -> nx.MultiDiGraph:
    """Build a routable two-way ``MultiDiGraph`` from route polylines.

    Parameters
    ----------
    lines : geopandas.GeoDataFrame
        LineString/MultiLineString features with a route id column; any CRS (lon/lat if
        none is set).
    snap_tolerance_m : float
        Vertices of different lines within this distance are merged onto one vertex.
    gap_tolerance_m : float
        A line end touching nothing is connected to the nearest other line within this
        distance (0 disables); ``schematic_gap_tolerance_m`` applies to schematic lines.
    speeds_kph : float or mapping, optional
        One speed for all, or ``{ref: km/h}`` with an optional ``"default"`` key; merged over
        :data:`DEFAULT_SPEEDS_KPH`. An edge shared by several routes takes the fastest. A
        ref that no line carries is an error (a misspelling would go unnoticed otherwise).
    ref_col, schematic_col : str
        Columns holding the route id and the schematic flag (the latter optional).
    highway : str
        ``highway`` value of every edge.
    largest_component : bool
        Keep only the largest strongly connected component (dropped parts are logged and
        recorded in ``G.graph["corridor_build"]``).
    name : str
        ``G.graph["name"]``.

    Returns
    -------
    networkx.MultiDiGraph
        Graph convention of ``docs/ARCHITECTURE.md``: both directions of every edge, with
        ``length`` (geodesic m), ``speed_kph``, ``travel_time`` (s), ``highway``, ``ref`` (str,
        or sorted list where routes share the road), ``oneway`` False, ``reversed``, a
        synthetic negative ``osmid`` and a lon/lat ``geometry``. Node ids come from
        :func:`coordinate_node_ids`.

    Raises
    ------
    ConfigError
        A tolerance is negative, a speed is not a positive number, or ``speeds_kph`` names
        a ref that no line carries.
    """
    if snap_tolerance_m < 0 or gap_tolerance_m < 0 or schematic_gap_tolerance_m < 0:
        raise ConfigError(
            "snap_tolerance_m, gap_tolerance_m and schematic_gap_tolerance_m must be >= 0"
        )
    if ref_col not in lines.columns:
        raise ConfigError(
            f"lines have no '{ref_col}' column (columns: {sorted(map(str, lines.columns))})"
        )
    parts, refs, schematic, names = cl.explode(lines, ref_col, schematic_col)
    speeds = resolve_speeds(speeds_kph, known_refs=refs, where=repr(name))
    crs = metric_crs_for(
        tuple(lines.to_crs("EPSG:4326").total_bounds) if lines.crs else tuple(lines.total_bounds)
    )
    fwd = transformer("EPSG:4326", crs)
    sizes = np.array([len(p) for p in parts])
    allc = np.concatenate(parts)
    xy = np.column_stack(fwd.transform(allc[:, 0], allc[:, 1]))
    part_of = np.repeat(np.arange(len(parts)), sizes)
    xy, n_snapped = cl.snap_vertices(xy, part_of, sizes, snap_tolerance_m)
    pxy = cl.split_parts(xy, sizes)
    gaps = np.where(schematic, schematic_gap_tolerance_m, gap_tolerance_m)
    pxy, connectors, connector_refs = cl.close_gaps(pxy, refs, gaps, snap_tolerance_m)
    n_gaps = len(connectors)
    seg_a, seg_b, seg_refs = cl.node_and_attribute(pxy + connectors, refs + connector_refs)
    G = cl.graph_from_segments(
        seg_a,
        seg_b,
        seg_refs,
        crs,
        speeds=speeds,
        highway=highway,
        names=names,
        min_stub_m=snap_tolerance_m,
    )
    report = {
        "routes": len(set(refs)),
        "parts": len(parts),
        "vertices_snapped": n_snapped,
        "gaps_closed": n_gaps,
        "snap_tolerance_m": snap_tolerance_m,
        "gap_tolerance_m": gap_tolerance_m,
        "metric_crs": crs,
    }
    if largest_component:
        report["islands_bridged"] = _bridge_islands(
            G, crs, tol=gap_tolerance_m, min_split_m=snap_tolerance_m
        )
        report.update(_keep_largest_scc(G))
    G.graph.update({"crs": "EPSG:4326", "name": name, "simplified": True, "corridor_build": report})
    logger.info(
        "corridor %r: %d nodes, %d edges from %d routes (%d vertices snapped, %d gaps closed)",
        name,
        G.number_of_nodes(),
        G.number_of_edges(),
        report["routes"],
        n_snapped,
        n_gaps,
    )
    return G


def _bridge_islands(G: nx.MultiDiGraph, crs: str, *, tol: float, min_split_m: float) -> int:
    """Join components to the largest one where a node is within ``tol`` of its roads.

    Line-level gap closing connects each dangling end to its nearest line, which can be a
    line of the same island; this pass joins what is still apart, nearest island first.
    """
    fwd = transformer("EPSG:4326", crs)
    bridged = 0
    while tol > 0:
        comps = sorted(nx.weakly_connected_components(G), key=lambda c: (-len(c), min(c)))
        if len(comps) < 2:
            break
        keys, geoms, tree = road_edge_index(G, crs, nodes=comps[0])
        others = np.array(sorted(n for c in comps[1:] for n in c), dtype=np.int64)
        x, y = fwd.transform([G.nodes[n]["x"] for n in others], [G.nodes[n]["y"] for n in others])
        pts = shapely.points(np.column_stack([x, y]))
        (pi, ei), dist = tree.query_nearest(
            pts, max_distance=tol, return_distance=True, all_matches=False
        )
        if pi.size == 0:
            break
        best = int(np.lexsort((others[pi], dist))[0])
        node, (u, v, k) = int(others[pi[best]]), keys[ei[best]]
        along = shapely.line_locate_point(geoms[ei[best]], pts[pi[best]])
        target = split_edge(G, u, v, k, [along], crs=crs, min_split_m=max(min_split_m, cl.GRID_M))[
            0
        ]
        _, _, d = next(iter(G.edges(node, data=True)))
        add_connector(
            G,
            node,
            target,
            speed_kph=d["speed_kph"],
            highway=d["highway"],
            ref=d["ref"],
            bridge=True,
        )
        logger.info("bridged island at node %d to the main network (%.0f m)", node, dist[best])
        bridged += 1
    return bridged


def _keep_largest_scc(G: nx.MultiDiGraph) -> dict:
    comps = sorted(nx.strongly_connected_components(G), key=lambda c: (-len(c), min(c)))
    if len(comps) <= 1:
        return {
            "components_dropped": 0,
            "nodes_dropped": 0,
            "edges_dropped": 0,
            "km_dropped": 0.0,
            "refs_dropped": [],
        }
    keep = comps[0]
    drop = [n for c in comps[1:] for n in c]
    dropped_edges = [(u, v, d) for u, v, d in G.edges(drop, data=True)]
    km = sum(d["length"] for _, _, d in dropped_edges) / 2000.0  # two directions
    refs_before = _refs_of(G.edges(data=True))
    G.remove_nodes_from(drop)
    refs_lost = sorted(refs_before - _refs_of(G.edges(data=True)))
    logger.warning(
        "corridor: dropped %d small component(s): %d nodes, %d edges, %.1f km of road%s",
        len(comps) - 1,
        len(drop),
        len(dropped_edges),
        km,
        f"; routes lost entirely: {refs_lost}" if refs_lost else "",
    )
    return {
        "components_dropped": len(comps) - 1,
        "nodes_dropped": len(drop),
        "edges_dropped": len(dropped_edges),
        "km_dropped": round(km, 3),
        "refs_dropped": refs_lost,
        "nodes_kept": len(keep),
    }


def _refs_of(edges) -> set[str]:
    out: set[str] = set()
    for *_, d in edges:
        r = d.get("ref")
        out.update(r if isinstance(r, list) else [r])
    return out


# --------------------------------------------------------------------------- entry points
def build_national_network(
    roads_path: str | Path,
    places_path: str | Path | None = None,
    *,
    official_population_csv: str | Path | None = None,
    snap_tolerance_m: float = DEFAULT_SNAP_TOLERANCE_M,
    gap_tolerance_m: float = DEFAULT_GAP_TOLERANCE_M,
    speeds_kph: float | Mapping[str, float] | None = None,
    place_distance_km: float = 15.0,
    min_population: int = 5_000,
    name: str | None = None,
) -> tuple[nx.MultiDiGraph, RoadNetwork]:
    """Read national routes and places, build the corridor graph and freeze it.

    Parameters
    ----------
    roads_path : str or Path
        Route polylines (:func:`read_national_roads`).
    places_path : str or Path, optional
        GeoNames places CSV (:func:`networks.places.read_places`); None builds roads only.
    official_population_csv : str or Path, optional
        Official city populations preferred over GeoNames where the name matches.
    snap_tolerance_m, gap_tolerance_m, speeds_kph
        See :func:`corridor_graph_from_lines`.
    place_distance_km, min_population
        See :func:`networks.places.attach_places`.

    Returns
    -------
    (networkx.MultiDiGraph, RoadNetwork)
        The graph (places not attached are listed in ``G.graph["places_unattached"]``) and
        its frozen form, whose ``node_table`` has ``name``, ``population`` and ``place``.
    """
    from networks.places import attach_places, read_places

    roads = read_national_roads(roads_path)
    label = name or f"national roads {Path(roads_path).name}"
    G = corridor_graph_from_lines(
        roads,
        snap_tolerance_m=snap_tolerance_m,
        gap_tolerance_m=gap_tolerance_m,
        speeds_kph=speeds_kph,
        name=label,
    )
    if places_path is not None:
        places = read_places(places_path, official_population_csv=official_population_csv)
        G, far = attach_places(
            G,
            places,
            max_distance_km=place_distance_km,
            min_population=min_population,
            min_split_m=max(snap_tolerance_m, 1.0),
        )
        G.graph["places_unattached"] = far
    return G, RoadNetwork.from_graph(G, name=label)


def corridor_graph_from_osm(
    place_or_bbox: str | tuple[float, float, float, float],
    *,
    custom_filter: str = OSM_CORRIDOR_FILTER,
    cache_dir: str | Path | None = None,
    timeout_s: float = 10.0,
    **build_kwargs,
) -> nx.MultiDiGraph:
    """Download trunk/primary roads with osmnx and build a corridor graph from them.

    Online only. The OSM ways go through :func:`corridor_graph_from_lines` (OSM ``ref`` as
    route id, ``highway`` where a way has no ref), so speeds and conventions match the
    file-based network. osmnx's HTTP cache (``cache_dir/osmnx`` if given, else osmnx's
    setting) answers repeated requests offline.

    Parameters
    ----------
    place_or_bbox : str or tuple
        Place name for ``osmnx.graph_from_place`` or ``(west, south, east, north)`` degrees.
    custom_filter : str
        Overpass way filter.
    timeout_s : float
        osmnx ``requests_timeout``; osmnx's Overpass status pre-check (which sleeps 60 s
        when the server is unreachable) is switched off for the call so offline fails fast.
    **build_kwargs
        Passed to :func:`corridor_graph_from_lines` (default ``gap_tolerance_m=0``: OSM
        ways already meet at shared nodes).

    Raises
    ------
    OfflineError
        No connection (and nothing cached): pass a file instead.
    ConfigError
        The bbox is not four numbers or a coordinate is out of range.
    EmptyAreaError
        The bbox is empty/inverted (:class:`~networks.errors.EmptyBBoxError`) or the area
        holds no matching roads.
    """
    import osmnx as ox
    import requests

    if isinstance(place_or_bbox, str):
        label, bbox = place_or_bbox, None
    else:
        bbox = validate_bbox(place_or_bbox)
        label = f"bbox {bbox}"
    saved = {
        k: getattr(ox.settings, k)
        for k in ("requests_timeout", "overpass_rate_limit", "use_cache", "cache_folder")
    }
    try:
        ox.settings.requests_timeout = timeout_s
        ox.settings.overpass_rate_limit = False
        ox.settings.use_cache = True
        if cache_dir is not None:
            ox.settings.cache_folder = str(Path(cache_dir) / "osmnx")
        kw: dict[str, Any] = {
            "network_type": "drive",
            "simplify": True,
            "retain_all": True,
            "custom_filter": custom_filter,
        }
        G = ox.graph_from_place(label, **kw) if bbox is None else ox.graph_from_bbox(bbox, **kw)
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        ox._errors.ResponseStatusCodeError,
    ) as exc:
        raise OfflineError(
            f"cannot download corridor roads for {label!r}: {type(exc).__name__} (no internet connection or "
            "the server refused). Build from a file instead: corridor_graph_from_lines(read_national_roads(path)) "
            "or build_national_network(path, ...)"
        ) from exc
    except ox._errors.InsufficientResponseError as exc:
        raise EmptyAreaError(
            f"no roads matching {custom_filter} found for {label!r}: {exc}"
        ) from exc
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)
    build_kwargs.setdefault("name", label)
    return corridor_graph_from_osmnx(G, **build_kwargs)


def corridor_graph_from_osmnx(G: nx.MultiDiGraph, **build_kwargs) -> nx.MultiDiGraph:
    """Rebuild an osmnx road graph (e.g. a trunk/primary download) with the corridor builder:
    edges become lines (OSM ``ref``, else ``highway``) for :func:`corridor_graph_from_lines`."""
    import osmnx as ox

    edges = ox.graph_to_gdfs(G, nodes=False).reset_index(drop=True)
    for col in ("ref", "name"):
        if col not in edges:
            edges[col] = None
    edges = edges[["highway", "ref", "name", "geometry"]]
    first = lambda v: v[0] if isinstance(v, list) else v  # noqa: E731 - osmnx merges tags into lists
    hw = edges["highway"].map(first).astype(str)
    edges["ref"] = edges["ref"].map(first).where(edges["ref"].notna(), hw).astype(str)
    edges["name"] = edges["name"].map(first)
    build_kwargs.setdefault("gap_tolerance_m", 0.0)
    build_kwargs.setdefault("snap_tolerance_m", 5.0)
    return corridor_graph_from_lines(edges, **build_kwargs)
