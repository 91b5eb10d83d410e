"""Many-source Dijkstra in worker processes (travel-time columns, and whole fastest-route
blocks: times with lengths and class splits summed along the tree).

``scipy.sparse.csgraph.dijkstra`` holds the GIL (scipy 1.17: its Cython loop has no
``nogil``), so threads run it one at a time. Real parallelism needs processes: a small
persistent pool of forked workers receives the CSR arrays and a chunk of sources, and
returns only the requested destination columns.

The pool is used only where it pays and is safe: enough sources, more than one worker
allowed (``EVPLAN_THREADS``), a ``fork`` start method, not inside a daemonic process
(Dask workers are daemons and may not have children) and not inside a worker of another
multiprocessing pool (it would wait for this pool's workers at its exit). A broken pool (a
worker killed, a fork or pickling failure) falls back to computing in this process, with a
warning, so results never depend on it; an error the computation itself raises is raised
as it would be in this process.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from networks._orphans import exit_with_parent
from networks._routing import sums_along_tree

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Below this many source x node values the fork/pickle overhead outweighs the gain.
MIN_PARALLEL_VALUES = 2_000_000

#: Values (sources x nodes, over the times and weights) of one Dijkstra sub-block of a
#: fastest-route task: its tree sums then stay in the CPU cache (on the 100k-trip Almaty
#: legs, 1,003 sources, sub-blocks of ~65 sources ran 0.6 s against 0.75 s for ~250).
ROUTE_TASK_VALUES = 1_000_000
#: Values (sources x destinations, over the times and weights) a fastest-route task returns
#: at most (256 MB): bounds the pickled result held twice while it is copied out.
ROUTE_RESULT_VALUES = 32_000_000

#: The failures of the pool itself, after which the work is done in this process; any
#: other exception comes from the computation and is raised.
POOL_FAILURES = (BrokenProcessPool, OSError, pickle.PicklingError)

_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None
_pool_lock = threading.Lock()  # one pool even when threads ask at once


def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


atexit.register(_shutdown)


def in_dask_worker() -> bool:
    """Whether this process is a Dask worker (no process pools there: with or without a
    nanny, its threads run other tasks, which a fork would copy mid-flight). A Dask worker
    has imported distributed; otherwise there is nothing to ask (and no import to pay)."""
    mod = sys.modules.get("distributed")
    if mod is None:
        return False
    try:
        mod.get_worker()
    except ValueError:
        return False
    return True


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
    if in_dask_worker():
        return None
    key = (os.getpid(), workers)
    with _pool_lock:
        if _pool is None or _pool_key != key:
            _shutdown()
            # (a worker ends with this process even when it is killed: networks._orphans)
            _pool = ProcessPoolExecutor(
                workers, mp_context=mp.get_context("fork"), initializer=exit_with_parent
            )
            _pool_key = key
        return _pool


def _pool_failed(exc: BaseException) -> None:
    logger.warning("Dijkstra worker processes failed (%r); computing in this process", exc)
    _shutdown()


def _in_order(futs: list[Future[T]]) -> Iterator[T]:
    """The futures' results in order, each let go once the caller has taken it (holding
    them all while they are copied out would raise the peak); empties ``futs``."""
    futs.reverse()
    while futs:
        yield futs.pop().result()


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
            for s, block in zip(starts, _in_order(futs), strict=True):
                out[s : s + block.shape[0]] = block
            return out
        except POOL_FAILURES as exc:  # a broken pool must never change results
            _pool_failed(exc)
    for s in range(0, sources.size, chunk):
        d = csgraph.dijkstra(weights, directed=True, indices=sources[s : s + chunk], limit=limit)
        out[s : s + d.shape[0]] = d if dst is None else d[:, dst]
    return out


def _csr(parts: tuple) -> sparse.csr_matrix:
    data, indices, indptr, shape = parts
    return sparse.csr_matrix((data, indices, indptr), shape=shape)


def _parts(m: sparse.csr_matrix) -> tuple:
    return m.data, m.indices, m.indptr, m.shape


def route_block(
    time: sparse.csr_matrix,
    weights: list[sparse.csr_matrix],
    sources: np.ndarray,
    dst: np.ndarray | None,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Fastest-route times from ``sources`` to ``dst`` (every node when None) and the sums
    of each of ``weights`` along the same trees (``(len(weights), sources, dst)``; ``inf``
    for the first weight and 0 for the others where unreachable). Each source's row depends on that source alone
    (the Dijkstra run and its own ancestor chain), so any split of the sources gives the
    same numbers."""
    d, pred = csgraph.dijkstra(
        time, directed=True, indices=sources, limit=limit, return_predecessors=True
    )
    sums = sums_along_tree(pred, weights, sources)
    bad = ~np.isfinite(d)
    sums[0][bad] = np.inf
    sums[1:, bad] = 0.0
    if dst is None:
        return d, sums
    return d[:, dst], sums[:, :, dst]


