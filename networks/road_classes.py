"""Road classes of congestion (issue 13): a small fixed set derived from the OSM ``highway``
tag, stored per edge on :class:`networks.road_network.RoadNetwork` (``road_class``, same
sparsity as ``time``) so :mod:`sim` can scale each class's share of a route's free-flow time
by its own hourly factor."""

from __future__ import annotations

import numpy as np
from scipy import sparse

#: Class names; code = position in this tuple (stored on edges as code + 1, never 0).
ROAD_CLASSES: tuple[str, ...] = ("motorway", "arterial", "local")
MOTORWAY, ARTERIAL, LOCAL = range(3)
_HIGHWAY_CLASS = {
    "motorway": MOTORWAY,
    "motorway_link": MOTORWAY,
    "trunk": MOTORWAY,
    "trunk_link": MOTORWAY,
    "primary": ARTERIAL,
    "primary_link": ARTERIAL,
    "secondary": ARTERIAL,
    "secondary_link": ARTERIAL,
}


def road_class_of(highway: object) -> int:
    """Road-class code (:data:`ROAD_CLASSES`) of an OSM ``highway`` value: ``motorway`` for
    motorway/trunk (and their links), ``arterial`` for primary/secondary (and links),
    ``local`` for everything else or a missing tag. A list (merged ways after
    simplification) counts by its first value, as osmnx's speed imputation does."""
    if isinstance(highway, (list, tuple)):
        highway = highway[0] if highway else None
    return _HIGHWAY_CLASS.get(str(highway), LOCAL) if highway is not None else LOCAL


def aligned_classes(time: sparse.csr_matrix, rc: sparse.csr_matrix | None) -> sparse.csr_matrix:
    """Road-class codes (+1) on exactly the pattern of ``time`` (sorted indices; ``local``
    where absent), so ``road_class.data`` lines up with ``time.data``."""
    n = time.shape[0]
    if rc is None:
        data = np.full(time.nnz, LOCAL + 1.0)
    else:
        if rc.shape != time.shape:
            raise ValueError("road_class must be n_nodes x n_nodes")
        rc = sparse.csr_matrix(rc, dtype=np.float64)
        rc.sort_indices()
        if np.array_equal(rc.indptr, time.indptr) and np.array_equal(rc.indices, time.indices):
            data = rc.data.copy()
        else:
            coo = time.tocoo()
            data = np.asarray(rc[coo.row, coo.col], dtype=np.float64).ravel()
        data = np.where(data >= 1.0, data, LOCAL + 1.0)
        if ((data - 1.0) >= len(ROAD_CLASSES)).any() or (data % 1.0 != 0).any():
            raise ValueError(f"road_class codes must be 1..{len(ROAD_CLASSES)} (class index + 1)")
    return sparse.csr_matrix((data, time.indices.copy(), time.indptr.copy()), shape=(n, n))


def class_times(time: sparse.csr_matrix, road_class: sparse.csr_matrix) -> list[sparse.csr_matrix]:
    """Per road class: ``time`` where the edge is of that class, 0 elsewhere (same pattern;
    ``road_class`` aligned with :func:`aligned_classes`)."""
    code = road_class.data.astype(np.int64) - 1
    return [
        sparse.csr_matrix(
            (np.where(code == c, time.data, 0.0), time.indices, time.indptr), shape=time.shape
        )
        for c in range(len(ROAD_CLASSES))
    ]
