"""Base class of the siting models and the GeoDataFrame + RoadNetwork adapter."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from planner._errors import ModelInputError, NoCandidatesError
from planner.siting._base import SitingResult, SolveOptions, check_unique_labels, float_array
from planner.siting._validate import check_network

logger = logging.getLogger(__name__)


class SitingModel:
    """Common interface: a model holds validated raw inputs and solves to a result.

    Subclasses build instances from arrays (``from_cost_matrix``; ``from_paths`` for the
    FRLM), most also from a :class:`networks.RoadNetwork` (``from_geodataframe`` for
    MCLP, PMedian and SetCover, ``from_network`` for the FRLM), and implement
    ``_solve(options, started)``.
    """

    kind: ClassVar[str] = ""
    sense: ClassVar[str] = ""

    def __init__(self, raw: dict[str, Any], *, site_labels: np.ndarray | None = None) -> None:
        self.raw = raw
        self.site_labels = site_labels
        #: Snapped inputs when built by ``from_geodataframe`` (``None`` from arrays).
        self.geo: GeoInputs | None = None

    def solve(
        self,
        *,
        time_limit_s: float = 60.0,
        threads: int = 2,
        seed: int = 0,
        solver: str = "auto",
        log: bool = False,
    ) -> SitingResult:
        """Solve the model.

        Parameters
        ----------
        time_limit_s : float
            Wall-clock limit for the whole solve. When it is reached the best solution
            found is returned with status ``"FEASIBLE"`` and its proven gap.
        threads : int
            Worker threads for CP-SAT and HiGHS (SCIP always runs on one).
        seed : int
            Random seed of the backend.
        solver : str
            ``"auto"`` (the model's default: HiGHS for the p-median residual, SCIP for
            the others), ``"cp-sat"`` (not for :class:`~planner.siting.Capacitated`),
            ``"scip"`` or ``"highs"``.
        log : bool
            Let the backend print its search log.

        Returns
        -------
        SitingResult
        """
        options = SolveOptions(
            time_limit_s=time_limit_s, threads=threads, seed=seed, solver=solver, log=log
        )
        started = time.monotonic()
        result = self._solve(options, started)
        logger.info("%s", result.message)
        return result

    def _solve(self, options: SolveOptions, started: float) -> SitingResult:  # pragma: no cover
        raise NotImplementedError

    def check(self, result: SitingResult, *, rtol: float = 1e-6):
        """Recompute ``result`` from the raw inputs with :mod:`planner.siting.checker`."""
        from planner.siting.checker import check_result

        return check_result(self.kind, self.raw, result, rtol=rtol)

    @staticmethod
    def _deadline(options: SolveOptions, started: float) -> float:
        return started + float(options.time_limit_s)


# ---------------------------------------------------------------------------- geo adapter
@dataclass(frozen=True)
class GeoInputs:
    """Arrays derived from GeoDataFrames on a road network.

    Demand points snapped to the same node have identical travel times to every site, so
    they are merged into one row (``weights`` summed); ``row_of_point`` maps each input
    demand point to its row.
    """

    cost: np.ndarray
    weights: np.ndarray
    fixed_open: np.ndarray
    site_costs: np.ndarray | None
    site_labels: np.ndarray
    demand_nodes: np.ndarray
    site_nodes: np.ndarray
    row_of_point: np.ndarray


def _lonlat(gdf, what: str) -> tuple[np.ndarray, np.ndarray]:
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    geom = gdf.geometry
    if not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    if geom.is_empty.any() or geom.isna().any():
        bad = np.flatnonzero((geom.is_empty | geom.isna()).to_numpy())[:5].tolist()
        raise ModelInputError(f"{what}: rows {bad} have no geometry")
    return geom.x.to_numpy(dtype=float), geom.y.to_numpy(dtype=float)


def snap_frame(
    gdf,
    network,
    *,
    max_snap_m: float,
    what: str,
    label_col: str | None = None,
    node_col: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Network node of every row (``node_col`` if given, else ``snap_strict``) and labels."""
    if label_col is not None and label_col in gdf.columns:
        labels = gdf[label_col].to_numpy(dtype=object)
    else:
        labels = np.asarray(gdf.index, dtype=object)
    if node_col is not None and node_col in gdf.columns:
        nodes = gdf[node_col].to_numpy()
        if nodes.dtype.kind not in "iu" or nodes.min() < 0 or nodes.max() >= network.n_nodes:
            raise ModelInputError(
                f"{what}: column {node_col!r} must hold node indices 0..{network.n_nodes - 1}"
            )
        return nodes.astype(np.int64), labels
    if not (hasattr(gdf, "geometry") and hasattr(gdf, "crs")):
        raise ModelInputError(
            f"{what}s: the table has no geometry to snap; pass a geopandas.GeoDataFrame (or a "
            "node column of network node indices)"
        )
    lon, lat = _lonlat(gdf, what)
    nodes = network.snap_strict(
        lon, lat, max_distance_m=max_snap_m, labels=[f"{what} {lab}" for lab in labels]
    )
    return np.asarray(nodes, dtype=np.int64), labels


