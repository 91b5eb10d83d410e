"""A plan within grid capacity, site by site: the final fit and the design loop's book.

A **site** is one grid connection. Most stations are one site each; truck bay classes
(``candidates.truck_bays``, :mod:`planner.study.optimize_corridor`) put several station rows
(``<site>:<class>``, one per class) on one connection, so capacity is compared with the
site's **total** draw, the sum over its rows of ``plugs x kW per plug`` (``bay_draw_kw`` per
bay where the class gives one, else the plug's power).

* :func:`fit_plan` fits a whole plan (docs/grid.md): above capacity, with
  ``grid.managed_charging`` every plug of the site is throttled by the same factor
  ``capacity / draw``; else with an upgrade price the missing kW are bought (shared over the
  site's rows by their draw); else plugs are removed (from the row drawing most per plug,
  each row keeping one) until the site fits, the last one throttled when even one plug per
  row exceeds it. The result is checked site by site with
  :func:`planner.siting.checker.grid_violations`.
* :class:`LoopGrid` gives the design loop (:mod:`planner.study.loop`) that fit, and
  :class:`SiteBook` the room and upgrade price of every plug it adds, so the loop sizes plugs
  within each site's capacity instead of having them cut afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner._errors import CheckerError
from planner.config.study import StudyConfig
from planner.siting.checker import grid_violations

__all__ = [
    "LoopGrid",
    "PlanFit",
    "SiteBook",
    "fit_plan",
    "loop_grid",
    "site_count",
    "site_keys",
    "unit_plug_costs",
]

#: Internal columns of a fitted table (dropped before a plan is reported).
FIT_COLUMNS = ["grid_site", "grid_price", "grid_plug_kw", "grid_plug_cost"]


def unit_plug_costs(stations: pd.DataFrame, default: float | pd.Series) -> pd.Series:
    """What one plug costs at each row: its truck bay class's own cost (``bay_cost``,
    :meth:`planner.study.optimize_corridor.CorridorOptimizer.stations_frame`) where it has
    one, else ``default`` (``candidates.plug_cost``, or a per-row cost). One rule for the
    grid fit's refunds, the design loop's plug money and the selected table's capex, so
    the study's capex is that table's sum (the loop had refunded trimmed CCS bays at the
    MCS price: 82.5 M against 82.15 M)."""
    base = (
        default
        if isinstance(default, pd.Series)
        else pd.Series(float(default), index=stations.index, dtype=float)
    )
    if "bay_cost" not in stations:
        return base
    return stations["bay_cost"].astype(float).fillna(base)


def site_keys(stations: pd.DataFrame) -> pd.Series:
    """The grid connection of every station row: ``<site>`` for a truck bay row
    ``<site>:<class>`` (a non-empty ``plug_class``), else the station's own id."""
    ids = stations["station_id"].astype(str)
    if "plug_class" not in stations:
        return ids
    cls = stations["plug_class"]
    bay = cls.notna() & (cls.astype(str).str.len() > 0) & (cls.astype(str) != "nan")
    return ids.where(~bay, ids.str.rsplit(":", n=1).str[0])


def site_count(stations: pd.DataFrame) -> int:
    """How many sites (places) ``stations`` holds: a truck site's rows, one per bay class
    (:func:`site_keys`), count once. The design loop's ``new_sites`` and a rollout stage's
    had counted rows: the cargo study's first round read 100 new sites for 50."""
    return int(site_keys(stations).nunique()) if len(stations) else 0


@dataclass
class PlanFit:
    """A plan fitted to grid capacity: the station table (with ``grid_kw`` (the site's
    capacity), ``upgrade_kw``, ``upgrade_cost``, ``rated_kw``, ``managed`` and the
    ``power_kw`` the plugs may draw), whether any station changed (plugs capped or throttled)
    and notes."""

    stations: pd.DataFrame
    changed: bool
    notes: list[str] = field(default_factory=list)

    @property
    def upgrade_cost(self) -> float:
        return float(self.stations["upgrade_cost"].sum())


