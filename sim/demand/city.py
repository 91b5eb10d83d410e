"""City demand: EV trip chains between district zones weighted by population and POIs.

Generation (all draws from the given ``rng``, in a fixed order, so a seed fixes the table):

1. Network nodes are assigned to zones (:func:`zone_nodes`); each zone keeps up to
   ``nodes_per_zone`` random candidate nodes as trip ends (bounded routing cost; ``None``
   keeps all).
2. Fleet = ``fleet_size`` or ``round(adoption_share * total population)`` EVs; each gets a
   home zone with probability proportional to population, a home node, a work place (zone
   by *attraction*, node: a POI node with probability ``poi_weight`` if the zone has POIs)
   and a vehicle model from ``vehicle_mix``.
   Attraction = ``(1 - poi_weight) * population share + poi_weight * POI share``.
3. Every day each EV is active with probability ``trips_per_ev_day / mean chain length``
   (1 if not given) and draws a chain type from ``chain_mix`` (default: 40 % home-work-home,
   25 % home-other-home, 20 % home-work-other-home, 15 % home-other-other-home; 2.35 trips
   per active EV, an assumption in the range of household travel surveys).
4. The first departure comes from ``work_profile`` (chains starting with work) or
   ``profile``; later departures add a travel-time estimate (1.3 x straight-line distance at
   30 km/h) and a dwell: work ~ Normal(8.5 h, 1 h) clipped to 4-11 h, other ~ LogNormal with
   median 1 h (sigma 0.7) clipped to 10 min - 4 h. The simulation departs a leg at
   ``max(planned, arrival)``, so estimates only shape the timetable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from networks.road_network import RoadNetwork
from sim._checks import (
    RngLike,
    as_generator,
    received,
    require_network,
    vehicle_catalogue,
    whole_number,
)
from sim._errors import DemandError
from sim.catalogue import default_car_mix, resolve_models
from sim.demand.profiles import OTHER_PROFILE, WORK_PROFILE, DepartureProfile
from sim.demand.zones import MAX_ZONE_POPULATION, zone_ids, zone_nodes
from sim.policies import is_real

logger = logging.getLogger(__name__)

DEFAULT_CHAIN_MIX: dict[str, float] = {
    "H-W-H": 0.40,
    "H-O-H": 0.25,
    "H-W-O-H": 0.20,
    "H-O-O-H": 0.15,
}
DAY_S = 86_400.0
#: Most trips one demand table may hold, over all its days (city demand and OD tables).
#: Twenty times the 1 M-trip benchmark (README: 1,000,000 trips in one simulated day, 1.8 GB
#: peak); the shipped studies have at most about 870,000 (Almaty 2035: 290,000 a day, three
#: days). Above it a typo (a count of 1e9, a population of 1e15) would ask for more memory
#: than the machine has: refused before anything is allocated.
MAX_TRIPS = 20_000_000
_EST_SPEED_MS = 30.0 / 3.6
_DETOUR_FACTOR = 1.3


def parse_chain(chain: str) -> tuple[str, ...]:
    """``"H-W-O-H"`` -> ``("W", "O")`` (activities between leaving and returning home)."""
    parts = [p.strip().upper() for p in chain.split("-")]
    if (
        len(parts) < 3
        or parts[0] != "H"
        or parts[-1] != "H"
        or any(p not in ("W", "O") for p in parts[1:-1])
    ):
        raise DemandError(
            f"trip chain {chain!r} must look like 'H-W-H' or 'H-W-O-H' (H home, W work, O other)"
        )
    return tuple(parts[1:-1])


def mix_probabilities(mix: Mapping[str, float], what: str) -> tuple[list[str], np.ndarray]:
    """The keys of ``mix`` and their shares as probabilities (summing to 1); a
    :class:`DemandError` naming ``what`` for an empty mix or negative, non-finite or
    all-zero shares."""
    keys = list(mix)
    p = np.asarray([float(mix[k]) for k in keys])
    if not keys or (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
        raise DemandError(f"{what} needs non-negative shares with a positive sum, got {dict(mix)}")
    return keys, p / p.sum()


def _check_size(
    zones: gpd.GeoDataFrame,
    ids: pd.Index,
    pop: np.ndarray,
    n_ev: int,
    days: int,
    trips_per_ev_day: float,
) -> None:
    """Refuse, before anything is allocated, a zone above :data:`MAX_ZONE_POPULATION` and a
    fleet whose trips would exceed :data:`MAX_TRIPS` (a population of 1e15 asked numpy for
    26 TiB). The messages name the population's file when ``zones.attrs`` holds it
    (``population_source``, set by the study) and say what would fix it."""
    src = zones.attrs.get("population_source")
    where = f"{src}: " if src else ""
    # (not finite counts as too large: an "inf" overflowed the fleet's int first)
    big = np.flatnonzero(~np.isfinite(pop) | (pop > MAX_ZONE_POPULATION))
    if big.size:
        shown = [f"zone {ids[i]!r} = {pop[i]:,.0f}" for i in big[:10].tolist()]
        raise DemandError(
            f"{where}population above {MAX_ZONE_POPULATION:,} (more than any city on Earth): "
            f"{'; '.join(shown)}. Give each zone's residents: is a figure a typo or in the "
            "wrong unit?"
        )
    if n_ev < 0:  # zones checked only (city_trips calls this before it counts the fleet)
        return
    trips = n_ev * days * trips_per_ev_day
    if trips > MAX_TRIPS:
        raise DemandError(
            f"{where}{n_ev:,} EVs (adoption share x population {pop.sum():,.0f}, or the fleet "
            f"size) make about {trips:,.0f} trips over {days} day(s), more than the "
            f"{MAX_TRIPS:,} trips evplan simulates; check the population figures, lower the "
            "adoption share, or simulate fewer days (a sample, max_trips, is drawn only "
            "after the whole fleet's trips are made)"
        )


def _poi_lonlat(pois) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(pois, gpd.GeoDataFrame):
        g = pois.to_crs("EPSG:4326").geometry.representative_point()
        return g.x.to_numpy(), g.y.to_numpy()
    if {"lon", "lat"} <= set(pois.columns):
        return pois["lon"].to_numpy(float), pois["lat"].to_numpy(float)
    raise DemandError("pois need a geometry (GeoDataFrame) or lon/lat columns")


def city_trips(
    network: RoadNetwork,
    zones: gpd.GeoDataFrame,
    *,
    rng: RngLike,
    population_col: str = "population",
    zone_col: str | None = None,
    pois: pd.DataFrame | None = None,
    poi_weight: float = 0.3,
    adoption_share: float = 0.01,
    fleet_size: int | None = None,
    trips_per_ev_day: float | None = None,
    chain_mix: Mapping[str, float] | None = None,
    profile: DepartureProfile = OTHER_PROFILE,
    work_profile: DepartureProfile = WORK_PROFILE,
    days: int = 1,
    vehicle_mix: Mapping[str, float] | None = None,
    vehicles: Mapping | None = None,
    nodes_per_zone: int | None = 50,
    max_trips: int | None = None,
) -> pd.DataFrame:
    """Generate city trip chains (module docstring for the method).

    Parameters
    ----------
    network : RoadNetwork
        Road network; trip ends are its node indices.
    zones : GeoDataFrame
        District polygons with a population column (CRS set).
    rng : numpy Generator, SeedSequence or int
        All draws come from it; an integer seed >= 0 or a SeedSequence is turned into a
        generator with :func:`numpy.random.default_rng` (as ``sim.simulate``'s ``seed``).
    population_col : str
        Column of ``zones`` with the residents of each zone.
    zone_col : str, optional
        Column of ``zones`` with the zone ids; the index by default.
    pois : DataFrame, optional
        Points of interest (GeoDataFrame or ``lon``/``lat`` columns) that attract work and
        other trips.
    poi_weight : float
        Weight of POIs in the attraction of a zone and of its nodes, in [0, 1].
    adoption_share : float
        EVs per resident, in [0, 1]; used when ``fleet_size`` is not given.
    fleet_size : int, optional
        Number of EVs (overrides ``adoption_share``).
    trips_per_ev_day : float, optional
        Mean trips per EV and day; every EV is active every day by default.
    chain_mix : mapping, optional
        Chain type -> share; :data:`DEFAULT_CHAIN_MIX` by default.
    profile, work_profile : DepartureProfile
        First departure of other chains and of chains starting with work.
    days : int
        Number of days (>= 1).
    vehicle_mix : mapping, optional
        Vehicle model -> share; equal shares over the catalogue's current cars by default.
    vehicles : mapping, optional
        Vehicle catalogue (model key -> :class:`~sim.vehicles.VehicleModel`); the built-in
        one by default.
    nodes_per_zone : int or None
        Candidate trip-end nodes kept per zone, an integer >= 1; ``None`` keeps all.
    max_trips : int, optional
        Keep whole vehicles until this many trips.

    Returns
    -------
    DataFrame
        Trips table (``vehicle_id, vehicle_model, origin, destination, depart_s, chain_seq``)
        plus ``day, purpose, origin_zone, destination_zone``.

    Raises
    ------
    DemandError
        A bad argument (named with its value), e.g. ``rng`` that is not a generator or a
        seed, ``nodes_per_zone`` below 1.
    """
    require_network(network)
    rng = as_generator(rng, where="city_trips", error=DemandError)
    if nodes_per_zone is not None and not whole_number(nodes_per_zone, at_least=1):
        raise DemandError(
            f"city_trips: nodes_per_zone = {received(nodes_per_zone)} must be an integer >= 1 "
            "(candidate trip-end nodes kept per zone) or None to keep every node of a zone"
        )
    if not (0 <= poi_weight <= 1):
        raise DemandError(f"poi_weight = {poi_weight!r} must be in [0, 1]")
    if not whole_number(days, at_least=1):
        raise DemandError(f"days = {days!r} must be an integer >= 1")
    days = int(days)
    ids = zone_ids(zones, zone_col)
    if population_col not in zones.columns:
        raise DemandError(
            f"zones have no population column {population_col!r}; columns: {list(zones.columns)} "
            "(attach one with sim.demand.join_population)"
        )
    pop = pd.to_numeric(zones[population_col], errors="coerce").to_numpy(dtype=float)
    # the population's file (set by the study), so that a message says which file to fix
    src = zones.attrs.get("population_source")
    where = f"{src}: " if src else ""
    bad = np.flatnonzero(np.isnan(pop) | (pop < 0))
    if bad.size:
        raw = zones[population_col].to_numpy()
        shown = [f"zone {ids[i]!r} = {raw[i]!r}" for i in bad[:5].tolist()]
        raise DemandError(
            f"{where}zone population column {population_col!r} must be a number >= 0 in every "
            f"zone; bad: {'; '.join(shown)}. Fix the population of these zones"
        )
    if not pop.sum() > 0:  # all zeros ("bad zones []" said nothing about what was wrong)
        raise DemandError(
            f"{where}zone population column {population_col!r} adds up to 0 over the "
            f"{len(ids)} zone(s), so no EV has a home zone. Give each zone its number of "
            "residents"
        )
    vehicles = vehicle_catalogue(vehicles)
    models, model_p = mix_probabilities(vehicle_mix or default_car_mix(vehicles), "vehicle_mix")
    resolve_models(models, vehicles, what="vehicle_mix")
    chains, chain_p = mix_probabilities(chain_mix or DEFAULT_CHAIN_MIX, "chain_mix")
    acts = [parse_chain(c) for c in chains]
    mean_trips = float(np.dot(chain_p, [len(a) + 1 for a in acts]))
    p_active = 1.0 if trips_per_ev_day is None else trips_per_ev_day / mean_trips
    if not (0 < p_active <= 1):
        raise DemandError(
            f"trips_per_ev_day = {trips_per_ev_day!r} must be in (0, {mean_trips:.2f}] for this chain "
            "mix (its mean trips per active EV); pass a chain_mix with longer chains for more"
        )
    if fleet_size is None and not (is_real(adoption_share) and 0 <= adoption_share <= 1):
        raise DemandError(
            f"adoption_share = {adoption_share!r} must be a share of the population in [0, 1] "
            "(0.01 = 1 % of residents own an EV); or pass fleet_size"
        )
    for name, value in (("fleet_size", fleet_size), ("max_trips", max_trips)):
        if value is not None and not whole_number(value, at_least=1):
            raise DemandError(
                f"{name} = {value!r} must be a whole number >= 1 (or None); "
                + (
                    "the fleet is a count of EVs"
                    if name == "fleet_size"
                    else "at most this many trips are kept"
                )
            )
    _check_size(zones, ids, pop, -1, days, p_active * mean_trips)  # the zones, first
    n_ev = int(fleet_size) if fleet_size is not None else int(round(adoption_share * pop.sum()))
    if n_ev <= 0:
        total = pop.sum()
        raise DemandError(
            f"fleet is empty (fleet_size={fleet_size!r}); pass a fleet_size >= 1"
            if fleet_size is not None
            # (a tiny total such as 1e-300 is shown as it is, not rounded to "0")
            else f"{where}the fleet is empty: adoption_share {adoption_share} x population "
            f"{f'{total:,.0f}' if total >= 1 else f'{total:.3g}'} (column {population_col!r}, "
            f"{len(ids)} zone(s)) rounds to 0 EVs. Check the population figures (residents "
            "per zone: a wrong unit?) or raise adoption_share"
        )

    _check_size(zones, ids, pop, n_ev, days, p_active * mean_trips)
    zn = zone_nodes(network, zones, zone_col=zone_col)
    nz = len(ids)
    cands = []
    for zid in ids:
        nodes = zn[zid]
        if nodes_per_zone is not None and nodes.size > nodes_per_zone:
            nodes = np.sort(rng.choice(nodes, nodes_per_zone, replace=False))
        cands.append(nodes)
    node_zone = np.full(network.n_nodes, -1, dtype=np.int64)
    for i, zid in enumerate(ids):
        node_zone[zn[zid]] = i
    poi_nodes = [np.empty(0, dtype=np.int64)] * nz
    attraction = pop / pop.sum()
    if pois is not None and len(pois) and poi_weight > 0:
        lon, lat = _poi_lonlat(pois)
        snap = network.snap(lon, lat, max_distance_m=1000.0)
        pn = snap.node[snap.within]
        pz = node_zone[pn]
        poi_nodes = [np.sort(pn[pz == i]) for i in range(nz)]
        counts = np.bincount(pz[pz >= 0], minlength=nz).astype(float)
        if counts.sum() > 0:
            attraction = (1 - poi_weight) * attraction + poi_weight * counts / counts.sum()
        logger.info("%d of %d POIs fall in zones", int(counts.sum()), len(pois))
    else:
        poi_weight = 0.0

    def pick(zone_idx: np.ndarray) -> np.ndarray:
        out = np.empty(zone_idx.size, dtype=np.int64)
        for z in range(nz):
            sel = np.flatnonzero(zone_idx == z)
            if sel.size == 0:
                continue
            node = cands[z][rng.integers(cands[z].size, size=sel.size)]
            if poi_nodes[z].size and poi_weight > 0:
                use = rng.random(sel.size) < poi_weight
                node = np.where(
                    use, poi_nodes[z][rng.integers(poi_nodes[z].size, size=sel.size)], node
                )
            out[sel] = node
        return out

    home_z = rng.choice(nz, size=n_ev, p=pop / pop.sum())
    home = np.empty(n_ev, dtype=np.int64)
    for z in range(nz):  # homes are residential: candidate nodes, never POIs
        sel = np.flatnonzero(home_z == z)
        home[sel] = cands[z][rng.integers(cands[z].size, size=sel.size)]
    work_z = rng.choice(nz, size=n_ev, p=attraction)
    work = pick(work_z)
    model = rng.choice(len(models), size=n_ev, p=model_p)

    frames = []
    for day in range(days):
        active = np.flatnonzero(rng.random(n_ev) < p_active)
        ctype = rng.choice(len(chains), size=active.size, p=chain_p)
        for c, seq in enumerate(acts):
            ev = active[ctype == c]
            if ev.size == 0:
                continue
            locs, zs = [home[ev]], [home_z[ev]]
            for a in seq:
                if a == "W":
                    locs.append(work[ev])
                    zs.append(work_z[ev])
                else:
                    oz = rng.choice(nz, size=ev.size, p=attraction)
                    locs.append(pick(oz))
                    zs.append(oz)
            locs.append(home[ev])
            zs.append(home_z[ev])
            prof = work_profile if seq[0] == "W" else profile
            t = day * DAY_S + prof.sample(rng, ev.size)
            purposes = [*("work" if a == "W" else "other" for a in seq), "home"]
            for i in range(len(locs) - 1):
                frames.append(
                    pd.DataFrame(
                        {
                            "v": ev,
                            "day": day,
                            "leg": i,
                            "depart_s": t,
                            "origin": locs[i],
                            "destination": locs[i + 1],
                            "purpose": purposes[i],
                            "oz": zs[i],
                            "dz": zs[i + 1],
                        }
                    )
                )
                if i + 1 < len(locs) - 1:
                    dist = np.hypot(
                        network.x[locs[i + 1]] - network.x[locs[i]],
                        network.y[locs[i + 1]] - network.y[locs[i]],
                    )
                    a = seq[i]
                    dwell = (
                        np.clip(rng.normal(8.5, 1.0, ev.size), 4, 11) * 3600
                        if a == "W"
                        else np.clip(rng.lognormal(np.log(3600.0), 0.7, ev.size), 600, 4 * 3600)
                    )
                    t = t + dist * _DETOUR_FACTOR / _EST_SPEED_MS + dwell
    if not frames:
        raise DemandError(
            "no trips generated (no active EV); raise adoption_share / fleet_size or trips_per_ev_day"
        )
    df = (
        pd.concat(frames, ignore_index=True)
        .sort_values(["v", "day", "leg"], kind="stable")
        .reset_index(drop=True)
    )
    if max_trips is not None and len(df) > max_trips:
        per_v = df.groupby("v", sort=True).size()
        keep = per_v.index[np.cumsum(per_v.to_numpy()) <= max_trips]
        df = df[df["v"].isin(keep)].reset_index(drop=True)
        logger.info("city demand truncated to %d trips (max_trips=%d)", len(df), max_trips)
    out = pd.DataFrame(
        {
            "vehicle_id": df["v"].to_numpy(dtype=np.int64),
            "vehicle_model": np.asarray(models, dtype=object)[model[df["v"].to_numpy()]],
            "origin": df["origin"].to_numpy(dtype=np.int64),
            "destination": df["destination"].to_numpy(dtype=np.int64),
            "depart_s": df["depart_s"].to_numpy(dtype=float),
            "chain_seq": df.groupby("v", sort=False).cumcount().to_numpy(dtype=np.int64),
            "day": df["day"].to_numpy(dtype=np.int64),
            "purpose": df["purpose"].to_numpy(dtype=object),
            "origin_zone": ids[df["oz"].to_numpy()].to_numpy(),
            "destination_zone": ids[df["dz"].to_numpy()].to_numpy(),
        }
    )
    logger.info(
        "city demand: %d EVs, %d trips over %d day(s)", out["vehicle_id"].nunique(), len(out), days
    )
    return out
