"""Many-source Dijkstra in worker processes.

``scipy.sparse.csgraph.dijkstra`` holds the GIL (scipy 1.17: its Cython loop has no
``nogil``), so threads run it one at a time. Real parallelism needs processes: a small
persistent pool of forked workers receives the CSR arrays and a chunk of sources, and
returns only the requested destination columns.

The pool is used only where it pays and is safe: enough sources, more than one worker
allowed (``EVPLAN_THREADS``), a ``fork`` start method, not inside a daemonic process
(Dask workers are daemons and may not have children) and not inside a worker of another
multiprocessing pool (it would wait for this pool's workers at its exit). Any pool failure falls back to the
serial C call, so results never depend on it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

logger = logging.getLogger(__name__)

#: Below this many source x node values the fork/pickle overhead outweighs the gain.
MIN_PARALLEL_VALUES = 2_000_000

_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_shutdown)


def _get_pool(workers: int) -> ProcessPoolExecutor | None:
    global _pool, _pool_key
    if workers < 2 or "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
        return None
    if mp.parent_process() is not None:
        # a worker of another pool (sim.replicate, the study's vehicle comparison): it exits
        # through multiprocessing, which waits for its children, but not through atexit,
        # which would stop a pool of its own, so such a pool would hang it; its CPUs are
        # taken by its siblings anyway
        return None
    key = (os.getpid(), workers)
    if _pool is None or _pool_key != key:
        _shutdown()
        _pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"))
        _pool_key = key
    return _pool


def _task(data, indices, indptr, shape, sources, dst, limit):
    w = sparse.csr_matrix((data, indices, indptr), shape=shape)
    d = csgraph.dijkstra(w, directed=True, indices=sources, limit=limit)
    return d if dst is None else d[:, dst]


def dijkstra_columns(
    weights: sparse.csr_matrix,
    sources: np.ndarray,
    dst: np.ndarray | None,
    *,
    limit: float,
    workers: int,
    block_values: int,
) -> np.ndarray:
    """``dijkstra(weights, indices=sources, limit=limit)[:, dst]`` (all columns when ``dst``
    is None), split over worker processes when that pays; otherwise serial in chunks of at
    most ``block_values`` values."""
    n = weights.shape[0]
    ncols = n if dst is None else dst.size
    out = np.empty((sources.size, ncols))
    chunk = max(1, block_values // max(1, n))
    pool = _get_pool(workers) if sources.size * n >= MIN_PARALLEL_VALUES else None
    if pool is not None:
        per = max(
            1, min(chunk, -(-sources.size // (2 * workers)))
        )  # 2 tasks per worker balance load
        starts = list(range(0, sources.size, per))
        try:
            futs = [
                pool.submit(
                    _task,
                    weights.data,
                    weights.indices,
                    weights.indptr,
                    weights.shape,
                    sources[s : s + per],
                    dst,
                    limit,
                )
                for s in starts
            ]
            for s, f in zip(starts, futs, strict=True):
                block = f.result()
                out[s : s + block.shape[0]] = block
            return out
        except Exception as exc:  # noqa: BLE001 - a broken pool must never change results
            logger.debug("process pool failed (%s); computing serially", exc)
            _shutdown()
    for s in range(0, sources.size, chunk):
        d = csgraph.dijkstra(weights, directed=True, indices=sources[s : s + chunk], limit=limit)
        out[s : s + d.shape[0]] = d if dst is None else d[:, dst]
    return out
