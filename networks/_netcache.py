"""On-disk cache of prepared networks in a format that cannot execute code.

One ``network-<key>.npz`` file per entry, read with ``numpy.load(allow_pickle=False)``:

* ``meta`` (UTF-8 JSON bytes): a magic string, :data:`FORMAT`, the cache key, the build
  report, the warnings logged while building (replayed on a load, so a cached network
  warns as a built one does), source, graph attributes, the POI table, the road network's crs/name/node table,
  and every node's and edge's attributes except edge geometries;
* numeric arrays: the road network (node ids, lon/lat, CSR ``indptr``/``indices``/``data``
  of ``time``, ``length``, ``length_min`` and ``road_class``), the graph's node ids, edge ends and keys,
  the order of every node's predecessors (so in-edge iteration order survives), and the
  edge geometries as coordinate runs.

JSON holds only ``str``/``int``/``float``/``bool``/``None`` and lists and str-keyed dicts
of them (floats round-trip exactly through their ``repr``); a bundle holding anything else
(a tuple, a numpy scalar, a 3-D geometry...) is not cached rather than cached inexactly.
Reading checks the magic, format, key, every array's dtype and shape and the CSR
structure; the zip container checks each member's CRC-32, so a truncated or damaged file
is detected. Anything wrong makes the entry a miss (the caller rebuilds and overwrites it).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from shapely.geometry import LineString

from networks.atomic import atomic_open
from networks.road_network import RoadNetwork

logger = logging.getLogger(__name__)

#: Version of the file layout; a file of another version is a miss.
FORMAT = 7  # 6: per-edge road class; 7: the build's warnings
MAGIC = "evplan-network-cache"
PREFIX, SUFFIX = "network-", ".npz"
_MATRICES = ("time", "length", "length_min", "road_class")


class CacheFormatError(ValueError):
    """A cache file is not a valid bundle of this format (internal: turned into a miss)."""


def cache_path(cache_dir: str | Path, key: str) -> Path:
    """Path of the cache file of ``key`` in ``cache_dir``. The file layout's
    :data:`FORMAT` is part of the name, so checkouts writing different layouts into one
    shared cache folder keep separate files instead of overwriting each other's."""
    return Path(cache_dir) / f"{PREFIX}{key}-f{FORMAT}{SUFFIX}"


# --------------------------------------------------------------------------- writing
def write_bundle(
    path: Path,
    key: str,
    *,
    graph: nx.MultiDiGraph,
    network: RoadNetwork,
    pois: pd.DataFrame,
    report: dict[str, int],
    source: str,
    extra: dict,
    warnings: list[dict] | None = None,
) -> None:
    """Write one cache entry atomically (temporary sibling, then ``os.replace``).

    ``warnings`` are the log records of the build to replay on a load, as
    ``{"logger": name, "level": levelno, "message": text}``.

    Raises
    ------
    CacheFormatError
        When the bundle holds a value the format cannot store exactly.
    OSError
        When the file cannot be written.
    """
    arrays, meta = _encode(key, graph, network, pois, report, source, extra)
    meta["warnings"] = _plain(list(warnings or []), "build warning")
    arrays["meta"] = np.frombuffer(
        json.dumps(meta, ensure_ascii=False, allow_nan=True).encode("utf-8"), dtype=np.uint8
    )
    with atomic_open(path) as fh:
        np.savez(fh, allow_pickle=False, **arrays)


