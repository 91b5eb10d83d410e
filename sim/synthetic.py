"""Synthetic road networks for tests, examples and benchmarks (clearly not real data).

They follow the graph convention of docs/ARCHITECTURE.md (osmnx-compatible
``MultiDiGraph``, lon/lat nodes, ``length``/``speed_kph``/``travel_time`` edges) and are
frozen with :meth:`networks.RoadNetwork.from_graph`.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from networks.road_network import RoadNetwork
from sim._checks import RngLike, as_generator

_M_PER_DEG_LAT = 111_320.0


def _add_edge(
    G: nx.MultiDiGraph, u: int, v: int, length_m: float, speed_kph: float, highway: str
) -> None:
    for a, b in ((u, v), (v, u)):
        G.add_edge(
            a,
            b,
            length=length_m,
            speed_kph=speed_kph,
            travel_time=length_m / (speed_kph / 3.6),
            highway=highway,
            oneway=False,
            osmid=len(G.edges),
        )


def _graph(name: str) -> nx.MultiDiGraph:
    G = nx.MultiDiGraph(name=name)
    G.graph["crs"] = "EPSG:4326"
    return G


def grid_network(
    nx_: int = 10,
    ny: int = 10,
    *,
    spacing_m: float = 500.0,
    speed_kph: float = 40.0,
    lon0: float = 76.9,
    lat0: float = 43.2,
    name: str = "synthetic grid",
) -> RoadNetwork:
    """A two-way grid of ``nx_ x ny`` nodes ``spacing_m`` apart; node index = ``j * nx_ + i``."""
    _check_positive("spacing_m", [spacing_m])
    G = _graph(name)
    dlat = spacing_m / _M_PER_DEG_LAT
    dlon = spacing_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    for j in range(ny):
        for i in range(nx_):
            G.add_node(j * nx_ + i, x=lon0 + i * dlon, y=lat0 + j * dlat)
    for j in range(ny):
        for i in range(nx_):
            n = j * nx_ + i
            if i + 1 < nx_:
                _add_edge(G, n, n + 1, spacing_m, speed_kph, "residential")
            if j + 1 < ny:
                _add_edge(G, n, n + nx_, spacing_m, speed_kph, "residential")
    return RoadNetwork.from_graph(G, name=name)


def line_network(
    lengths_m,
    *,
    speed_kph: float = 60.0,
    lon0: float = 71.4,
    lat0: float = 51.1,
    names: list[str] | None = None,
    populations: list[float] | None = None,
    name: str = "synthetic line",
) -> RoadNetwork:
    """A two-way path of ``len(lengths_m) + 1`` nodes (a corridor), running north."""
    _check_positive("lengths_m", lengths_m)
    G = _graph(name)
    lat = lat0
    for i in range(len(lengths_m) + 1):
        attrs: dict[str, float | str] = {"x": lon0, "y": lat}
        if names is not None:
            attrs["name"] = names[i]
        if populations is not None:
            attrs["population"] = populations[i]
        G.add_node(i, **attrs)
        if i < len(lengths_m):
            lat += lengths_m[i] / _M_PER_DEG_LAT
    for i, ln in enumerate(lengths_m):
        _add_edge(G, i, i + 1, float(ln), speed_kph, "trunk")
    return RoadNetwork.from_graph(G, name=name)


def random_network(
    n: int,
    *,
    rng: RngLike,
    extent_m: float = 5000.0,
    k: int = 3,
    speed_kph: tuple[float, float] = (30.0, 90.0),
    lon0: float = 76.9,
    lat0: float = 43.2,
    name: str = "synthetic random",
) -> RoadNetwork:
    """A connected random geometric network: a random spanning path plus ``k`` nearest
    neighbours per node, two-way, random speeds.

    ``rng`` is a numpy Generator, or an integer seed >= 0 / SeedSequence for
    :func:`numpy.random.default_rng` (anything else raises ValueError naming it).
    """
    rng = as_generator(rng, where="random_network", error=ValueError)
    G = _graph(name)
    xy = rng.uniform(0, extent_m, size=(n, 2))
    dlat = 1.0 / _M_PER_DEG_LAT
    dlon = 1.0 / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    for i in range(n):
        G.add_node(i, x=lon0 + xy[i, 0] * dlon, y=lat0 + xy[i, 1] * dlat)
    order = rng.permutation(n)
    pairs = {tuple(sorted((int(a), int(b)))) for a, b in zip(order[:-1], order[1:], strict=True)}
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    for i in range(n):
        for j in np.argsort(d[i])[1 : k + 1]:
            pairs.add(tuple(sorted((i, int(j)))))
    for a, b in sorted(pairs):
        _add_edge(
            G, a, b, max(1.0, float(d[a, b]) * 1.2), float(rng.uniform(*speed_kph)), "unclassified"
        )
    return RoadNetwork.from_graph(G, name=name)


def _check_positive(name: str, values) -> None:
    """Edge lengths are finite and > 0 (a negative one made routes shorter than the road)."""
    v = np.asarray(values, dtype=float)
    if v.size and not (np.isfinite(v) & (v > 0)).all():
        raise ValueError(
            f"{name} must be finite lengths in metres > 0, got {np.asarray(values).tolist()}"
        )
