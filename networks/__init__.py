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
    EmptyBBoxError,
    EvplanError,
    InputFileError,
    NetworkTypeError,
    NoDrivableRoadsError,
    OfflineError,
    SnapDistanceError,
    UnknownNodeError,
    UnknownOSMObjectError,
)
from networks.load import LoadedNetwork, download_network, load_network
from networks.places import attach_places, read_places
from networks.road_network import RoadNetwork, SnapResult
from networks.validate import validate_bbox, validate_snap_distance

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
    "validate_bbox",
    "validate_snap_distance",
    "ConfigError",
    "EmptyAreaError",
    "EmptyBBoxError",
    "EvplanError",
    "InputFileError",
    "NetworkTypeError",
    "NoDrivableRoadsError",
    "OfflineError",
    "RoadNetwork",
    "SnapDistanceError",
    "SnapResult",
    "UnknownNodeError",
    "UnknownOSMObjectError",
]