def _encode(key, G, net, pois, report, source, extra) -> tuple[dict[str, np.ndarray], dict]:
    nodes = list(G.nodes)
    node_pos = {n: i for i, n in enumerate(nodes)}
    edges = list(G.edges(keys=True, data=True))
    geom_edge: list[int] = []
    geoms: list[LineString] = []
    edge_attrs = []
    for i, (_, _, _, d) in enumerate(edges):
        g = d.get("geometry")
        if g is not None:
            if not isinstance(g, LineString) or g.has_z:
                raise CacheFormatError(f"edge geometry {type(g).__name__} is not a 2-D LineString")
            geom_edge.append(i)
            geoms.append(g)
            d = {**d, "geometry": None}  # placeholder keeps the attribute order
        edge_attrs.append(_plain(d, "edge attribute"))
    coords = shapely.get_coordinates(geoms) if geoms else np.empty((0, 2))
    counts = shapely.get_num_coordinates(geoms) if geoms else np.empty(0, dtype=np.int64)
    pred_ptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    pred: list[int] = []
    for i, n in enumerate(nodes):
        pred.extend(node_pos[p] for p in G.pred[n])
        pred_ptr[i + 1] = len(pred)
    if any(type(k) is not int for _, _, k, _ in edges) or any(type(n) is not int for n in nodes):
        raise CacheFormatError("graph node ids and edge keys must be int")
    arrays: dict[str, np.ndarray] = {
        "g_nodes": np.asarray(nodes, dtype=np.int64),
        "g_u": np.fromiter((node_pos[e[0]] for e in edges), np.int64, len(edges)),
        "g_v": np.fromiter((node_pos[e[1]] for e in edges), np.int64, len(edges)),
        "g_key": np.fromiter((e[2] for e in edges), np.int64, len(edges)),
        "g_pred": np.asarray(pred, dtype=np.int64),
        "g_pred_ptr": pred_ptr,
        "g_geom_edge": np.asarray(geom_edge, dtype=np.int64),
        "g_geom_coords": np.asarray(coords, dtype=np.float64).reshape(-1, 2),
        "g_geom_count": np.asarray(counts, dtype=np.int64),
        "net_node_ids": net.node_ids,
        "net_lon": net.lon,
        "net_lat": net.lat,
    }
    for name in _MATRICES:
        m = getattr(net, name).tocsr()
        arrays[f"net_{name}_indptr"] = m.indptr.astype(np.int64)
        arrays[f"net_{name}_indices"] = m.indices.astype(np.int64)
        arrays[f"net_{name}_data"] = m.data.astype(np.float64)
    meta = {
        "magic": MAGIC,
        "format": FORMAT,
        "key": key,
        "source": source,
        "report": _plain(report, "build report"),
        "extra": _plain(extra, "extra"),
        "net": {
            "crs": net.crs,
            "name": net.name,
            "node_table": _frame(net.node_table, "node table", by_column=True),
        },
        "pois": _frame(pois, "POI table"),
        "graph": _plain(G.graph, "graph attribute"),
        "node_attrs": [_plain(d, "node attribute") for _, d in G.nodes(data=True)],
        "edge_attrs": edge_attrs,
    }
    return arrays, meta


def _frame(df: pd.DataFrame, what: str, *, by_column: bool = False) -> dict:
    """A frame as JSON; ``by_column`` frames are rebuilt as ``DataFrame({col: list})`` (as
    :meth:`RoadNetwork.from_graph` builds its node table), others as
    ``DataFrame(rows, columns=...)`` (as the OSM reader builds the POI table)."""
    if any(type(c) is not str for c in df.columns):
        raise CacheFormatError(f"{what} column names must be str")
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        raise CacheFormatError(f"{what} must have a default RangeIndex")
    return {
        "columns": _plain(list(df.columns), what),
        "dtypes": [str(t) for t in df.dtypes],
        "by_column": by_column,
        "data": _plain(
            df.to_dict(orient="list") if by_column else df.to_dict(orient="split")["data"], what
        ),
    }


def _plain(value: Any, what: str) -> Any:
    """``value`` unchanged when JSON stores it exactly; else :class:`CacheFormatError`."""
    t = type(value)
    if value is None or t in (str, int, float, bool):
        return value
    if t is list:
        for v in value:
            _plain(v, what)
        return value
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise CacheFormatError(f"{what} key {k!r} is not a str")
            _plain(v, what)
        return value
    raise CacheFormatError(f"{what} value of type {t.__name__} cannot be cached exactly")


