"""The grid step of a study: renewable plants as sites, grid capacity per site, the plan
within capacity (upgrade, capped plugs or managed charging) and hour-by-hour emissions.

Pieces (docs/grid.md):

* :func:`read_plants` / :func:`plant_sites`: the plants CSV (``renewables.plants``) -> located
  plants (town-located ones flagged approximate, unlocated ones left out and said so) ->
  candidate sites (``candidates.extra`` entries).
* :func:`site_grid`: each candidate's grid capacity (kW without upgrade) and upgrade price by
  the rule of :class:`planner.config.study.GridConfig`.
* :func:`cap_plugs`: plugs of a new site within its capacity when it cannot be upgraded and
  charging is not managed (the corridor model sizes plugs after siting).
* :func:`fit_plan`: the final plan within capacity: upgrades bought (and costed), plugs
  capped, or with managed charging the plugs' power throttled so ``plugs x kW <= capacity``
  (no change to the SimPy engine: the simulator gets the lower per-plug power); every
  station checked by :func:`planner.siting.checker.grid_violations`.
* :func:`emissions`: charging energy of each station matched hour by hour with the output of
  the plant within ``renewables.match_radius_km`` (:mod:`sim.renewables`), renewable share and
  CO2 per station and in total.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from networks.errors import ConfigError
from planner.config.checks import read_plants_table, read_substations
from planner.config.study import ExtraSite, StudyConfig
from planner.study.grid_fit import PlanFit, fit_plan

logger = logging.getLogger(__name__)

__all__ = [
    "GRID_COLUMNS",
    "PlanFit",
    "cap_plugs",
    "emissions",
    "fit_plan",
    "plant_sites",
    "read_plants",
    "site_grid",
]

#: Columns :func:`site_grid` adds to the candidates table.
GRID_COLUMNS = ["grid_kw", "upgrade_cost_per_kw", "approximate", "plant", "location_source"]

_EARTH_KM = 6371.0088


def _km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distances (km), broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


# --------------------------------------------------------------------------- plants
def _places_file(cfg: StudyConfig) -> Path | None:
    rc = cfg.renewables
    if rc.places is not None:
        return rc.places
    return cfg.network.corridor.places if cfg.network.corridor is not None else None


def read_plants(cfg: StudyConfig) -> tuple[pd.DataFrame, list[str]]:
    """The study's located renewable plants and sentences about the ones left out.

    Returns a table ``key, name, kind, capacity_kw, lon, lat, approximate, source`` (one row
    per plant of ``renewables.kinds`` with a location) and notes for the report. The file is
    read and its cells checked by :func:`planner.config.checks.read_plants_table` (the
    reader ``evplan validate`` runs); plants located at their town are placed here.
    """
    rc = cfg.renewables
    cols = ["key", "name", "kind", "capacity_kw", "lon", "lat", "approximate", "source"]
    if rc.plants is None:
        return pd.DataFrame(columns=cols), []
    table, notes = read_plants_table(Path(rc.plants), rc.kinds)
    for note in notes:
        logger.info("%s", note)
    places: pd.DataFrame | None = None
    rows = []
    for r in table.itertuples(index=False):
        lon, lat, approx, src = float(r.lon), float(r.lat), False, str(r.source)
        if r.quality == "town":
            if places is None:
                places = _read_places(cfg)
            lon, lat, town = _town(places, r.key, r.name, cfg)
            approx = True
            src = f"APPROXIMATE: at the GeoNames location of {town} ({src})"
        rows.append((r.key, r.name, r.kind, float(r.capacity_kw), lon, lat, approx, src))
    return pd.DataFrame(rows, columns=cols), notes


def _read_places(cfg: StudyConfig) -> pd.DataFrame:
    path = _places_file(cfg)
    if path is None:
        raise ConfigError(
            "renewables: a plant is located at its town but no places file is known; set "
            "renewables.places to a GeoNames CSV (name, latitude, longitude, alternatenames_ru_kk)"
        )
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"renewables.places: cannot read {path}: {exc}") from None
    return df


def _town(places: pd.DataFrame, key: str, name: str, cfg: StudyConfig) -> tuple[float, float, str]:
    """The GeoNames place of a town-located plant: ``renewables.towns[key]`` or the first
    word of the plant's name, matched against names and alternate names."""
    wanted = cfg.renewables.towns.get(key, name.split()[0])
    low = wanted.strip().lower()
    names = places["name"].astype(str).str.lower()
    alt = places.get("alternatenames_ru_kk", pd.Series("", index=places.index)).fillna("")
    hit = places[
        (names == low) | alt.astype(str).str.lower().str.split("|").apply(lambda xs: low in xs)
    ]
    if hit.empty:
        raise ConfigError(
            f"renewables: plant {key!r} is located at its town, but no place called {wanted!r} "
            f"is in {_places_file(cfg)}; add 'renewables.towns: {{{key}: <GeoNames name>}}'"
        )
    row = hit.iloc[0]
    return float(row["longitude"]), float(row["latitude"]), str(row["name"])


