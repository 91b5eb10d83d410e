"""Staged flow-refuelling location: the corridor's look-ahead rollout.

:class:`StagedFRLM` is the multi-period covering model of :mod:`planner.siting.multiperiod`
with the flow-refuelling location model's rows: an OD flow of a stage is refuelled when, for
every arc of its round trip ``o -> d -> o``, an open site lies at most ``R`` behind the arc's
end (the arc-cover formulation of Capar & Kuby, "An efficient formulation of the flow
refueling location model for alternative-fuel stations", *IIE Transactions* 44 (2012)
622-636; the cover sets come from :func:`planner.siting.frlm.arc_cover.path_cover_sets`
under the same ``short_trips`` / ``origin_charge`` conventions as :class:`planner.siting.FRLM`).
So a site opened in a stage stays open, each stage has a budget and/or a number of new
sites, later capex is discounted to break ties, and the myopic plan's regret is measured
against the look-ahead one, as for cities.

Every flow carries its own range: a stage's fleet or temperature (or a winter scenario)
changes the range and so which flows a set of stations refuels. :meth:`StagedFRLM.check`
recomputes every stage's refuelled flow with the tank rule of the independent checker
(:mod:`planner.siting.checker`), which does not use the cover sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from planner._errors import ModelInputError
from planner.siting.checker import round_trip_ok
from planner.siting.frlm.arc_cover import path_cover_sets
from planner.siting.frlm.conventions import ORIGIN_CHARGE, SHORT_TRIPS
from planner.siting.multiperiod import StagedCover

__all__ = ["StagedFRLM"]


class StagedFRLM(StagedCover):
    """Multi-period FRLM (see the module docstring); build with :meth:`from_paths`."""

    @classmethod
    def from_paths(
        cls,
        route_km: list[np.ndarray],
        site_km: list[np.ndarray],
        site_idx: list[np.ndarray],
        flows: np.ndarray,
        stage: np.ndarray,
        *,
        n_sites: int,
        n_stages: int,
        range_km: float | np.ndarray,
        site_costs: np.ndarray,
        budgets: np.ndarray | None = None,
        max_new: np.ndarray | None = None,
        years: np.ndarray | None = None,
        discount_rate: float = 0.05,
        fixed_open: np.ndarray | None = None,
        short_trips: str = "free",
        origin_charge: str = "half",
    ) -> StagedFRLM:
        """Build from the flows of every stage, each a route with its candidate sites.

        Parameters
        ----------
        route_km, site_km, site_idx : list of numpy.ndarray
            Per flow, as in :meth:`planner.siting.FRLM.from_paths`: the cumulative km of its
            route's nodes, and the km positions and column indices of the sites on it.
        flows : (q,) array
            Weight (trips) of each flow.
        stage : (q,) array of int
            The stage (0-based) each flow belongs to; the same OD pair may appear in
            several stages with different weights.
        n_sites, n_stages : int
            Numbers of site columns and of stages.
        range_km : float or (q,) array
            Driving range each flow is planned for.
        site_costs : (n_sites,) array
            Capital cost of opening each site (budgets and the discount tie-break).
        budgets, max_new : (n_stages,) array, optional
            Capital budget and most new sites of each stage (``inf`` or omitted: none).
        years, discount_rate, fixed_open
            As in :meth:`planner.siting.multiperiod.StagedMCLP.from_cost_matrix`.
        short_trips, origin_charge : str
            The FRLM conventions (:class:`planner.siting.FRLM`).
        """
        f = np.asarray(flows, dtype=float)
        q = f.size
        st = np.asarray(stage, dtype=np.int64)
        rng = np.broadcast_to(np.asarray(range_km, dtype=float), (q,)).copy()
        if not (len(route_km) == len(site_km) == len(site_idx) == q == st.size):
            raise ModelInputError(
                f"StagedFRLM: {q} flows need as many routes, site lists and stages "
                f"(got {len(route_km)}, {len(site_km)}/{len(site_idx)}, {st.size})"
            )
        if not (np.isfinite(rng).all() and (rng > 0).all()):
            raise ModelInputError(f"StagedFRLM: ranges must be positive, got {np.unique(rng)}")
        if short_trips not in SHORT_TRIPS or origin_charge not in ORIGIN_CHARGE:
            raise ModelInputError(
                f"StagedFRLM: short_trips in {SHORT_TRIPS}, origin_charge in {ORIGIN_CHARGE}; "
                f"got {short_trips!r}, {origin_charge!r}"
            )
        for k, idx in enumerate(site_idx):
            idx = np.asarray(idx)
            if idx.size and (idx.min() < 0 or idx.max() >= n_sites):
                raise ModelInputError(f"StagedFRLM: flow {k} names sites outside 0..{n_sites - 1}")
        group_of: dict[frozenset[int], int] = {}
        row_groups: list[np.ndarray] = [np.empty(0, np.int64)] * q
        for r in np.unique(rng):  # the cover sets depend on the range: once per range
            who = np.flatnonzero(rng == r)
            sets = path_cover_sets(
                [np.asarray(route_km[i], float) for i in who],
                [np.asarray(site_km[i], float) for i in who],
                [np.asarray(site_idx[i], np.int64) for i in who],
                float(r),
                short_trips=short_trips,
                origin_charge=origin_charge,
            )
            for i, s in zip(who, sets, strict=True):
                if s is not None:  # None: refuelled without any station
                    row_groups[i] = np.array([group_of.setdefault(g, len(group_of)) for g in s])
        rows, cols = [], []
        for g, k in group_of.items():
            rows += [k] * len(g)
            cols += sorted(g)
        groups = sparse.csr_matrix(
            (np.ones(len(rows), dtype=bool), (rows, cols)), shape=(len(group_of), n_sites)
        )
        raw: dict[str, Any] = cls._raw(
            groups,
            row_groups,
            st,
            f,
            n_stages=n_stages,
            site_costs=np.asarray(site_costs, dtype=float),
            budgets=np.full(n_stages, np.inf) if budgets is None else np.asarray(budgets, float),
            max_new=max_new,
            years=years,
            discount_rate=discount_rate,
            fixed_open=fixed_open,
            name="StagedFRLM",
        )
        raw.update(
            route_km=[np.asarray(x, float) for x in route_km],
            site_km=[np.asarray(x, float) for x in site_km],
            site_idx=[np.asarray(x, np.int64) for x in site_idx],
            range_km=rng,
            short_trips=short_trips,
            origin_charge=origin_charge,
        )
        return cls(raw)

    def refuelled(self, open_mask: np.ndarray) -> np.ndarray:
        """Per flow, whether the tank rule of the independent checker refuels its round
        trip with the ``open_mask`` sites open (no cover set used)."""
        raw = self.raw
        out = np.zeros(raw["row_weight"].size, dtype=bool)
        for i, (rkm, km, idx) in enumerate(
            zip(raw["route_km"], raw["site_km"], raw["site_idx"], strict=True)
        ):
            out[i] = round_trip_ok(
                rkm,
                km[open_mask[idx]] if idx.size else km,
                float(raw["range_km"][i]),
                short_trips=raw["short_trips"],
                origin_charge=raw["origin_charge"],
            )
        return out

    def recheck_covered(self, stage: int, open_mask: np.ndarray) -> float:
        """Refuelled flow of ``stage`` by the tank rule (independent of the cover sets)."""
        hit = self.refuelled(open_mask) & (self.raw["row_stage"] == stage)
        return float(self.raw["row_weight"][hit].sum())
