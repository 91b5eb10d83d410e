"""Array helpers behind :class:`networks.road_network.RoadNetwork` routing.

Kept apart from the class so the module stays small: parallel-edge reduction into CSR
weights, lengths along a shortest-path tree, and the per-pair path walk of
:meth:`~networks.road_network.RoadNetwork.route_paths`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

# Zero-length edges occur in OSM (duplicated nodes). csgraph ignores explicit zeros in some
# code paths, so every weight is clamped to a tiny positive value that cannot change a route.
MIN_WEIGHT = 1e-6


def reduce_parallel(
    rows: np.ndarray,
    cols: np.ndarray,
    ts: np.ndarray,
    ls: np.ndarray,
    n: int,
    classes: np.ndarray | None = None,
) -> tuple[sparse.csr_matrix, ...]:
    """Collapse parallel edges into ``n x n`` CSR weights; self-loops are dropped.

    Returns
    -------
    (time, length, length_min) or (time, length, length_min, road_class)
        ``time`` and ``length`` of the *fastest* parallel edge (ties: the first in
        ``(time)`` order), and ``length_min``, the *shortest* length over the parallel
        edges. With ``classes`` (road-class code per edge), also the fastest edge's code
        plus one (so that no stored value is zero). All share one sparsity pattern.
    """
    keep = rows != cols
    rows, cols, ts, ls = rows[keep], cols[keep], ts[keep], ls[keep]
    ts = np.maximum(ts, MIN_WEIGHT)
    ls = np.maximum(ls, MIN_WEIGHT)
    order = np.lexsort((ts, cols, rows))
    rows, cols, ts, ls = rows[order], cols[order], ts[order], ls[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    shortest = np.minimum.reduceat(ls, np.flatnonzero(first)) if ls.size else ls
    rows, cols, ts, ls = rows[first], cols[first], ts[first], ls[first]
    time = sparse.csr_matrix((ts, (rows, cols)), shape=(n, n))
    length = sparse.csr_matrix((ls, (rows, cols)), shape=(n, n))
    length_min = sparse.csr_matrix((shortest, (rows, cols)), shape=(n, n))
    if classes is None:
        return time, length, length_min
    code = np.asarray(classes, dtype=np.float64)[keep][order][first] + 1.0
    return time, length, length_min, sparse.csr_matrix((code, (rows, cols)), shape=(n, n))


def sums_along_tree(
    pred: np.ndarray, weights: list[sparse.csr_matrix], sources: np.ndarray
) -> np.ndarray:
    """Sum of each edge weight of ``weights`` from each source to every node along the
    shortest-path tree ``pred`` (``(k, n)`` predecessors): shape ``(len(weights), k, n)``.

    Pointer doubling on flat arrays: every pass adds the partial sum of each node's current
    ancestor and jumps to that ancestor's ancestor, so a tree of depth D needs ``log2(D)``
    passes of plain gathers (no masks). Roots and unreached nodes point at a sentinel cell
    holding 0 that points at itself (adding it changes nothing: ``x + 0.0 == x``). One walk
    serves every weight (the ancestor jumps are shared), so the per-road-class split of a
    route's time costs one extra gather and add per class.
    """
    k, n = pred.shape
    w = len(weights)
    size = k * n
    valid = pred >= 0
    rows = np.repeat(np.arange(k, dtype=np.int64) * n, n).reshape(k, n)
    anc = np.where(valid, pred + rows, size).ravel()
    anc = np.r_[anc, size]  # the sentinel points at itself
    acc = np.zeros((w, size + 1))
    flat_valid = np.flatnonzero(valid.ravel())
    pv, cv = pred.ravel()[flat_valid], flat_valid % n
    for i, m in enumerate(weights):
        acc[i, flat_valid] = np.asarray(m[pv, cv]).ravel()
    while (anc[:size] != size).any():
        for i in range(w):
            acc[i] += acc[i].take(anc)
        anc = anc.take(anc)
    out = acc[:, :size].reshape(w, k, n)
    out[:, np.arange(k), sources] = 0.0
    return out


def od_paths(
    time: sparse.csr_matrix,
    length: sparse.csr_matrix,
    origins: np.ndarray,
    destinations: np.ndarray,
    *,
    block_values: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fastest (``time``) path of each ``origins[k] -> destinations[k]`` pair.

    Returns ``(node indices, cumulative km from 0.0)`` per pair, with segment lengths
    read from ``length``; ``(empty int64, empty float)`` when unreachable. One C Dijkstra
    with predecessors per unique origin, in chunks of at most ``block_values`` predecessor
    entries (per-source trees do not depend on the chunking).
    """
    uniq, inv = np.unique(origins, return_inverse=True)
    n = time.shape[0]
    chunk = max(1, block_values // max(n, 1))
    out: list[tuple[np.ndarray, np.ndarray]] = [
        (np.empty(0, dtype=np.int64), np.empty(0))
    ] * origins.size
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(0, uniq.size + chunk, chunk))
    for b, start in enumerate(range(0, uniq.size, chunk)):
        _, pred = csgraph.dijkstra(
            time, directed=True, indices=uniq[start : start + chunk], return_predecessors=True
        )
        for k in order[bounds[b] : bounds[b + 1]].tolist():
            out[k] = _walk(pred[inv[k] - start], int(origins[k]), int(destinations[k]), length)
    return out


def _walk(
    row: np.ndarray, o: int, d: int, length: sparse.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    nodes = [d]
    while nodes[-1] != o and row[nodes[-1]] >= 0:
        nodes.append(int(row[nodes[-1]]))
    if nodes[-1] != o:
        return np.empty(0, dtype=np.int64), np.empty(0)
    nodes_a = np.asarray(nodes[::-1], dtype=np.int64)
    if nodes_a.size == 1:  # origin == destination (scipy returns a sparse 1x0 slice here)
        return nodes_a, np.zeros(1)
    seg = np.asarray(length[nodes_a[:-1], nodes_a[1:]]).ravel() / 1000.0
    return nodes_a, np.concatenate([[0.0], np.cumsum(seg)])