# --------------------------------------------------------------------------- reading
def read_bundle(path: Path, key: str) -> dict[str, Any]:
    """Read and verify one cache entry.

    Returns
    -------
    dict
        ``graph``, ``network``, ``pois``, ``report`` (dict), ``source``, ``extra``,
        ``warnings`` (the build's log records, see :func:`write_bundle`).

    Raises
    ------
    Exception
        :class:`CacheFormatError`, or whatever numpy, zipfile, json, pandas or networkx
        raise, when the file is not a complete, valid bundle of this format and key; the
        caller treats any of them as a miss.
    """
    with np.load(path, allow_pickle=False) as z:
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise CacheFormatError("not an .npz archive")
        # numpy reads exactly the bytes an array needs and so never reaches the end of a
        # member, where zipfile checks its CRC-32: check every member explicitly
        bad = z.zip.testzip() if z.zip is not None else None
        if bad is not None:
            raise CacheFormatError(f"member {bad!r} fails its CRC-32 check")
        meta = json.loads(bytes(_arr(z, "meta", np.uint8, 1)).decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("magic") != MAGIC:
            raise CacheFormatError("not an evplan network cache file")
        if meta.get("format") != FORMAT or meta.get("key") != key:
            raise CacheFormatError(
                f"format {meta.get('format')!r} / key {meta.get('key')!r}, "
                f"expected {FORMAT} / {key}"
            )
        arrays = {name: z[name] for name in z.files}
    network = _network(arrays, meta["net"])
    graph = _graph(arrays, meta)
    return {
        "graph": graph,
        "network": network,
        "pois": _unframe(meta["pois"]),
        "report": meta["report"],
        "source": meta["source"],
        "extra": meta["extra"],
        "warnings": _warnings(meta["warnings"]),
    }


def _warnings(records: Any) -> list[dict]:
    """The stored build warnings, checked: a list of ``{"logger": str, "level": int,
    "message": str}``."""
    ok = isinstance(records, list) and all(
        isinstance(r, dict)
        and set(r) == {"logger", "level", "message"}
        and isinstance(r["logger"], str)
        and type(r["level"]) is int
        and isinstance(r["message"], str)
        for r in records
    )
    if not ok:
        raise CacheFormatError("build warnings are not a list of logger/level/message records")
    return records


def _arr(z: Any, name: str, dtype: Any, ndim: int) -> np.ndarray:
    a = z[name]
    if a.dtype != dtype or a.ndim != ndim:
        raise CacheFormatError(f"array {name!r} has dtype {a.dtype} and {a.ndim} dims")
    return a


def _network(arrays: dict[str, np.ndarray], meta: dict) -> RoadNetwork:
    ids = _arr(arrays, "net_node_ids", np.int64, 1)
    n = ids.size
    mats = {}
    for name in _MATRICES:
        m = sparse.csr_matrix(
            (
                _arr(arrays, f"net_{name}_data", np.float64, 1),
                _arr(arrays, f"net_{name}_indices", np.int64, 1),
                _arr(arrays, f"net_{name}_indptr", np.int64, 1),
            ),
            shape=(n, n),
        )
        m.check_format(full_check=True)  # indices in range, indptr monotone
        mats[name] = m
    lon, lat = (_arr(arrays, k, np.float64, 1) for k in ("net_lon", "net_lat"))
    if lon.size != n or lat.size != n:
        raise CacheFormatError("node coordinate arrays do not match the node ids")
    return RoadNetwork(
        node_ids=ids,
        lon=lon,
        lat=lat,
        time=mats["time"],
        length=mats["length"],
        crs=str(meta["crs"]),
        node_table=_unframe(meta["node_table"]),
        name=str(meta["name"]),
        length_min=mats["length_min"],
        road_class=mats["road_class"],
    )


def _unframe(spec: dict) -> pd.DataFrame:
    if spec["by_column"]:
        df = pd.DataFrame({c: spec["data"][c] for c in spec["columns"]})
    else:
        df = pd.DataFrame(spec["data"], columns=spec["columns"])
    if [str(t) for t in df.dtypes] != spec["dtypes"]:
        df = df.astype(dict(zip(spec["columns"], spec["dtypes"], strict=True)))
    return df


def _graph(arrays: dict[str, np.ndarray], meta: dict) -> nx.MultiDiGraph:
    nodes = _arr(arrays, "g_nodes", np.int64, 1).tolist()
    u, v, keys = (_arr(arrays, k, np.int64, 1) for k in ("g_u", "g_v", "g_key"))
    node_attrs, edge_attrs = meta["node_attrs"], meta["edge_attrs"]
    m = len(edge_attrs)
    if len(node_attrs) != len(nodes) or not (u.size == v.size == keys.size == m):
        raise CacheFormatError("graph arrays and attribute lists differ in length")
    if m and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= len(nodes)):
        raise CacheFormatError("edge end out of range")
    geom_edge = _arr(arrays, "g_geom_edge", np.int64, 1)
    count = _arr(arrays, "g_geom_count", np.int64, 1)
    coords = _arr(arrays, "g_geom_coords", np.float64, 2)
    if count.size != geom_edge.size or int(count.sum()) != coords.shape[0] or (count < 2).any():
        raise CacheFormatError("edge geometry arrays are inconsistent")
    if geom_edge.size:
        lines = shapely.linestrings(coords, indices=np.repeat(np.arange(count.size), count))
        for i, line in zip(geom_edge.tolist(), lines.tolist(), strict=True):
            edge_attrs[i]["geometry"] = line
    G = nx.MultiDiGraph()
    G.graph.update(meta["graph"])
    G.add_nodes_from(zip(nodes, node_attrs, strict=True))
    us, vs, ks = u.tolist(), v.tolist(), keys.tolist()
    # pairs in edge order; the keys of one pair are contiguous in MultiDiGraph.edges order
    pair_edges: dict[tuple[int, int], list[int]] = {}
    for i in range(m):
        pair_edges.setdefault((us[i], vs[i]), []).append(i)
    for pair in _insertion_order(list(pair_edges), _pred_lists(arrays, len(nodes))):
        G.add_edges_from(
            (nodes[pair[0]], nodes[pair[1]], ks[i], edge_attrs[i]) for i in pair_edges[pair]
        )
    if G.number_of_edges() != m:
        raise CacheFormatError("duplicate edge keys")
    return G


