"""Frozen, array-based road network with batched routing in C.

:class:`RoadNetwork` is what everything downstream of ``networks`` uses. It is built once
from an osmnx-compatible ``MultiDiGraph`` and holds CSR matrices of edge travel time and
length, projected node coordinates and a KD-tree for snapping. Many-to-many matrices are
computed with :func:`scipy.sparse.csgraph.dijkstra` (C) in origin chunks, split over a
small pool of forked worker processes when the work is large (the routine holds the GIL, so
threads would not run in parallel), so networkx never runs in a hot loop.

One module per concept (as osmnx): routing lives here, snapping points to nodes in
:mod:`networks.snapping` and the ``.npz`` file in :mod:`networks.network_io`; the class's
methods (:meth:`RoadNetwork.snap`, :meth:`RoadNetwork.save`, ...) stay the public API, and
``SnapResult`` and ``utm_crs_for`` are still importable from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from networks._dijkstra_pool import dijkstra_columns, route_blocks, route_blocks_in_pool
from networks._routing import od_paths, reduce_parallel
from networks.errors import ConfigError, NoDrivableRoadsError, UnknownNodeError
from networks.network_io import read_network_npz, write_network_npz
from networks.road_classes import (  # noqa: F401 - re-exported
    ARTERIAL,
    LOCAL,
    MOTORWAY,
    ROAD_CLASSES,
    aligned_classes,
    class_times,
    road_class_of,
)
from networks.snapping import (  # noqa: F401 - SnapResult, utm_crs_for re-exported
    NodeLocator,
    SnapResult,
    utm_crs_for,
)
from networks.validate import positive_int_env, validate_cutoff

logger = logging.getLogger(__name__)

# Bound the memory of one dijkstra block: origins x n_nodes float64 values per chunk.
_BLOCK_VALUES = 4_000_000

Weight = Literal["time", "length"]


@dataclass(eq=False)
class RoadNetwork:
    """A road network frozen to arrays, answering many-to-many routing queries fast.

    Parameters
    ----------
    node_ids : numpy.ndarray
        External (OSM) id of every node; node *index* ``i`` has id ``node_ids[i]``.
    lon, lat : numpy.ndarray
        WGS84 coordinates of the nodes.
    time, length : scipy.sparse.csr_matrix
        ``n x n`` edge weights in seconds and metres with the same sparsity pattern. Where
        the graph has parallel edges, the fastest one is kept (its length alongside).
    length_min : scipy.sparse.csr_matrix, optional
        ``n x n`` length in metres of the *shortest* parallel edge (same pattern), used by
        :meth:`distance_matrix`; ``length`` when not given (no parallel edges).
    crs : str, optional
        Projected CRS for ``x``/``y``; the UTM zone of the centroid by default.
    node_table : pandas.DataFrame, optional
        Extra node attributes (e.g. place ``name``, ``population``) indexed by node index.
    name : str
        Human-readable label (file name or place).
    road_class : scipy.sparse.csr_matrix, optional
        ``n x n`` road-class code plus one (:data:`ROAD_CLASSES`; the +1 keeps every stored
        value non-zero) of every edge, same pattern as ``time``; all ``local`` when absent.
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    time: sparse.csr_matrix
    length: sparse.csr_matrix
    crs: str = ""
    node_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    name: str = ""
    length_min: sparse.csr_matrix | None = None
    road_class: sparse.csr_matrix | None = None

    def __post_init__(self) -> None:
        self.node_ids = np.asarray(self.node_ids, dtype=np.int64)
        self.lon = np.asarray(self.lon, dtype=np.float64)
        self.lat = np.asarray(self.lat, dtype=np.float64)
        n = self.node_ids.size
        if n == 0:
            raise NoDrivableRoadsError(f"road network {self.name!r} has no nodes")
        if self.time.shape != (n, n) or self.length.shape != (n, n):
            raise ValueError("time/length matrices must be n_nodes x n_nodes")
        self.time = sparse.csr_matrix(self.time, dtype=np.float64)
        self.length = sparse.csr_matrix(self.length, dtype=np.float64)
        if self.length_min is None:
            self.length_min = self.length
        elif self.length_min.shape != (n, n):
            raise ValueError("length_min must be n_nodes x n_nodes")
        else:
            self.length_min = sparse.csr_matrix(self.length_min, dtype=np.float64)
        self.time.sort_indices()
        self.road_class = aligned_classes(self.time, self.road_class)
        self._class_times: list[sparse.csr_matrix] | None = None
        if not self.crs:
            self.crs = utm_crs_for(float(np.mean(self.lon)), float(np.mean(self.lat)))
        self._locator = NodeLocator(self.lon, self.lat, self.crs)  # networks/snapping.py
        self.x, self.y = self._locator.x, self._locator.y
        self._index = pd.Index(self.node_ids)
        if not self._index.is_unique:
            raise ValueError("node_ids must be unique")

    @property
    def classes_present(self) -> np.ndarray:
        """Sorted codes of the road classes that occur on at least one edge."""
        assert self.road_class is not None  # set in __post_init__
        return np.unique(self.road_class.data.astype(np.int64) - 1)

    def class_times(self) -> list[sparse.csr_matrix]:
        """Per road class (:data:`ROAD_CLASSES` order): the edge time where the edge is of
        that class, 0 elsewhere (same pattern as :attr:`time`; cached)."""
        if self._class_times is None:
            assert self.road_class is not None
            self._class_times = class_times(self.time, self.road_class)
        return self._class_times

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_graph(
        cls,
        G: nx.MultiDiGraph,
        *,
        time_attr: str = "travel_time",
        length_attr: str = "length",
        node_attrs: Sequence[str] = ("name", "population", "place"),
        name: str = "",
    ) -> RoadNetwork:
        """Freeze an osmnx-compatible graph (nodes with ``x``/``y`` lon/lat, edges with
        ``length`` in m and ``travel_time`` in s) into a :class:`RoadNetwork`."""
        if G.number_of_nodes() == 0 or G.number_of_edges() == 0:
            raise NoDrivableRoadsError(
                f"graph {name or G.graph.get('name', '')!r} has no drivable edges"
            )
        nodes = list(G.nodes)
        index = pd.Index(nodes)
        lon = np.fromiter((G.nodes[n]["x"] for n in nodes), dtype=np.float64, count=len(nodes))
        lat = np.fromiter((G.nodes[n]["y"] for n in nodes), dtype=np.float64, count=len(nodes))
        us, vs, ts, ls, cs = [], [], [], [], []
        for u, v, data in G.edges(data=True):
            us.append(u)
            vs.append(v)
            ts.append(data[time_attr])
            ls.append(data[length_attr])
            cs.append(road_class_of(data.get("highway")))
        rows = index.get_indexer(us)
        cols = index.get_indexer(vs)
        time, length, length_min, road_class = reduce_parallel(
            rows,
            cols,
            np.asarray(ts, dtype=float),
            np.asarray(ls, dtype=float),
            len(nodes),
            classes=np.asarray(cs, dtype=np.int64),
        )
        table = pd.DataFrame(
            {
                a: [G.nodes[n].get(a) for n in nodes]
                for a in node_attrs
                if any(a in G.nodes[n] for n in nodes)
            }
        )
        return cls(
            node_ids=np.asarray(nodes, dtype=np.int64),
            lon=lon,
            lat=lat,
            time=time,
            length=length,
            node_table=table,
            name=name or str(G.graph.get("name", "")),
            length_min=length_min,
            road_class=road_class,
        )

    # ------------------------------------------------------------------ basic facts
    @property
    def n_nodes(self) -> int:
        return int(self.node_ids.size)

    @property
    def n_edges(self) -> int:
        return int(self.time.nnz)

    @property
    def total_km(self) -> float:
        """Sum of directed edge lengths in km (a two-way street counts twice)."""
        return float(self.length.sum()) / 1000.0

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)``."""
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )

    def index_of(self, osm_ids: Sequence[int] | np.ndarray | int) -> np.ndarray:
        """Node indices of external (OSM) ids; raises :class:`UnknownNodeError`."""
        given = np.atleast_1d(np.asarray(osm_ids))
        if given.dtype.kind not in "iu" and not (
            given.dtype.kind == "f" and np.all(np.isfinite(given) & (np.mod(given, 1) == 0))
        ):
            # (1.9 was read as id 1, "abc" was numpy's own error)
            raise UnknownNodeError(
                f"node ids must be whole numbers (OSM ids); got {given[:5].tolist()}"
            )
        ids = given.astype(np.int64)
        idx = self._index.get_indexer(ids)
        if (idx < 0).any():
            missing = ids[idx < 0][:5].tolist()
            raise UnknownNodeError(f"node id(s) {missing} are not in road network {self.name!r}")
        return idx.astype(np.int64)

    def edges_frame(self) -> pd.DataFrame:
        """Edges as a table ``u, v`` (node indices), ``time_s``, ``length_m``."""
        coo = self.time.tocoo()
        return pd.DataFrame(
            {
                "u": coo.row,
                "v": coo.col,
                "time_s": coo.data,
                "length_m": np.asarray(self.length[coo.row, coo.col]).ravel(),
            }
        )

    # ------------------------------------------------------------------ routing
    def _check_indices(self, nodes: np.ndarray | Sequence[int] | None, what: str) -> np.ndarray:
        if nodes is None:
            return np.arange(self.n_nodes)
        arr = np.atleast_1d(np.asarray(nodes))
        if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= self.n_nodes):
            bad = (
                arr[(arr < 0) | (arr >= self.n_nodes)][:5].tolist()
                if arr.dtype.kind in "iu"
                else arr[:5].tolist()
            )
            raise UnknownNodeError(
                f"{what} {bad} are not node indices of network {self.name!r} (0..{self.n_nodes - 1}); "
                "use RoadNetwork.index_of to convert OSM ids"
            )
        return arr.astype(np.int64)

    def _matrix(self, weights: sparse.csr_matrix, origins, destinations, cutoff) -> np.ndarray:
        org = self._check_indices(origins, "origins")
        dst = self._check_indices(destinations, "destinations")
        out = np.empty((org.size, dst.size), dtype=np.float64)
        if org.size == 0 or dst.size == 0:
            return out
        limit = validate_cutoff(cutoff)
        # Unique origins only; duplicates are copied back at the end.
        uniq, inverse = np.unique(org, return_inverse=True)
        res = dijkstra_columns(
            weights,
            uniq,
            None if destinations is None else dst,
            limit=limit,
            workers=_n_threads(),
            block_values=_BLOCK_VALUES,
        )
        out[:] = res[inverse]
        return out

    def travel_time_matrix(
        self, origins=None, destinations=None, *, cutoff: float | None = None
    ) -> np.ndarray:
        """Fastest travel time in seconds between node indices; ``inf`` where unreachable or
        beyond ``cutoff`` seconds. ``None`` means all nodes."""
        return self._matrix(self.time, origins, destinations, cutoff)

    def distance_matrix(
        self, origins=None, destinations=None, *, cutoff: float | None = None
    ) -> np.ndarray:
        """Shortest road distance in metres between node indices (over the shortest of
        parallel edges, so possibly shorter than the length of the fastest route, see
        :meth:`route_matrices`); ``inf`` where unreachable or beyond ``cutoff`` metres."""
        assert self.length_min is not None  # set in __post_init__
        return self._matrix(self.length_min, origins, destinations, cutoff)

    def route_matrices(
        self,
        origins=None,
        destinations=None,
        *,
        cutoff: float | None = None,
        by_class: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """Travel time (s) and length (m) along the fastest route, the pair a driver
        experiences (the length is that of the fastest route, not the shortest distance of
        :meth:`distance_matrix`). ``cutoff`` is in seconds. Unreachable pairs are ``inf`` in
        both.

        With ``by_class``, also the route's free-flow time split by road class
        (:data:`ROAD_CLASSES`), shape ``(n_classes, origins, destinations)``, summed along
        the same fastest-route tree (0 where unreachable; the classes add up to the time up
        to float rounding)."""
        org = self._check_indices(origins, "origins")
        dst = self._check_indices(destinations, "destinations")
        n_c = len(ROAD_CLASSES)
        t_out = np.empty((org.size, dst.size))
        l_out = np.empty((org.size, dst.size))
        c_out = np.zeros((n_c, org.size, dst.size)) if by_class else None
        limit = validate_cutoff(cutoff)
        uniq, inverse = np.unique(org, return_inverse=True)
        present = self.classes_present.tolist() if by_class else []
        chunk = max(1, min(max(uniq.size, 1), _BLOCK_VALUES // ((2 + len(present)) * self.n_nodes)))
        weights = [self.length] + [self.class_times()[c] for c in present]

        workers = _n_threads()
        # (all nodes as destinations: no column gather, and no index array to ship)
        cols = None if destinations is None else dst
        pooled = route_blocks_in_pool(self.time, weights, uniq, cols, limit=limit, workers=workers)
        if pooled is not None:  # worker processes (Dijkstra holds the GIL)
            t_res, sums = pooled
        elif workers > 1 and uniq.size > chunk:
            # threads: a block's tree sums (numpy, GIL released) overlap the next Dijkstra
            with ThreadPoolExecutor(workers) as ex:
                t_res, sums = route_blocks(
                    self.time, weights, uniq, cols, limit, chunk, mapper=ex.map
                )
        else:
            t_res, sums = route_blocks(self.time, weights, uniq, cols, limit, chunk)
        l_res, c_res = sums[0], sums[1:]
        t_out[:] = t_res[inverse]
        l_out[:] = l_res[inverse]
        if c_out is None:
            return t_out, l_out
        for i, c in enumerate(present):
            c_out[c] = c_res[i][inverse]
        return t_out, l_out, c_out

    def energy_matrix(
        self, origins=None, destinations=None, *, kwh_per_km: float, cutoff: float | None = None
    ) -> np.ndarray:
        """Energy in kWh along the fastest route for a constant ``kwh_per_km`` rate."""
        if not np.isfinite(kwh_per_km) or kwh_per_km <= 0:
            raise ValueError(f"kwh_per_km must be positive, got {kwh_per_km!r}")
        _, length = self.route_matrices(origins, destinations, cutoff=cutoff)
        return length / 1000.0 * kwh_per_km

    def route_paths(
        self, origins: Sequence[int] | np.ndarray, destinations: Sequence[int] | np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Fastest (travel-time) route of every ``origins[k] -> destinations[k]`` pair.

        Parameters
        ----------
        origins, destinations : sequence of int
            Node indices of equal length (pairs, not a matrix).

        Returns
        -------
        list of (numpy.ndarray, numpy.ndarray)
            Per pair: the node indices along the route (int64, origin first) and the
            cumulative distance in km at each node (float, starting at ``0.0``; segment
            lengths are those of :attr:`length`, as in :meth:`route_matrices`). Both are
            empty when the destination is unreachable.

        Raises
        ------
        UnknownNodeError
            When an index is not a node index of this network.
        """
        org = self._check_indices(origins, "origins")
        dst = self._check_indices(destinations, "destinations")
        if org.size != dst.size:
            raise ValueError(
                f"route_paths needs one destination per origin, got {org.size} origins and "
                f"{dst.size} destinations"
            )
        return od_paths(self.time, self.length, org, dst, block_values=_BLOCK_VALUES)

    def path(self, origin: int, destination: int, *, weight: Weight = "time") -> np.ndarray:
        """Node indices of the shortest path (empty when unreachable). For a few routes
        (maps), not for every trip."""
        o, d = (int(i) for i in self._check_indices([origin, destination], "path ends"))
        if weight not in ("time", "length"):  # (any other word routed by length)
            raise ConfigError(f'weight must be "time" or "length", got {weight!r}')
        w = self.time if weight == "time" else self.length
        _, pred = csgraph.dijkstra(w, directed=True, indices=o, return_predecessors=True)
        if o != d and pred[d] < 0:
            return np.empty(0, dtype=np.int64)
        nodes = [d]
        while nodes[-1] != o:
            nodes.append(int(pred[nodes[-1]]))
        return np.asarray(nodes[::-1], dtype=np.int64)

    def path_geometry(self, origin: int, destination: int, *, weight: Weight = "time"):
        """Shortest path as a shapely ``LineString`` in lon/lat, or ``None``."""
        from shapely.geometry import LineString

        nodes = self.path(origin, destination, weight=weight)
        if nodes.size < 2:
            return None
        return LineString(np.column_stack([self.lon[nodes], self.lat[nodes]]))

    # ------------------------------------------------------------------ snapping
    def snap(self, lon, lat, *, max_distance_m: float = 500.0) -> SnapResult:
        """Nearest network node for each lon/lat point (KD-tree on projected coordinates).

        ``max_distance_m`` (metres, ``>= 0``, ``inf`` for no limit) sets ``within``; a
        negative, NaN or non-numeric value raises :class:`~networks.errors.ConfigError`."""
        return self._locator.snap(lon, lat, max_distance_m=max_distance_m)

    def snap_strict(
        self, lon, lat, *, max_distance_m: float = 500.0, labels: Sequence[str] | None = None
    ) -> np.ndarray:
        """Like :meth:`snap` but raise :class:`SnapDistanceError` naming every point farther
        than ``max_distance_m`` from the network."""
        return self._locator.snap_strict(
            lon, lat, max_distance_m=max_distance_m, labels=labels, network_name=self.name
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write to an ``.npz`` file atomically (layout: :mod:`networks.network_io`)."""
        assert self.length_min is not None and self.road_class is not None  # __post_init__
        write_network_npz(
            path,
            node_ids=self.node_ids,
            lon=self.lon,
            lat=self.lat,
            time=self.time,
            length=self.length,
            length_min=self.length_min,
            road_class=self.road_class,
            crs=self.crs,
            name=self.name,
            node_table=self.node_table,
        )

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Read a network written by :meth:`save`; :class:`~networks.errors.InputFileError`
        when the file cannot be read."""
        return cls(**read_network_npz(path))


#: What ``EVPLAN_THREADS`` sets, for the message when its value is wrong.
THREADS_MEANING = "worker processes for routing; unset: one per CPU, at most 4"


def check_thread_env() -> None:
    """Raise :class:`~networks.errors.ConfigError` when ``EVPLAN_THREADS`` is set but not a
    whole number >= 1: the command line calls it before any work, so a typo is a usage
    error at once rather than a failure once routing starts."""
    _n_threads()


def _n_threads() -> int:
    """Worker processes for routing: ``EVPLAN_THREADS`` if set, else up to 4 (the CPUs).

    Raises
    ------
    ConfigError
        ``EVPLAN_THREADS`` is set but not a whole number >= 1.
    """
    env = positive_int_env("EVPLAN_THREADS", meaning=THREADS_MEANING)
    if env is not None:
        return env
    return max(1, min(4, os.cpu_count() or 1))
