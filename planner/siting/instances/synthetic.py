"""Deterministic synthetic siting instances for tests and benchmarks.

``synthetic_city`` builds a grid road network with random street speeds, demand points
clustered around a few centres and candidate sites on random nodes, and returns the
sparse demand x candidate travel-time matrix within a cutoff. Everything derives from
the ``rng`` passed in, so a seed reproduces the instance exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticCity:
    """A synthetic instance.

    Attributes
    ----------
    cost : scipy.sparse.csr_matrix
        ``n_demand x n_candidates`` travel time demand -> site (s); entries beyond the
        cutoff are absent.
    weights : numpy.ndarray
        Demand weight of every point.
    demand_node : numpy.ndarray
        Grid node of every demand point.
    candidate_node : numpy.ndarray
        Grid node of every candidate.
    n_nodes : int
        Nodes of the grid.
    """

    cost: sparse.csr_matrix
    weights: np.ndarray
    demand_node: np.ndarray
    candidate_node: np.ndarray
    n_nodes: int


def grid_network(side: int, *, spacing_m: float, rng: np.random.Generator) -> sparse.csr_matrix:
    """Directed grid graph (both directions) with travel times from speeds of 20-60 km/h."""
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    speed = rng.uniform(20.0, 60.0, size=u.size) / 3.6  # m/s, same both ways
    t = spacing_m / speed
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    return sparse.csr_matrix(
        (np.concatenate([t, t]), (rows, cols)), shape=(side * side, side * side)
    )


def synthetic_city(
    n_demand: int,
    n_candidates: int,
    *,
    rng: np.random.Generator,
    side: int = 150,
    spacing_m: float = 200.0,
    cutoff_s: float = 300.0,
    n_centres: int = 8,
) -> SyntheticCity:
    """Build a synthetic city instance (see module docstring).

    Parameters
    ----------
    n_demand, n_candidates : int
        Demand points and candidate sites.
    rng : numpy.random.Generator
        Source of all randomness.
    side : int
        Grid side (``side**2`` nodes).
    spacing_m : float
        Street spacing.
    cutoff_s : float
        Travel times above this are left out of the sparse matrix.
    n_centres : int
        Demand clusters (Gaussian around random centres, plus 20 % uniform background).
    """
    graph = grid_network(side, spacing_m=spacing_m, rng=rng)
    n_nodes = side * side
    centres = rng.uniform(0.15 * side, 0.85 * side, size=(n_centres, 2))
    spread = rng.uniform(0.04 * side, 0.12 * side, size=n_centres)
    n_bg = n_demand // 5
    n_cl = n_demand - n_bg
    which = rng.integers(0, n_centres, size=n_cl)
    xy = centres[which] + rng.normal(size=(n_cl, 2)) * spread[which, None]
    xy = np.vstack([xy, rng.uniform(0, side, size=(n_bg, 2))])
    xy = np.clip(np.rint(xy), 0, side - 1).astype(np.int64)
    demand_node = xy[:, 0] * side + xy[:, 1]
    weights = rng.integers(1, 4, size=n_demand).astype(np.float64)
    candidate_node = rng.choice(n_nodes, size=n_candidates, replace=False)
    # one Dijkstra per candidate on the reversed graph: time from every node to the site
    d = csgraph.dijkstra(graph.T.tocsr(), directed=True, indices=candidate_node, limit=cutoff_s)
    node_cost = sparse.csr_matrix(np.where(np.isfinite(d), d + 1e-9, 0.0).T)  # node x candidate
    node_cost.data -= 1e-9  # keep explicit entries (zero travel time at the site's own node)
    node_cost.data = np.maximum(node_cost.data, 0.0)
    cost = node_cost[demand_node]
    logger.debug(
        "synthetic city: %d nodes, %d demand points, %d candidates, nnz %d",
        n_nodes,
        n_demand,
        n_candidates,
        cost.nnz,
    )
    return SyntheticCity(
        cost=cost.tocsr(),
        weights=weights,
        demand_node=demand_node,
        candidate_node=candidate_node,
        n_nodes=n_nodes,
    )
