"""The demand step of a study: config -> trips table for :func:`sim.simulate`."""

from __future__ import annotations

import dataclasses
import logging
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from networks.borders import border_posts
from networks.road_network import RoadNetwork
from networks.validate import encoding_hint
from planner.config.study import StudyConfig
from planner.study.inputs import StudyNetwork
from sim import demand as sim_demand
from sim._errors import DemandError
from sim.catalogue import resolve_models
from sim.demand.city import MAX_TRIPS
from sim.demand.profiles import TRUCK_PROFILE
from sim.demand.zones import (
    NAME_FIELDS,
    check_repeated_features,
    check_zone_geometries,
    read_population_table,
)

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
            days=cfg.simulated_days(),
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
            days=cfg.simulated_days(),
            min_distance_km=d.min_trip_km,
            car_mix=fleet,
            truck_mix={cfg.vehicles.truck: 1.0} if cfg.vehicles.truck else None,
            vehicles=vehicles,
        )
    elif d.kind == "freight":
        trips = freight_trips(cfg, net, vehicles, rng=rng)
    else:
        zones = read_zones(cfg) if d.zones is not None else None
        # zones are named by demand.zone_name_field when the polygons carry it (else by row;
        # read_zones refuses a zone_name_field set in the config that the polygons lack)
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
            max_snap_m=d.od_snap_m,
        )
    if trips.empty:
        raise DemandError(
            f"study {cfg.name!r}: the demand settings produced no trips; raise "
            "demand.adoption_share / demand.trips_per_day or check the zones"
        )
    logger.info("%d trips by %d vehicles", len(trips), trips["vehicle_id"].nunique())
    return trips


def with_driving_rules(cfg: StudyConfig, vehicles: dict) -> dict:
    """The study's vehicle models with the driving-time rules switched on for its trucks
    (``vehicles.driving_rules``: "aetr", or "auto" in a freight study) or off ("none")."""
    setting = cfg.vehicles.driving_rules
    if setting == "auto" and cfg.demand.kind != "freight":
        return vehicles
    rule = "" if setting == "none" else "aetr"
    return {
        k: dataclasses.replace(m, driving_rules=rule) if m.category == "truck" else m
        for k, m in vehicles.items()
    }


