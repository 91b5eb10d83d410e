"""Demand for the simulation: generated city trip chains, gravity-model corridor trips, or a
user OD table. Every generator returns a trips table ready for :func:`sim.simulate`."""

from sim.demand.city import DEFAULT_CHAIN_MIX, city_trips, parse_chain
from sim.demand.corridor import corridor_trips, gravity_weights, place_nodes
from sim.demand.od_table import read_od_table
from sim.demand.profiles import (
    CORRIDOR_PROFILE,
    OTHER_PROFILE,
    TRUCK_PROFILE,
    WEEKDAY_PROFILE,
    WORK_PROFILE,
    DepartureProfile,
)
from sim.demand.zones import join_population, normalise_name, zone_nodes

__all__ = [
    "CORRIDOR_PROFILE",
    "DEFAULT_CHAIN_MIX",
    "OTHER_PROFILE",
    "TRUCK_PROFILE",
    "WEEKDAY_PROFILE",
    "WORK_PROFILE",
    "DepartureProfile",
    "city_trips",
    "corridor_trips",
    "gravity_weights",
    "join_population",
    "normalise_name",
    "parse_chain",
    "place_nodes",
    "read_od_table",
    "zone_nodes",
]
