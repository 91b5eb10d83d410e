"""The design loop's remedies between rounds (:func:`planner.study.loop.closed_loop`): plugs
sized to the wait target within each row's plug cap (``max_plugs``, and a truck bay row's
class ``max_bays``: :func:`plug_caps`), each site's grid room and the budget; a missing
connector added within the same cap; new sites cut to their grid connection and trimmed to
the budget (grid upgrades included). Grid room and upgrade prices come from a
:class:`planner.study.grid_fit.SiteBook`. A station the sizing cannot give what its load
needs is recorded as a :class:`planner.study.capped.CappedStation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from planner.study.capped import (
    MAX_PLUGS,
    CappedStation,
    bay_cap_field,
    cap_kind,
    station_name,
)
from planner.study.grid_fit import LoopGrid, SiteBook, unit_plug_costs
from planner.study.sizing import plugs_for_wait, plugs_for_wait_managed
from sim.connectors import split_connectors

__all__ = [
    "MAX_PLUGS",
    "CappedStation",
    "PlugSizing",
    "add_connectors",
    "add_plugs",
    "bay_cap_field",
    "cap_fields",
    "cheapest_plug",
    "new_within_grid",
    "plug_caps",
    "plug_types",
    "size_plugs",
    "trim_idle",
    "truck_bay_caps",
    "upgrade_of",
    "within_budget",
]


def cheapest_plug(stations: pd.DataFrame, plug_cost: float) -> float:
    """The cheapest plug the plan's stations could get (:func:`unit_plug_costs` of its
    rows; ``plug_cost`` for an empty plan): what the money left must cover to buy anything."""
    if not len(stations):
        return plug_cost
    return float(unit_plug_costs(stations, plug_cost).min())


def upgrade_of(
    stations: pd.DataFrame, grid: LoopGrid | None, before: float
) -> Callable[[pd.DataFrame], float]:
    """The grid upgrades new sites would add to the plan (0 without a grid rule)."""

    def cost(new: pd.DataFrame) -> float:
        if grid is None or not len(new):
            return 0.0
        plan = pd.concat([stations, new.drop(columns="capex").assign(added_plugs=0)])
        return float(grid.fit(plan.reset_index(drop=True)).stations["upgrade_cost"].sum()) - before

    return cost


def new_within_grid(stations: pd.DataFrame, new: pd.DataFrame, grid: LoopGrid) -> pd.DataFrame:
    """New sites with the plugs their grid connection carries where it can neither be
    upgraded nor managed (the siting model may have sized them on load alone); plugs cut are
    taken off their capex at their plug cost."""
    plan = pd.concat([stations, new.drop(columns="capex").assign(added_plugs=0)], ignore_index=True)
    fit = grid.fit(plan).stations.iloc[len(stations) :]
    cut = new["plugs"].to_numpy(dtype=np.int64) - fit["plugs"].to_numpy(dtype=np.int64)
    if not cut.any():
        return new
    refund = cut * fit["grid_plug_cost"].to_numpy(dtype=float)
    return new.assign(plugs=fit["plugs"].to_numpy(), capex=new["capex"].to_numpy() - refund)


def truck_bay_caps(candidates: Any) -> dict[str, int]:
    """The ``max_bays`` of every truck bay class of a study's ``candidates`` section
    (:class:`planner.config.siting.CandidatesConfig`), for
    :func:`planner.study.loop.closed_loop`'s ``bay_caps``; empty without truck bays."""
    return {str(k): int(bc.max_bays) for k, bc in (candidates.truck_bays or {}).items()}


def truck_bay_floors(candidates: Any) -> dict[str, int]:
    """The ``min_bays`` of every truck bay class (class -> bays), for
    :func:`planner.study.loop.closed_loop`'s ``bay_floors``; empty without truck bays."""
    return {str(k): int(bc.min_bays) for k, bc in (candidates.truck_bays or {}).items()}


