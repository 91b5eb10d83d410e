"""Snapping points to network nodes: projected node coordinates and a KD-tree.

Kept apart from :mod:`networks.road_network` (one module per concept, as osmnx's
``distance.nearest_nodes``): :meth:`RoadNetwork.snap <networks.RoadNetwork.snap>` and
:meth:`RoadNetwork.snap_strict <networks.RoadNetwork.snap_strict>` are the public entry
points and delegate to a :class:`NodeLocator` built once per network. Distances are
straight lines in the network's projected CRS (the UTM zone of its centroid by default),
metre-accurate within a zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyproj
from scipy.spatial import cKDTree

from networks.errors import ConfigError, SnapDistanceError
from networks.validate import not_wgs84, validate_snap_distance

__all__ = ["NodeLocator", "SnapResult", "utm_crs_for"]


#: A point this far (m) from every road is in the wrong place, not a little off the roads:
#: the error then says to check its coordinates rather than to raise the snap limit.
FAR_OFF_M = 50_000.0


def _distance_text(metres: float) -> str:
    return f"{metres / 1000:,.0f} km" if metres >= 10_000 else f"{metres:.0f} m"


@dataclass(frozen=True)
class SnapResult:
    """Result of snapping points to network nodes.

    Attributes
    ----------
    node : numpy.ndarray
        Index of the nearest network node for every point.
    distance_m : numpy.ndarray
        Straight-line distance from the point to that node in metres.
    within : numpy.ndarray
        Boolean mask, True where ``distance_m <= max_distance_m``.
    """

    node: np.ndarray
    distance_m: np.ndarray
    within: np.ndarray


def utm_crs_for(lon: float, lat: float) -> str:
    """Return the EPSG code of the UTM zone that contains ``(lon, lat)``."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


class NodeLocator:
    """Nearest node of lon/lat points: the nodes projected to ``crs`` (``x``, ``y`` in
    metres) in a KD-tree.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS84 coordinates of the nodes (node index = position).
    crs : str
        Projected CRS (metres).
    """

    def __init__(self, lon: np.ndarray, lat: np.ndarray, crs: str) -> None:
        self.crs = crs
        self.x, self.y = (np.asarray(a) for a in self._transformer().transform(lon, lat))
        self._tree = cKDTree(np.column_stack([self.x, self.y]))

    def _transformer(self) -> pyproj.Transformer:
        # one per call, not a shared one: a Transformer is not safe to share between threads
        return pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def snap(self, lon, lat, *, max_distance_m: float = 500.0) -> SnapResult:
        """Nearest node for each lon/lat point (see :meth:`networks.RoadNetwork.snap`)."""
        max_distance_m = validate_snap_distance(max_distance_m)
        try:
            lon = np.atleast_1d(np.asarray(lon, dtype=float))
            lat = np.atleast_1d(np.asarray(lat, dtype=float))
        except (TypeError, ValueError):
            raise ConfigError("lon and lat must be numbers (WGS84 degrees)") from None
        if lon.shape != lat.shape:
            raise ConfigError(
                f"lon and lat must have the same length; got {lon.size} and {lat.size} values"
            )
        bad = not_wgs84(lon, lat)
        if bad.any():
            i = np.flatnonzero(bad)[:5]
            raise ConfigError(
                f"{int(bad.sum())} point(s) are not WGS84 coordinates (lon -180..180, lat "
                f"-90..90): {[(float(a), float(b)) for a, b in zip(lon[i], lat[i], strict=True)]}"
                " (positions " + str(i.tolist()) + "); check for blanks or swapped lon/lat"
            )
        px, py = self._transformer().transform(lon, lat)
        dist, node = self._tree.query(np.column_stack([px, py]))
        dist = np.asarray(dist, dtype=float)
        return SnapResult(
            node=np.asarray(node, dtype=np.int64), distance_m=dist, within=dist <= max_distance_m
        )

    def snap_strict(
        self,
        lon,
        lat,
        *,
        max_distance_m: float = 500.0,
        labels: Sequence[str] | None = None,
        network_name: str = "",
    ) -> np.ndarray:
        """Node indices of the points; raise :class:`SnapDistanceError` naming every point
        farther than ``max_distance_m`` from the network (see
        :meth:`networks.RoadNetwork.snap_strict`)."""
        res = self.snap(lon, lat, max_distance_m=max_distance_m)
        if labels is not None and len(labels) != res.node.size:
            raise ConfigError(
                f"labels must name every point: {len(labels)} labels for {res.node.size} points"
            )
        if not res.within.all():
            bad = np.flatnonzero(~res.within)
            lon_a, lat_a = np.atleast_1d(lon), np.atleast_1d(lat)
            swapped = self._swapped_within(lon_a[bad], lat_a[bad], max_distance_m)
            items = [
                f"{labels[i] if labels is not None else f'point {i}'} at ({lon_a[i]:.5f}, {lat_a[i]:.5f}) "
                f"is {_distance_text(res.distance_m[i])} away"
                + (" (lon and lat look swapped: swapped, it is on the network)" if sw else "")
                for i, sw in zip(bad[:5], swapped[:5], strict=False)
            ]
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            # a point tens of km off is in the wrong place, not a little off the roads
            fix = (
                "Swap lon and lat where marked."
                if swapped.any()
                else "Move the point(s) or raise the snap limit."
                if res.distance_m[bad].min() <= FAR_OFF_M
                else "Check the coordinates: the point(s) are outside the network's area."
            )
            raise SnapDistanceError(
                f"{bad.size} point(s) lie farther than {max_distance_m:.0f} m from road network "
                f"{network_name!r}: {'; '.join(items)}{more}. {fix}"
            )
        return res.node

    def _swapped_within(
        self, lon: np.ndarray, lat: np.ndarray, max_distance_m: float
    ) -> np.ndarray:
        """Whether each point, with lon and lat swapped, lies within ``max_distance_m`` of the
        network (a planner typed ``lon: 43.2, lat: 76.9`` for Almaty; review, 2026-12-07)."""
        ok = ~not_wgs84(lat, lon)
        out = np.zeros(lon.size, dtype=bool)
        if ok.any():
            out[ok] = self.snap(lat[ok], lon[ok], max_distance_m=max_distance_m).within
        return out
