"""The comparison step of a study: the carmaker's vehicle x season matrix (the coverage curve
and the state-of-charge trace come from the optimiser, :mod:`planner.study.optimize`), with
the truck figures of freight studies (docs/cargo.md)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

import sim
from planner.config.study import StudyConfig
from planner.study.replications import scaled_kpis
from planner.study.simulate import StudySimulator, sim_settings
from sim.api import forked_map, replication_workers
from sim.catalogue import builtin_models
from sim.driving_rules import RULES, diesel_elapsed_s
from sim.vehicles import VehicleModel

__all__ = [
    "comparison_trips",
    "comparison_kpis",
    "truck_figures",
    "vehicle_matrix",
    "vehicle_models_table",
]

#: Stream of the probe draw (``vehicles.compare_as: probe``): the study's seed with its own
#: stream, apart from the simulation's draws, so the probe vehicles are the same in every
#: cell, season and run of one study
PROBE_STREAM = 0x9B0BE


def comparison_trips(
    cfg: StudyConfig, trips: pd.DataFrame, model: str, vehicles: dict[str, VehicleModel]
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The trips of one cell of the vehicle comparison, and the vehicles whose trips count.

    ``vehicles.compare_as: fleet`` (the default): every trip driven by ``model``, all
    counted (``None``). ``probe``: a seeded ``vehicles.probe_share`` of the study's vehicles
    of ``model``'s category (cars for a car, trucks for a truck; at least one) drive it
    among the study's own fleet; the returned ids are theirs (empty when the study has no
    vehicle of that category)."""
    if cfg.vehicles.compare_as == "fleet":
        return trips.assign(vehicle_model=model), None
    category = vehicles[model].category
    cat_of = {k: vehicles[k].category for k in pd.unique(trips["vehicle_model"])}
    same = trips["vehicle_model"].map(cat_of).to_numpy() == category
    ids = pd.unique(trips["vehicle_id"].to_numpy()[same])
    if ids.size == 0:
        return trips, np.empty(0, dtype=object)
    rng = np.random.default_rng([cfg.seed, PROBE_STREAM])
    k = max(1, round(cfg.vehicles.probe_share * ids.size))
    probe = ids[np.sort(rng.choice(ids.size, size=k, replace=False))]
    mask = trips["vehicle_id"].isin(probe).to_numpy()
    drives = np.where(mask, model, trips["vehicle_model"].astype(object).to_numpy())
    return trips.assign(vehicle_model=drives), probe


def comparison_kpis(out: Any, trips: pd.DataFrame, probe: np.ndarray | None) -> dict[str, float]:
    """The KPIs of one comparison cell's run ``out`` (of ``trips``): the study's own
    (``probe`` None), or those over the probe vehicles' trips, sessions and records only
    (the queues they met are the whole fleet's), with a sampled fleet's totals scaled by
    its demand expansion factor as the study's own KPIs are."""
    if probe is None:
        return out.kpis
    result = out.detail["result"]

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["vehicle_id"].isin(probe).to_numpy()].reset_index(drop=True)

    sub = dataclasses.replace(
        result,
        trips=mine(result.trips),
        sessions=mine(result.sessions),
        vehicles=mine(result.vehicles),
        _kpis=None,
        _station_stats=None,
    )
    return scaled_kpis(sub.kpis(), float(trips.attrs.get("expansion_factor", 1.0)))


def vehicle_matrix(
    cfg: StudyConfig, simulator: StudySimulator, existing: pd.DataFrame, proposal: pd.DataFrame
) -> pd.DataFrame:
    """The carmaker's view: share of the study's trips each compared model completes, per
    season (one row per model and season, a model listed twice in ``vehicles.compare`` once),
    with the existing stations and with the proposal (one replication each). With
    ``vehicles.compare_as: probe``, ``probe_vehicles`` counts the probe vehicles (0, and the
    shares NaN, for a model of a category the study has no vehicle of). Truck models add :func:`truck_figures` per scenario (suffix ``_before`` / ``_after``).

    The cells (model x season x before/after) are independent simulations with the study's
    seed; they run in the replication pool (:func:`sim.api.replication_workers`: the CPUs
    available, one inside a Dask worker or for small jobs), and the table does not depend
    on the number of workers."""
    # a model listed twice is one row (its cells were simulated and shown twice)
    models = list(dict.fromkeys(cfg.vehicles.compare))
    seasons = cfg.simulation.seasons or {"study": cfg.simulation.temperature_c}
    cells = [
        _Cell(model, temp, label, st)
        for model in models
        for temp in seasons.values()
        for label, st in (("before", existing), ("after", proposal))
    ]
    figures = _run_cells(cfg, simulator, cells)
    rows = []
    it = iter(figures)
    for model in models:
        for season, temp in seasons.items():
            row = {"vehicle_model": model, "season": season, "temperature_c": temp}
            for label in ("before", "after"):
                row.update({f"{name}_{label}": v for name, v in next(it).items()})
            if "probe_vehicles_after" in row:  # the same vehicles in both columns
                row["probe_vehicles"] = row.pop("probe_vehicles_after")
                row.pop("probe_vehicles_before", None)
            row["trips_feasible_share"] = row["share_after"]
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Cell:
    """One simulation of the vehicle comparison."""

    model: str
    temperature_c: float
    label: str
    stations: pd.DataFrame


