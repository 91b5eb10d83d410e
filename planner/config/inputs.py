"""The ``network``, ``demand`` and ``vehicles`` sections of a study file: the road network
(an OSM extract, a download, or national corridors built from route polylines and places),
where the trips come from, and the fleet that drives them.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from networks.errors import ConfigError
from planner.config._strict import Number
from planner.config._strict import StrictSection as _Strict

__all__ = [
    "CorridorSource",
    "DemandConfig",
    "FleetShares",
    "NetworkConfig",
    "RoadClass",
    "VehiclesConfig",
    "check_fleet_shares",
]


#: OSM ``highway`` values of ways a drive network keeps that have no default speed
#: (OSM wiki, Key:highway: bus-only roads, runaway-truck ramps, emergency lay-bys)
DRIVABLE_OTHER = ("busway", "escape", "emergency_bay")


def _road_class(name: str) -> str:
    # The classes the drive network gives a speed to (OSM highway values without a usable
    # maxspeed, networks.drive_graph.DEFAULT_SPEEDS_KPH): any other name matches no road and
    # was ignored without a word. (Imported here: the schema loads without osmnx.)
    from networks.drive_graph import DEFAULT_SPEEDS_KPH, FALLBACK_SPEED_KPH

    # ... and the other highway values of OSM's Key:highway page that the drive filter keeps
    # (networks.drive_graph._FILTERS excludes the rest): a speed for them is honoured too
    # (code review of 2026-12-07: {busway: 40} was refused)
    known = [*DEFAULT_SPEEDS_KPH, *(c for c in DRIVABLE_OTHER if c not in DEFAULT_SPEEDS_KPH)]
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(
        f"unknown road class {name!r}{hint}; give OSM highway values: {', '.join(known)} "
        f"(a way of any other class gets {FALLBACK_SPEED_KPH:g} km/h unless it has a maxspeed)"
    )


#: A key of ``network.speeds_kph``: an OSM ``highway`` value the drive network knows.
RoadClass = Annotated[str, AfterValidator(_road_class)]


def check_fleet_shares(fleet: dict[str, float]) -> dict[str, float]:
    """``fleet`` unchanged if it names at least one model and every share is > 0, else
    ``ValueError`` naming the model and the share.

    The vehicle names are checked against the study's catalogue by ``evplan validate``
    (:mod:`planner.config.checks`: the catalogue file is read only then).
    """
    if not fleet:
        raise ValueError("fleet must name at least one vehicle model")
    for k, s in fleet.items():
        if not s > 0:
            raise ValueError(
                f"fleet share of {k!r} must be > 0, got {s:g} (shares are relative weights, "
                "normalised to sum to 1; leave a model out rather than give it 0)"
            )
    return fleet


#: A fleet mix: catalogue name -> share (> 0, normalised; ``vehicles.fleet``, a stage's fleet).
FleetShares = Annotated[dict[str, Number], AfterValidator(check_fleet_shares)]


class CorridorSource(_Strict):
    """National road network built from route polylines (GeoJSON) and GeoNames places."""

    roads: Path
    places: Path
    official_population: Path | None = None
    snap_tolerance_m: float = Field(500.0, gt=0)
    place_distance_km: float = Field(15.0, gt=0)
    min_population: int = Field(5_000, ge=0)
    # per road ref, km/h: checked here so that `evplan validate` names the field (the roads
    # a ref must match are known only when the network is built)
    speeds_kph: dict[str, Annotated[Number, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    default_speed_kph: float = Field(90.0, gt=0)
    max_edge_km: float | None = Field(25.0, gt=0)  # candidate positions along long roads


class NetworkConfig(_Strict):
    """Exactly one of ``source`` (OSM file), ``place``/``bbox`` (download) or ``corridor``."""

    source: Path | None = None
    place: str | None = None
    bbox: tuple[Number, Number, Number, Number] | None = None
    download: bool = False
    corridor: CorridorSource | None = None
    network_type: Literal["drive", "drive_service"] = "drive"
    # per OSM highway value, km/h: the speed of a way without a usable maxspeed
    speeds_kph: dict[RoadClass, Number] = Field(default_factory=dict)
    cache_dir: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> NetworkConfig:
        given = [k for k in ("source", "place", "bbox", "corridor") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of source, place, bbox or corridor (got {given or 'none'})"
            )
        if self.bbox is not None:
            from networks.validate import validate_bbox

            try:
                validate_bbox(self.bbox, what="network.bbox")
            except ConfigError as exc:  # reported with file and line like any field error
                raise ValueError(str(exc)) from None
        if (self.place is not None or self.bbox is not None) and not self.download:
            raise ValueError(
                "place/bbox need 'download: true' (evplan never goes online unless asked); "
                "or pass an extract with 'source: path/to/file.osm.pbf'"
            )
        for k, v in self.speeds_kph.items():
            if not v > 0:
                raise ValueError(f"speeds_kph.{k} must be > 0 km/h, got {v}")
        return self


class DemandConfig(_Strict):
    """Where trips come from."""

    kind: Literal["city", "corridor", "od_table", "freight"]
    zones: Path | None = None
    zone_population: Path | None = None
    zone_name_field: str = "name_ru"
    population: int | None = Field(None, gt=0)
    use_poi_weight: bool = True
    adoption_share: float = Field(0.01, gt=0, le=1)
    trips_per_ev_day: float | None = Field(None, gt=0)  # None: what the trip-chain mix implies
    max_trips: int | None = Field(None, gt=0)
    gravity_exponent: float = Field(2.0, ge=0)
    trips_per_day: float = Field(400.0, gt=0)
    truck_share: float = Field(0.0, ge=0, le=1)
    min_trip_km: float = Field(50.0, ge=0)
    od_table: Path | None = None
    # snap limit of an OD table's lon/lat trip ends to the network (m)
    od_snap_m: float = Field(500.0, gt=0, allow_inf_nan=False)
    # freight (docs/cargo.md): trucks_per_day = trips_per_day; share of the China-border
    # trucks that cross Kazakhstan to a Russian border post; relative weight per border post
    # (by name, default 1 each); snap limit of the posts to the network
    transit_share: float = Field(0.3, ge=0, le=1)
    border_weights: dict[str, Number] = Field(default_factory=dict)
    border_snap_m: float = Field(5_000.0, gt=0)

    @field_validator("border_weights")
    @classmethod
    def _border_weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if not w >= 0:
                raise ValueError(f"border_weights[{k!r}] must be >= 0, got {w}")
        return v

    @model_validator(mode="after")
    def _inputs(self) -> DemandConfig:
        if self.kind == "city" and self.zones is None and self.population is None:
            raise ValueError(
                "kind 'city' needs 'zones' (district polygons + zone_population) or a total "
                "'population' spread over a grid of the network"
            )
        if self.kind == "od_table" and self.od_table is None:
            raise ValueError("kind 'od_table' needs 'od_table: path/to/table.csv'")
        return self


class VehiclesConfig(_Strict):
    """Fleet mix by catalogue name (shares are normalised) and optional user catalogue."""

    fleet: FleetShares = Field(default_factory=lambda: {"mitsubishi_imiev_2013": 1.0})
    truck: str | None = None
    catalogue: Path | None = None
    compare: list[str] = Field(default_factory=list)
    # how the vehicle comparison puts a compared model on the road (planner.study.compare):
    # "fleet": every trip of the study driven by it (a fleet of that model alone, its own
    # queues); "probe": a seeded share of the study's vehicles of its category drive it
    # among the study's own fleet, and only their trips are counted (what a buyer of it
    # meets on today's roads)
    compare_as: Literal["fleet", "probe"] = "fleet"
    probe_share: float = Field(0.1, gt=0, le=1)
    # driving-time rules of truck drivers (sim.driving_rules): "auto" = AETR for the trucks of
    # a freight study, none otherwise
    driving_rules: Literal["auto", "aetr", "none"] = "auto"
