"""Domain exceptions of :mod:`sim`.

All derive from :class:`networks.errors.EvplanError`, so the CLI prints their message and
exits non-zero. Every message names the offending file / field / value and says how to fix it.
"""

from __future__ import annotations

from networks.errors import ConfigError, EvplanError, InputFileError


class SimError(EvplanError):
    """Base class of simulation errors caused by user input."""


class VehicleSpecError(SimError):
    """A vehicle model has an impossible specification (negative battery, zero consumption,
    non-monotone charging curve, unknown field in a YAML catalogue, ...)."""


class UnknownVehicleModelError(SimError):
    """A trip or a vehicle mix refers to a vehicle model that is not in the catalogue."""


class StationError(SimError):
    """The stations table is malformed (missing column, non-positive plugs or power, ...)."""


class StationOffNetworkError(StationError):
    """A station's node is not a node of the road network (or cannot be snapped to it)."""


class DemandError(SimError):
    """A demand input (trips table, OD table, zones, places) is malformed."""


class DemandTableError(DemandError, InputFileError):
    """A user OD table cannot be read or lacks required columns."""


class UnknownZoneError(DemandError):
    """A demand table or population table refers to zones that do not exist."""


class SimSettingsError(SimError, ConfigError):
    """A simulation setting or charging-policy parameter is out of range."""


class UnknownKPIError(SimError, KeyError):
    """A KPI name that is not in the registry :data:`sim.kpis.KPIS`."""

    def __str__(self) -> str:  # KeyError's str() would quote the whole message
        return str(self.args[0]) if self.args else ""


__all__ = [
    "DemandError",
    "DemandTableError",
    "SimError",
    "SimSettingsError",
    "StationError",
    "StationOffNetworkError",
    "UnknownKPIError",
    "UnknownVehicleModelError",
    "UnknownZoneError",
    "VehicleSpecError",
]
