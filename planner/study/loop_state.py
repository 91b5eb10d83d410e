"""The design loop's state between rounds (:func:`planner.study.loop.closed_loop`): the
plan as it stands and the bookkeeping the rounds do on it.

A :class:`LoopState` holds the loop's settings (targets, budget, plug cost and caps, the
grid rule) and the plan of the round: its stations, the sites the loop opened and their
capex, the grid fit and its upgrade cost, the outcome of the plan's last simulation and
every round's record. Its methods read the simulated load (trusted as the sizing may trust
it), take off the proposed plugs no run used, size plugs within the budget, diagnose the
final plan and write a round's record. They call no simulation and no siting model, and
log nothing: what runs when, and what is logged, is :mod:`planner.study.loop`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.study.grid_fit import LoopGrid, site_count
from planner.study.loop_reads import (
    ScenarioOutcome,
    fleet_load,
    in_use_max,
    queue_trouble,
    site_book,
)
from planner.study.loop_remedies import (
    PlugSizing,
    cheapest_plug,
    plug_types,
    size_plugs,
    trim_idle,
)
from planner.study.targets import Targets

__all__ = ["LoopState"]


@dataclass(eq=False)
class LoopState:
    """One :func:`~planner.study.loop.closed_loop` call's settings and plan (private to it).

    Parameters
    ----------
    existing : DataFrame
        Existing stations (the plan before the loop).
    baseline : ScenarioOutcome
        The simulated outcome of ``existing``: the first outcome the loop reads.
    targets, budget, plug_cost, max_plugs, days
        As :func:`~planner.study.loop.closed_loop` takes them.
    first_round_sites, max_new_sites, grid, bay_caps, bay_floors
        As :func:`~planner.study.loop.closed_loop` takes them.

    Attributes
    ----------
    stations : DataFrame
        The plan: existing stations and the loop's sites, with ``added_plugs``.
    selected : DataFrame
        The sites the loop opened, with their ``capex``.
    capex : float
        Sites and plugs bought; grid upgrades are ``upgrade`` (recomputed from the fit).
    fitted : DataFrame or None
        The plan as the grid fits it (None without a grid rule).
    upgrade : float
        The grid upgrades of ``fitted``.
    sim_plan : DataFrame
        The stations the last round simulated (the grid-fitted plan with a grid rule).
    outcome : ScenarioOutcome
        The last simulated (or confirmed) outcome.
    iterations : list of dict
        Every round's record.
    start : dict
        Each station's plugs and plug types before the loop (one plug with its own types at
        a site the loop opens): :meth:`plug_floors` reads it.
    grid_bound, full : list of str
        Stations whose grid connection bound the last sizing, and those whose need
        exceeded their cap (plugs or grid): the siting model is told of both.
    need_sites : bool
        Whether the next round sites new stations.
    n_sites : int or None
        How many (None: the model decides).
    """

    existing: pd.DataFrame
    baseline: ScenarioOutcome
    targets: Targets
    budget: float | None
    plug_cost: float
    max_plugs: int
    days: int = 1
    first_round_sites: int | None = None
    max_new_sites: int | None = None
    grid: LoopGrid | None = None
    bay_caps: Mapping[str, int] | None = None
    bay_floors: Mapping[str, int] | None = None
    stations: pd.DataFrame = field(init=False)
    selected: pd.DataFrame = field(init=False)
    capex: float = field(init=False)
    fitted: pd.DataFrame | None = field(init=False)
    upgrade: float = field(init=False)
    sim_plan: pd.DataFrame = field(init=False)
    outcome: ScenarioOutcome = field(init=False)
    iterations: list[dict[str, Any]] = field(init=False)
    start: dict[str, tuple[int, int]] = field(init=False)
    grid_bound: list[str] = field(init=False)
    full: list[str] = field(init=False)
    need_sites: bool = field(init=False)
    n_sites: int | None = field(init=False)

    def __post_init__(self) -> None:
        existing, grid = self.existing, self.grid
        self.stations = existing.copy()
        self.stations["added_plugs"] = 0
        self.selected = pd.DataFrame(columns=[*existing.columns, "capex"])
        self.capex = 0.0
        self.fitted = grid.fit(self.stations).stations if grid is not None else None
        self.upgrade = float(self.fitted["upgrade_cost"].sum()) if self.fitted is not None else 0.0
        self.sim_plan = self.stations
        self.grid_bound = []
        self.full = []
        self.iterations = []
        self.outcome = self.baseline
        self.need_sites, self.n_sites = True, self.first_round_sites
        # the plugs and plug types each station had before this loop (a rollout's earlier
        # stages included), and one plug with its own types at a site the loop opens:
        # trimming never goes below them, nor below one plug for each plug type the loop added
        self.start = {
            str(r["station_id"]): (int(r["plugs"]), len(plug_types(r.get("connectors"))))
            for r in existing.to_dict("records")
        }

    def add_sites(self, new: pd.DataFrame, it: int) -> int:
        """Add the siting model's ``new`` sites (with their ``capex``) to the plan in round
        ``it``; returns how many sites they are (a truck site's bay rows count once)."""
        self.capex += float(new["capex"].sum())
        new = new.assign(added_plugs=0, opened_round=it)
        for r in new.to_dict("records"):  # its floor: one plug and its own types
            self.start.setdefault(str(r["station_id"]), (1, len(plug_types(r.get("connectors")))))
        self.stations = pd.concat([self.stations, new.drop(columns="capex")], ignore_index=True)
        self.selected = pd.concat([self.selected, new], ignore_index=True)
        return site_count(new)

    def plug_floors(self) -> dict[str, int]:
        """The fewest plugs trimming leaves each station (:attr:`start`, plus one plug for
        each plug type the loop added, and a truck bay row's class ``min_bays``)."""
        out = {}
        for r in self.stations.to_dict("records"):
            sid = str(r["station_id"])
            types = len(plug_types(r.get("connectors")))
            plugs0, types0 = self.start.get(sid, (1, types))
            out[sid] = plugs0 + max(0, types - types0)
            # a truck bay row keeps its class's min_bays (the cargo study with
            # mcs.min_bays: 3 ended with 14 sites of 1 MCS bay: trimmed to the bays in use)
            cls = r.get("plug_class")
            if self.bay_floors and isinstance(cls, str) and cls in self.bay_floors:
                out[sid] = max(out[sid], int(self.bay_floors[cls]))
        return out

    def plan_load(self, missed: list[str]) -> pd.DataFrame | None:
        """Each station's simulated load in :attr:`outcome`, read as the sizing may trust
        it; None when the outcome carries no sessions to size on."""
        # a sampled fleet's (demand.max_trips) queues and cars at once are the sample's, so
        # its stations are all sized on the scaled arrivals and none is trimmed (the
        # rollout's 2035 stage bought no plug on its 1-in-286 sample's quiet queues); and
        # when the wait missed over the runs but no station's own seed-run waits did, every
        # station is sized
        load = fleet_load(self.outcome, self.days, self.targets.wait_p95_min)
        if load is None:
            return None
        if self.sampled():
            return load.drop(columns=[c for c in ("misses", "arrivals_at_once") if c in load])
        wait_missed = any(m.startswith("wait_p95_min") for m in missed)
        if wait_missed and "misses" in load and not load["misses"].any():
            return load.drop(columns="misses")
        return load

    def sampled(self) -> bool:
        """Whether :attr:`outcome` simulated a sample of the fleet (an expansion above 1)."""
        return float(self.outcome.kpis.get("demand_expansion_factor") or 1.0) > 1.0

    def trim(self, load: pd.DataFrame) -> tuple[pd.DataFrame, float, int]:
        """The plan without the proposed plugs no run used, their refund and how many
        (:func:`planner.study.loop_remedies.trim_idle`); the plan itself for a sampled
        fleet (see :meth:`plan_load`). The plan held is not changed."""
        if self.sampled():
            return self.stations, 0.0, 0
        flagged = load["misses"].astype(bool) if "misses" in load else load["station_id"].isna()
        keep = set(load.loc[flagged, "station_id"].astype(str))
        return trim_idle(
            self.stations,
            in_use_max(self.outcome),
            keep,
            plug_cost=self.plug_cost,
            floors=self.plug_floors(),
        )

    def budget_left(self) -> float | None:
        """The money left (None without a budget)."""
        return None if self.budget is None else self.budget - self.capex - self.upgrade

    def budget_spent(self) -> bool:
        """Whether the money left buys not even the plan's cheapest plug (a car plug, or its
        cheapest truck bay class; a site costs more than a plug)."""
        left = self.budget_left()
        cheapest = cheapest_plug(self.stations, self.plug_cost)
        return left is not None and (left <= 0 or (cheapest > 0 and left < cheapest))

    def size_remedy(
        self, load: pd.DataFrame, book: Any, *, within_budget: bool = True
    ) -> PlugSizing:
        """The remedy's plug sizing of the plan as it stands
        (:func:`planner.study.loop_remedies.size_plugs`; the final plan's diagnosis sizes it
        the same way). The plan held is not changed.

        The budget left decides which plugs a busier row would take from a shared grid
        connection before a later row is sized (with ``within_budget=False``: what the
        sizing would buy with no budget).
        """
        assert self.targets.wait_p95_min is not None  # (queue trouble implies the target)
        return size_plugs(
            self.stations,
            load,
            self.targets.wait_p95_min,
            plug_cost=self.plug_cost,
            max_plugs=self.max_plugs,
            budget_left=self.budget_left() if within_budget else None,
            book=book,
            bay_caps=self.bay_caps,
        )

    def diagnose_final(self, record: dict[str, Any], missed: list[str]) -> None:
        """Give the last round's ``record`` the final plan's own sizing diagnosis.

        ``sized``, and ``capped`` for the stations whose need exceeds their cap; nothing
        changes in the plan. The verdict reads it instead of any earlier round's: those
        measured other plans (a station they capped may be nearly idle once later rounds
        sited around it). Unmarked when there are no sessions to size on.
        With a budget, the record also says what the sizing would buy with no budget
        (``budget_short``: plugs and their cost) when the money left cannot buy them: the
        verdict then names the budget, not the plug cap, as what binds.
        """
        load = self.plan_load(missed)
        if load is None:
            return
        record["sized"] = True
        record.pop("capped", None)
        record.pop("budget_short", None)
        if not queue_trouble(self.outcome.kpis, missed, self.targets):
            return  # the cap binds no target of this plan
        capped = self.size_remedy(load, site_book(self.grid, self.fitted)).capped
        if capped:
            record["capped"] = capped
        if self.budget is not None:
            unbounded = self.size_remedy(
                load, site_book(self.grid, self.fitted), within_budget=False
            )
            left = self.budget_left() or 0.0
            if unbounded.added and unbounded.spent > left:
                record["budget_short"] = {
                    "plugs": int(unbounded.added),
                    "cost": round(float(unbounded.spent), 2),
                    # the cheapest of the plugs it wants (truck bay classes differ)
                    "unit_cost": cheapest_plug(
                        self.stations[unbounded.stations["plugs"] > self.stations["plugs"]],
                        self.plug_cost,
                    ),
                    "spent": round(self.capex + self.upgrade, 2),
                    "left": round(left, 2),
                }

    def round_record(
        self, iteration: int, new_sites: int, causes: Any, missed: list[str]
    ) -> dict[str, Any]:
        """One round's record of the plan as it stands and its simulated outcome."""
        return {
            "iteration": iteration,
            **({"stranding_causes": causes} if causes else {}),
            "new_sites": new_sites,
            "stations": len(self.stations),
            "plugs": int(self.stations["plugs"].sum()),
            "capex": round(self.capex + self.upgrade, 2),
            **({"upgrade_cost": round(self.upgrade, 2)} if self.grid is not None else {}),
            "missed": missed,
            **{
                k: self.outcome.kpis.get(k)
                for k in ("wait_p95_min", "stranded_vehicles", "share_trips_completed")
            },
        }

    def plan_on_grid(self) -> tuple[Any, float, pd.DataFrame]:
        """The plan as the grid fits it (throttled if managed), its upgrade cost and the
        stations to simulate; without a grid rule the plan itself (and the fit held)."""
        if self.grid is None:
            return self.fitted, self.upgrade, self.stations
        fit = self.grid.fit(self.stations).stations
        plan = self.stations.assign(
            plugs=fit["plugs"].to_numpy(), power_kw=fit["power_kw"].to_numpy()
        )
        return fit, float(fit["upgrade_cost"].sum()), plan
