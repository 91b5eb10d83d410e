"""City strategy of the optimisation step: demand as weighted nodes, travel time to the
candidate sites, and the configured city model (MCLP, p-median, set cover, capacitated)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from planner.siting import MCLP, Capacitated, PMedian, SetCover
from planner.siting._model import SitingModel
from planner.study.optimize import SESSION_H, StudyOptimizer
from planner.study.sizing import max_load_for_wait

__all__ = ["CityOptimizer"]

logger = logging.getLogger(__name__)


class CityOptimizer(StudyOptimizer):
    """Sites stations for unserved demand nodes with the study's city model.

    Coverage is "the trip's origin lies within ``model.threshold_min`` of an open station".
    """

    #: (arguments, matrix) of the last :meth:`_cost_matrix` call while the coverage curve
    #: runs (None otherwise: the design rounds solve other demand each time)
    _last_cost: tuple[tuple[bytes, bytes, float | None], np.ndarray] | None = None
    _keep_cost = False

    @property
    def threshold_s(self) -> float:
        """The coverage threshold in seconds of travel time."""
        return self.cfg.model.threshold_min * 60.0

    def solve_sites(
        self,
        unserved: pd.DataFrame,
        fixed: pd.DataFrame,
        n_sites: int | None,
        budget_left: float | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._solve(self.cfg.model.kind, unserved, fixed, n_sites, budget_left)

    def coverage_measure(self) -> str:
        return (
            f"trip origins within {self.threshold_s / 60:g} min (free-flow) of a station, "
            "whatever its connectors"
        )

    def coverage_share(self, stations: pd.DataFrame) -> float:
        dem = self.all_demand().groupby("node")["weight"].sum()
        if len(stations) == 0:
            return 0.0
        tt = self.net.travel_time_matrix(
            dem.index.to_numpy(), stations["node"].to_numpy(), cutoff=self.threshold_s
        )
        covered = np.isfinite(tt).any(axis=1)
        return float(dem.to_numpy()[covered].sum() / dem.sum())

    def coverage_curve(
        self, existing: pd.DataFrame, *, max_new: int | None = None, points: int = 15
    ) -> pd.DataFrame:
        """Covered share vs new stations (0..max_new), each point an optimal MCLP for the
        whole demand with the existing stations fixed open (whatever the study's model).

        The shares are :meth:`coverage_share`'s, read from one travel-time matrix from the
        demand nodes to the existing stations and every candidate (an entry does not
        depend on the other columns asked for: the searches run from the demand nodes);
        every point's MCLP solves the same cost matrix, computed once
        (:meth:`_cost_matrix`)."""
        dem = self.all_demand()
        weights = dem.groupby("node")["weight"].sum()
        w, total = weights.to_numpy(), weights.sum()
        cols = np.r_[
            existing["node"].to_numpy(dtype=np.int64),
            self.candidates["node"].to_numpy(dtype=np.int64),
        ]
        self._keep_cost = True  # every point solves the same matrix
        try:
            # (kept: with no candidate open already it is also every point's MCLP matrix)
            reach = np.isfinite(self._cost_matrix(weights.index.to_numpy(), cols, self.threshold_s))

            def share(columns: np.ndarray) -> float:
                if len(columns) == 0:
                    return 0.0
                return float(w[reach[:, columns].any(axis=1)].sum() / total)

            n_ex = len(existing)
            rows = [
                {"n_stations": n_ex, "new_stations": 0, "coverage_share": share(np.arange(n_ex))}
            ]
            for p in self.curve_counts(max_new, 10, points):  # one MCLP solve per point
                chosen, _ = self._solve("mclp", dem, existing, p, None, with_plugs=False)
                rows.append(
                    {
                        "n_stations": n_ex + len(chosen),
                        "new_stations": len(chosen),
                        "coverage_share": share(np.r_[np.arange(n_ex), n_ex + chosen]),
                    }
                )
        finally:
            self._keep_cost, self._last_cost = False, None
        return pd.DataFrame(rows)

    # ----------------------------------------------------------------- internals
    def _solve(
        self,
        kind: str,
        unserved: pd.DataFrame,
        fixed: pd.DataFrame,
        n_sites: int | None,
        budget_left: float | None,
        *,
        with_plugs: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Demand nodes x (fixed stations + candidates still to open) travel times -> model
        ``kind``; returns positions in :attr:`candidates` and plugs per chosen site (one
        each with ``with_plugs=False``, for callers that use only the sites).

        A candidate whose id is already a fixed station (opened in an earlier design round)
        is left out: the design loop keeps no new station under a taken id, so a column for
        it would let a model count on a site (and, in the capacitated model, on plugs beyond
        ``max_plugs`` at that node) the plan never gets. ``n_sites`` is capped at the
        candidates left."""
        cfg = self.cfg
        fixed_ids = fixed["station_id"].astype(str).tolist()
        free = np.flatnonzero(~self.candidates["site_id"].astype(str).isin(fixed_ids).to_numpy())
        cand = self.candidates.iloc[free]
        if kind in ("mclp", "pmedian") and "full" in fixed:
            # a station the design loop found full (its need beyond its plug cap or grid)
            # covers none of the demand left: that demand is its overflow, so the model
            # sites for it elsewhere (the spill); its id stays taken. The capacitated model
            # counts the plugs itself; the set cover must cover every demand row, and the
            # overflow of a node only the full station reaches would make it infeasible.
            is_full = fixed["full"].fillna(False).astype(bool).to_numpy()
            # (nor a candidate on its node: that would be more plugs at the same place)
            keep = ~cand["node"].isin(fixed["node"].to_numpy()[is_full]).to_numpy()
            free, cand = free[keep], cand[keep]
            fixed = fixed[~is_full]
            fixed_ids = fixed["station_id"].astype(str).tolist()
        if len(free) == 0:
            logger.info(
                "siting: every candidate site is open already (or on a full station's node); "
                "no new site"
            )
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=int)
        if n_sites is not None and n_sites > len(free):
            if kind in ("mclp", "pmedian"):  # (set cover and capacitated do not take it)
                logger.info(
                    "siting: %d new sites asked for, %d candidates not yet open: capped",
                    n_sites,
                    len(free),
                )
            n_sites = len(free)
        if n_sites == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=int)
        dem = unserved.groupby("node")["weight"].sum()
        dem_nodes = dem.index.to_numpy(dtype=np.int64)
        cols = np.r_[fixed["node"].to_numpy(dtype=np.int64), cand["node"].to_numpy(dtype=np.int64)]
        n_fixed = len(fixed)
        cutoff = self.threshold_s if kind in ("mclp", "cover", "capacitated") else None
        cost = self._cost_matrix(dem_nodes, cols, cutoff)
        site_cost = np.r_[np.zeros(n_fixed), (cand["site_cost"] + cand["plug_cost"]).to_numpy()]
        labels = np.array(fixed_ids + cand["site_id"].astype(str).tolist(), dtype=object)
        common = dict(fixed_open=np.arange(n_fixed), site_labels=labels)
        model: SitingModel
        if kind == "mclp":
            model = MCLP.from_cost_matrix(
                cost,
                dem.to_numpy(),
                threshold=self.threshold_s,
                p=n_sites,
                budget=budget_left,
                candidate_costs=site_cost,
                **common,
            )
        elif kind == "pmedian":
            p = n_sites or cfg.model.p
            assert p is not None  # the schema requires p (or a budget) for the p-median
            p = min(p, len(free))
            model = PMedian.from_cost_matrix(cost, dem.to_numpy(), p=p, **common)
        elif kind == "cover":
            model = SetCover.from_cost_matrix(
                cost,
                dem.to_numpy(),
                threshold=self.threshold_s,
                coverage=cfg.model.coverage_target,
                candidate_costs=site_cost,
                **common,
            )
        elif kind == "capacitated":
            model = self._capacitated(cost, dem, fixed, cand, budget_left, labels)
        else:  # pragma: no cover - the config schema admits no other kind
            raise ValueError(f"unknown city model kind {kind!r}")
        res = model.solve(**self.solve_options())
        model.check(res)  # independent recomputation of objective and constraints
        self.record(res)
        cols_new = np.asarray(res.selected, dtype=np.int64) - n_fixed
        cols_new = cols_new[cols_new >= 0]
        chosen = free[cols_new]  # positions in self.candidates
        if res.plugs is not None:  # the capacitated model decides the plugs itself
            return chosen, np.maximum(res.plugs[cols_new + n_fixed], 1)
        if not with_plugs:
            return chosen, np.ones(len(chosen), dtype=int)
        plugs = self._plugs_by_nearest(cand["node"].to_numpy()[cols_new], dem_nodes, dem.to_numpy())
        return chosen, plugs

    def _cost_matrix(
        self, dem_nodes: np.ndarray, cols: np.ndarray, cutoff: float | None
    ) -> np.ndarray:
        """Travel times from ``dem_nodes`` to ``cols`` (``inf`` beyond ``cutoff``). While the
        coverage curve runs, the last matrix is kept for the next call with the same
        arguments (every point solves the same one), read-only: a model that wrote into it
        would change the next."""
        dem_nodes = np.asarray(dem_nodes, dtype=np.int64).ravel()  # (bytes are the key)
        cols = np.asarray(cols, dtype=np.int64).ravel()
        key = (dem_nodes.tobytes(), cols.tobytes(), cutoff)
        if self._last_cost is not None and self._last_cost[0] == key:
            return self._last_cost[1]
        cost = self.net.travel_time_matrix(dem_nodes, cols, cutoff=cutoff)
        if self._keep_cost:
            cost.flags.writeable = False
            self._last_cost = (key, cost)
        return cost

    def service_utilisation(self) -> float:
        """Plug utilisation the capacitated model may plan for: with a wait target, what
        Erlang C allows a mid-size station (half the plug cap, at least 2 plugs) for
        30-minute sessions (:mod:`planner.study.sizing`; e.g. 34 % at 3 plugs for a
        10-minute p95); without one, ``model.target_utilisation``. The capacitated model is
        linear in plugs, so one utilisation stands for the queueing curve; the design loop
        then re-sizes every station from its simulated queue."""
        target = self.cfg.targets.wait_p95_min
        if target is None:
            return float(self.cfg.model.target_utilisation)
        c = max(2, self.cfg.candidates.max_plugs // 2)
        return max_load_for_wait(c, SESSION_H, target) * SESSION_H / c

    def _plugs_by_nearest(
        self, sites_nodes: np.ndarray, dem_nodes: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Plugs per new site from the demand it is nearest to (see :meth:`plugs_from_load`)."""
        if len(sites_nodes) == 0:
            return np.zeros(0, dtype=int)
        tt = self.net.travel_time_matrix(dem_nodes, sites_nodes)
        nearest = np.argmin(np.where(np.isfinite(tt), tt, np.inf), axis=1)
        return self.plugs_from_load(
            np.bincount(nearest, weights=weights, minlength=len(sites_nodes))
        )

    def _grid_arrays(self, fixed: pd.DataFrame, cand: pd.DataFrame) -> dict[str, np.ndarray | None]:
        """Grid capacity (kW) and upgrade price per column (fixed stations, then candidates):
        the candidates' own (planner/study/grid.py); fixed stations are connected already
        (no limit on their existing plugs; the model keeps capacity >= their draw) and may
        be upgraded at the study's price. Managed charging lifts the plug limit (the plugs'
        power is throttled on the final plan instead)."""
        cfg = self.cfg
        if cfg.grid.managed_charging:
            return {"grid_kw": None, "upgrade_cost_per_kw": None}
        n_fixed = len(fixed)
        price = cfg.grid.upgrade_cost_per_kw
        if "grid_kw" in cand:
            kw = cand["grid_kw"].to_numpy(dtype=float)
            up = cand["upgrade_cost_per_kw"].to_numpy(dtype=float)
        else:
            kw = np.full(len(cand), cfg.candidates.grid_kw or np.inf)
            up = np.full(len(cand), np.nan if price is None else price)
        base = cfg.candidates.grid_kw if cfg.candidates.grid_kw is not None else np.inf
        return {
            "grid_kw": np.r_[np.full(n_fixed, base), kw],
            "upgrade_cost_per_kw": np.r_[np.full(n_fixed, np.nan if price is None else price), up],
        }

    def _capacitated(
        self,
        cost: np.ndarray,
        dem: pd.Series,
        fixed: pd.DataFrame,
        cand: pd.DataFrame,
        budget_left: float | None,
        labels: np.ndarray,
    ) -> Capacitated:
        """Capacitated siting for the study: demand as plug-hours per hour in the busiest hour
        (trips x the peak hour's share x a 30 min session / days), existing plugs kept;
        ``cand``: the candidates still to open (:meth:`_solve`)."""
        cfg = self.cfg
        load = (
            dem.to_numpy(dtype=float)
            / max(1, cfg.simulation.days)
            * self.peak_hour_share()
            * SESSION_H
        )
        n_fixed = len(fixed)
        existing = np.r_[
            fixed["plugs"].to_numpy(dtype=np.int64), np.zeros(len(cand), dtype=np.int64)
        ]
        max_plugs = np.maximum(
            np.full(existing.size, cfg.candidates.max_plugs, dtype=np.int64), existing
        )
        kw = np.r_[
            fixed["power_kw"].to_numpy(dtype=float)
            if "power_kw" in fixed
            else np.full(n_fixed, cfg.candidates.power_kw),
            cand["power_kw"].to_numpy(dtype=float),
        ]
        site = np.r_[np.zeros(n_fixed), cand["site_cost"].to_numpy(dtype=float)]
        plug = np.r_[
            np.full(n_fixed, cfg.candidates.plug_cost), cand["plug_cost"].to_numpy(dtype=float)
        ]
        return Capacitated.from_cost_matrix(
            cost,
            load,
            threshold=self.threshold_s,
            max_plugs=max_plugs,
            site_costs=site,
            plug_costs=plug,
            plug_kw=kw,
            **self._grid_arrays(fixed, cand),
            existing_plugs=existing,
            fixed_open=np.arange(n_fixed),
            utilisation=self.service_utilisation(),
            coverage=cfg.model.coverage_target,
            budget=budget_left,
            site_labels=labels,
        )
