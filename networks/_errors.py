"""Deprecated alias of :mod:`networks.errors`, kept so old imports keep working."""

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

__all__ = [
    "ConfigError",
    "EmptyAreaError",
    "EmptyBBoxError",
    "EvplanError",
    "InputFileError",
    "NetworkTypeError",
    "NoDrivableRoadsError",
    "OfflineError",
    "SnapDistanceError",
    "UnknownNodeError",
    "UnknownOSMObjectError",
]