def plant_sites(cfg: StudyConfig, network: Any) -> tuple[list[ExtraSite], list[str]]:
    """Located plants as extra candidate sites (``renewables.as_candidates``): those within
    ``candidates.max_snap_m`` of the network; farther ones stay matching sources only."""
    plants, _ = read_plants(cfg)
    if plants.empty or not cfg.renewables.as_candidates:
        return [], []
    snap = network.snap(plants["lon"].to_numpy(), plants["lat"].to_numpy())
    out, notes = [], []
    for k, p in enumerate(plants.itertuples(index=False)):
        dist = float(snap.distance_m[k])
        if dist > cfg.candidates.max_snap_m:
            notes.append(
                f"Renewable plant {p.name} is {dist / 1000:.1f} km from the nearest road node "
                f"(over candidates.max_snap_m): not a site, but its output still serves "
                f"stations within {cfg.renewables.match_radius_km:g} km."
            )
            continue
        out.append(
            ExtraSite(
                name=f"{p.name} {p.capacity_kw / 1000:g} MW",
                lon=float(p.lon),
                lat=float(p.lat),
                renewable=True,
                approximate=bool(p.approximate),
                source=str(p.source),
                note=f"plant {p.key}",
            )
        )
    return out, notes


# --------------------------------------------------------------------------- grid capacity
def site_grid(cfg: StudyConfig, cand: pd.DataFrame, extras: list[ExtraSite]) -> pd.DataFrame:
    """Add :data:`GRID_COLUMNS` to a candidates table (``site_id`` ``extra/k`` = ``extras[k]``).

    Capacity, first found: the extra site's own ``grid_kw``; ``grid.near_substation_kw`` (or
    the nearest substation's ``capacity_kw``) within ``grid.substation_radius_km`` of a
    substation; ``candidates.grid_kw``; ``inf`` (no limit). Upgrade price: the extra site's
    own, else ``grid.upgrade_cost_per_kw``; ``nan`` = cannot be upgraded.
    """
    gc = cfg.grid
    n = len(cand)
    default = cfg.candidates.grid_kw if cfg.candidates.grid_kw is not None else math.inf
    kw = np.full(n, default, dtype=float)
    if gc.substations is not None and n:
        slon, slat, scap = read_substations(gc.substations)
        d = _km(
            cand["lon"].to_numpy()[:, None], cand["lat"].to_numpy()[:, None], slon[None], slat[None]
        )
        near = d.argmin(axis=1)
        inside = d[np.arange(n), near] <= gc.substation_radius_km
        near_kw = (
            np.full(n, gc.near_substation_kw) if gc.near_substation_kw is not None else scap[near]
        )
        if inside.any() and np.isnan(near_kw[inside]).any():
            raise ConfigError(
                f"grid.substations {gc.substations}: a substation without a capacity_kw "
                "property is near a candidate; add capacity_kw or set grid.near_substation_kw"
            )
        kw = np.where(inside, near_kw, kw)
    price = np.full(
        n, gc.upgrade_cost_per_kw if gc.upgrade_cost_per_kw is not None else math.nan, dtype=float
    )
    approx = np.zeros(n, dtype=bool)
    plant = np.full(n, "", dtype=object)
    source = np.full(n, "", dtype=object)
    ids = cand["site_id"].astype(str).to_numpy()
    for i, sid in enumerate(ids):
        if not sid.startswith("extra/"):
            continue
        e = extras[int(sid.split("/", 1)[1])]
        if e.grid_kw is not None:
            kw[i] = e.grid_kw
        if e.upgrade_cost_per_kw is not None:
            price[i] = e.upgrade_cost_per_kw
        approx[i], source[i] = e.approximate, e.source
        plant[i] = e.note.removeprefix("plant ") if e.note.startswith("plant ") else ""
    return cand.assign(
        grid_kw=kw,
        upgrade_cost_per_kw=price,
        approximate=approx,
        plant=plant,
        location_source=source,
    )


