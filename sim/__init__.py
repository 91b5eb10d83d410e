"""evplan.sim: SimPy discrete-event simulation of EV trips, charging and queues.

Public API::

    from sim import simulate, replicate, SimSettings, ChargingPolicy, builtin_models
    from sim import demand      # city_trips, corridor_trips, read_od_table, zone_nodes
    result = simulate(network, stations, trips, settings=SimSettings(), seed=1)
    result.trips, result.sessions, result.station_timeseries, result.stations, result.vehicles
    result.kpis()                # names, labels, units and ranges: sim.KPIS / sim.kpi(name)
    result.station_stats()       # per station: utilisation, sessions, visits, mean / p95 wait

See docs/simulation.md for table schemas, KPI definitions and coefficient sources.
"""

from sim._errors import (
    DemandError,
    DemandTableError,
    SimError,
    SimSettingsError,
    StationError,
    StationOffNetworkError,
    UnknownKPIError,
    UnknownVehicleModelError,
    UnknownZoneError,
    VehicleSpecError,
)
from sim.api import replicate, simulate, summarise
from sim.catalogue import builtin_models, default_car_mix, default_truck_mix, load_vehicle_models
from sim.inputs import (
    STATION_COLUMNS,
    TRIP_COLUMNS,
    prepare_stations,
    validate_stations,
    validate_trips,
)
from sim.kpis import KPI, KPIS, kpi
from sim.policies import (
    CannotReach,
    ChargingPolicy,
    EnoughToFinish,
    MinDetour,
    SocThreshold,
    StationChoice,
    TargetSoc,
)
from sim.results import SimulationResult
from sim.routes import RouteTables
from sim.settings import KZ_GRID_KG_CO2_PER_KWH, SimSettings
from sim.vehicles import VehicleModel

__all__ = [
    "KPI",
    "KPIS",
    "KZ_GRID_KG_CO2_PER_KWH",
    "STATION_COLUMNS",
    "TRIP_COLUMNS",
    "CannotReach",
    "ChargingPolicy",
    "DemandError",
    "DemandTableError",
    "EnoughToFinish",
    "MinDetour",
    "RouteTables",
    "SimError",
    "SimSettings",
    "SimSettingsError",
    "SimulationResult",
    "SocThreshold",
    "StationChoice",
    "StationError",
    "StationOffNetworkError",
    "TargetSoc",
    "UnknownKPIError",
    "UnknownVehicleModelError",
    "UnknownZoneError",
    "VehicleModel",
    "VehicleSpecError",
    "builtin_models",
    "default_car_mix",
    "default_truck_mix",
    "kpi",
    "load_vehicle_models",
    "prepare_stations",
    "replicate",
    "simulate",
    "summarise",
    "validate_stations",
    "validate_trips",
]
