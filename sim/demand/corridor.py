"""Corridor demand: intercity trips between places drawn from a gravity model.

Flow weight between places ``i != j``: ``w_ij = P_i * P_j / d_ij ** gravity_exponent`` with
``d_ij`` the fastest-route length (km) on the network; pairs closer than
``min_distance_km`` or unreachable get 0. The default exponent 1.5 is the convention of the
flow-refuelling location literature (Kuby & Lim 2005; Capar & Kuby 2012) for the classic
25-node test network; 2 is the textbook gravity model. Each trip is a one-way journey by its
own vehicle; cargo trucks are a separate flow (``flow = "cargo"``) with their own departure
profile and models.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from networks.road_network import RoadNetwork
from sim._checks import (
    RngLike,
    as_generator,
    node_values,
    require_network,
    vehicle_catalogue,
    whole_number,
)
from sim._errors import DemandError
from sim.catalogue import default_car_mix, default_truck_mix, resolve_models
from sim.demand.city import DAY_S, MAX_TRIPS, mix_probabilities
from sim.demand.profiles import CORRIDOR_PROFILE, TRUCK_PROFILE, DepartureProfile
from sim.policies import is_real

logger = logging.getLogger(__name__)


def place_nodes(
    network: RoadNetwork,
    places: pd.DataFrame,
    *,
    node_col: str = "node",
    max_snap_m: float = 5000.0,
    name_col: str = "name",
) -> np.ndarray:
    """Node index of every place: ``node_col`` if present, else snapped from ``lon``/``lat``
    (or ``longitude``/``latitude``); raises :class:`SnapDistanceError` listing far places."""
    require_network(network)
    if node_col in places.columns and places[node_col].notna().all():
        nodes, bad = node_values(places[node_col], network.n_nodes)
        if bad.any():
            raise DemandError(
                f"places column {node_col!r} must hold whole node indices "
                f"0..{network.n_nodes - 1}; got {places[node_col][bad].head(5).tolist()}"
            )
        return nodes.to_numpy().astype(np.int64)
    lon_c = "lon" if "lon" in places.columns else "longitude"
    lat_c = "lat" if "lat" in places.columns else "latitude"
    if lon_c not in places.columns or lat_c not in places.columns:
        raise DemandError(
            f"places need a {node_col!r} column or lon/lat coordinates; columns: {list(places.columns)}"
        )
    labels = places[name_col].astype(str).tolist() if name_col in places.columns else None
    return network.snap_strict(
        places[lon_c].to_numpy(float),
        places[lat_c].to_numpy(float),
        max_distance_m=max_snap_m,
        labels=labels,
    )


def gravity_weights(
    population: np.ndarray, distance_km: np.ndarray, *, exponent: float, min_distance_km: float
) -> np.ndarray:
    """``P_i P_j / d_ij^exponent`` with zeros on the diagonal, below ``min_distance_km`` and
    where unreachable."""
    d = np.asarray(distance_km, dtype=float)
    p = np.asarray(population, dtype=float)
    ok = np.isfinite(d) & (d >= max(min_distance_km, 1e-9))
    np.fill_diagonal(ok, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.outer(p, p) / np.where(ok, d, 1.0) ** exponent
    return np.where(ok, w, 0.0)


def corridor_trips(
    network: RoadNetwork,
    places: pd.DataFrame,
    *,
    rng: RngLike,
    trips_per_day: float,
    gravity_exponent: float = 1.5,
    truck_share: float = 0.0,
    days: int = 1,
    min_distance_km: float = 50.0,
    population_col: str = "population",
    name_col: str = "name",
    node_col: str = "node",
    profile: DepartureProfile = CORRIDOR_PROFILE,
    truck_profile: DepartureProfile = TRUCK_PROFILE,
    car_mix: Mapping[str, float] | None = None,
    truck_mix: Mapping[str, float] | None = None,
    vehicles: Mapping | None = None,
    max_snap_m: float = 5000.0,
) -> pd.DataFrame:
    """Generate ``round(trips_per_day)`` one-way intercity trips per day for ``days`` days,
    ``round(trips_per_day * truck_share)`` of them cargo trucks.

    Parameters
    ----------
    network : RoadNetwork
        Road network; trip ends are its node indices.
    places : DataFrame
        Cities/towns with a population column and a node index or ``lon``/``lat``.
    rng : numpy Generator, SeedSequence or int
        All draws come from it; an integer seed >= 0 or a SeedSequence is turned into a
        generator with :func:`numpy.random.default_rng` (as ``sim.simulate``'s ``seed``).
    trips_per_day : float
        One-way trips per day (> 0).
    gravity_exponent : float
        Distance decay of the gravity model (>= 0).
    truck_share : float
        Share of the trips made by cargo trucks, in [0, 1].
    days : int
        Number of days (>= 1).
    min_distance_km : float
        Place pairs closer than this get no trips.
    population_col, name_col, node_col : str
        Columns of ``places`` with the population, the name and the node index.
    profile, truck_profile : DepartureProfile
        Departure times of cars and of trucks.
    car_mix, truck_mix : mapping, optional
        Vehicle model -> share; equal shares over the catalogue's cars / trucks by default.
    vehicles : mapping, optional
        Vehicle catalogue (model key -> :class:`~sim.vehicles.VehicleModel`); the built-in
        one by default.
    max_snap_m : float
        Farthest a place given by coordinates may lie from its nearest node (metres).

    Returns
    -------
    DataFrame
        Trips table plus ``day, flow, origin_place, destination_place, direct_km``.

    Raises
    ------
    DemandError
        A bad argument, named with its value (e.g. an ``rng`` that is not a generator or a
        seed).
    """
    require_network(network)
    rng = as_generator(rng, where="corridor_trips", error=DemandError)
    if not (trips_per_day >= 0.5):  # round(trips_per_day) trips a day: at least one
        raise DemandError(
            f"trips_per_day = {trips_per_day!r} must be at least 0.5 (it is rounded to whole "
            "trips a day; below that there would be none)"
        )
    if not (is_real(truck_share) and 0 <= truck_share <= 1):
        raise DemandError(f"truck_share = {truck_share!r} must be in [0, 1]")
    if not (is_real(gravity_exponent) and gravity_exponent >= 0):
        raise DemandError(f"gravity_exponent = {gravity_exponent!r} must be >= 0")
    if not whole_number(days, at_least=1):
        raise DemandError(f"days = {days!r} must be an integer >= 1")
    days = int(days)
    if not trips_per_day * days <= MAX_TRIPS:  # before anything is allocated (inf, 1e12)
        raise DemandError(
            f"trips_per_day = {trips_per_day!r} over {days} day(s) is more than the "
            f"{MAX_TRIPS:,} trips evplan simulates; give a realistic daily number of trips"
        )
    if population_col not in places.columns:
        raise DemandError(
            f"places have no population column {population_col!r}; columns: {list(places.columns)}"
        )
    vehicles = vehicle_catalogue(vehicles)
    nodes = place_nodes(
        network, places, node_col=node_col, max_snap_m=max_snap_m, name_col=name_col
    )
    names = (
        places[name_col].astype(str).to_numpy()
        if name_col in places.columns
        else np.asarray([str(n) for n in nodes])
    )
    pop = pd.to_numeric(places[population_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(pop).any() or (pop < 0).any():
        raise DemandError(f"places column {population_col!r} must be non-negative numbers")
    # places snapped to the same node merge (their populations add up)
    uniq, inv = np.unique(nodes, return_inverse=True)
    upop = np.bincount(inv, weights=pop)
    uname = np.asarray(
        [" / ".join(dict.fromkeys(names[inv == i])) for i in range(uniq.size)], dtype=object
    )
    _, length = network.route_matrices(uniq, uniq)
    w = gravity_weights(
        upop, length / 1000.0, exponent=gravity_exponent, min_distance_km=min_distance_km
    )
    if w.sum() <= 0:
        raise DemandError(
            f"no place pair is reachable and at least {min_distance_km} km apart; check the network "
            "and min_distance_km"
        )
    p = (w / w.sum()).ravel()
    n_total = int(round(trips_per_day))
    n_truck = int(round(trips_per_day * truck_share))
    flows = [
        ("passenger", n_total - n_truck, car_mix or default_car_mix(vehicles), profile),
        (
            "cargo",
            n_truck,
            truck_mix or (default_truck_mix(vehicles) if n_truck else {}),
            truck_profile,
        ),
    ]
    frames = []
    for day in range(days):
        for flow, n, mix, prof in flows:
            if n <= 0:
                continue
            keys, mp = mix_probabilities(mix, f"{flow} vehicle mix")
            resolve_models(keys, vehicles, what=f"{flow} vehicle mix")
            pair = rng.choice(p.size, size=n, p=p)
            oi, di = np.divmod(pair, uniq.size)
            frames.append(
                pd.DataFrame(
                    {
                        "vehicle_model": np.asarray(keys, dtype=object)[
                            rng.choice(len(keys), size=n, p=mp)
                        ],
                        "origin": uniq[oi],
                        "destination": uniq[di],
                        "depart_s": day * DAY_S + prof.sample(rng, n),
                        "day": day,
                        "flow": flow,
                        "origin_place": uname[oi],
                        "destination_place": uname[di],
                        "direct_km": length[oi, di] / 1000.0,
                    }
                )
            )
    df = (
        pd.concat(frames, ignore_index=True)
        .sort_values("depart_s", kind="stable")
        .reset_index(drop=True)
    )
    df.insert(0, "vehicle_id", np.arange(len(df), dtype=np.int64))
    df.insert(5, "chain_seq", np.zeros(len(df), dtype=np.int64))
    logger.info(
        "corridor demand: %d trips (%d cargo) over %d day(s) between %d places",
        len(df),
        int((df["flow"] == "cargo").sum()),
        days,
        uniq.size,
    )
    return df
