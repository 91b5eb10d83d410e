"""Route tables computed once per run from :class:`networks.RoadNetwork` batched matrices.

The simulation needs travel time and length (along the fastest route) for

* every trip leg ``origin -> destination``,
* every position a vehicle can be in (trip ends and station nodes, set ``P``) to every
  station (``P x S``), and every station to every position (``S x P``).

``P x S`` is computed on the *reversed* network from the stations (``S`` Dijkstra runs
instead of ``|P|``); a shortest path in the reversed graph is the reversed shortest path, so
times are identical and lengths follow the same fastest route. Trip legs are gathered from
``route_matrices(unique origins, unique destinations)`` in origin chunks so memory stays
bounded. Nothing here runs during the event loop.
"""

from __future__ import annotations

import logging
import time
import weakref

import numpy as np

from networks.road_network import RoadNetwork

logger = logging.getLogger(__name__)

_CHUNK_VALUES = 8_000_000  # origins x destinations per gathered block
_FULL_TABLE_VALUES = 4_000_000  # positions^2 below which a full P x P table is kept


class RouteTables:
    """Times (s) and lengths (m) for positions ``P`` and stations ``S``.

    Attributes
    ----------
    positions : numpy.ndarray
        Node indices of ``P`` (sorted, unique).
    prow : numpy.ndarray
        ``n_nodes`` array mapping node index -> row in ``P`` (-1 if absent).
    station_nodes : numpy.ndarray
        Node of each station (length ``S``).
    to_t, to_l : numpy.ndarray
        ``(|P|, S)``: from position to station.
    from_t, from_l : numpy.ndarray
        ``(|P|, S)``: from station to position (stored transposed for row access).
    seconds : float
        Wall time spent building.
    """

    def __init__(
        self, network: RoadNetwork, positions: np.ndarray, station_nodes: np.ndarray
    ) -> None:
        t0 = time.perf_counter()
        self.network = network
        self.station_nodes = np.asarray(station_nodes, dtype=np.int64)
        self.positions = np.unique(
            np.concatenate([np.asarray(positions, dtype=np.int64), self.station_nodes])
        )
        self.prow = np.full(network.n_nodes, -1, dtype=np.int64)
        self.prow[self.positions] = np.arange(self.positions.size)
        n_p, n_s = self.positions.size, self.station_nodes.size
        if n_s:
            uniq_s, inv_s = np.unique(self.station_nodes, return_inverse=True)
            ft, fl = network.route_matrices(uniq_s, self.positions)
            self.from_t = np.ascontiguousarray(ft[inv_s].T)
            self.from_l = np.ascontiguousarray(fl[inv_s].T)
            rev = _reversed(network)
            rt, rl = rev.route_matrices(uniq_s, self.positions)
            self.to_t = np.ascontiguousarray(rt[inv_s].T)
            self.to_l = np.ascontiguousarray(rl[inv_s].T)
        else:
            self.from_t = self.from_l = self.to_t = self.to_l = np.zeros((n_p, 0))
        self._pp: tuple[np.ndarray, np.ndarray] | None = None
        self.seconds = time.perf_counter() - t0
        logger.info("route tables: %d positions x %d stations in %.2f s", n_p, n_s, self.seconds)

    def covers(self, nodes: np.ndarray) -> bool:
        """Whether every node of ``nodes`` is a position of these tables."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return bool((self.prow[nodes] >= 0).all())

    def legs(self, origins: np.ndarray, destinations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Time (s) and length (m) of each ``origins[i] -> destinations[i]`` leg.

        With few positions (``|P|^2 <= 4e6``) a full ``P x P`` table is computed once and
        reused (replications); otherwise legs are gathered in origin chunks.
        """
        o = np.asarray(origins, dtype=np.int64)
        d = np.asarray(destinations, dtype=np.int64)
        if self.positions.size**2 <= _FULL_TABLE_VALUES and self.covers(o) and self.covers(d):
            if self._pp is None:
                t0 = time.perf_counter()
                self._pp = self.network.route_matrices(self.positions, self.positions)
                self.seconds += time.perf_counter() - t0
            tm, lm = self._pp
            return tm[self.prow[o], self.prow[d]], lm[self.prow[o], self.prow[d]]
        return pair_routes(self.network, o, d)


def pair_routes(
    network: RoadNetwork, origins: np.ndarray, destinations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fastest-route time and length for paired origins/destinations, batched by origin."""
    o = np.asarray(origins, dtype=np.int64)
    d = np.asarray(destinations, dtype=np.int64)
    t_out = np.full(o.size, np.inf)
    l_out = np.full(o.size, np.inf)
    if o.size == 0:
        return t_out, l_out
    same = o == d
    t_out[same] = 0.0
    l_out[same] = 0.0
    todo = np.flatnonzero(~same)
    if todo.size == 0:
        return t_out, l_out
    uo, o_inv = np.unique(o[todo], return_inverse=True)
    ud, d_inv = np.unique(d[todo], return_inverse=True)
    chunk = max(1, _CHUNK_VALUES // max(1, ud.size))
    order = np.argsort(o_inv, kind="stable")
    bounds = np.searchsorted(o_inv[order], np.arange(0, uo.size + chunk, chunk))
    for b, start in enumerate(range(0, uo.size, chunk)):
        tm, lm = network.route_matrices(uo[start : start + chunk], ud)
        sel = order[bounds[b] : bounds[b + 1]]
        rows = o_inv[sel] - start
        t_out[todo[sel]] = tm[rows, d_inv[sel]]
        l_out[todo[sel]] = lm[rows, d_inv[sel]]
    return t_out, l_out


#: Reversed copy of each network seen, alive as long as the network itself (building the
#: reversed graph and its KD-tree is not free on big networks; replications reuse it).
_REVERSED: weakref.WeakKeyDictionary[RoadNetwork, RoadNetwork] = weakref.WeakKeyDictionary()


def _reversed(network: RoadNetwork) -> RoadNetwork:
    """The network with every edge reversed (cached per network object, never mutating it)."""
    rev = _REVERSED.get(network)
    if rev is None:
        rev = RoadNetwork(
            node_ids=network.node_ids,
            lon=network.lon,
            lat=network.lat,
            time=network.time.T.tocsr(),
            length=network.length.T.tocsr(),
            crs=network.crs,
            name=f"{network.name} (reversed)",
        )
        _REVERSED[network] = rev
    return rev
