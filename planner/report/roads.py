"""The road layer of a study's outputs: real road shapes with their OSM attributes.

Built from the study's osmnx-compatible graph with :func:`osmnx.graph_to_gdfs` (as
``osmnx.save_graph_geopackage`` does), so each edge keeps its curved geometry and its
``osmid``, ``highway``, ``name``, ``ref``, ``oneway``, ``maxspeed``. A two-way street is one
feature (its forward edge). Networks built without a graph (or graphs without geometries)
fall back to straight lines between the edge's nodes.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from networks.road_network import RoadNetwork

logger = logging.getLogger(__name__)

__all__ = ["ROAD_COLUMNS", "roads_layer"]

#: Columns of the roads layer (besides ``geometry``), in order.
ROAD_COLUMNS = [
    "u",
    "v",
    "osmid",
    "highway",
    "name",
    "ref",
    "oneway",
    "maxspeed",
    "length_m",
    "speed_kph",
    "time_s",
]


def _text(value: Any) -> Any:
    """List-valued OSM attributes of merged ways as one ``;``-joined string."""
    if isinstance(value, list | tuple | set | np.ndarray):
        return ";".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def roads_layer(
    network: RoadNetwork, graph: nx.MultiDiGraph | None = None, *, max_edges: int = 200_000
) -> gpd.GeoDataFrame:
    """One feature per road (a two-way street once) in WGS84 with real shapes.

    Parameters
    ----------
    network : RoadNetwork
        The routable network (node ids, coordinates; the fallback geometry).
    graph : networkx.MultiDiGraph, optional
        The osmnx-compatible graph the network was built from.
    max_edges : int
        Above this many edges only the fastest edge of each node pair is kept (a national
        network stays a few megabytes).
    """
    if graph is not None and graph.number_of_edges():
        import osmnx as ox

        edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
        a = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
        b = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
        edges = edges.assign(_a=a, _b=b).sort_values(["_a", "_b", "key"], kind="stable")
        edges = edges.drop_duplicates(["_a", "_b"]).drop(columns=["_a", "_b", "key"])
        if len(edges) > max_edges:
            edges = edges.sort_values("travel_time").head(max_edges)
        out = pd.DataFrame(
            {
                "u": edges["u"].astype("int64").to_numpy(),
                "v": edges["v"].astype("int64").to_numpy(),
                "osmid": [_text(x) for x in edges.get("osmid", pd.Series(None, index=edges.index))],
            }
        )
        for col in ("highway", "name", "ref", "oneway", "maxspeed"):
            values = edges[col] if col in edges.columns else pd.Series(None, index=edges.index)
            out[col] = [_text(x) for x in values]
        out["length_m"] = pd.to_numeric(edges.get("length"), errors="coerce").to_numpy()
        out["speed_kph"] = pd.to_numeric(edges.get("speed_kph"), errors="coerce").to_numpy()
        out["time_s"] = pd.to_numeric(edges.get("travel_time"), errors="coerce").to_numpy()
        crs = edges.crs or "EPSG:4326"
        gdf = gpd.GeoDataFrame(out, geometry=edges.geometry.to_numpy(), crs=crs)
        return gdf.to_crs("EPSG:4326").reset_index(drop=True)
    return _straight(network, max_edges=max_edges)


def _straight(net: RoadNetwork, *, max_edges: int) -> gpd.GeoDataFrame:
    """Straight lines between the edges' nodes (networks without a graph)."""
    e = net.edges_frame()
    a, b = np.minimum(e["u"], e["v"]), np.maximum(e["u"], e["v"])
    e = e.assign(a=a, b=b).drop_duplicates(["a", "b"]).drop(columns=["a", "b"]).head(max_edges)
    geom = [
        LineString([(net.lon[u], net.lat[u]), (net.lon[v], net.lat[v])])
        for u, v in zip(e["u"], e["v"], strict=True)
    ]
    out = pd.DataFrame(
        {
            "u": net.node_ids[e["u"].to_numpy()],
            "v": net.node_ids[e["v"].to_numpy()],
            "length_m": e["length_m"].to_numpy(),
            "time_s": e["time_s"].to_numpy(),
        }
    )
    out["speed_kph"] = out["length_m"] / np.maximum(out["time_s"], 1e-9) * 3.6
    for col in ("osmid", "highway", "name", "ref", "oneway", "maxspeed"):
        out[col] = None
    return gpd.GeoDataFrame(out[ROAD_COLUMNS], geometry=geom, crs="EPSG:4326")
