"""Line-level steps of the corridor builder (see :mod:`networks.corridor`).

Everything here works on lists of projected coordinate arrays ("parts"), one per
LineString, with a route ``ref`` each; :func:`graph_from_segments` turns the noded
segments into the two-way graph.
"""

from __future__ import annotations

import logging
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from networks.errors import NoDrivableRoadsError
from networks.graph_edit import GEOD, coordinate_node_ids, transformer

logger = logging.getLogger(__name__)

# Snap-rounding grid for noding (m): far below any tolerance, far above float noise.
GRID_M = 0.01


def explode(lines, ref_col, schematic_col):
    gdf = lines if lines.crs is None else lines.to_crs("EPSG:4326")
    parts, refs, schematic, names = [], [], [], {}
    flags = (
        gdf[schematic_col].fillna(False).astype(bool)
        if schematic_col in gdf.columns
        else pd.Series(False, gdf.index)
    )
    for geom, ref, flag, nm in zip(
        gdf.geometry,
        gdf[ref_col].astype(str),
        flags,
        gdf["name"] if "name" in gdf.columns else [None] * len(gdf),
        strict=True,
    ):
        if geom is None or geom.is_empty or geom.geom_type not in ("LineString", "MultiLineString"):
            continue
        for g in getattr(geom, "geoms", [geom]):
            c = np.asarray(g.coords, dtype=float)[:, :2]
            if len(c) >= 2:
                parts.append(c)
                refs.append(ref)
                schematic.append(bool(flag))
        if isinstance(nm, str) and nm:
            names.setdefault(ref, nm)
    if not parts:
        raise NoDrivableRoadsError("no LineString with at least two points in the corridor lines")
    return parts, refs, np.asarray(schematic), names


