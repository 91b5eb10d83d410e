"""Domain exceptions for evplan (public: ``from networks.errors import ...``).

Every error a user can cause derives from :class:`EvplanError`. The CLI catches
that base class, prints the message and exits non-zero without a traceback, so
messages must name the offending input (file, field, value) and say what would
fix it.
"""

from __future__ import annotations

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


class EvplanError(Exception):
    """Base class for every user-facing evplan error."""

    exit_code: int = 2


class InputFileError(EvplanError):
    """An input file is missing, unreadable, truncated or of an unknown format."""


class NoDrivableRoadsError(EvplanError):
    """The input holds no drivable roads (or none survive filtering)."""


class EmptyAreaError(EvplanError):
    """A bounding box or polygon is empty or degenerate."""


class OfflineError(EvplanError):
    """A download was requested but the network is unreachable and nothing is cached."""


class NetworkTypeError(EvplanError, TypeError):
    """A function that needs a :class:`networks.road_network.RoadNetwork` was given
    something else (a path, a networkx graph, a :class:`networks.load.LoadedNetwork`).

    Also a :class:`TypeError`, so code catching the built-in error keeps working."""


class UnknownNodeError(EvplanError):
    """A node id or index is not part of the road network."""


class UnknownOSMObjectError(EvplanError):
    """An OSM object referenced by the user (e.g. an existing station) is not in the data."""


class SnapDistanceError(EvplanError):
    """One or more points lie farther from the network than the snap limit."""


class ConfigError(EvplanError):
    """A configuration value is invalid."""


class EmptyBBoxError(ConfigError, EmptyAreaError):
    """A bounding box is empty or inverted (west >= east or south >= north).

    Both a :class:`ConfigError` and an :class:`EmptyAreaError`, so code catching either
    keeps working."""