def _pred_lists(arrays: dict[str, np.ndarray], n: int) -> list[list[int]]:
    pred = _arr(arrays, "g_pred", np.int64, 1).tolist()
    ptr = _arr(arrays, "g_pred_ptr", np.int64, 1).tolist()
    if len(ptr) != n + 1 or ptr[0] != 0 or ptr[-1] != len(pred):
        raise CacheFormatError("predecessor index is inconsistent")
    return [pred[ptr[i] : ptr[i + 1]] for i in range(n)]


def _insertion_order(
    pairs: list[tuple[int, int]], preds: list[list[int]]
) -> Iterable[tuple[int, int]]:
    """An order of the ``(u, v)`` pairs that reproduces both each node's successor order
    (the order of ``pairs``) and its predecessor order (``preds``) when edges are added in
    it: a topological order of the two chains of constraints (Kahn's algorithm)."""
    index = {p: i for i, p in enumerate(pairs)}
    after: list[list[int]] = [[] for _ in pairs]
    indeg = [0] * len(pairs)
    for i in range(1, len(pairs)):
        if pairs[i][0] == pairs[i - 1][0]:
            after[i - 1].append(i)
            indeg[i] += 1
    for v, us in enumerate(preds):
        try:
            chain = [index[(u, v)] for u in us]
        except KeyError as exc:
            raise CacheFormatError(f"predecessor {exc} of node {v} has no edge") from None
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            after[a].append(b)
            indeg[b] += 1
    if sum(len(us) for us in preds) != len(pairs):
        raise CacheFormatError("predecessor lists do not cover the edges")
    ready = deque(i for i in range(len(pairs)) if indeg[i] == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(pairs[i])
        for j in after[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    if len(order) != len(pairs):
        raise CacheFormatError("predecessor and successor orders contradict each other")
    return order