def plug_caps(
    stations: pd.DataFrame, max_plugs: int, bay_caps: Mapping[str, int] | None = None
) -> pd.Series:
    """Each row's plug cap: ``max_plugs`` (``candidates.max_plugs``) for every row, and for
    a truck bay row (``plug_class``) of a class in ``bay_caps`` (class ->
    ``candidates.truck_bays.<class>.max_bays``) the smaller of the two. :func:`cap_fields`
    also gives the fields that set it, which a capped station's sentence names ("truck_bays
    .mcs.max_bays is 4", "max_plugs and truck_bays.mcs.max_bays are 6") and the verdict
    (planner.study.verdict) tells the user to raise. Until 2026-12-07 14:40 a class's
    ``max_bays`` bounded only the bays a new site was given; the loop then added bays up to
    ``max_plugs`` (the cargo plan had a site with 5 MCS bays of the 4 allowed)."""
    return cap_fields(stations, max_plugs, bay_caps)[0]


def cap_fields(
    stations: pd.DataFrame, max_plugs: int, bay_caps: Mapping[str, int] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Each row's plug cap (:func:`plug_caps`) and the ``candidates`` fields that set it,
    a tuple per row: ``("max_plugs",)``, ``("truck_bays.mcs.max_bays",)`` where the class's
    cap is smaller, both where they are equal."""
    cap = pd.Series(int(max_plugs), index=stations.index, dtype=np.int64)
    named: list[tuple[str, ...]] = [(MAX_PLUGS,)] * len(stations)
    if bay_caps and "plug_class" in stations:
        cls = stations["plug_class"]
        for label, bays in bay_caps.items():
            on = (cls.notna() & (cls.astype(str) == str(label))).to_numpy()
            if not on.any() or int(bays) > max_plugs:
                continue
            field = bay_cap_field(str(label))
            cap[on] = int(bays)
            for i in np.flatnonzero(on):
                named[i] = (field,) if int(bays) < max_plugs else (MAX_PLUGS, field)
    fields = pd.Series(pd.array(named, dtype=object), index=stations.index, dtype=object)
    return cap, fields


def add_connectors(
    stations: pd.DataFrame,
    gaps: pd.DataFrame,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
    bay_caps: Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, float, int]:
    """One plug of the missing connector at each station a connector kept cars from (most
    trips first), within the row's plug cap (:func:`plug_caps`), the site's grid room and
    the budget (plugs and upgrades). Returns the stations, the plug capex spent and the
    plugs added."""
    stations = stations.copy()
    book = book or SiteBook(None)
    costs = unit_plug_costs(stations, plug_cost)
    caps = plug_caps(stations, max_plugs, bay_caps)
    spent, added, up = 0.0, 0, 0.0
    for gap in gaps.sort_values("trips", ascending=False).itertuples():
        rows = stations.index[stations["station_id"] == gap.station_id]
        if not len(rows):
            continue
        row = rows[0]
        have = plug_types(stations.loc[row, "connectors"])
        if gap.connector in have or stations.loc[row, "plugs"] >= caps[row] or book.room(row) < 1:
            continue
        more = book.upgrade_cost(row, 1)
        cost = float(costs[row])
        if budget_left is not None and spent + up + cost + more > budget_left:
            break
        stations.loc[row, "connectors"] = ";".join([*have, str(gap.connector)])
        stations.loc[row, "plugs"] += 1
        stations.loc[row, "added_plugs"] += 1
        book.add(row, 1)
        spent += cost
        up += more
        added += 1
    return stations, spent, added


def plug_types(connectors: Any) -> list[str]:
    """The plug types of a station's ``connectors`` ("GB/T;CCS2"); a missing value is "any
    connector", not a type called "nan"."""
    if not isinstance(connectors, str):
        return []
    return split_connectors(connectors)  # as the engine reads them ("GB/T; CCS2", "CCS2,Type2")


def within_budget(
    new: pd.DataFrame,
    left: float,
    plug_cost: float,
    *,
    upgrade: Callable[[pd.DataFrame], float] | None = None,
    defer: bool = False,
) -> pd.DataFrame:
    """New sites within what the budget leaves: the siting model pays for one plug per
    site, so plugs sized beyond that are trimmed. With ``defer`` (a later round will size
    plugs on the simulated load), every new site keeps the one plug the model paid for and
    the money left is placed by that sizing, busiest station first: the model's plugs are
    an estimate from unserved trips, and a review of the Almaty study with a budget found
    it had spent the money on 6 plugs at a hotel with 6 sessions while six sites trimmed to
    1 plug each turned drivers away. Without it (the last round), the sites with the
    fewest plugs are trimmed first (the lowest estimated load: the plugs do least good
    there). With ``upgrade`` (new sites -> the grid upgrades they need), upgrades count
    too, and when one plug per site still does not fit, the dearest sites are dropped."""
    new = new.copy()
    up = upgrade or (lambda _n: 0.0)

    def over() -> float:
        return float(new["capex"].sum()) + up(new) - left

    cost = unit_plug_costs(new, plug_cost)
    if over() <= 1e-9 or not (cost > 0).any():
        return new
    if defer:
        extra = (new["plugs"] - 1).clip(lower=0).where(cost > 0, 0)
        new["plugs"] -= extra
        new["capex"] -= extra * cost
    for idx in new.sort_values("plugs").index:  # trim the smallest sites first
        # (a plug that costs nothing is kept: taking it off saves nothing)
        while cost[idx] > 0 and new.loc[idx, "plugs"] > 1 and over() > 1e-9:
            new.loc[idx, "plugs"] -= 1
            new.loc[idx, "capex"] -= cost[idx]
    while upgrade is not None and len(new) and over() > 1e-9:
        new = new.drop(index=new["capex"].idxmax())  # upgrades still over: drop a site
    return new


def trim_idle(
    stations: pd.DataFrame,
    in_use_max: pd.Series,
    keep: set[str],
    *,
    plug_cost: float,
    floors: dict[str, int],
) -> tuple[pd.DataFrame, float, int]:
    """Proposed plugs the simulation never used, taken off: a station whose plugs the loop
    proposed (a new site's, or those it added to an existing one) gets the most plugs that
    were charging at once in any run of the last simulation (``in_use_max``, by station
    id), never fewer than its floor (``floors``, by station id: the plugs a station had
    before the loop, a rollout's earlier stages included, and one for each connector the
    loop added; one at a site the loop opened; the loop's own ``plug_floors``).
    Stations in ``keep`` (their waits missed the target) are left alone. Plugs never in use
    at once do not shorten any wait of those runs, so the loop still converges: a plan
    re-simulated on the same draws keeps the waits of the stations trimmed (drivers who
    weigh a station's free plugs may choose a little differently). Returns the stations,
    the plug capex refunded and the plugs taken off."""
    stations = stations.copy()
    costs = unit_plug_costs(stations, plug_cost)
    refund, cut_total = 0.0, 0
    for row in stations.index:
        sid = str(stations.loc[row, "station_id"])
        if sid in keep:
            continue
        have = int(stations.loc[row, "plugs"])
        added = int(stations.loc[row, "added_plugs"])
        want = max(floors.get(sid, have), 1, int(in_use_max.get(sid, 0)))
        cut = have - want
        if cut <= 0:
            continue
        stations.loc[row, "plugs"] = want
        stations.loc[row, "added_plugs"] = max(0, added - cut)
        refund += cut * float(costs[row])
        cut_total += cut
    return stations, refund, cut_total


class PlugSizing(NamedTuple):
    """What :func:`size_plugs` gives: the plan sized, and what limited it."""

    #: the stations with their sized plugs
    stations: pd.DataFrame
    #: plug capex spent (grid upgrades excluded)
    spent: float
    #: plugs added
    added: int
    #: a record per station whose need exceeds what it got (the limit that binds)
    capped: list[CappedStation]
    #: ids of the stations whose grid connection binds
    grid_bound: list[str]
    #: ids of every station whose need exceeds what it may have (the next round sites
    #: new stations for the load it cannot take)
    full: list[str]


def size_plugs(
    stations: pd.DataFrame,
    load: pd.DataFrame,
    target_min: float,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
    bay_caps: Mapping[str, int] | None = None,
) -> PlugSizing:
    """Set every station's plugs to what its simulated load needs for the wait target
    (never fewer than it has, at most its plug cap and what its site's grid connection
    carries), busiest first, within the budget (plugs and grid upgrades). The plug cap is
    ``max_plugs``, for a truck bay row of a class in ``bay_caps`` at most the class's
    ``max_bays`` (:func:`plug_caps`).

    Only stations whose own simulated p95 wait misses the target, or where a driver gave
    up (``load["misses"]``, :func:`planner.study.sizing.station_load`), are sized: when
    every station's p95 wait is within the target, so is the p95 over all visits. The need
    is Erlang C / Allen-Cunneen on the station's busiest simulated hour, at most the cars
    that were there at once in the run (``arrivals_at_once``: with that many plugs none of
    them would have waited) and at least one more plug than it has. Under managed charging
    a site's need is sized with the throttled power per plug
    (:func:`planner.study.sizing.plugs_for_wait_managed`; no ``arrivals_at_once`` bound:
    more plugs there share the same kW). Returns the stations, the plug capex spent, the
    plugs added and, for stations whose need exceeds what they got, a
    :class:`planner.study.capped.CappedStation` (the station, its need, its plugs and
    simulated p95 wait, and the limit that binds: the budget when the station is below its
    cap and the budget left buys no more, its grid connection, or its cap and the fields
    that set it, ``max_plugs`` or a bay class's ``max_bays``; its ``sentence`` says so,
    "...; max_plugs is 6"), the ids of the stations whose grid connection binds, and the
    ids of every station whose need exceeds what it may have (*full*: the next round sites
    new stations for the load it cannot take), as a :class:`PlugSizing`."""
    stations = stations.copy()
    book = book or SiteBook(None)
    costs = unit_plug_costs(stations, plug_cost)
    caps, fields = cap_fields(stations, max_plugs, bay_caps)
    limit = max(60, 10 * max_plugs)  # look past the cap, to say what the target needs
    order = np.argsort(-load["peak_arrivals_per_h"].to_numpy(dtype=float), kind="stable")
    spent, up, added = 0.0, 0.0, 0
    capped: list[CappedStation] = []
    bound_ids: list[str] = []
    full_ids: list[str] = []
    for k in order:
        sid = load["station_id"].iloc[k]
        rows = stations.index[stations["station_id"] == sid]
        if len(rows) == 0:
            continue
        if "misses" in load and not bool(load["misses"].iloc[k]):
            continue  # its own waits are within the target: no plug needed
        row = rows[0]
        have = int(stations.loc[row, "plugs"])
        lam = float(load["peak_arrivals_per_h"].iloc[k])
        service, cs2 = float(load["service_h"].iloc[k]), float(load["cs2"].iloc[k])
        cap = book.capacity(row)
        managed = book.managed and math.isfinite(cap)
        if managed:
            want = plugs_for_wait_managed(
                lam,
                service * book.power_factor(row),  # the session at full power
                target_min,
                capacity_kw=cap,
                plug_kw=book.plug_kw(row),
                other_kw=book.other_kw(row, have),
                cs2=cs2,
                max_plugs=limit,
            )
        else:
            want = plugs_for_wait(lam, service, target_min, cs2=cs2, max_plugs=limit)
            at_once = float(load["arrivals_at_once"].iloc[k]) if "arrivals_at_once" in load else 0
            if at_once > 0:
                # no more than the cars there at once in the run: a CHAdeMO hotel with ten
                # slow winter sessions "needed 32 plugs" from its busiest hour's Erlang C
                want = min(want, max(have + 1, int(at_once)))
        if "misses" in load:
            want = max(want, have + 1)  # its waits missed with ``have``: one more at least
        room = book.room(row)
        row_cap = int(caps[row])  # max_plugs, or the bay class's max_bays if smaller
        bound = max(have, min(row_cap, have + int(room))) if math.isfinite(room) else row_cap
        over = want > bound
        grid_held = math.isfinite(room) and have + room < row_cap
        if over:
            if grid_held or managed:
                bound_ids.append(str(sid))
            full_ids.append(str(sid))
        need = want
        want = min(want, bound)
        extra = max(0, want - have)
        cost = float(costs[row])
        if budget_left is not None:
            while extra > 0 and (
                spent + up + extra * cost + book.upgrade_cost(row, extra) > budget_left
            ):
                extra -= 1
        if over or have + extra < want:
            # the id too: corridor sites share names ("KAZ06 roadside"), and the verdict
            # keeps one record per station
            wait = float(load["wait_p95_min"].iloc[k]) if "wait_p95_min" in load else math.nan
            row_fields = tuple(fields[row])
            beyond = ("grid" if grid_held else cap_kind(row_fields)) if over else None
            got = have + extra
            capped.append(
                CappedStation(
                    station_id=str(sid),
                    name=station_name(stations.loc[row, "name"], str(sid))
                    if "name" in stations
                    else None,
                    needs=int(need),
                    has=have,
                    # below its limit: the budget stops it
                    limit="budget" if got < want else (beyond or "plug_cap"),
                    over=beyond,
                    cap=row_cap,
                    cap_fields=row_fields,
                    wait_p95_min=wait if math.isfinite(wait) else None,
                    lookahead=limit,
                    budget_stops_at=got if got < want else None,
                    grid_kw=float(cap) if over and (grid_held or managed) else None,
                    grid_plugs=int(bound) if over and grid_held else None,
                    managed=bool(over and managed and not grid_held),
                )
            )
        if extra <= 0:
            continue
        up += book.upgrade_cost(row, extra)
        book.add(row, extra)
        stations.loc[row, "plugs"] = have + extra
        stations.loc[row, "added_plugs"] += extra
        spent += extra * cost
        added += extra
    return PlugSizing(stations, spent, added, capped, bound_ids, full_ids)


def add_plugs(
    stations: pd.DataFrame,
    per_station: pd.DataFrame,
    target_min: float,
    *,
    plug_cost: float,
    max_plugs: int,
    budget_left: float | None,
    book: SiteBook | None = None,
    bay_caps: Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, float, int]:
    """One more plug at every station whose own p95 wait misses the target, worst first,
    within the row's plug cap (:func:`plug_caps`), the site's grid room and the budget
    (plugs and upgrades)."""
    stations = stations.copy()
    book = book or SiteBook(None)
    costs = unit_plug_costs(stations, plug_cost)
    caps = plug_caps(stations, max_plugs, bay_caps)
    bad = per_station[per_station["wait_p95_min"] > target_min].sort_values(
        "wait_p95_min", ascending=False
    )
    spent, up, added = 0.0, 0.0, 0
    for sid in bad["station_id"]:
        row = stations.index[stations["station_id"] == sid]
        if len(row) == 0 or stations.loc[row[0], "plugs"] >= caps[row[0]] or book.room(row[0]) < 1:
            continue
        more = book.upgrade_cost(row[0], 1)
        cost = float(costs[row[0]])
        if budget_left is not None and spent + up + cost + more > budget_left:
            break
        stations.loc[row[0], "plugs"] += 1
        stations.loc[row[0], "added_plugs"] += 1
        book.add(row[0], 1)
        spent += cost
        up += more
        added += 1
    return stations, spent, added
