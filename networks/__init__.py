"""evplan.networks: OpenStreetMap road data in, frozen routable arrays out."""

from networks.corridor import (
    build_national_network,
    corridor_graph_from_lines,
    corridor_graph_from_osm,
    corridor_graph_from_osmnx,
    read_national_roads,
)
from networks.errors import (
    ConfigError,
    EmptyAreaError,
    EvplanError,
    InputFileError,
    NoDrivableRoadsError,
    OfflineError,
    SnapDistanceError,
    UnknownNodeError,
    UnknownOSMObjectError,
)
from networks.load import LoadedNetwork, download_network, load_network
from networks.places import attach_places, read_places
from networks.road_network import RoadNetwork, SnapResult

__all__ = [
    "LoadedNetwork",
    "attach_places",
    "build_national_network",
    "corridor_graph_from_lines",
    "corridor_graph_from_osm",
    "corridor_graph_from_osmnx",
    "download_network",
    "load_network",
    "read_national_roads",
    "read_places",
    "ConfigError",
    "EmptyAreaError",
    "EvplanError",
    "InputFileError",
    "NoDrivableRoadsError",
    "OfflineError",
    "RoadNetwork",
    "SnapDistanceError",
    "SnapResult",
    "UnknownNodeError",
    "UnknownOSMObjectError",
]
