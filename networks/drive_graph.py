"""Build an osmnx-compatible drive graph from raw OSM data.

Semantics follow osmnx's ``network_type="drive"``: the same way filter, one-way rules
(``oneway=yes|true|1|-1|reverse|T|F``, roundabouts), great-circle edge lengths, osmnx's own
``simplify_graph``, ``add_edge_speeds`` (``maxspeed`` first, then per-highway defaults) and
``add_edge_travel_times``, and the largest strongly connected component. What osmnx cannot
do, and evplan must, is cope with clipped extracts: ways whose nodes are partly outside
the file are cut to the runs of nodes that are present, and what was dropped is counted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import networkx as nx
import numpy as np
import osmnx as ox

from networks.errors import ConfigError, NoDrivableRoadsError
from networks.osm_read import OSMData

logger = logging.getLogger(__name__)

#: Typical free-flow speeds (km/h) for ways without a usable ``maxspeed``. Assumptions for
#: Kazakh roads (urban limit 60 km/h, rural 90-110 km/h under the Rules of the Road),
#: discounted for junctions and traffic in town; override per study in the config.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 35.0,
    "unclassified": 35.0,
    "residential": 30.0,
    "living_street": 10.0,
    "road": 30.0,
    "service": 20.0,
    "unsurfaced": 25.0,
}
FALLBACK_SPEED_KPH = 30.0

# Mirror of osmnx's Overpass filters (osmnx._overpass._get_network_filter): unanchored regex
# "does not match" tests, as Overpass evaluates them.
_FILTERS: dict[str, list[tuple[str, str]]] = {
    "drive": [
        ("area", "yes"),
        ("access", "private"),
        (
            "highway",
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
            "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
            "rest_area|service|services|steps|track",
        ),
        ("motor_vehicle", "no"),
        ("motorcar", "no"),
        ("service", "alley|driveway|emergency_access|parking|parking_aisle|private"),
    ],
    "drive_service": [
        ("area", "yes"),
        ("access", "private"),
        (
            "highway",
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
            "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
            "rest_area|services|steps|track",
        ),
        ("motor_vehicle", "no"),
        ("motorcar", "no"),
        ("service", "emergency_access|parking|parking_aisle|private"),
    ],
}
_COMPILED = {k: [(key, re.compile(rx)) for key, rx in v] for k, v in _FILTERS.items()}
_ONEWAY = {"yes", "true", "1", "-1", "reverse", "T", "F"}
_REVERSED = {"-1", "reverse", "T"}
_KEEP_TAGS = ("highway", "name", "ref", "maxspeed", "lanes", "bridge", "tunnel", "junction")
NETWORK_TYPES = tuple(_FILTERS)


@dataclass
class BuildReport:
    """What the builder kept and dropped, for the user to see (``evplan network info``)."""

    highway_ways: int = 0
    drivable_ways: int = 0
    clipped_ways: int = 0
    clipped_ways_dropped: int = 0
    missing_node_refs: int = 0
    nodes_before_scc: int = 0
    edges_before_scc: int = 0
    scc_nodes_dropped: int = 0
    scc_edges_dropped: int = 0
    nodes: int = 0
    edges: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def is_drivable(tags: Mapping[str, str], *, network_type: str = "drive") -> bool:
    """True when a way with these tags passes osmnx's filter for ``network_type``."""
    if "highway" not in tags:
        return False
    return not any(key in tags and rx.search(tags[key]) for key, rx in _COMPILED[network_type])


