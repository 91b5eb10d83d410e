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

from networks.road_network import ROAD_CLASSES, RoadNetwork

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
    to_tc, from_tc : numpy.ndarray or None
        With ``by_class``: ``(n_classes, |P|, S)`` free-flow time of the same routes split
        by road class (:data:`networks.road_classes.ROAD_CLASSES`), summed along the same
        fastest-route trees (congestion per class scales these; the route itself stays the
        free-flow fastest one).
    seconds : float
        Wall time spent building.
    """

    def __init__(
        self,
        network: RoadNetwork,
        positions: np.ndarray,
        station_nodes: np.ndarray,
        *,
        by_class: bool = False,
    ) -> None:
        t0 = time.perf_counter()
        self.network = network
        self.by_class = bool(by_class)
        self.to_tc: np.ndarray | None = None
        self.from_tc: np.ndarray | None = None
        self.station_nodes = np.asarray(station_nodes, dtype=np.int64)
        self.positions = np.unique(
            np.concatenate([np.asarray(positions, dtype=np.int64), self.station_nodes])
        )
        self.prow = np.full(network.n_nodes, -1, dtype=np.int64)
        self.prow[self.positions] = np.arange(self.positions.size)
        n_p, n_s = self.positions.size, self.station_nodes.size
        if n_s:
            uniq_s, inv_s = np.unique(self.station_nodes, return_inverse=True)
            fwd = network.route_matrices(uniq_s, self.positions, by_class=by_class)
            self.from_t = np.ascontiguousarray(fwd[0][inv_s].T)
            self.from_l = np.ascontiguousarray(fwd[1][inv_s].T)
            rev = _reversed(network).route_matrices(uniq_s, self.positions, by_class=by_class)
            self.to_t = np.ascontiguousarray(rev[0][inv_s].T)
            self.to_l = np.ascontiguousarray(rev[1][inv_s].T)
            if by_class:
                self.from_tc = np.ascontiguousarray(fwd[2][:, inv_s].transpose(0, 2, 1))
                self.to_tc = np.ascontiguousarray(rev[2][:, inv_s].transpose(0, 2, 1))
        else:
            self.from_t = self.from_l = self.to_t = self.to_l = np.zeros((n_p, 0))
            if by_class:
                self.from_tc = self.to_tc = np.zeros((len(ROAD_CLASSES), n_p, 0))
        # the full leg table covers the trip ends only (not the stations), so tables of other
        # station sets over the same trips can share it (sim.routes.shared_tables)
        self.trip_positions = np.unique(np.asarray(positions, dtype=np.int64))
        self._legs = _LegTable(network, self.trip_positions, by_class)
        self.seconds = time.perf_counter() - t0
        logger.info("route tables: %d positions x %d stations in %.2f s", n_p, n_s, self.seconds)

    def covers(self, nodes: np.ndarray) -> bool:
        """Whether every node of ``nodes`` is a position of these tables."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return bool((self.prow[nodes] >= 0).all())

    def legs(
        self, origins: np.ndarray, destinations: np.ndarray, *, by_class: bool = False
    ) -> tuple[np.ndarray, ...]:
        """Time (s) and length (m) of each ``origins[i] -> destinations[i]`` leg, and with
        ``by_class`` the time split by road class (``(n_classes, n)``; needs tables built
        ``by_class``).

        With few positions (``|P|^2 <= 4e6``) a full ``P x P`` table is computed once and
        reused (replications); otherwise legs are gathered in origin chunks.
        """
        if by_class and not self.by_class:
            raise ValueError("these route tables were built without the road-class split")
        o = np.asarray(origins, dtype=np.int64)
        d = np.asarray(destinations, dtype=np.int64)
        pp = self._full_table(o, d)
        if pp is not None:
            ro, rd = self._legs.row[o], self._legs.row[d]
            out = (pp[0][ro, rd], pp[1][ro, rd])
            return (*out, pp[2][:, ro, rd]) if by_class else out
        return pair_routes(self.network, o, d, by_class=by_class)

    def prepare_legs(self, nodes: np.ndarray) -> None:
        """Compute now the full leg table :meth:`legs` would compute on first use for trips
        between ``nodes`` (nothing when it would gather legs in chunks instead).

        :func:`sim.replicate` calls it before forking its workers: they inherit the table,
        where each would otherwise compute its own on its first run."""
        self._full_table(np.asarray(nodes, dtype=np.int64))

    def _full_table(self, *nodes: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """The full ``P x P`` leg table (computed on first use, timed in :attr:`seconds`)
        when it serves legs between ``nodes``: few enough positions and every node one of
        them; ``None`` otherwise (legs are then gathered in chunks)."""
        lt = self._legs
        if lt.positions.size**2 > _FULL_TABLE_VALUES or not all(lt.covers(n) for n in nodes):
            return None
        t0 = time.perf_counter()
        pp = lt.table()
        self.seconds += time.perf_counter() - t0
        return pp


class _LegTable:
    """Full ``P x P`` fastest-route table over trip ends ``P``, computed on first use."""

    def __init__(self, network: RoadNetwork, positions: np.ndarray, by_class: bool) -> None:
        self.network, self.positions, self.by_class = network, positions, by_class
        self.row = np.full(network.n_nodes, -1, dtype=np.int64)
        self.row[positions] = np.arange(positions.size)
        self._pp: tuple[np.ndarray, ...] | None = None

    def covers(self, nodes: np.ndarray) -> bool:
        return bool((self.row[nodes] >= 0).all())

    def table(self) -> tuple[np.ndarray, ...]:
        if self._pp is None:
            self._pp = self.network.route_matrices(
                self.positions, self.positions, by_class=self.by_class
            )
        return self._pp


def pair_routes(
    network: RoadNetwork,
    origins: np.ndarray,
    destinations: np.ndarray,
    *,
    by_class: bool = False,
) -> tuple[np.ndarray, ...]:
    """Fastest-route time and length (and with ``by_class`` the time split by road class,
    ``(n_classes, n)``) for paired origins/destinations, batched by origin."""
    o = np.asarray(origins, dtype=np.int64)
    d = np.asarray(destinations, dtype=np.int64)
    t_out = np.full(o.size, np.inf)
    l_out = np.full(o.size, np.inf)
    c_out = np.zeros((len(ROAD_CLASSES), o.size))
    done = (t_out, l_out, c_out) if by_class else (t_out, l_out)
    if o.size == 0:
        return done
    same = o == d
    t_out[same] = 0.0
    l_out[same] = 0.0
    todo = np.flatnonzero(~same)
    if todo.size == 0:
        return done
    uo, o_inv = np.unique(o[todo], return_inverse=True)
    ud, d_inv = np.unique(d[todo], return_inverse=True)
    chunk = max(1, _CHUNK_VALUES // max(1, ud.size))
    order = np.argsort(o_inv, kind="stable")
    bounds = np.searchsorted(o_inv[order], np.arange(0, uo.size + chunk, chunk))
    for b, start in enumerate(range(0, uo.size, chunk)):
        res = network.route_matrices(uo[start : start + chunk], ud, by_class=by_class)
        sel = order[bounds[b] : bounds[b + 1]]
        rows = o_inv[sel] - start
        t_out[todo[sel]] = res[0][rows, d_inv[sel]]
        l_out[todo[sel]] = res[1][rows, d_inv[sel]]
        if by_class:
            c_out[:, todo[sel]] = res[2][:, rows, d_inv[sel]]
    return done


#: Route tables already built, per network (alive as long as the network): a study reuses
#: them across replications, rounds, seasons and stages (the network and the OD set do not
#: change; congestion factors scale the tables' times, they are not part of them).
_TABLES: weakref.WeakKeyDictionary[RoadNetwork, list[RouteTables]] = weakref.WeakKeyDictionary()
#: Tables kept per network (most recently used first); each is O(|P| x S) floats.
MAX_CACHED_TABLES = 4


def shared_tables(
    network: RoadNetwork,
    positions: np.ndarray,
    station_nodes: np.ndarray,
    *,
    by_class: bool = False,
) -> RouteTables:
    """Route tables for ``positions`` and ``station_nodes`` on ``network``, reused from an
    earlier call when one covers them: key = (network object, station nodes in order,
    positions covered, road-class split present). Built and remembered otherwise (the
    :data:`MAX_CACHED_TABLES` most recent per network); a new table over the same trip ends
    as a remembered one (another station set: the next round of a study) shares its
    trip-leg table, the expensive part."""
    st = np.asarray(station_nodes, dtype=np.int64)
    pos = np.asarray(positions, dtype=np.int64)
    cached = _TABLES.setdefault(network, [])
    for i, rt in enumerate(cached):
        if (
            (rt.by_class or not by_class)
            and np.array_equal(rt.station_nodes, st)
            and rt.covers(pos)
        ):
            cached.insert(0, cached.pop(i))
            logger.debug("route tables reused (%d positions)", rt.positions.size)
            return rt
    rt = RouteTables(network, pos, st, by_class=by_class)
    for other in cached:  # same trips, other stations: share the trip-leg table
        lt = other._legs
        if (lt.by_class or not by_class) and np.array_equal(lt.positions, rt.trip_positions):
            rt._legs = lt
            break
    cached.insert(0, rt)
    del cached[MAX_CACHED_TABLES:]
    return rt


def congested(
    t: np.ndarray, tc: np.ndarray | None, table: np.ndarray, hours: np.ndarray | int
) -> np.ndarray:
    """Route times at congestion hour(s) ``hours`` from free-flow times ``t``.

    ``table`` is ``(24,)`` (one profile: ``t * F[h]``) or ``(n_classes, 24)`` (per road
    class: ``t + sum_c tc[c] * (F[c, h] - 1)``, with ``tc`` the per-class split of ``t``;
    factors of 1 add exact zeros, so free flow is reproduced bit for bit). Elementwise and
    in a fixed order, so every caller gets the same floats for the same route and hour.
    """
    if table.ndim == 1:
        return t * table[hours]
    assert tc is not None
    out = t
    for c in range(table.shape[0]):
        out = out + tc[c] * (table[c, hours] - 1.0)
    return out


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
            road_class=None if network.road_class is None else network.road_class.T.tocsr(),
            crs=network.crs,
            name=f"{network.name} (reversed)",
        )
        _REVERSED[network] = rev
    return rev