def _cell_figures(
    cfg: StudyConfig, simulator: StudySimulator, cells: list[_Cell], i: int
) -> dict[str, float]:
    """Share completed and stranded vehicles (and truck figures) of cell ``i``."""
    c = cells[i]
    trips, probe = comparison_trips(cfg, simulator.trips, c.model, simulator.vehicles)
    if _nothing_to_probe(probe):  # no vehicle of the model's category to probe
        # nothing simulated: no share, and no probe vehicles (0, as the staged table says;
        # it read NaN, as if the count were unknown)
        nan = {"share": math.nan, "share_public": math.nan, "stranded": math.nan}
        return {**nan, "probe_vehicles": 0.0}
    out = simulator(c.stations, temperature_c=c.temperature_c, trips=trips, replications=1)
    result = out.detail["result"]
    k = comparison_kpis(out, trips, probe)
    figs = {
        "share": k.get("share_trips_completed", math.nan),
        "share_public": k.get("share_public_trips_completed", math.nan),
        "stranded": k.get("stranded_vehicles", math.nan),
    }
    if probe is not None:
        figs["probe_vehicles"] = float(probe.size)
    if simulator.vehicles[c.model].category == "truck":
        own = result.trips
        if probe is not None:
            own = own[own["vehicle_id"].isin(probe).to_numpy()]
        figs.update(
            truck_figures(
                own,
                sim_settings(cfg, temperature_c=c.temperature_c),
                rules=simulator.vehicles[c.model].driving_rules,
            )
        )
    return figs


def _run_cells(
    cfg: StudyConfig, simulator: StudySimulator, cells: list[_Cell]
) -> list[dict[str, float]]:
    """Every cell's figures, in order: in this process or in a forked pool
    (:func:`sim.api.forked_map`: the workers inherit the network, route tables and trips
    without a copy; only the figures come back)."""
    workers = replication_workers(len(cells), trips=len(cells) * len(simulator.trips))
    task = partial(_cell_figures, cfg, simulator, cells)
    figures = list(forked_map(task, len(cells), workers))
    if workers > 1:  # the workers' simulators counted their runs there: count them here
        # (not the cells of an empty probe, which say probe_vehicles 0: nothing was
        # simulated for them; a simulated probe has at least one vehicle)
        simulator.runs += sum(f.get("probe_vehicles") != 0 for f in figures)
    return figures


def _nothing_to_probe(probe: np.ndarray | None) -> bool:
    """A probe cell (``vehicles.compare_as: probe``) with no vehicle of the model's
    category in the study: nothing to simulate."""
    return probe is not None and probe.size == 0