def split_parts(xy: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """Split stacked vertices back into parts, dropping consecutive duplicates."""
    out = []
    for c in np.split(xy, np.cumsum(sizes)[:-1]):
        keep = np.ones(len(c), dtype=bool)
        keep[1:] = np.any(c[1:] != c[:-1], axis=1)
        if keep.sum() >= 2:
            out.append(c[keep])
        else:
            out.append(c[:1])  # collapsed part: kept as a point so indices stay aligned
    return out


def snap_vertices(xy, part_of, sizes, tol):
    """Snap vertices of different parts within ``tol`` onto a leader vertex.

    Union-find on all pairs within ``tol`` chains: with vertices every few hundred metres
    in towns a whole stretch collapses to one point. Leader clustering bounds a cluster's
    radius by ``tol``: part ends lead first (they are the junction candidates), a leader
    claims unclaimed vertices of *other* parts only, so a line's own shape is kept.
    """
    if tol <= 0:
        return xy, 0
    n = len(xy)
    ends = np.zeros(n, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ends[starts] = True
    ends[starts + sizes - 1] = True
    tree = cKDTree(xy)
    pairs = tree.query_pairs(tol, output_type="ndarray")
    pairs = pairs[part_of[pairs[:, 0]] != part_of[pairs[:, 1]]]
    if pairs.size == 0:
        return xy, 0
    # Neighbour lists only for vertices that have a near vertex on another part.
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    heads, first = np.unique(both[:, 0], return_index=True)
    bounds = dict(
        zip(
            heads.tolist(),
            zip(first.tolist(), np.append(first[1:], len(both)).tolist(), strict=True),
            strict=True,
        )
    )
    leader = np.arange(n)
    claimed = np.zeros(n, dtype=bool)
    order = heads[np.lexsort((heads, ~ends[heads]))]
    for i in order:
        if claimed[i]:
            continue
        lo, hi = bounds[i]
        nb = both[lo:hi, 1]
        nb = nb[~claimed[nb]]
        claimed[i] = True
        claimed[nb] = True
        leader[nb] = i
    moved = leader != np.arange(n)
    return xy[leader], int(moved.sum())


def close_gaps(pxy: list[np.ndarray], refs: list[str], gaps: np.ndarray, snap_tol: float):
    """Connect dangling part ends to the nearest other part within their gap tolerance.

    A dangling end (touching no other part) gets a straight connector to the nearest point
    of the nearest other part and, when that part belongs to the same route, also to the
    nearest part of another route (a route ending near another route meets it there).
    The target point is inserted into the target part as a vertex, so noding joins them.
    Returns the parts (with inserted vertices), connector lines and their refs.
    """
    live = [i for i, c in enumerate(pxy) if len(c) >= 2]
    geoms = linestrings([pxy[i] for i in live])
    live_refs = np.asarray([refs[i] for i in live])
    ends = np.asarray([pxy[i][side] for i in live for side in (0, -1)])
    end_part = np.repeat(np.arange(len(live)), 2)
    pts = shapely.points(ends)
    dist_lim = np.maximum(gaps[np.asarray(live)][end_part], 1e-6)
    src, dst = shapely.STRtree(geoms).query(pts, predicate="dwithin", distance=dist_lim)
    other = end_part[src] != dst
    src, dst = src[other], dst[other]
    d = shapely.distance(pts[src], geoms[dst])
    touching = np.zeros(len(pts), dtype=bool)
    touching[src[d <= 1e-6]] = True
    order = np.lexsort((dst, d, src))
    src, dst, d = src[order], dst[order], d[order]
    links: set[tuple[int, int]] = set()
    firsts = np.unique(src, return_index=True)[1]
    links.update(
        zip(src[firsts].tolist(), dst[firsts].tolist(), strict=True)
    )  # nearest part of any route
    foreign = live_refs[dst] != live_refs[end_part[src]]
    fs, fd = src[foreign], dst[foreign]
    firsts = np.unique(fs, return_index=True)[1]
    links.update(
        zip(fs[firsts].tolist(), fd[firsts].tolist(), strict=True)
    )  # nearest part of another route
    inserts: dict[int, list[tuple[float, np.ndarray]]] = {}
    connectors, connector_refs = [], []
    for s, j in sorted(links):
        if touching[s]:
            continue  # already meets another line exactly; noding splits there
        along = float(shapely.line_locate_point(geoms[j], pts[s]))
        target = shapely.get_coordinates(shapely.line_interpolate_point(geoms[j], along))[0]
        verts = pxy[live[j]]
        dv = np.hypot(*(verts - target).T)
        if dv.min() <= max(snap_tol, GRID_M):
            target = verts[int(dv.argmin())]  # an existing vertex is close enough: reuse it
        else:
            inserts.setdefault(live[j], []).append((along, target))
        connectors.append(np.vstack([ends[s], target]))
        connector_refs.append(refs[live[end_part[s]]])
    for j, items in inserts.items():
        pxy[j] = insert_points(pxy[j], items)
    return pxy, connectors, connector_refs


def linestrings(coords: list[np.ndarray]) -> np.ndarray:
    """Array of LineStrings from a list of (n_i, 2) coordinate arrays (one vectorised call)."""
    idx = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
    return shapely.linestrings(np.concatenate(coords), indices=idx)


def insert_points(c: np.ndarray, items: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Insert points given by distance along the line into a coordinate array."""
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(c, axis=0).T))])
    for along, p in sorted(items, key=lambda t: -t[0]):  # from the end, indices stay valid
        k = int(np.clip(np.searchsorted(cum, along, side="right"), 1, len(c) - 1))
        c = np.insert(c, k, p, axis=0)
        cum = np.insert(cum, k, along)
    return c


def node_and_attribute(pxy: list[np.ndarray], refs: list[str]):
    """Node all parts at every crossing; return segment end points and their route refs.

    ``union_all`` with a grid snap-rounds the linework, so a vertex lying on another line
    becomes a shared node and overlapping stretches of two routes become one segment.
    Each resulting 2-point segment is matched back to the parts it lies on.
    """
    live = [i for i, c in enumerate(pxy) if len(c) >= 2]
    geoms = linestrings([pxy[i] for i in live])
    noded = shapely.union_all(geoms, grid_size=GRID_M)
    coords, index = shapely.get_coordinates(shapely.get_parts(noded), return_index=True)
    same = index[1:] == index[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    nonzero = np.any(a != b, axis=1)
    a, b = a[nonzero], b[nonzero]
    mid = shapely.points((a + b) / 2.0)
    seg, part = shapely.STRtree(geoms).query(mid, predicate="dwithin", distance=10 * GRID_M)
    seg_refs: list[set[str]] = [set() for _ in range(len(a))]
    for s, p in zip(seg.tolist(), part.tolist(), strict=True):
        seg_refs[s].add(refs[live[p]])
    missing = [s for s, r in enumerate(seg_refs) if not r]
    if missing:  # cannot happen with exact noding; keep the segment with its nearest route
        near = shapely.STRtree(geoms).nearest(mid[missing])
        for s, p in zip(missing, np.atleast_1d(near), strict=True):
            seg_refs[s].add(refs[live[int(p)]])
        logger.debug("%d noded segments matched to their nearest route", len(missing))
    return a, b, seg_refs


def graph_from_segments(
    a, b, seg_refs, crs, *, speeds, highway, names, min_stub_m=0.0
) -> nx.MultiDiGraph:
    """Chain segments between junctions into two-way edges with geodesic lengths."""
    inv = transformer(crs, "EPSG:4326")
    pts = np.vstack([a, b])
    uniq, inverse = np.unique(pts, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    lon, lat = inv.transform(uniq[:, 0], uniq[:, 1])
    ids = coordinate_node_ids(lon, lat)
    # Points closer than the id resolution share an id (and so a node).
    node_of_pt = np.unique(ids, return_inverse=True)[1].ravel()
    ua, ub = node_of_pt[inverse[: len(a)]], node_of_pt[inverse[len(a) :]]
    node_ids, first = np.unique(ids, return_index=True)
    nlon, nlat = np.asarray(lon)[first], np.asarray(lat)[first]
    nxy = uniq[first]
    keys = [tuple(sorted(r)) for r in seg_refs]
    seg_len = GEOD.inv(nlon[ua], nlat[ua], nlon[ub], nlat[ub])[2]
    keep = ua != ub
    segs: list[Any] = [
        (int(u), int(v), k, float(ln))
        for u, v, k, ln, ok in zip(ua, ub, keys, seg_len, keep, strict=True)
        if ok
    ]
    # Dissolve segments duplicated after id rounding (same ends): merge their refs.
    merged: dict[tuple[int, int], list] = {}
    for u, v, k, ln in segs:
        key = (min(u, v), max(u, v))
        if key in merged:
            merged[key][2] = tuple(sorted(set(merged[key][2]) | set(k)))
        else:
            merged[key] = [key[0], key[1], k, ln]
    segs = list(merged.values())
    chains, adj = _chains(segs, nxy)
    if min_stub_m > 0:
        # Dead-end stubs hanging off a junction, shorter than the tolerance, are digitising
        # overshoots (a part ending just past the road it joins): drop them and re-chain.
        deg = {n: len(inc) for n, inc in adj.items()}
        stub = {
            s
            for path, _, ln, sids in chains
            if ln < min_stub_m
            and sorted((deg[path[0]], deg[path[-1]]))[0] == 1
            and max(deg[path[0]], deg[path[-1]]) >= 3
            for s in sids
        }
        if stub:
            segs = [sg for i, sg in enumerate(segs) if i not in stub]
            chains, adj = _chains(segs, nxy)
            logger.debug("removed %d dead-end stubs shorter than %.0f m", len(stub), min_stub_m)
    G = nx.MultiDiGraph()
    for n in sorted({c[0][0] for c in chains} | {c[0][-1] for c in chains}):
        G.add_node(int(node_ids[n]), x=float(nlon[n]), y=float(nlat[n]), street_count=len(adj[n]))
    chains.sort(key=lambda c: (int(node_ids[c[0][0]]), int(node_ids[c[0][-1]]), c[1], len(c[0])))
    for k, (path, key, length, _) in enumerate(chains):
        speed = max(speeds.get(r, speeds["default"]) for r in key)
        ref = key[0] if len(key) == 1 else list(key)
        geom = shapely.linestrings(np.column_stack([nlon[path], nlat[path]]))
        attrs = {
            "osmid": -(k + 1),
            "highway": highway,
            "ref": ref,
            "oneway": False,
            "length": length,
            "speed_kph": speed,
            "travel_time": length / (speed / 3.6),
        }
        if len(key) == 1 and key[0] in names:
            attrs["name"] = names[key[0]]
        u, v = int(node_ids[path[0]]), int(node_ids[path[-1]])
        G.add_edge(u, v, **attrs, reversed=False, geometry=geom)
        G.add_edge(v, u, **attrs, reversed=True, geometry=shapely.reverse(geom))
    return G


def _chains(segs: list, nxy: np.ndarray) -> tuple[list, dict[int, list[int]]]:
    """Walk segments ``(u, v, refs, length)`` into chains between non-interstitial nodes.

    Returns ``[(node path, refs, length, segment indices)]`` and the node -> segments map.
    """
    adj: dict[int, list[int]] = {}
    for s, (u, v, _, _) in enumerate(segs):
        adj.setdefault(u, []).append(s)
        adj.setdefault(v, []).append(s)

    def interstitial(n: int) -> bool:
        inc = adj[n]
        if len(inc) != 2 or segs[inc[0]][2] != segs[inc[1]][2]:
            return False
        # A hairpin (both neighbours on the same side) stays a node: typically the end of a
        # road whose two near-coincident copies were snapped together, which must not vanish
        # inside a loop edge.
        (p, q) = (segs[s][0] if segs[s][1] == n else segs[s][1] for s in inc)
        return float(np.dot(nxy[p] - nxy[n], nxy[q] - nxy[n])) < 0.0

    used = np.zeros(len(segs), dtype=bool)
    chains = []
    for start in sorted(adj):
        if interstitial(start):
            continue
        for s0 in adj[start]:
            if used[s0]:
                continue
            path, node, s, length, sids = [start], start, s0, 0.0, []
            while True:
                used[s] = True
                sids.append(s)
                u, v, key, ln = segs[s]
                length += ln
                node = v if u == node else u
                path.append(node)
                if not interstitial(node):
                    break
                s = adj[node][0] if adj[node][1] == s else adj[node][1]
            chains.append((path, key, length, sids))
    if (~used).any():
        logger.info("dropped %d segments forming isolated rings", int((~used).sum()))
    return chains, adj