def graph_from_osm_data(
    data: OSMData,
    *,
    network_type: str = "drive",
    speeds_kph: Mapping[str, float] | None = None,
    fallback_speed_kph: float = FALLBACK_SPEED_KPH,
    simplify: bool = True,
    largest_component: bool = True,
) -> tuple[nx.MultiDiGraph, BuildReport]:
    """Build a drive graph (osmnx conventions) from raw OSM data.

    Parameters
    ----------
    data : OSMData
        Output of :func:`networks.osm_read.read_osm`.
    network_type : {'drive', 'drive_service'}
        Which osmnx way filter to apply.
    speeds_kph : mapping, optional
        Per-``highway`` speeds for ways without ``maxspeed``; merged over
        :data:`DEFAULT_SPEEDS_KPH`.
    fallback_speed_kph : float
        Speed for highway types in neither the data nor the mapping.
    simplify : bool
        Run :func:`osmnx.simplify_graph` (drop interstitial nodes).
    largest_component : bool
        Keep only the largest strongly connected component.

    Returns
    -------
    (networkx.MultiDiGraph, BuildReport)

    Raises
    ------
    NoDrivableRoadsError
        When no drivable way survives.
    """
    if network_type not in _FILTERS:
        raise ConfigError(
            f"network_type {network_type!r} is not supported; use one of {NETWORK_TYPES}"
        )
    speeds = _check_speeds({**DEFAULT_SPEEDS_KPH, **(speeds_kph or {})}, fallback_speed_kph)
    report = BuildReport(highway_ways=len(data.highways))
    G = nx.MultiDiGraph(crs="EPSG:4326", name=data.source, network_type=network_type)

    used_nodes: set[int] = set()
    edges: list[tuple[int, int, dict]] = []
    for way in data.highways:
        if not is_drivable(way.tags, network_type=network_type):
            continue
        report.drivable_ways += 1
        present, _, _ = data.locate(way.refs)
        if not present.all():
            report.clipped_ways += 1
            report.missing_node_refs += int((~present).sum())
        runs = _present_runs(way.refs, present)
        if not runs:
            report.clipped_ways_dropped += 1
            continue
        attrs: dict[str, object] = {k: way.tags[k] for k in _KEEP_TAGS if k in way.tags}
        attrs["osmid"] = way.id
        oneway = way.tags.get("oneway") in _ONEWAY or way.tags.get("junction") == "roundabout"
        reverse = way.tags.get("oneway") in _REVERSED
        attrs["oneway"] = oneway
        for run in runs:
            seq = run[::-1] if reverse else run
            used_nodes.update(seq.tolist())
            for u, v in zip(seq[:-1].tolist(), seq[1:].tolist(), strict=True):
                edges.append((u, v, {**attrs, "reversed": False}))
                if not oneway:
                    edges.append((v, u, {**attrs, "reversed": True}))
    if not edges:
        raise NoDrivableRoadsError(
            f"{data.source}: no drivable roads ({report.highway_ways} highway ways, none pass the "
            f"osmnx '{network_type}' filter with at least two nodes in the file)"
        )
    ids = np.fromiter(used_nodes, dtype=np.int64)
    _, lon, lat = data.locate(ids)
    G.add_nodes_from(
        (int(i), {"x": float(x), "y": float(y)}) for i, x, y in zip(ids, lon, lat, strict=True)
    )
    u_arr = np.fromiter((e[0] for e in edges), np.int64, len(edges))
    v_arr = np.fromiter((e[1] for e in edges), np.int64, len(edges))
    _, ulon, ulat = data.locate(u_arr)
    _, vlon, vlat = data.locate(v_arr)
    lengths = ox.distance.great_circle(ulat, ulon, vlat, vlon)
    for (_, _, attrs), length in zip(edges, np.asarray(lengths).tolist(), strict=True):
        attrs["length"] = length
    G.add_edges_from(edges)
    if report.clipped_ways:
        logger.warning(
            "%s: %d clipped way(s) cut at the extract boundary (%d node refs missing, %d ways dropped)",
            data.source,
            report.clipped_ways,
            report.missing_node_refs,
            report.clipped_ways_dropped,
        )
    if simplify:
        G = ox.simplify_graph(G)
        _sort_merged_attributes(G)
    G = ox.add_edge_speeds(G, hwy_speeds=speeds, fallback=fallback_speed_kph)
    G = ox.add_edge_travel_times(G)
    report.nodes_before_scc, report.edges_before_scc = G.number_of_nodes(), G.number_of_edges()
    if largest_component:
        G = ox.truncate.largest_component(G, strongly=True)
    # as osmnx's own graph builders do: osmnx.stats and plotting read this node attribute
    nx.set_node_attributes(G, values=ox.stats.count_streets_per_node(G), name="street_count")
    report.nodes, report.edges = G.number_of_nodes(), G.number_of_edges()
    report.scc_nodes_dropped = report.nodes_before_scc - report.nodes
    report.scc_edges_dropped = report.edges_before_scc - report.edges
    if report.nodes < 2 or report.edges == 0:
        raise NoDrivableRoadsError(
            f"{data.source}: the largest strongly connected drive component is empty"
        )
    logger.info(
        "drive graph: %d nodes, %d edges (dropped %d nodes outside the largest strongly connected component)",
        report.nodes,
        report.edges,
        report.scc_nodes_dropped,
    )
    return G, report


def _present_runs(refs: np.ndarray, present: np.ndarray) -> list[np.ndarray]:
    """Maximal runs of consecutive present nodes with at least two nodes."""
    if present.all():
        return [refs] if refs.size >= 2 else []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(np.int8), [0]])))
    return [refs[s:e] for s, e in zip(edges[::2], edges[1::2], strict=True) if e - s >= 2]


def _check_speeds(speeds: dict[str, float], fallback: float) -> dict[str, float]:
    for hw, kph in {**speeds, "<fallback>": fallback}.items():
        if not isinstance(kph, int | float) or not np.isfinite(kph) or kph <= 0:
            raise ConfigError(
                f"speed for highway={hw!r} must be a positive number of km/h, got {kph!r}"
            )
    return {k: float(v) for k, v in speeds.items()}


def _sort_merged_attributes(G: nx.MultiDiGraph) -> None:
    """Give list-valued edge attributes of merged ways a fixed order.

    osmnx's ``simplify_graph`` merges the attributes of the ways it joins with
    ``list(set(...))``, whose order follows Python's per-process string hashing, and
    ``add_edge_speeds`` then reads the first ``highway`` value. Without a fixed order the
    same extract gave different travel times (up to ~12 s on 28 Almaty edges) from one
    process to the next; sorted, every build is the same.
    """
    for _, _, data in G.edges(data=True):
        for key, value in data.items():
            if isinstance(value, list) and key != "geometry":
                data[key] = sorted(value, key=lambda v: (type(v).__name__, str(v)))