def truck_figures(trips: pd.DataFrame, settings: sim.SimSettings, *, rules: str) -> dict:
    """Per-trip truck figures of one simulated scenario, over its completed trips.

    Returns
    -------
    dict
        ``stops_per_trip`` (public charging stops), ``break_h_per_trip`` and
        ``rest_h_per_trip`` (pauses the driving rules added), ``added_h_vs_diesel`` (mean
        door-to-door time minus a diesel truck's on the same route at the same speed under
        the same rules, no charging stops: :func:`sim.driving_rules.diesel_elapsed_s`),
        ``co2_ev_kg_per_100km`` and ``co2_diesel_kg_per_100km`` (well-to-wheel both sides on
        the trips' route km: grid electricity with charging and grid losses, diesel
        tank-to-wheel plus well-to-tank with the winter penalty; factors from
        :class:`sim.SimSettings`).
    """
    done = trips[trips["status"].astype(str) == "completed"]
    if done.empty:
        keys = ("stops_per_trip", "break_h_per_trip", "rest_h_per_trip", "added_h_vs_diesel")
        return {**{k: math.nan for k in keys}, "co2_ev_kg_per_100km": math.nan,
                "co2_diesel_kg_per_100km": math.nan}  # fmt: skip
    elapsed = done["arrived_s"].to_numpy(float) - done["depart_s"].to_numpy(float)
    drive = elapsed - done["delay_s"].to_numpy(float)  # the route's driving time
    diesel = diesel_elapsed_s(drive, RULES[rules]) if rules else drive  # same rules as the e-truck
    km = float(done["direct_km"].sum())
    s = settings
    ev = (
        float(done["energy_kwh"].sum())
        / s.charging_efficiency
        / (1.0 - s.grid_loss_share)
        * s.grid_kg_co2_per_kwh
    )
    litres = km / 100.0 * s.ice_truck_l_per_100km * s.ice_factor(s.ambient_temp_c, truck=True)
    dsl = litres * (s.diesel_kg_co2_per_l + s.diesel_wtt_kg_co2_per_l)
    return {
        "stops_per_trip": float(done["charging_stops"].mean()),
        "break_h_per_trip": float(done["break_s"].mean() / 3600.0),
        "rest_h_per_trip": float(done["rest_s"].mean() / 3600.0),
        # rounded to the microhour: no "-0.000" from floating-point sums of equal times
        "added_h_vs_diesel": round(float(np.mean(elapsed - diesel) / 3600.0), 6) + 0.0,
        "co2_ev_kg_per_100km": 100.0 * ev / km if km > 0 else math.nan,
        "co2_diesel_kg_per_100km": 100.0 * dsl / km if km > 0 else math.nan,
    }


def vehicle_models_table(
    cfg: StudyConfig,
    models: dict[str, VehicleModel],
    *,
    fleets: list[tuple[int, dict[str, float]]] | None = None,
) -> pd.DataFrame:
    """The vehicle models a study used (its fleet, truck and compared models), with the
    figures that drive range and charging and their source, so that a reader can check them
    without the catalogue (carmaker review, 2026-12-07: a user catalogue could redefine a
    built-in model and the report showed only its key).

    ``fleets``: a staged study's fleet per stage year (every model of any stage is listed,
    its share given per year); by default the study's own fleet. ``user_defined`` is true
    for a model that is not the built-in one of that key (a user catalogue's own model, or
    one that replaced a built-in)."""
    v = cfg.vehicles
    staged = fleets is not None
    by_year = fleets if fleets is not None else [(0, v.fleet)]
    keys = [k for _, fleet in by_year for k in fleet]
    keys = list(dict.fromkeys([*keys, *([v.truck] if v.truck else []), *v.compare]))
    builtin = builtin_models()
    rows = []
    for key in keys:
        m = models[key]
        shares = [
            f"{fleet[key] / sum(fleet.values()):.1%}" + (f" ({year})" if staged else "")
            for year, fleet in by_year
            if key in fleet
        ]
        roles = [f"fleet {', '.join(shares)}"] if shares else []
        roles += ["truck"] if key == v.truck else []
        roles += ["compared"] if key in v.compare else []
        rows.append(
            {
                "vehicle_model": key,
                "name": m.name,
                "role": ", ".join(roles),
                "category": m.category,
                "chemistry": m.chemistry,
                "battery_kwh": m.battery_kwh,
                "consumption_kwh_per_km": m.consumption_kwh_per_km,
                "max_ac_kw": m.max_ac_kw,
                "max_dc_kw": m.max_dc_kw,
                "connectors": ";".join(m.connectors),
                "preconditioning": m.preconditioning,
                "user_defined": not _is_builtin(builtin.get(key), m),
                "source": " ".join(m.source.split()),
            }
        )
    return pd.DataFrame(rows)


def _is_builtin(built: VehicleModel | None, model: VehicleModel) -> bool:
    """``model`` is the built-in ``built``, but for the driving-time rules the study sets
    for its trucks (``vehicles.driving_rules``, :func:`planner.study.demand.with_driving_rules`)."""
    return (
        built is not None and dataclasses.replace(model, driving_rules=built.driving_rules) == built
    )