def freight_trips(
    cfg: StudyConfig, net: RoadNetwork, vehicles: dict, *, rng: np.random.Generator
) -> pd.DataFrame:
    """Truck trips of a freight study: China border posts <-> Kazakh places, and transit
    between the China and the Russia border posts (docs/cargo.md).

    OD assumption: ``trips_per_day`` trucks a day pass the China border posts; a share
    ``transit_share`` of them cross Kazakhstan to a Russian border post, chosen in proportion
    to the posts' ``border_weights``; the rest go to (or come from) a Kazakh place chosen by
    a gravity model ``W_c * P_j / d_cj ** gravity_exponent`` (post weight, place population,
    route km; places nearer than ``min_trip_km`` excluded). Each trip is an import (from
    China) or an export (to China) with equal probability. Trucks depart on the truck
    profile of :mod:`sim.demand.profiles`; models from ``vehicles.fleet`` (trucks only).
    """
    d = cfg.demand
    assert cfg.network.corridor is not None  # the schema requires it for kind freight
    days = cfg.simulated_days()
    if not d.trips_per_day * days <= MAX_TRIPS:  # before anything is allocated
        raise DemandError(
            f"demand.trips_per_day = {d.trips_per_day:g} trucks a day over {days} simulated "
            f"day(s) is more than the {MAX_TRIPS:,} trips evplan simulates; give a realistic "
            "number of trucks a day"
        )
    fleet = dict(cfg.vehicles.fleet)
    resolve_models(fleet, vehicles, what="vehicles.fleet")
    cars = sorted(k for k in fleet if vehicles[k].category != "truck")
    if cars:
        raise DemandError(
            f"demand.kind 'freight' simulates trucks: vehicles.fleet names non-truck model(s) "
            f"{cars}; list truck models only (e.g. mercedes_eactros_600, windrose_r700)"
        )
    posts = border_posts(cfg.network.corridor.roads)
    unknown = sorted(set(d.border_weights) - set(posts["name"]))
    if unknown:
        raise DemandError(
            f"demand.border_weights names unknown border post(s) {unknown}; posts: "
            f"{sorted(posts['name'])}"
        )
    posts["weight"] = [float(d.border_weights.get(n, 1.0)) for n in posts["name"]]
    posts = posts[posts["weight"] > 0].reset_index(drop=True)
    posts["node"] = net.snap_strict(
        posts["lon"].to_numpy(), posts["lat"].to_numpy(), max_distance_m=d.border_snap_m,
        labels=posts["name"].tolist(),
    )  # fmt: skip
    china = posts[posts["country"] == "China"].reset_index(drop=True)
    russia = posts[posts["country"] == "Russia"].reset_index(drop=True)
    if china.empty:
        raise DemandError("demand.border_weights leaves no China border post with weight > 0")
    places = corridor_places(net)
    places = places[~places["node"].isin(posts["node"])].reset_index(drop=True)
    cn = china["node"].to_numpy(dtype=np.int64)
    _, length = net.route_matrices(cn, places["node"].to_numpy(dtype=np.int64))
    km = length / 1000.0
    ok = np.isfinite(km) & (km >= max(d.min_trip_km, 1e-9))
    with np.errstate(divide="ignore", invalid="ignore"):
        w_dom = np.where(
            ok,
            china["weight"].to_numpy()[:, None]
            * places["population"].to_numpy(dtype=float)[None, :]
            / np.where(ok, km, 1.0) ** d.gravity_exponent,
            0.0,
        )
    w_tr = (
        np.outer(china["weight"].to_numpy(), russia["weight"].to_numpy())
        if len(russia)
        else np.zeros((len(china), 0))
    )
    if w_dom.sum() <= 0:
        raise DemandError(
            "freight demand: no Kazakh place is reachable from the China border posts and at "
            f"least demand.min_trip_km = {d.min_trip_km} km away; check the network"
        )
    ends = np.r_[places["node"].to_numpy(dtype=np.int64), russia["node"].to_numpy(dtype=np.int64)]
    end_names = np.r_[places["name"].astype(str).to_numpy(), russia["name"].astype(str).to_numpy()]
    n_dom = places.shape[0]
    share_tr = d.transit_share if w_tr.size and w_tr.sum() > 0 else 0.0
    p = np.concatenate(
        [(1 - share_tr) * w_dom / w_dom.sum(), share_tr * w_tr / max(w_tr.sum(), 1e-300)], axis=1
    ).ravel()
    keys = list(fleet)
    mix = np.asarray([fleet[k] for k in keys], dtype=float)
    n = int(round(d.trips_per_day))
    frames = []
    for day in range(days):
        pair = rng.choice(p.size, size=n, p=p / p.sum())
        ci, ei = np.divmod(pair, ends.size)
        export = rng.random(n) < 0.5
        c_node, e_node = cn[ci], ends[ei]
        c_name, e_name = china["name"].to_numpy()[ci], end_names[ei]
        kind = np.where(ei >= n_dom, "transit", np.where(export, "export", "import"))
        frames.append(
            pd.DataFrame(
                {
                    "vehicle_model": np.asarray(keys, dtype=object)[
                        rng.choice(len(keys), size=n, p=mix / mix.sum())
                    ],
                    "origin": np.where(export, e_node, c_node),
                    "destination": np.where(export, c_node, e_node),
                    "depart_s": day * 86_400.0 + TRUCK_PROFILE.sample(rng, n),
                    "day": day,
                    "flow": kind,
                    "origin_place": np.where(export, e_name, c_name),
                    "destination_place": np.where(export, c_name, e_name),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True).sort_values("depart_s", kind="stable")
    df = df.reset_index(drop=True)
    df.insert(0, "vehicle_id", np.arange(len(df), dtype=np.int64))
    df.insert(5, "chain_seq", np.zeros(len(df), dtype=np.int64))
    df.attrs["expansion_factor"] = 1.0
    logger.info(
        "freight demand: %d truck trips over %d day(s): %s",
        len(df),
        days,
        df["flow"].value_counts().to_dict(),
    )
    return df


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
        cells = grid_zones(net, population=float(d.population))
        cells.attrs["population_source"] = f"demand.population {d.population:,}"
        return cells
    zones = read_zones(cfg)
    if d.zone_population is not None:
        table = read_population_table(d.zone_population)
        fields = [d.zone_name_field] + [f for f in NAME_FIELDS if f != d.zone_name_field]
        zones = sim_demand.join_population(
            zones,
            table,
            zone_name_fields=fields,
            source=f"{d.zone_population} (demand.zone_population)",
        )
        # the file named by the demand generator's size checks (sim.demand.city_trips)
        zones.attrs["population_source"] = f"demand.zone_population {d.zone_population}"
    elif "population" not in zones.columns:
        raise DemandError(
            f"demand.zones {d.zones} has no 'population' column; add demand.zone_population"
        )
    else:
        zones.attrs["population_source"] = f"demand.zones {d.zones} (its population column)"
    return zones


def read_zones(cfg: StudyConfig) -> gpd.GeoDataFrame:
    """Read ``demand.zones`` and check what the demand generators cannot check without the
    file name: every feature has a geometry, no polygon is given twice, and
    ``demand.zone_name_field``, when the config sets it, is one of the file's fields.
    GDAL's warnings while reading are logged (not printed) once each, naming the file.

    Left at its default (``name_ru``) the name field may be missing: the population join
    then tries the other usual name fields and an OD table names zones by row, as before.

    Raises
    ------
    DemandError
        The file cannot be read or has no features, a feature has no geometry, a polygon is
        given twice, or the name field is unknown.
    """
    d = cfg.demand
    assert d.zones is not None  # callers check
    # GDAL's warnings (pyogrio's "Several features with id = 6 ... Altering it to be
    # unique" for a pasted feature) went to stderr raw, with a source line: they are kept
    # here and either made moot by the checks below or logged, naming the file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            zones = gpd.read_file(d.zones)
        except Exception as exc:  # pyogrio raises several types for unreadable files
            raise DemandError(
                f"demand.zones: cannot read {d.zones}: {exc}{encoding_hint(exc)}"
            ) from exc
    if zones.empty:
        raise DemandError(
            f"demand.zones {d.zones} has no features; give a file with the district polygons"
        )
    fields = [c for c in zones.columns if c != zones.geometry.name]
    if "zone_name_field" in d.model_fields_set and d.zone_name_field not in zones.columns:
        raise DemandError(
            f"demand.zone_name_field {d.zone_name_field!r} is not a field of demand.zones "
            f"{d.zones}; its fields are {fields}. Set zone_name_field to one of them"
        )
    label = d.zone_name_field if d.zone_name_field in zones.columns else None
    # the file, named in the zone errors here and in sim.demand.zone_nodes (city and OD table)
    zones.attrs["source"] = f"demand.zones {d.zones}"
    check_zone_geometries(zones, source=zones.attrs["source"], zone_col=label)
    check_repeated_features(zones, source=zones.attrs["source"], zone_col=label)
    for message in dict.fromkeys(str(w.message) for w in caught):  # each once
        # GDAL renumbers features that share an "id" property (a pasted feature): evplan
        # reads no id, and a repeated zone is reported above or by the population join and
        # the OD table's zone names (sim.demand.zones), naming the features: debug only
        repeated_id = message.startswith("Several features with id")
        logger.log(
            logging.DEBUG if repeated_id else logging.WARNING,
            "%s: %s",
            zones.attrs["source"],
            message,
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
    """Trip origins of the measured days aggregated per node (the report's demand layer).

    The warm-up days' trips are left out, as in every KPI: the layer summed to three days'
    trips in a study with two warm-up days (planner review, 2026-12-07)."""
    net = sn.network
    warmup_s = cfg.warmup_days() * 86_400.0
    end_s = (cfg.warmup_days() + cfg.simulation.days) * 86_400.0
    if "depart_s" in trips and (warmup_s > 0 or cfg.cooldown_days() > 0):
        depart = trips["depart_s"].to_numpy(dtype=float)
        keep = depart >= warmup_s
        if cfg.demand.kind != "od_table":  # the measured days' trips (no cool-down day's)
            keep &= depart < end_s
        trips = trips[keep]
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
    if cfg.demand.kind in ("corridor", "freight") and "name" in net.node_table.columns:
        df["name"] = net.node_table["name"].reindex(nodes).fillna("").astype(str).to_numpy()
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")