def travel_times_to_sites(
    network, demand_nodes: np.ndarray, site_nodes: np.ndarray, *, cutoff: float | None
) -> np.ndarray:
    """``len(demand_nodes) x len(site_nodes)`` fastest driving time demand -> site (s).

    With more than twice as many demand nodes as sites, one Dijkstra per *site* runs on the
    reversed graph (same numbers, far fewer searches); otherwise
    ``network.travel_time_matrix`` is used.
    """
    if demand_nodes.size <= 2 * site_nodes.size:
        return network.travel_time_matrix(demand_nodes, site_nodes, cutoff=cutoff)
    rev = sparse.csr_matrix(network.time.T)
    limit = np.inf if cutoff is None else float(cutoff)
    uniq, inv = np.unique(site_nodes, return_inverse=True)
    out = np.empty((demand_nodes.size, site_nodes.size))
    chunk = max(1, 4_000_000 // max(1, network.n_nodes))
    for s in range(0, uniq.size, chunk):
        d = csgraph.dijkstra(rev, directed=True, indices=uniq[s : s + chunk], limit=limit)
        sel = (inv >= s) & (inv < s + chunk)
        out[:, sel] = d[inv[sel] - s][:, demand_nodes].T
    return out


def _flags(values: pd.Series, what: str) -> np.ndarray:
    """A true/false column: booleans, 0/1, or empty (false). Text such as ``"no"`` would be
    read as true by ``bool()``: it is refused, with the offending values."""
    ok = values.map(
        lambda v: (
            v is None
            or v is pd.NA
            or (isinstance(v, float) and v != v)
            or isinstance(v, bool | np.bool_)
            or (isinstance(v, int | float | np.integer | np.floating) and v in (0, 1))
        )
    )
    if not bool(ok.all()):
        bad = values[~ok.to_numpy()].head(5).tolist()
        raise ModelInputError(
            f"{what} must be true/false (or 1/0, empty = false); got {bad}: "
            "convert it, e.g. df[col] = df[col].eq('yes')"
        )
    empty = values.isna().to_numpy()
    return np.array(
        [not e and bool(v) for v, e in zip(values.tolist(), empty, strict=True)], dtype=bool
    )


def geo_inputs(
    demand_gdf,
    candidates_gdf,
    network,
    *,
    weight_col: str | None,
    fixed_col: str | None = None,
    cost_col: str | None = None,
    label_col: str | None = "site_id",
    node_col: str | None = None,
    max_snap_m: float = 500.0,
    cutoff: float | None = None,
) -> GeoInputs:
    """Snap demand and sites to ``network`` and build the demand x site travel-time matrix.

    Parameters
    ----------
    demand_gdf : geopandas.GeoDataFrame
        Demand points (or polygons, represented by an interior point).
    candidates_gdf : geopandas.GeoDataFrame
        Candidate sites and existing stations (``fixed_col`` True marks the latter).
    network : networks.RoadNetwork
        Road network; both frames are snapped with ``network.snap_strict``.
    weight_col : str or None
        Demand weight column (all ones when ``None``).
    fixed_col, cost_col, label_col, node_col : str or None
        Optional site columns: fixed open (bool), site cost, label, precomputed node index.
    max_snap_m : float
        Snap limit in metres.
    cutoff : float or None
        Travel-time cutoff in seconds; pairs beyond it are ``inf``.
    """
    for frame, arg in ((demand_gdf, "demand_gdf"), (candidates_gdf, "candidates_gdf")):
        if frame is not None and not isinstance(frame, pd.DataFrame):
            raise ModelInputError(
                f"{arg} must be a geopandas.GeoDataFrame, got {type(frame).__name__}; build one "
                "with geopandas.GeoDataFrame(data, geometry=geopandas.points_from_xy(lon, lat), "
                'crs="EPSG:4326")'
            )
    check_network(network, ("snap_strict", "travel_time_matrix", "n_nodes"))
    if candidates_gdf is None or len(candidates_gdf) == 0:
        raise NoCandidatesError("no candidate sites were given (the candidates table is empty)")
    if demand_gdf is None or len(demand_gdf) == 0:
        raise ModelInputError("no demand points were given (the demand table is empty)")
    for col, frame, what in (
        (weight_col, demand_gdf, "demand"),
        (fixed_col, candidates_gdf, "candidates"),
        (cost_col, candidates_gdf, "candidates"),
    ):
        if col is not None and col not in frame.columns:
            raise ModelInputError(
                f"{what} table has no column {col!r} (columns: {list(frame.columns)})"
            )
    d_nodes, _ = snap_frame(
        demand_gdf, network, max_snap_m=max_snap_m, what="demand point", node_col=node_col
    )
    s_nodes, labels = snap_frame(
        candidates_gdf,
        network,
        max_snap_m=max_snap_m,
        what="site",
        label_col=label_col,
        node_col=node_col,
    )
    if label_col is not None and label_col in candidates_gdf.columns:
        check_unique_labels(labels, f"candidates_gdf column {label_col!r} (the site labels)")
    else:
        check_unique_labels(
            labels,
            "the candidates_gdf index (the site labels; reset_index(drop=True) or "
            "label_col= gives unique ones)",
        )
    w = (
        np.ones(len(demand_gdf))
        if weight_col is None
        else float_array(
            demand_gdf[weight_col], f"demand_gdf column {weight_col!r}", expected="demand weights"
        )
    )
    uniq, row_of_point = np.unique(d_nodes, return_inverse=True)
    weights = np.bincount(row_of_point, weights=w, minlength=uniq.size)
    cost = travel_times_to_sites(network, uniq, s_nodes, cutoff=cutoff)
    fixed = (
        np.flatnonzero(_flags(candidates_gdf[fixed_col], f"candidates_gdf column {fixed_col!r}"))
        if fixed_col is not None
        else np.empty(0, dtype=np.int64)
    )
    site_costs = None if cost_col is None else candidates_gdf[cost_col].to_numpy(dtype=float)
    logger.info(
        "geo inputs: %d demand points on %d nodes, %d sites (%d fixed open)",
        len(demand_gdf),
        uniq.size,
        s_nodes.size,
        fixed.size,
    )
    return GeoInputs(
        cost=cost,
        weights=weights,
        fixed_open=fixed,
        site_costs=site_costs,
        site_labels=labels,
        demand_nodes=uniq,
        site_nodes=s_nodes,
        row_of_point=row_of_point,
    )


def adapter_inputs(
    demand_gdf, candidates_gdf, network, *, fixed_col: str | None, **kwargs
) -> GeoInputs:
    """:func:`geo_inputs` for the models' ``from_geodataframe``: a ``fixed_col`` absent from
    the candidates frame means there are no existing stations (not an error)."""
    frame = isinstance(candidates_gdf, pd.DataFrame)  # geo_inputs refuses anything else
    if fixed_col is not None and frame and fixed_col not in candidates_gdf.columns:
        fixed_col = None
    return geo_inputs(demand_gdf, candidates_gdf, network, fixed_col=fixed_col, **kwargs)