def gather_blocks(
    blocks: Iterable[tuple[int, np.ndarray, np.ndarray]], n_sources: int, n_dst: int, n_weights: int
) -> tuple[np.ndarray, np.ndarray]:
    """Blocks ``(first source, times, weight sums)`` of :func:`route_block` copied into one
    times and one sums array, as they come (a block is let go once copied: holding them all
    would raise the peak)."""
    t_out = np.empty((n_sources, n_dst))
    s_out = np.empty((n_weights, n_sources, n_dst))
    for s, t_blk, s_blk in blocks:
        t_out[s : s + t_blk.shape[0]] = t_blk
        s_out[:, s : s + t_blk.shape[0]] = s_blk
    return t_out, s_out


def route_blocks(
    time: sparse.csr_matrix,
    weights: list[sparse.csr_matrix],
    sources: np.ndarray,
    dst: np.ndarray | None,
    limit: float,
    sub: int,
    *,
    mapper: Callable = map,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`route_block` over ``sources`` in blocks of ``sub`` sources, run by ``mapper``
    (``map``, or a thread pool's ``map``), gathered as :func:`gather_blocks` does."""

    def block(s: int) -> tuple[int, np.ndarray, np.ndarray]:
        return (s, *route_block(time, weights, sources[s : s + sub], dst, limit))

    n_dst = time.shape[0] if dst is None else dst.size
    starts = range(0, sources.size, sub)
    return gather_blocks(mapper(block, starts), sources.size, n_dst, len(weights))


def _route_task(time_parts, weight_parts, sources, dst, limit, sub):
    """A worker's share of :func:`route_blocks_in_pool`: :func:`route_blocks` with the
    matrices unpickled once per task."""
    return route_blocks(_csr(time_parts), [_csr(w) for w in weight_parts], sources, dst, limit, sub)


def route_blocks_in_pool(
    time: sparse.csr_matrix,
    weights: list[sparse.csr_matrix],
    sources: np.ndarray,
    dst: np.ndarray | None,
    *,
    limit: float,
    workers: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`route_block` over all ``sources``, split over worker processes; ``None`` when
    the pool does not pay or is not allowed here, or broke (the caller then computes in
    this process).

    The sources go out in about two tasks per worker (the matrices are pickled once per
    task, so few tasks: on a 300,000-node network with the class split one task per source
    shipped 5 GB per call), more only to keep a task's result under
    :data:`ROUTE_RESULT_VALUES`; each task runs cache-sized sub-blocks of
    :data:`ROUTE_TASK_VALUES`."""
    n = time.shape[0]
    if sources.size * n < MIN_PARALLEL_VALUES:
        return None
    pool = _get_pool(workers)
    if pool is None:
        return None
    n_dst = n if dst is None else dst.size
    per_source = (1 + len(weights)) * max(1, n_dst)
    sub = max(1, ROUTE_TASK_VALUES // ((1 + len(weights)) * n))
    per = max(1, min(-(-sources.size // (2 * workers)), ROUTE_RESULT_VALUES // per_source))
    starts = list(range(0, sources.size, per))
    t_parts, w_parts = _parts(time), [_parts(w) for w in weights]
    try:
        futs = [
            pool.submit(_route_task, t_parts, w_parts, sources[s : s + per], dst, limit, sub)
            for s in starts
        ]
        done = ((s, *blk) for s, blk in zip(starts, _in_order(futs), strict=True))
        return gather_blocks(done, sources.size, n_dst, len(weights))
    except POOL_FAILURES as exc:  # a broken pool must never change results
        _pool_failed(exc)
        return None
