"""The demand step of a study: config -> trips table for :func:`sim.simulate`."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from networks.road_network import RoadNetwork
from planner.config.study import StudyConfig
from planner.study.inputs import StudyNetwork
from sim import demand as sim_demand
from sim._errors import DemandError

logger = logging.getLogger(__name__)

#: Cell size of the grid that stands in for districts when a study has none.
GRID_CELL_M = 1_000.0


def build_trips(
    cfg: StudyConfig, sn: StudyNetwork, vehicles: dict, *, rng: np.random.Generator
) -> pd.DataFrame:
    """Generate (or read) the study's trips.

    City: trip chains from district polygons weighted by population (and POIs); without
    polygons, a 1 km grid over the network, population spread by node density (a proxy:
    more streets, more people). Corridor: gravity-model intercity trips between the named
    places of the network, trucks as a separate flow. OD table: the user's trips.
    """
    d, net = cfg.demand, sn.network
    fleet = dict(cfg.vehicles.fleet)
    if d.kind == "city":
        zones = city_zones(cfg, net)
        pois = sn.pois[["lon", "lat"]] if d.use_poi_weight and not sn.pois.empty else None
        trips = sim_demand.city_trips(
            net,
            zones,
            rng=rng,
            population_col="population",
            pois=pois,
            adoption_share=d.adoption_share,
            trips_per_ev_day=d.trips_per_ev_day,
            days=cfg.simulation.days + cfg.warmup_days(),
            vehicle_mix=fleet,
            vehicles=vehicles,
        )
        trips = sample_fleet(trips, max_trips=d.max_trips)
    elif d.kind == "corridor":
        places = corridor_places(net)
        trips = sim_demand.corridor_trips(
            net,
            places,
            rng=rng,
            trips_per_day=d.trips_per_day,
            gravity_exponent=d.gravity_exponent,
            truck_share=d.truck_share if cfg.vehicles.truck else 0.0,
            days=cfg.simulation.days + cfg.warmup_days(),
            min_distance_km=d.min_trip_km,
            car_mix=fleet,
            truck_mix={cfg.vehicles.truck: 1.0} if cfg.vehicles.truck else None,
            vehicles=vehicles,
        )
    else:
        zones = gpd.read_file(d.zones) if d.zones is not None else None
        # zones are named by demand.zone_name_field when the polygons carry it (else by row)
        zone_col = (
            d.zone_name_field if zones is not None and d.zone_name_field in zones.columns else None
        )
        assert d.od_table is not None  # the schema requires it for kind od_table
        trips = sim_demand.read_od_table(
            d.od_table,
            network=net,
            rng=rng,
            zones=zones,
            zone_col=zone_col,
            vehicles=vehicles,
            vehicle_mix=fleet,
        )
    if trips.empty:
        raise DemandError(
            f"study {cfg.name!r}: the demand settings produced no trips; raise "
            "demand.adoption_share / demand.trips_per_day or check the zones"
        )
    logger.info("%d trips by %d vehicles", len(trips), trips["vehicle_id"].nunique())
    return trips


def sample_fleet(trips: pd.DataFrame, *, max_trips: int | None) -> pd.DataFrame:
    """Keep whole vehicles (in generation order, a random sample: homes, models and chains
    are drawn independently per vehicle) until ``max_trips``; record the expansion factor
    (all trips / kept trips) in ``trips.attrs["expansion_factor"]`` so the study scales its
    fleet totals back (never a silent truncation)."""
    trips.attrs["expansion_factor"] = 1.0
    if max_trips is None or len(trips) <= max_trips:
        return trips
    per_v = trips.groupby("vehicle_id", sort=False).size()
    keep = per_v.index[np.cumsum(per_v.to_numpy()) <= max_trips]
    kept = trips[trips["vehicle_id"].isin(keep)].reset_index(drop=True)
    factor = len(trips) / max(len(kept), 1)
    kept.attrs["expansion_factor"] = factor
    logger.warning(
        "demand.max_trips = %d: simulating %d of %d vehicles (%d of %d trips); fleet totals "
        "are scaled by the expansion factor %.2f, queues are those of the sample",
        max_trips,
        kept["vehicle_id"].nunique(),
        trips["vehicle_id"].nunique(),
        len(kept),
        len(trips),
        factor,
    )
    return kept


def city_zones(cfg: StudyConfig, net: RoadNetwork) -> gpd.GeoDataFrame:
    """District polygons with a ``population`` column (or the grid stand-in)."""
    d = cfg.demand
    if d.zones is None:
        assert d.population is not None  # the schema requires zones or a population
        return grid_zones(net, population=float(d.population))
    try:
        zones = gpd.read_file(d.zones)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise DemandError(f"demand.zones: cannot read {d.zones}: {exc}") from exc
    if d.zone_population is not None:
        table = pd.read_csv(d.zone_population)
        fields = [d.zone_name_field] + [
            f for f in ("name_ru", "name_kz", "name", "name_object") if f != d.zone_name_field
        ]
        zones = sim_demand.join_population(zones, table, zone_name_fields=fields)
    elif "population" not in zones.columns:
        raise DemandError(
            f"demand.zones {d.zones} has no 'population' column; add demand.zone_population"
        )
    return zones


def grid_zones(
    net: RoadNetwork, *, population: float, cell_m: float = GRID_CELL_M
) -> gpd.GeoDataFrame:
    """Square cells over the network holding nodes; ``population`` split by node count."""
    ix = np.floor((net.x - net.x.min()) / cell_m).astype(np.int64)
    iy = np.floor((net.y - net.y.min()) / cell_m).astype(np.int64)
    cells = pd.DataFrame({"ix": ix, "iy": iy}).value_counts().rename("nodes").reset_index()
    x0, y0 = net.x.min(), net.y.min()
    geom = [
        box(x0 + i * cell_m, y0 + j * cell_m, x0 + (i + 1) * cell_m, y0 + (j + 1) * cell_m)
        for i, j in zip(cells["ix"], cells["iy"], strict=True)
    ]
    cells["population"] = population * cells["nodes"] / cells["nodes"].sum()
    cells["name"] = [f"cell {i},{j}" for i, j in zip(cells["ix"], cells["iy"], strict=True)]
    return gpd.GeoDataFrame(cells, geometry=geom, crs=net.crs).to_crs("EPSG:4326")


def corridor_places(net: RoadNetwork) -> pd.DataFrame:
    """Named network nodes with a population (the corridor builder's attached places)."""
    t = net.node_table
    if not {"name", "population"} <= set(t.columns):
        raise DemandError(
            "demand.kind 'corridor' needs a network with named places (network.corridor)"
        )
    pop = pd.to_numeric(t["population"], errors="coerce")
    ok = t["name"].notna() & pop.gt(0)
    places = pd.DataFrame(
        {"name": t.loc[ok, "name"].astype(str), "population": pop[ok], "node": t.index[ok]}
    )
    if len(places) < 2:
        raise DemandError(
            "the corridor network has fewer than two populated places; lower "
            "network.corridor.min_population or raise place_distance_km"
        )
    return places.reset_index(drop=True)


def demand_points(cfg: StudyConfig, sn: StudyNetwork, trips: pd.DataFrame) -> gpd.GeoDataFrame:
    """Trip origins aggregated per node (the report's demand layer)."""
    net = sn.network
    agg = trips.groupby("origin").size().rename("weight").reset_index()
    nodes = agg["origin"].to_numpy()
    df = pd.DataFrame(
        {
            "node": nodes,
            "weight": agg["weight"].astype(float),
            "kind": "trip_origin",
            "lon": net.lon[nodes],
            "lat": net.lat[nodes],
        }
    )
    if cfg.demand.kind == "corridor" and "name" in net.node_table.columns:
        df["name"] = net.node_table["name"].reindex(nodes).fillna("").astype(str).to_numpy()
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
