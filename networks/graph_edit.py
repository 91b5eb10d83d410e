"""Editing a road graph in place: coordinate-derived node ids, a metric CRS fitted to an
extent, an R-tree of edges, splitting an edge (both directions) at a point, connectors, and
densifying long edges. Shared by the corridor builder and the places code."""

from __future__ import annotations

import logging
from functools import lru_cache

import networkx as nx
import numpy as np
import pyproj
import shapely

from networks.errors import ConfigError

logger = logging.getLogger(__name__)

GEOD = pyproj.Geod(ellps="WGS84")
_ID_SCALE = 10_000_000


@lru_cache(maxsize=32)
def transformer(src: str, dst: str) -> pyproj.Transformer:
    """Cached lon/lat-ordered transformer (building one costs milliseconds)."""
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def metric_crs_for(bounds: tuple[float, float, float, float]) -> str:
    """A Lambert conformal conic CRS fitted to ``(west, south, east, north)`` in degrees.

    Standard parallels at 1/6 and 5/6 of the latitude span, central meridian in the middle.
    For the KAZ roads (40.6-55.4 N, 46-87 E) the scale error stays within 0.7 % everywhere,
    whereas UTM zone 43 (the country's middle) is 5.3 % off at 47 E and 0.9 % at 87 E.
    Only tolerances and nearest-point searches use it; lengths are geodesic on WGS84.
    """
    west, south, east, north = (float(v) for v in bounds)
    span = max(north - south, 1e-6)
    lat1, lat2 = south + span / 6.0, north - span / 6.0
    return (
        f"+proj=lcc +lat_1={lat1:.4f} +lat_2={lat2:.4f} +lat_0={(south + north) / 2:.4f} "
        f"+lon_0={(west + east) / 2:.4f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def coordinate_node_ids(lon, lat) -> np.ndarray:
    """Deterministic positive int64 node ids from coordinates rounded to 1e-7 degrees.

    ``id = round((lon + 180) * 1e7) << 31 | round((lat + 90) * 1e7)``: the same point always
    gets the same id, points more than ~1 cm apart never share one, and the id can be
    decoded back into the coordinate.
    """
    ilon = np.rint((np.asarray(lon, dtype=float) + 180.0) * _ID_SCALE).astype(np.int64)
    ilat = np.rint((np.asarray(lat, dtype=float) + 90.0) * _ID_SCALE).astype(np.int64)
    return (ilon << 31) | ilat


def graph_metric_crs(G: nx.MultiDiGraph) -> str:
    """:func:`metric_crs_for` the extent of the graph's nodes."""
    xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), float)
    ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), float)
    return metric_crs_for((xs.min(), ys.min(), xs.max(), ys.max()))


def _edge_coords(G, u, v, d) -> np.ndarray:
    if "geometry" in d:
        return np.asarray(d["geometry"].coords, dtype=float)
    return np.array([[G.nodes[u]["x"], G.nodes[u]["y"]], [G.nodes[v]["x"], G.nodes[v]["y"]]])


def road_edge_index(G: nx.MultiDiGraph, crs: str, *, nodes=None):
    """One projected geometry per road (twin directions once; place connectors skipped).

    Returns ``(keys, geoms, tree)`` with ``keys[i] = (u, v, key)``. ``nodes`` restricts the
    index to edges between those nodes.
    """
    fwd = transformer("EPSG:4326", crs)
    keys, coords = [], []
    for u, v, k, d in G.edges(keys=True, data=True):
        if d.get("connector") or d.get("reversed") is True:
            continue
        if nodes is not None and (u not in nodes or v not in nodes):
            continue
        keys.append((u, v, k))
        coords.append(_edge_coords(G, u, v, d))
    if not keys:
        return keys, np.empty(0, dtype=object), shapely.STRtree([])
    idx = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
    allc = np.concatenate(coords)
    x, y = fwd.transform(allc[:, 0], allc[:, 1])
    geoms = shapely.linestrings(np.column_stack([x, y]), indices=idx)
    return keys, geoms, shapely.STRtree(geoms)


def _twin(G, u, v, key, d):
    """The opposite-direction copy of edge (u, v, key) (same osmid and length), if any."""
    if not G.has_edge(v, u):
        return None
    for k2, d2 in G[v][u].items():
        if (u, v) == (v, u) and k2 == key:
            continue
        if d2.get("osmid") == d.get("osmid") and abs(d2["length"] - d["length"]) <= 1e-6 * max(
            d["length"], 1.0
        ):
            return k2
    return None