def cap_plugs(cfg: StudyConfig, sites: pd.DataFrame, plugs: np.ndarray) -> np.ndarray:
    """Plugs of new ``sites`` (candidate rows) within their grid capacity where a site can
    neither be upgraded nor managed: ``floor(grid_kw / power_kw)``, at least one (a site
    whose capacity is below one plug's power gets that plug throttled by :func:`fit_plan`)."""
    plugs = np.asarray(plugs, dtype=np.int64).copy()
    if cfg.grid.managed_charging or "grid_kw" not in sites or not len(sites):
        return plugs
    cap = sites["grid_kw"].to_numpy(dtype=float)
    fixed = np.isnan(sites["upgrade_cost_per_kw"].to_numpy(dtype=float)) & np.isfinite(cap)
    finite = np.where(fixed, cap, 0.0)  # no floor of inf
    most = np.maximum(1, np.floor(finite / sites["power_kw"].to_numpy(dtype=float) + 1e-9))
    return np.where(fixed, np.minimum(plugs, most.astype(np.int64)), plugs)


# --------------------------------------------------------------------------- emissions
def plant_output_kwh(cfg: StudyConfig, plants: pd.DataFrame, n_hours: int) -> np.ndarray:
    """Hourly output (kWh per hour) of each plant over ``n_hours`` from local midnight of
    ``renewables.day`` (solar: clear-sky pvlib; wind: the assumed CF profile)."""
    from sim.renewables import solar_profile_kw, wind_profile_kw

    rc = cfg.renewables
    solar = plants[plants["kind"] == "solar"] if "kind" in plants else plants.iloc[0:0]
    if len(solar):
        _warn_off_season(rc.day, float(solar["lat"].astype(float).mean()), cfg)
    out = np.zeros((len(plants), n_hours))
    for k, p in enumerate(plants.itertuples(index=False)):
        if p.kind == "solar":
            out[k] = solar_profile_kw(
                float(p.lat),
                float(p.lon),
                float(p.capacity_kw),
                day=rc.day,
                tz=rc.timezone,
                hours=n_hours,
                tilt_deg=rc.solar_tilt_deg,
                performance_ratio=rc.solar_performance_ratio,
                clearness=rc.solar_clearness,
            )
        else:
            out[k] = wind_profile_kw(
                float(p.capacity_kw),
                hours=n_hours,
                capacity_factor=rc.wind_capacity_factor,
                diurnal_amplitude=rc.wind_diurnal_amplitude,
                peak_hour=rc.wind_peak_hour,
            )
    # the share of the output the matched chargers may take (renewables.charger_share)
    return out * rc.charger_share


def _warn_off_season(day: str, lat: float, cfg: StudyConfig) -> None:
    """Warn when the solar day is in the opposite season to the design temperature: a
    -20 C study matched with June sun (two shipped studies did until 2026-12-07)."""
    month = int(day[5:7])
    summer, winter = (6, 7, 8), (12, 1, 2)
    if lat < 0:
        summer, winter = winter, summer
    temp = cfg.simulation.temperature_c
    season = "summer" if month in summer else "winter" if month in winter else ""
    if (season == "summer" and temp <= 0.0) or (season == "winter" and temp >= 20.0):
        logger.warning(
            "renewables.day %s is a %s day at the solar plants' latitude (%.1f) but "
            "simulation.temperature_c is %g C: the charging is matched with %s sun; set "
            "renewables.day to a day of the design season",
            day,
            season,
            lat,
            temp,
            season,
        )


