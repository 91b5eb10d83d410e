"""evplan.networks: OpenStreetMap road data in, frozen routable arrays out."""

from networks._errors import (
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
from networks.road_network import RoadNetwork, SnapResult

__all__ = [
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