def split_edge(
    G: nx.MultiDiGraph, u: int, v: int, key: int, alongs_m, *, crs: str, min_split_m: float = 100.0
) -> list[int]:
    """Split edge ``(u, v, key)`` and its twin at distances ``alongs_m`` (metres in ``crs``).

    Points within ``min_split_m`` of an end node (or of each other) reuse that node. New
    nodes get :func:`coordinate_node_ids`; pieces keep the edge's attributes with geodesic
    ``length`` and ``travel_time`` at the edge's ``speed_kph``. Returns the node for each
    entry of ``alongs_m`` (in the given order). Modifies ``G`` in place.
    """
    d = dict(G.edges[u, v, key])
    twin = _twin(G, u, v, key, d)
    fwd = transformer("EPSG:4326", crs)
    inv = transformer(crs, "EPSG:4326")
    ll = _edge_coords(G, u, v, d)
    xy = np.column_stack(fwd.transform(ll[:, 0], ll[:, 1]))
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    total = cum[-1]
    alongs = np.clip(np.asarray(alongs_m, dtype=float).ravel(), 0.0, total)
    out = np.empty(alongs.size, dtype=object)
    cuts: list[tuple[float, int]] = []  # (along, node) of interior cut points
    for i in np.argsort(alongs, kind="stable"):
        a = alongs[i]
        if a <= min_split_m:
            out[i] = u
        elif total - a <= min_split_m:
            out[i] = v
        elif cuts and a - cuts[-1][0] <= min_split_m:
            out[i] = cuts[-1][1]
        else:
            k = int(np.clip(np.searchsorted(cum, a, side="right"), 1, len(cum) - 1))
            f = (a - cum[k - 1]) / max(cum[k] - cum[k - 1], 1e-12)
            px, py = xy[k - 1] + f * (xy[k] - xy[k - 1])
            lon, lat = inv.transform(px, py)
            node = int(coordinate_node_ids(lon, lat))
            if node in (u, v):
                out[i] = node
                continue
            G.add_node(node, x=float(lon), y=float(lat), street_count=2)
            cuts.append((a, node))
            out[i] = node
    if not cuts:
        return [int(n) for n in out]
    # Coordinates of each piece: original vertices strictly between consecutive cuts.
    stops = [(0.0, u, ll[0])] + [
        (a, n, np.array([G.nodes[n]["x"], G.nodes[n]["y"]])) for a, n in cuts
    ]
    stops.append((total, v, ll[-1]))
    G.remove_edge(u, v, key)
    if twin is not None:
        dt = dict(G.edges[v, u, twin])
        G.remove_edge(v, u, twin)
    speed = d.get("speed_kph")
    for (a0, n0, p0), (a1, n1, p1) in zip(stops[:-1], stops[1:], strict=True):
        inner = ll[(cum > a0) & (cum < a1)]
        piece = np.vstack([p0, inner, p1])
        length = float(GEOD.line_length(piece[:, 0], piece[:, 1]))
        tt = length / (speed / 3.6) if speed else d["travel_time"] * length / max(d["length"], 1e-9)
        attrs = {**d, "length": length, "travel_time": tt, "geometry": shapely.LineString(piece)}
        G.add_edge(n0, n1, **attrs)
        if twin is not None:
            G.add_edge(
                n1,
                n0,
                **{
                    **dt,
                    "length": length,
                    "travel_time": tt,
                    "geometry": shapely.LineString(piece[::-1]),
                },
            )
    return [int(n) for n in out]


def next_synthetic_osmid(G: nx.MultiDiGraph) -> int:
    """A negative ``osmid`` below every integer osmid in ``G`` (for synthetic edges)."""
    return (
        min(
            [0]
            + [
                int(d["osmid"])
                for *_, d in G.edges(data=True)
                if isinstance(d.get("osmid"), int | np.integer)
            ]
        )
        - 1
    )


def add_connector(
    G: nx.MultiDiGraph,
    a: int,
    b: int,
    *,
    speed_kph: float,
    highway: str = "unclassified",
    osmid: int | None = None,
    **attrs,
) -> float:
    """Add a straight two-way edge between nodes ``a`` and ``b``; returns its length (m)."""
    pa, pb = G.nodes[a], G.nodes[b]
    length = float(GEOD.inv(pa["x"], pa["y"], pb["x"], pb["y"])[2])
    osmid = next_synthetic_osmid(G) if osmid is None else osmid
    base = {
        "osmid": osmid,
        "highway": highway,
        "oneway": False,
        "length": length,
        "speed_kph": float(speed_kph),
        "travel_time": length / (speed_kph / 3.6),
        **attrs,
    }
    geom = shapely.LineString([(pa["x"], pa["y"]), (pb["x"], pb["y"])])
    G.add_edge(a, b, **base, reversed=False, geometry=geom)
    G.add_edge(b, a, **base, reversed=True, geometry=shapely.reverse(geom))
    for n in (a, b):
        G.nodes[n]["street_count"] = G.nodes[n].get("street_count", 0) + 1
    return length


# --------------------------------------------------------------------------- GeoNames places


def densify(G: nx.MultiDiGraph, *, max_edge_km: float, crs: str) -> tuple[nx.MultiDiGraph, int]:
    """Split every edge longer than ``max_edge_km`` into equal pieces (twins alike).

    Corridor chargers can only sit at nodes; on a national network an edge may be longer
    than a small car's range, which would make such trips infeasible by construction.
    Interior nodes every ``max_edge_km`` or less give the siting models candidate positions
    along the road. Returns a copy and the number of nodes added.
    """
    if not max_edge_km > 0:
        raise ConfigError(f"max_edge_km must be > 0, got {max_edge_km!r}")
    H = G.copy()
    before = H.number_of_nodes()
    limit_m = max_edge_km * 1000.0
    seen: set[frozenset] = set()
    for u, v, key, d in list(H.edges(keys=True, data=True)):
        pair = frozenset((u, v))
        if d["length"] <= limit_m or pair in seen or not H.has_edge(u, v, key):
            continue
        seen.add(pair)
        pieces = int(np.ceil(d["length"] / limit_m))
        # split_edge works in projected metres along the drawn line, whose total can
        # differ slightly from the geodesic length: cut at equal fractions of it.
        xy_len = _projected_length(H, u, v, d, crs)
        split_edge(H, u, v, key, [xy_len * k / pieces for k in range(1, pieces)], crs=crs)
    return H, H.number_of_nodes() - before


def _projected_length(G, u, v, d, crs) -> float:
    ll = _edge_coords(G, u, v, d)
    x, y = transformer("EPSG:4326", crs).transform(ll[:, 0], ll[:, 1])
    return float(np.hypot(np.diff(x), np.diff(y)).sum())