def nearest_plant(
    cfg: StudyConfig, stations: pd.DataFrame, plants: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest plant within ``renewables.match_radius_km`` of every station
    (-1 for none) and its distance (km; nan for none)."""
    n = len(stations)
    if plants.empty or not n:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    d = _km(
        stations["lon"].to_numpy(dtype=float)[:, None],
        stations["lat"].to_numpy(dtype=float)[:, None],
        plants["lon"].to_numpy(dtype=float)[None],
        plants["lat"].to_numpy(dtype=float)[None],
    )
    j = d.argmin(axis=1)
    dist = d[np.arange(n), j]
    ok = dist <= cfg.renewables.match_radius_km
    return np.where(ok, j, -1).astype(np.int64), np.where(ok, dist, np.nan)


def emissions(
    cfg: StudyConfig,
    sessions: pd.DataFrame,
    stations: pd.DataFrame,
    plants: pd.DataFrame,
    *,
    grid_kg_per_kwh: float,
    grid_loss_share: float,
    expansion_factor: float = 1.0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Charging energy of each station matched hour by hour with its plant's output.

    ``sessions`` is a simulation's sessions table (public ``charged`` rows count, by their
    ``grid_kwh``, the energy drawn at the charger); a sampled fleet's energy is scaled by
    ``expansion_factor`` before matching. Returns the per-station table (``station_id,
    plant, plant_km, energy_kwh, renewable_kwh, grid_kwh, renewable_share, co2_kg``) and the
    KPIs ``energy_renewable_kwh``, ``renewable_share_charging``, ``co2_charging_kg``.
    """
    from sim.renewables import hourly_energy, match_hourly

    ses = sessions[(sessions["station"] >= 0) & (sessions["status"] == "charged")]
    pos = pd.Series(np.arange(len(stations)), index=stations["station_id"].astype(str))
    idx = ses["station_id"].astype(str).map(pos)
    ses, idx = ses[idx.notna()], idx[idx.notna()].to_numpy(dtype=np.int64)
    end = float(ses["end_s"].max()) if len(ses) else 0.0
    n_hours = max(24, int(math.ceil(end / 3600.0)))
    demand = expansion_factor * hourly_energy(
        idx,
        ses["start_s"].to_numpy(dtype=float),
        ses["end_s"].to_numpy(dtype=float),
        ses["grid_kwh"].to_numpy(dtype=float),
        n_stations=len(stations),
        n_hours=n_hours,
    )
    owner, dist = nearest_plant(cfg, stations, plants)
    hourly = cfg.grid.hourly_kg_co2_per_kwh
    m = match_hourly(
        demand,
        owner,
        plant_output_kwh(cfg, plants, n_hours) if len(plants) else np.zeros((0, n_hours)),
        grid_kg_per_kwh=np.asarray(hourly) if hourly is not None else grid_kg_per_kwh,
        grid_loss_share=grid_loss_share,
    )
    per = m.per_station()
    keys = plants["key"].to_numpy(dtype=object) if len(plants) else np.empty(0, dtype=object)
    per.insert(0, "station_id", stations["station_id"].astype(str).to_numpy())
    per.insert(
        1, "plant", np.where(owner >= 0, keys[np.maximum(owner, 0)] if keys.size else "", "")
    )
    per.insert(2, "plant_km", np.round(dist, 2))
    # a town-located plant's distance is to the town, not the plant (energy review)
    approx = (
        plants["approximate"].to_numpy(dtype=bool)
        if "approximate" in plants
        else np.zeros(len(plants), dtype=bool)
    )
    per.insert(
        3,
        "plant_approximate",
        np.where(owner >= 0, approx[np.maximum(owner, 0)] if approx.size else False, False),
    )
    return per, emission_kpis(per)


def emission_kpis(per: pd.DataFrame) -> dict[str, float]:
    """The KPIs of a per-station energy table (:func:`emissions`): ``energy_renewable_kwh``,
    ``renewable_share_charging`` and ``co2_charging_kg``."""
    tot = float(per["energy_kwh"].sum())
    return {
        "energy_renewable_kwh": float(per["renewable_kwh"].sum()),
        "renewable_share_charging": float(per["renewable_kwh"].sum() / tot) if tot > 0 else 0.0,
        "co2_charging_kg": float(per["co2_kg"].sum()),
    }
