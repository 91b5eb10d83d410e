"""Readers for the published benchmark instances used to validate the siting models.

* Beasley's OR-Library p-median instances ``pmed1`` ... ``pmed40`` (first line ``n m p``,
  then ``m`` lines ``u v cost``; 1-based; undirected; when an edge repeats, the last one
  counts; distances are shortest paths over this graph).
* :func:`beasley_pmed` generates new instances the way Beasley (1985) built them.
* The 25-node, 43-arc test network of the flow-refuelling location literature
  (``NODES.txt``: ``id weight x y``; ``ARCS.txt``: ``id length from to``).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from networks.errors import InputFileError

logger = logging.getLogger(__name__)

__all__ = [
    "OrlibPMedian",
    "beasley_pmed",
    "read_frlm_network",
    "read_orlib_optima",
    "read_orlib_pmed",
]


@dataclass(frozen=True)
class OrlibPMedian:
    """One OR-Library p-median instance.

    Attributes
    ----------
    name : str
        Instance name (file stem), e.g. ``"pmed1"``.
    n : int
        Number of vertices (every vertex is both a demand point and a candidate).
    p : int
        Number of medians to open.
    cost : numpy.ndarray
        ``n x n`` shortest-path distance matrix (float64, integral values).
    """

    name: str
    n: int
    p: int
    cost: np.ndarray


def read_orlib_pmed(path: str | Path) -> OrlibPMedian:
    """Read an OR-Library ``pmedX.txt`` file and compute all shortest-path distances.

    Parameters
    ----------
    path : str or pathlib.Path
        The instance file.

    Returns
    -------
    OrlibPMedian

    Raises
    ------
    networks.errors.InputFileError
        When the file is missing, truncated or malformed.
    """
    path = Path(path)
    try:
        raw = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read OR-Library p-median file {path}: {exc}") from exc
    if raw.shape[1] != 3 or raw.shape[0] < 1:
        raise InputFileError(f"{path}: expected lines of three integers 'n m p' / 'u v cost'")
    n, m, p = (int(v) for v in raw[0])
    edges = raw[1:]
    if edges.shape[0] != m:
        raise InputFileError(
            f"{path}: header announces {m} edges but the file holds {edges.shape[0]}"
        )
    u, v, c = edges[:, 0] - 1, edges[:, 1] - 1, edges[:, 2].astype(np.float64)
    if u.min() < 0 or v.min() < 0 or u.max() >= n or v.max() >= n:
        raise InputFileError(f"{path}: an edge end lies outside 1..{n}")
    # Undirected; when an edge repeats (in either orientation) the last one counts.
    a, b = np.minimum(u, v), np.maximum(u, v)
    keys = a * n + b
    _, last_rev = np.unique(keys[::-1], return_index=True)
    last = keys.size - 1 - last_rev
    keep = last[a[last] != b[last]]
    g = sparse.coo_matrix((c[keep], (a[keep], b[keep])), shape=(n, n)).tocsr()
    dist = csgraph.shortest_path(g, method="D", directed=False)
    if not np.isfinite(dist).all():
        raise InputFileError(f"{path}: the graph is not connected")
    logger.debug("read %s: n=%d, %d edges (%d distinct), p=%d", path.name, n, m, keep.size, p)
    return OrlibPMedian(name=path.stem, n=n, p=p, cost=dist)


def beasley_pmed(n: int, p: int, *, seed: int, edges: int | None = None) -> OrlibPMedian:
    """A random p-median instance built as Beasley (1985) built OR-Library's ``pmed1-40``.

    Beasley, "A note on solving large p-median problems", EJOR 21 (1985) 270-273: a random
    connected graph whose edges have integer lengths drawn uniformly from 1..100; every
    vertex is a demand point (weight 1) and a candidate; distances are shortest paths.
    What is implemented here, exactly:

    1. the vertices are linked into a random spanning tree: in a random order, each vertex
       after the first is joined to a uniformly chosen vertex already linked (``n - 1``
       edges);
    2. further edges join uniformly chosen pairs of distinct vertices until there are
       ``edges`` in all (default ``n**2 // 50``, the count of every OR-Library file:
       ``pmed1`` has 200 edges for n = 100, ``pmed40`` 16,200 for n = 900); a pair drawn
       twice keeps its last length, as :func:`read_orlib_pmed` reads the files;
    3. lengths are independent uniform integers in 1..100 (``numpy.random.default_rng``).

    The OR-Library files came from a different generator, so the same ``(n, p)`` gives
    an instance of the same family, not the published one (nor its published optimum).

    Parameters
    ----------
    n : int
        Vertices (>= 2).
    p : int
        Medians (1 <= p <= n).
    seed : int
        Seed of the random generator (the instance is a function of ``n, p, seed, edges``).
    edges : int, optional
        Edge count including the spanning tree (>= ``n - 1``).

    Returns
    -------
    OrlibPMedian
        Named ``beasley-n{n}-p{p}-s{seed}``.
    """
    if n < 2 or not 1 <= p <= n:
        raise ValueError(f"beasley_pmed: need n >= 2 and 1 <= p <= n, got n={n}, p={p}")
    m = n * n // 50 if edges is None else int(edges)
    if m < n - 1:
        raise ValueError(f"beasley_pmed: {m} edges cannot connect {n} vertices")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    u = order[1:]
    v = order[(rng.random(n - 1) * np.arange(1, n)).astype(np.int64)]  # an earlier vertex
    extra = m - (n - 1)
    a = rng.integers(0, n, extra)
    b = (a + rng.integers(1, n, extra)) % n  # a distinct second end
    u, v = np.concatenate([u, a]), np.concatenate([v, b])
    c = rng.integers(1, 101, m).astype(np.float64)
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    keys = lo * n + hi
    _, last_rev = np.unique(keys[::-1], return_index=True)
    last = keys.size - 1 - last_rev
    g = sparse.coo_matrix((c[last], (lo[last], hi[last])), shape=(n, n)).tocsr()
    dist = csgraph.shortest_path(g, method="D", directed=False)
    return OrlibPMedian(name=f"beasley-n{n}-p{p}-s{seed}", n=n, p=p, cost=dist)


def read_orlib_optima(path: str | Path) -> dict[str, float]:
    """Read ``optimal.csv`` (columns ``instance, ..., optimal_cost``) into a dict."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            return {row["instance"]: float(row["optimal_cost"]) for row in csv.DictReader(fh)}
    except (OSError, KeyError, ValueError) as exc:
        raise InputFileError(f"cannot read the optima table {path}: {exc}") from exc


def read_frlm_network(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the flow-refuelling test network (``NODES.txt`` and ``ARCS.txt``).

    Returns
    -------
    nodes : pandas.DataFrame
        Columns ``id, weight, x, y`` (ids as in the file, 1-based).
    arcs : pandas.DataFrame
        Columns ``id, length, u, v`` (undirected arcs between node ids).
    """
    folder = Path(folder)
    try:
        nodes = pd.read_csv(
            folder / "NODES.txt", sep=r"\s+", header=None, names=["id", "weight", "x", "y"]
        )
        arcs = pd.read_csv(
            folder / "ARCS.txt", sep=r"\s+", header=None, names=["id", "length", "u", "v"]
        )
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read the FRLM network in {folder}: {exc}") from exc
    unknown = set(arcs["u"]).union(arcs["v"]) - set(nodes["id"])
    if unknown:
        raise InputFileError(
            f"{folder / 'ARCS.txt'}: arcs reference unknown node ids {sorted(unknown)[:5]}"
        )
    return nodes, arcs
