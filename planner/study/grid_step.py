"""The grid step run on a study's final plan (after the closed loop), and its report entries.

:func:`apply_grid` fits the plan to grid capacity (:func:`planner.study.grid.fit_plan`),
simulates it again when plugs were capped or throttled (managed charging: the effect on
waits is reported against the unmanaged plan), and matches the charging energy of the
baseline and the proposal hour by hour with the renewable plants' output
(:func:`planner.study.grid.emissions`). :func:`attach` writes the outcome into the
:class:`~planner.study.result.StudyResult`: KPIs, station columns, a per-station energy
table and notes. The CO2 and renewable KPIs are the mean over the runs, as every KPI; the
station columns and the per-station energy tables are the seed run's, as the rows'
sessions, utilisation and waits (one basis per row).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.study.grid import emission_kpis, emissions, fit_plan, read_plants
from planner.study.grid_fit import FIT_COLUMNS
from planner.study.loop import LoopResult, ScenarioOutcome

logger = logging.getLogger(__name__)

__all__ = ["GridOutcome", "apply_grid", "attach", "fit_new_stations", "match_staged_plan"]

#: Station columns the grid step adds to the report's station layers and table.
STATION_GRID_COLUMNS = [
    "grid_kw",
    "upgrade_kw",
    "upgrade_cost",
    "rated_kw",
    "managed",
    "approximate",
    "plant",
    "renewable_kwh",
    "renewable_share",
    "co2_kg",
]


@dataclass
class GridOutcome:
    """What the grid step found: per-station grid fit and energy (``energy_before``,
    ``energy_after``: the seed run's), KPIs (the mean over the runs), notes."""

    stations: pd.DataFrame
    energy_before: pd.DataFrame
    energy_after: pd.DataFrame
    kpis_before: dict[str, float] = field(default_factory=dict)
    kpis_after: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _matched(
    cfg: StudyConfig,
    outcome: ScenarioOutcome,
    sessions: pd.DataFrame,
    stations: pd.DataFrame,
    plants: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """One run's charging ``sessions`` of ``outcome`` matched hour by hour
    (:func:`planner.study.grid.emissions` with the study's grid settings)."""
    from planner.study.simulate import sim_settings

    s = sim_settings(cfg)
    return emissions(
        cfg,
        sessions,
        stations,
        plants,
        grid_kg_per_kwh=s.grid_kg_co2_per_kwh,
        grid_loss_share=s.grid_loss_share,
        expansion_factor=float(outcome.kpis.get("demand_expansion_factor") or 1.0),
    )


def _outcome_emissions(
    cfg: StudyConfig, outcome: ScenarioOutcome, stations: pd.DataFrame, plants: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Hourly matched emissions of ``outcome``, over the same runs as its KPIs: with
    replications the KPIs are means over them, so each run is matched with the plants'
    output and the per-station energy and the KPIs are averaged (a single run's CO2 next
    to mean energies did not add up). The KPIs' basis; the station rows take the seed
    run's (:func:`_seed_run_emissions`)."""
    runs = outcome.detail.get("charging_per_run") or [outcome.detail["result"].sessions]
    per_run = [_matched(cfg, outcome, sessions, stations, plants) for sessions in runs]
    if len(per_run) == 1:
        return per_run[0]
    tables = [t for t, _ in per_run]
    table = tables[0].copy()
    for col in ("energy_kwh", "renewable_kwh", "grid_kwh", "co2_kg"):
        table[col] = np.mean([t[col].to_numpy(dtype=float) for t in tables], axis=0)
    energy = table["energy_kwh"].to_numpy(dtype=float)
    table["renewable_share"] = np.divide(
        table["renewable_kwh"].to_numpy(dtype=float),
        energy,
        out=np.zeros_like(energy),
        where=energy > 0,
    )
    return table, emission_kpis(table)


def _seed_run_emissions(
    cfg: StudyConfig, outcome: ScenarioOutcome, stations: pd.DataFrame, plants: pd.DataFrame
) -> pd.DataFrame | None:
    """Each station's charging energy, renewable share and CO2 in ``outcome``'s seed run
    (``detail["result"]``): the run its station rows' sessions, visits, utilisation and
    waits come from (``ScenarioOutcome.per_station``), so a row's CO2 is that of the
    sessions it shows. The mean over the runs (:func:`_outcome_emissions`) put 94.9 kg of
    CO2 on an Almaty station with no session in its row (review, 2026-12-07). None when
    the outcome keeps no seed run."""
    result = outcome.detail.get("result")
    if result is None or not hasattr(result, "sessions"):
        return None
    table, _ = _matched(cfg, outcome, result.sessions, stations, plants)
    return table


def apply_grid(
    cfg: StudyConfig,
    loop: LoopResult,
    candidates: pd.DataFrame,
    simulate: Callable[[pd.DataFrame], ScenarioOutcome],
) -> GridOutcome:
    """Fit ``loop``'s plan to grid capacity (in place: stations, proposal, capex) and
    match its charging energy with renewable output.

    A grid-aware loop (``closed_loop(..., grid=loop_grid(...))``) simulated the fitted plan
    already (``loop.simulated``): the fit then changes nothing and the proposal stands.
    Otherwise, when plugs were capped or throttled the plan is simulated again and becomes
    the proposal; the unfitted plan's waits are kept as ``wait_p95_min_unmanaged`` /
    ``wait_mean_min_unmanaged`` so the report shows what the grid limit costs in waiting.
    """
    old = loop.stations
    fit = fit_plan(cfg, old, candidates)
    notes = list(fit.notes)
    kpis_after: dict[str, float] = {
        **upgrade_kpis(fit.stations, fit.upgrade_cost),
        "stations_managed": float(fit.stations["managed"].sum()),
    }
    # capex: upgrades bought (the loop's own replaced), plugs removed by a grid cap refunded
    # at their plug cost
    plug_cost = fit.stations["grid_plug_cost"].to_numpy(dtype=float)
    removed = (old["plugs"].to_numpy() - fit.stations["plugs"].to_numpy()) * plug_cost
    loop.capex = float(loop.capex - loop.upgrade_cost - removed.sum() + fit.upgrade_cost)
    loop.upgrade_cost = fit.upgrade_cost
    changed = fit.changed
    if loop.simulated is not None:  # the loop simulated the fitted plan: same plugs and kW?
        sim = loop.simulated
        changed = not (
            np.array_equal(sim["plugs"].to_numpy(), fit.stations["plugs"].to_numpy())
            and np.allclose(
                sim["power_kw"].to_numpy(dtype=float),
                fit.stations["power_kw"].to_numpy(dtype=float),
            )
        )
        if not changed and fit.changed:
            notes.append(
                "Grid: the design loop sized plugs within each site's grid capacity and "
                "simulated the fitted plan, so the proposal's waits are those within it."
            )
    if changed:
        before_fit = loop.proposal
        loop.proposal = simulate(fit.stations)
        for k in ("wait_p95_min", "wait_mean_min"):
            kpis_after[f"{k}_unmanaged"] = float(before_fit.kpis.get(k, np.nan))
        notes.append(
            "Grid-fitted plan simulated again: p95 wait "
            f"{before_fit.kpis.get('wait_p95_min', np.nan):.1f} min without the grid limit -> "
            f"{loop.proposal.kpis.get('wait_p95_min', np.nan):.1f} min within it "
            f"(mean {before_fit.kpis.get('wait_mean_min', np.nan):.1f} -> "
            f"{loop.proposal.kpis.get('wait_mean_min', np.nan):.1f} min)."
        )
    loop.stations = fit.stations.drop(
        columns=["grid_kw", "upgrade_kw", "upgrade_cost", "rated_kw", "managed", *FIT_COLUMNS]
    )
    return _with_energy(cfg, loop, fit.stations, kpis_after, notes)


def match_staged_plan(cfg: StudyConfig, loop: LoopResult, candidates: pd.DataFrame) -> GridOutcome:
    """A staged study's reported plan (``loop``: its last stage, the whole plan facing the
    last stage's demand) with its charging energy matched hour by hour with the renewable
    plants' output, as :func:`apply_grid` does for an unstaged study, but not refitted: each
    stage's design loop sized its plugs within the sites' capacity already
    (:func:`planner.study.grid_fit.loop_grid`), and its capex is the stages' sum. Until
    2026-12-07 a staged study matched nothing, while its CO2 note said charging was matched
    with the plants it set.

    Parameters
    ----------
    cfg : StudyConfig
        The last stage's config (:func:`planner.study.rollout_models.stage_config`).
    loop : LoopResult
        The reported plan's last stage, with ``baseline`` the existing stations facing the
        same demand.
    candidates : DataFrame
        The study's candidate sites (their grid capacity).

    Returns
    -------
    GridOutcome
        For :func:`attach`; ``loop`` is not changed.
    """
    fit = fit_plan(cfg, loop.stations, candidates)
    notes = list(fit.notes)
    if fit.changed:  # not expected: the stage loops sized within capacity
        notes.append(
            "Grid: the staged plan exceeds some site's grid capacity; it is reported as the "
            "stages simulated it, not refitted (docs/grid.md)."
        )
    kpis_after: dict[str, float] = {
        **upgrade_kpis(fit.stations, fit.upgrade_cost),
        "stations_managed": float(fit.stations["managed"].sum()),
    }
    return _with_energy(cfg, loop, fit.stations, kpis_after, notes)


def _with_energy(
    cfg: StudyConfig,
    loop: LoopResult,
    fitted: pd.DataFrame,
    kpis_after: dict[str, float],
    notes: list[str],
) -> GridOutcome:
    """The grid outcome of ``loop``'s plan (``fitted``: its stations with their grid fit)
    with the baseline's and the proposal's charging energy matched hour by hour."""
    plants, plant_notes = read_plants(cfg)
    notes = notes + plant_notes
    existing = loop.stations[loop.stations["existing"].astype(bool)]
    # KPIs: the mean over the runs (as the other KPIs); station rows and the station_energy
    # tables: the seed run (as the rows' sessions, utilisation and waits)
    e_before, k_before = _outcome_emissions(cfg, loop.baseline, existing, plants)
    e_after, k_after = _outcome_emissions(cfg, loop.proposal, loop.stations, plants)
    seed_before = _seed_run_emissions(cfg, loop.baseline, existing, plants)
    seed_after = _seed_run_emissions(cfg, loop.proposal, loop.stations, plants)
    e_before = e_before if seed_before is None else seed_before
    e_after = e_after if seed_after is None else seed_after
    kpis_after = {**kpis_after, **k_after}
    if len(plants):
        notes.append(renewables_note(cfg, plants, k_after["renewable_share_charging"]))
        approx = plants[plants["approximate"].astype(bool)]
        if len(approx):
            notes.append(
                "Approximate plant locations (at their town): " + ", ".join(approx["name"]) + "."
            )
    return GridOutcome(
        stations=fitted,
        energy_before=e_before,
        energy_after=e_after,
        kpis_before=k_before,
        kpis_after=kpis_after,
        notes=notes,
    )


def renewables_note(cfg: StudyConfig, plants: pd.DataFrame, share: float) -> str:
    """The report's note on the renewables matching, each input with its source: the
    study's own key where it sets one, else the default's source (docs/grid.md) or
    "assumption" with the register (docs/assumptions.md)."""
    rc = cfg.renewables
    default = {k: f.default for k, f in type(rc).model_fields.items()}

    def src(key: str, otherwise: str) -> str:
        return otherwise if getattr(rc, key) == default[key] else f"renewables.{key}"

    radius = src("match_radius_km", "assumption, docs/assumptions.md")
    pr = src("solar_performance_ratio", "IEA PVPS T13-05:2014: 0.75-0.85 for utility plants")
    clear = src("solar_clearness", "clear sky, an upper bound: assumption, docs/assumptions.md")
    cf = src(
        "wind_capacity_factor",
        "assumption from Global Wind Atlas wind speeds, docs/assumptions.md",
    )
    taken = src("charger_share", "all of it, an upper bound: assumption, docs/assumptions.md")
    shape = (
        "assumption, docs/assumptions.md"
        if all(getattr(rc, k) == default[k] for k in ("wind_diurnal_amplitude", "wind_peak_hour"))
        else "renewables.wind_diurnal_amplitude / wind_peak_hour"
    )
    return (
        f"Renewables: {len(plants)} plant(s) ({', '.join(plants['key'])}); charging energy "
        f"matched hour by hour with {rc.charger_share:.0%} of the output ({taken}) of a "
        f"plant within {rc.match_radius_km:g} km ({radius}) (solar: pvlib clear-sky Ineichen on {rc.day}, performance ratio "
        f"{rc.solar_performance_ratio:g} ({pr}), clearness {rc.solar_clearness:g} ({clear}); "
        f"wind: capacity factor {rc.wind_capacity_factor:g} ({cf}), diurnal shape "
        f"\u00b1{rc.wind_diurnal_amplitude:.0%} peaking at {rc.wind_peak_hour:g} h ({shape})); "
        f"renewable share of public charging {share:.1%}."
    )


def _station_columns(
    frame: pd.DataFrame, grid: pd.DataFrame, energy: pd.DataFrame, candidates: pd.DataFrame
) -> pd.DataFrame:
    if not len(frame):
        return frame
    ids = frame["station_id"].astype(str)
    g = grid.set_index(grid["station_id"].astype(str))
    e = energy.set_index("station_id")
    c = candidates.set_index(candidates["site_id"].astype(str))
    out = frame.copy()
    for col in ("grid_kw", "upgrade_kw", "upgrade_cost", "rated_kw", "managed"):
        out[col] = ids.map(g[col]).to_numpy()
    out["approximate"] = (
        ids.map(c["approximate"]).eq(True).to_numpy()  # unmapped (NaN) -> False
        if "approximate" in c
        else False
    )
    out["plant"] = ids.map(e["plant"]).fillna("").to_numpy()
    for col in ("renewable_kwh", "renewable_share", "co2_kg"):
        out[col] = ids.map(e[col]).fillna(0.0).to_numpy()
    return out


def attach(result: Any, grid: GridOutcome, candidates: pd.DataFrame) -> None:
    """Write the grid outcome into a study result: KPIs, station columns (grid capacity,
    upgrade, managed, renewable flag/plant/share, CO2: the seed run's, as the rows'
    sessions), capex with upgrades, the ``station_energy`` tables and notes."""
    result.kpis_before.update(grid.kpis_before)
    result.kpis_after.update(grid.kpis_after)
    sel = _station_columns(result.selected, grid.stations, grid.energy_after, candidates)
    if len(sel) and "capex" in sel:
        sel["capex"] = sel["capex"].astype(float) + sel["upgrade_cost"].fillna(0.0).astype(float)
    result.selected = sel
    result.existing = _station_columns(
        result.existing, grid.stations, grid.energy_after, candidates
    )
    result.tables["station_energy_before"] = grid.energy_before
    result.tables["station_energy_after"] = grid.energy_after
    result.notes += grid.notes


def fit_new_stations(
    cfg: StudyConfig,
    existing: pd.DataFrame,
    new: pd.DataFrame,
    candidates: pd.DataFrame,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """``evplan optimize``: the new stations within grid capacity (no simulation, so no
    effect on waits): upgrades added to their capex, plugs capped or throttled. Returns the
    new stations, the whole plan and the grid KPIs; appends notes to ``notes``."""
    stations = pd.concat([existing, new.drop(columns="capex")], ignore_index=True)
    fit = fit_plan(cfg, stations.assign(added_plugs=0), candidates)
    g = fit.stations.set_index("station_id")
    ids = new["station_id"]
    new = new.assign(
        plugs=ids.map(g["plugs"]).to_numpy(),
        power_kw=ids.map(g["power_kw"]).to_numpy(),
        capex=(new["capex"] + ids.map(g["upgrade_cost"]).fillna(0.0)).to_numpy(),
    )
    notes.extend(fit.notes)
    kpis = upgrade_kpis(fit.stations, fit.upgrade_cost)
    return new, fit.stations[stations.columns], kpis


def upgrade_kpis(fitted: pd.DataFrame, upgrade_cost: float) -> dict[str, float]:
    """``grid_upgrade_kw`` and ``grid_upgrade_cost`` of a fitted plan, NaN (not assessed)
    when no station has a known grid capacity: "0 kW, 0 cost" then read as "no upgrade
    needed" (a review found the cargo study's 232 MW of truck bays shown with a grid
    upgrade of 0, with no capacity data at all)."""
    cap = fitted["grid_kw"].to_numpy(dtype=float) if "grid_kw" in fitted else np.array([])
    if not np.isfinite(cap).any():
        return {"grid_upgrade_kw": math.nan, "grid_upgrade_cost": math.nan}
    return {
        "grid_upgrade_kw": float(fitted["upgrade_kw"].sum()),
        "grid_upgrade_cost": float(upgrade_cost),
    }