def _site_terms(
    cfg: StudyConfig, st: pd.DataFrame, candidates: pd.DataFrame
) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Site key, capacity, upgrade price (nan: none), rated draw per plug and plug cost of
    every row."""
    site = site_keys(st)
    default = cfg.candidates.grid_kw if cfg.candidates.grid_kw is not None else math.inf
    dprice = cfg.grid.upgrade_cost_per_kw if cfg.grid.upgrade_cost_per_kw is not None else math.nan
    by_site = candidates.set_index(candidates["site_id"].astype(str)) if len(candidates) else None
    known = site.isin(by_site.index) if by_site is not None else pd.Series(False, index=st.index)
    if by_site is not None and "grid_kw" in by_site:
        cap = site.map(by_site["grid_kw"]).fillna(default).to_numpy(dtype=float)
        price = np.where(known, site.map(by_site["upgrade_cost_per_kw"]), dprice).astype(float)
    else:
        cap, price = np.full(len(st), default), np.full(len(st), dprice)
    if by_site is not None and "plug_cost" in by_site:
        pc = unit_plug_costs(st, site.map(by_site["plug_cost"]).fillna(cfg.candidates.plug_cost))
    else:
        pc = unit_plug_costs(st, cfg.candidates.plug_cost)
    rated = st["power_kw"].to_numpy(dtype=float)
    per_plug = rated
    if "bay_draw_kw" in st:
        per_plug = st["bay_draw_kw"].fillna(st["power_kw"]).to_numpy(dtype=float)
    return site, cap, price, per_plug, pc.to_numpy(dtype=float)


def fit_plan(cfg: StudyConfig, stations: pd.DataFrame, candidates: pd.DataFrame) -> PlanFit:
    """Fit every site of a plan to its grid capacity and check the result.

    Existing stations keep their original plugs connected (capacity at least their draw);
    plugs the design loop added there face the default rule. New stations take their
    candidate site's capacity and price (truck bay rows: their site's). Above capacity (the
    site's total draw): with ``grid.managed_charging`` its plugs' power is throttled by
    ``capacity / draw``; else with an upgrade price the missing kW are bought; else plugs are
    removed until the site fits (one throttled plug per row when even that exceeds it).
    """
    st = stations.copy()
    site, cap, price, per_plug, plug_cost = _site_terms(cfg, st, candidates)
    rated = st["power_kw"].to_numpy(dtype=float)
    plugs = st["plugs"].to_numpy(dtype=np.int64).copy()
    codes, uniq = pd.factorize(site)
    n_sites = len(uniq)
    site_cap = np.full(n_sites, math.inf)
    np.minimum.at(site_cap, codes, cap)  # one capacity per site (its rows share it)
    if "existing" in st:  # original plugs stay connected
        ex = st["existing"].astype(bool).to_numpy()
        added = st["added_plugs"].to_numpy(dtype=np.int64) if "added_plugs" in st else 0
        orig = np.bincount(
            codes, weights=np.where(ex, (plugs - added) * per_plug, 0.0), minlength=n_sites
        )
        site_cap = np.maximum(site_cap, orig)
    site_price = np.full(n_sites, math.nan)
    site_price[codes] = price  # rows of a site share its price
    managed = cfg.grid.managed_charging
    upgradable = ~np.isnan(site_price)
    draw0 = np.bincount(codes, weights=plugs * per_plug, minlength=n_sites)
    over = draw0 > site_cap + 1e-9
    capped = over & ~managed & ~upgradable
    for s in np.flatnonzero(capped):  # remove plugs, largest draw per plug first
        rows = np.flatnonzero(codes == s)
        draw = draw0[s]
        for r in rows[np.argsort(-per_plug[rows], kind="stable")]:
            while draw > site_cap[s] + 1e-9 and plugs[r] > 1:
                plugs[r] -= 1
                draw -= per_plug[r]
    draw = np.bincount(codes, weights=plugs * per_plug, minlength=n_sites)
    throttle = (over & managed) | (capped & (draw > site_cap + 1e-9))
    factor = np.where(throttle, np.minimum(1.0, site_cap / np.maximum(draw, 1e-12)), 1.0)
    power = rated * factor[codes]
    site_up = np.where(over & ~managed & upgradable, draw - site_cap, 0.0)
    share = np.where(draw[codes] > 0, plugs * per_plug / np.maximum(draw[codes], 1e-12), 0.0)
    up_kw = site_up[codes] * share
    st["plugs"] = plugs
    st["rated_kw"] = rated
    st["power_kw"] = power
    st["grid_kw"] = site_cap[codes]
    st["upgrade_kw"] = up_kw
    st["upgrade_cost"] = np.where(up_kw > 0, np.nan_to_num(site_price[codes]) * up_kw, 0.0)
    st["managed"] = power < rated - 1e-9
    st["grid_site"] = site.to_numpy()
    st["grid_price"] = site_price[codes]
    st["grid_plug_kw"] = per_plug
    st["grid_plug_cost"] = plug_cost
    # the checker sees each site's total draw (throttled) against its connection
    v = grid_violations(
        np.ones(n_sites),
        np.bincount(codes, weights=plugs * per_plug * factor[codes], minlength=n_sites),
        site_cap,
        upgrade_kw=site_up,
        upgradable=upgradable,
        labels=np.asarray(uniq, dtype=object),
    )
    if v:
        raise CheckerError("the grid-fitted plan failed the capacity check: " + "; ".join(v))
    notes = []
    if site_up.any():
        notes.append(
            f"Grid: {int((site_up > 0).sum())} site(s) need a connection upgrade, "
            f"{site_up.sum():,.0f} kW in all, costing {st['upgrade_cost'].sum():,.0f} (in capex)."
        )
    cut = plugs < stations["plugs"].to_numpy()
    if cut.any():
        notes.append(
            f"Grid: plugs capped by grid capacity at {int(cut.sum())} station(s) "
            "(no upgrade price given)."
        )
    if st["managed"].any() and managed:
        notes.append(
            f"Managed charging: {int(st['managed'].sum())} station(s) throttle their plugs so "
            "plugs x kW stays within grid capacity (per-plug power lowered in the simulation)."
        )
    elif st["managed"].any():
        notes.append(
            f"Grid: {int(st['managed'].sum())} station(s) throttled: even one plug (one per bay "
            "class) draws more than their site's capacity (no upgrade price given)."
        )
    return PlanFit(st, bool(cut.any() or st["managed"].any()), notes)


@dataclass
class LoopGrid:
    """What the design loop needs of the grid: ``fit(stations)`` (the plan as
    :func:`fit_plan` fits it) and whether charging is managed."""

    fit: Callable[[pd.DataFrame], PlanFit]
    managed: bool = False


def loop_grid(cfg: StudyConfig, candidates: pd.DataFrame) -> LoopGrid:
    """The study's grid rule for :func:`planner.study.loop.closed_loop`."""
    return LoopGrid(lambda st: fit_plan(cfg, st, candidates), cfg.grid.managed_charging)


class SiteBook:
    """Running grid account of a plan while the loop adds plugs: each site's rated draw,
    capacity and upgrade price (from a :func:`fit_plan` table, aligned with the stations).

    ``room(row)`` is how many plugs the row may still add without an upgrade it cannot buy
    (unbounded where the site can be upgraded, charging is managed or there is no limit);
    ``upgrade_cost(row, n)`` what ``n`` more plugs cost in upgrades; ``add(row, n)`` books them.
    """

    def __init__(self, fitted: pd.DataFrame | None, *, managed: bool = False) -> None:
        self.managed = managed
        self.spent = 0.0  # upgrade cost booked by add()
        if fitted is None:
            self.site: dict = {}
            return
        self.site = dict(zip(fitted.index, fitted["grid_site"], strict=True))
        self.kw = dict(zip(fitted.index, fitted["grid_plug_kw"].astype(float), strict=True))
        g = fitted.groupby("grid_site")
        self.cap = g["grid_kw"].first().to_dict()
        self.price = g["grid_price"].first().to_dict()
        self.draw = (fitted["plugs"] * fitted["grid_plug_kw"]).groupby(fitted["grid_site"]).sum()
        self.draw = self.draw.to_dict()
        self.factor = dict(
            zip(fitted.index, (fitted["power_kw"] / fitted["rated_kw"]).astype(float), strict=True)
        )

    def capacity(self, row) -> float:
        return float(self.cap[self.site[row]]) if row in self.site else math.inf

    def plug_kw(self, row) -> float:
        return self.kw[row] if row in self.site else 0.0

    def other_kw(self, row, plugs: int) -> float:
        """Rated draw of the row's site besides the row's own ``plugs``."""
        if row not in self.site:
            return 0.0
        return float(self.draw[self.site[row]]) - plugs * self.kw[row]

    def power_factor(self, row) -> float:
        """Share of rated power the row's plugs had in the last simulation (managed)."""
        return float(self.factor.get(row, 1.0)) if row in self.site else 1.0

    def upgradable(self, row) -> bool:
        return row in self.site and not math.isnan(self.price[self.site[row]])

    def room(self, row) -> float:
        if row not in self.site or self.managed or self.upgradable(row):
            return math.inf
        cap = self.capacity(row)
        if not math.isfinite(cap):
            return math.inf
        left = cap - float(self.draw[self.site[row]])
        return max(0, math.floor(left / self.kw[row] + 1e-9)) if self.kw[row] > 0 else math.inf

    def upgrade_cost(self, row, n: int) -> float:
        if n <= 0 or self.managed or not self.upgradable(row):
            return 0.0
        s = self.site[row]
        cap, d = self.cap[s], float(self.draw[s])
        more = max(0.0, d + n * self.kw[row] - cap) - max(0.0, d - cap)
        return float(self.price[s]) * more

    def add(self, row, n: int) -> None:
        if row in self.site and n > 0:
            self.spent += self.upgrade_cost(row, n)
            self.draw[self.site[row]] += n * self.kw[row]
