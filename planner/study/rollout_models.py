"""The staged models of a rollout study: each stage's settings and trips, and the
multi-period siting model that sees them all (city: :class:`StagedMCLP` on travel times;
corridor: :class:`StagedFRLM` on OD flows along their fastest routes), for the study's own
demand or for a scenario (demand multiplier, temperature).

A scenario's temperature replaces every stage's: on a corridor the stage is planned for the
fleet's range at it (:func:`planner.study.optimize.planning_range_km`:
80 % of the battery at 90 km/h), so a severe winter shortens the hops and fewer flows are
refuelled by the same stations. A scenario's season set counts the mean over its seasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from planner.config.study import StudyConfig
from planner.siting.multiperiod import StagedCover, StagedMCLP
from planner.siting.multiperiod_frlm import StagedFRLM
from planner.study.demand import build_trips
from planner.study.optimize import StudyOptimizer, planning_range_km
from planner.study.optimize_corridor import Flows

__all__ = ["stage_config", "stage_trips", "staged_model"]


def stage_config(
    cfg: StudyConfig, k: int, *, scale: float = 1.0, temperature_c: float | None = None
) -> StudyConfig:
    """The study as it stands in stage ``k`` (demand level, fleet, temperature), with the
    demand multiplied by ``scale`` and the temperature replaced by ``temperature_c`` (a
    scenario)."""
    st = cfg.stages[k]
    d = cfg.demand
    factor = (st.demand_scale or 1.0) * scale
    demand: dict[str, Any] = {}
    if d.kind == "city":
        share = st.adoption_share if st.adoption_share is not None else d.adoption_share * factor
        demand["adoption_share"] = min(1.0, share * (scale if st.adoption_share else 1.0))
    else:
        demand["trips_per_day"] = d.trips_per_day * factor
    update: dict[str, Any] = {"demand": d.model_copy(update=demand)}
    if st.fleet:
        update["vehicles"] = cfg.vehicles.model_copy(update={"fleet": dict(st.fleet)})
    temp = temperature_c if temperature_c is not None else st.temperature_c
    if temp is not None:
        update["simulation"] = cfg.simulation.model_copy(update={"temperature_c": temp})
    return cfg.model_copy(update=update)


def stage_trips(
    cfg: StudyConfig,
    sn: Any,
    vehicles: dict,
    k: int,
    *,
    scale: float = 1.0,
    temperature_c: float | None = None,
) -> pd.DataFrame:
    """The trips of stage ``k`` (seeded from the study seed and the stage)."""
    (seed,) = np.random.SeedSequence([cfg.seed, k]).spawn(1)
    return build_trips(
        stage_config(cfg, k, scale=scale, temperature_c=temperature_c),
        sn,
        vehicles,
        rng=np.random.default_rng(seed),
    )


def _weights(trips: list[pd.DataFrame], nodes: np.ndarray) -> np.ndarray:
    """Trips starting at each node, per stage (the covering model's demand), scaled to the
    whole fleet when the stage simulates a sample (``demand.max_trips``)."""
    index = {int(n): i for i, n in enumerate(nodes)}
    w = np.zeros((len(trips), nodes.size))
    for t, tr in enumerate(trips):
        factor = float(tr.attrs.get("expansion_factor", 1.0))
        counts = tr["origin"].value_counts()
        for n, c in counts.items():
            w[t, index[int(n)]] = float(c) * factor
    return w


def _limits(cfg: StudyConfig) -> dict[str, Any]:
    """Per-stage budget and new-site count, years and discount rate of the staged model."""
    return {
        "budgets": np.array([s.budget if s.budget is not None else np.inf for s in cfg.stages]),
        "max_new": np.array(
            [s.new_sites if s.new_sites is not None else np.inf for s in cfg.stages], dtype=float
        ),
        "years": np.array([s.year for s in cfg.stages], dtype=float),
        "discount_rate": cfg.rollout.discount_rate,
    }


def _site_costs(existing: pd.DataFrame, cand: pd.DataFrame) -> np.ndarray:
    """Capex of opening each column: existing stations nothing, a candidate its site and
    one plug (the design loop adds plugs from the simulated queues)."""
    return np.r_[np.zeros(len(existing)), (cand["site_cost"] + cand["plug_cost"]).to_numpy()]


def _city_model(
    cfg: StudyConfig, optimizer: StudyOptimizer, existing: pd.DataFrame, trips: list[pd.DataFrame]
) -> StagedMCLP:
    nodes = np.unique(np.concatenate([t["origin"].to_numpy(dtype=np.int64) for t in trips]))
    cand = optimizer.candidates
    cols = np.r_[existing["node"].to_numpy(dtype=np.int64), cand["node"].to_numpy(dtype=np.int64)]
    threshold = cfg.model.threshold_min * 60.0
    cost = optimizer.net.travel_time_matrix(nodes, cols, cutoff=threshold)
    return StagedMCLP.from_cost_matrix(
        cost,
        _weights(trips, nodes),
        threshold=threshold,
        site_costs=_site_costs(existing, cand),
        fixed_open=np.arange(len(existing)),
        **_limits(cfg),
    )


def _corridor_model(
    cfg: StudyConfig,
    optimizer: StudyOptimizer,
    existing: pd.DataFrame,
    trips: list[pd.DataFrame],
    vehicles: dict,
    temperatures: list[float | None],
) -> StagedFRLM:
    """Every stage's OD flows (trips x the sample's expansion factor) on their fastest
    routes, each planned for its stage's range (fleet and temperature of the stage). With
    several ``temperatures`` (a season set) every flow appears once per season with its
    share of the weight, so the model counts the mean refuelled flow over the seasons."""
    cand = optimizer.candidates
    site_nodes = np.r_[
        existing["node"].to_numpy(dtype=np.int64), cand["node"].to_numpy(dtype=np.int64)
    ]
    col_of: dict[int, int] = {}
    for k, n in enumerate(site_nodes.tolist()):
        col_of.setdefault(n, k)  # a candidate on an existing station's node is that station
    route_km, site_km, site_idx, flows, stage, ranges = [], [], [], [], [], []
    for t, tr in enumerate(trips):
        demand = (
            tr.groupby(["origin", "destination"])
            .size()
            .rename("weight")
            .reset_index()
            .rename(columns={"origin": "node"})
        )
        demand["weight"] = demand["weight"] * float(tr.attrs.get("expansion_factor", 1.0))
        fl = Flows(optimizer.net, demand)
        rs = [
            planning_range_km(stage_config(cfg, t, temperature_c=temp), vehicles)
            for temp in temperatures
        ]
        # Flows leaves out the pairs with no route on the network (no station helps them)
        for (path, km), w in zip(fl.paths, fl.od["weight"].to_numpy(), strict=True):
            on = np.array([n in col_of for n in path.tolist()], dtype=bool)
            idx = np.array([col_of[n] for n in path[on].tolist()], dtype=np.int64)
            for r in rs:
                route_km.append(km)
                site_km.append(km[on])
                site_idx.append(idx)
                flows.append(float(w) / len(rs))
                stage.append(t)
                ranges.append(r)
    return StagedFRLM.from_paths(
        route_km,
        site_km,
        site_idx,
        np.asarray(flows, dtype=float),
        np.asarray(stage, dtype=np.int64),
        n_sites=site_nodes.size,
        n_stages=len(cfg.stages),
        range_km=np.asarray(ranges, dtype=float),
        site_costs=_site_costs(existing, cand),
        fixed_open=np.arange(len(existing)),
        **_limits(cfg),
    )


def staged_model(
    cfg: StudyConfig,
    optimizer: StudyOptimizer,
    existing: pd.DataFrame,
    trips: list[pd.DataFrame],
    vehicles: dict,
    *,
    temperatures: list[float | None] | None = None,
) -> StagedCover:
    """The multi-period model of the study's kind over the stages' ``trips`` (columns: the
    existing stations, fixed open, then the candidates); a corridor is planned at each of
    ``temperatures`` (default: the stages' own), see :func:`_corridor_model`."""
    if cfg.model.kind == "frlm":
        temps = temperatures or [None]
        return _corridor_model(cfg, optimizer, existing, trips, vehicles, temps)
    return _city_model(cfg, optimizer, existing, trips)
