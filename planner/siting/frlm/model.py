"""Flow-refuelling location model (FRLM) for corridors, as a siting-model class."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner._errors import ModelInputError
from planner.siting._base import (
    OPTIMAL,
    SitingResult,
    SolveOptions,
    as_number,
    check_count,
    check_fixed,
    check_site_count,
    float_array,
    labels_array,
    make_result,
)
from planner.siting._model import SitingModel
from planner.siting._validate import check_network, check_per_item, shown
from planner.siting.frlm.conventions import ORIGIN_CHARGE, SHORT_TRIPS

logger = logging.getLogger(__name__)


class FRLM(SitingModel):
    r"""Flow-refuelling location: maximise the OD flow whose round trip can be driven with
    range ``R`` given the open sites (existing ones fixed open), with ``p`` new sites; or,
    with ``p=None``, the fewest new sites refuelling every flow that can be refuelled.

    The arc-cover formulation of Capar & Kuby (2012) on SCIP by default, CP-SAT or HiGHS
    selectable (see
    :mod:`planner.siting.frlm.arc_cover` for the full statement)::

        max  sum_q f_q y_q   s.t.  y_q <= sum_{k in K_qa} x_k  (every flow q, arc a of its cycle)
             sum_{k not in F} x_k <= p ;  x_k = 1 (k in F) ;  x, y binary

    ``K_qa`` holds the sites from which arc ``a`` of the round trip ``o -> d -> o`` is
    reachable within ``R``. The range is a parameter, so the same corridor can be planned
    for a 2013 i-MiEV and for a current EV.

    Two conventions are options (the literature compares models under different ones;
    on the 25-node network they change the refuelled flow and the sites chosen):

    * ``short_trips="free"`` (default): a round trip with ``2L <= R`` needs no station;
      ``"cycle"``: it needs what the round-trip rule asks of every trip (with a half tank,
      one station anywhere on the path, as in Kuby & Lim 2005).
    * ``origin_charge="half"`` (default): the round trip is a cycle with no free charge at
      the origin, so the first station must lie within ``R/2`` of it on a symmetric route
      (Kuby & Lim's half tank); ``"full"``: the vehicle leaves the origin fully charged
      and may return empty (the gap across the origin is not checked).

    The defaults are the behaviour of earlier versions; the independent checker
    (:func:`planner.siting.check_result`) applies the same conventions, read from
    ``raw``.

    An OD pair with no route (an empty ``route_km``: :meth:`networks.RoadNetwork.route_paths`
    returns empty arrays when the destination is unreachable) can never be refuelled: it
    stays in ``total_flow`` but is never covered, and ``details["unreachable_flow"]`` says
    how much flow that is. (Counting it as a 0-km trip would call it refuelled for free.)
    """

    kind = "frlm"
    sense = "max"

    @classmethod
    def from_paths(
        cls,
        route_km,
        site_km,
        site_idx,
        flows,
        *,
        n_sites: int,
        range_km: float,
        p: int | None,
        fixed_open=None,
        site_labels=None,
        short_trips: str = "free",
        origin_charge: str = "half",
    ) -> FRLM:
        """Build from routes given as km positions.

        Parameters
        ----------
        route_km : list of numpy.ndarray
            Cumulative km of every node along each OD route (``0 .. L``); an empty array
            marks a pair with no route (never refuelled).
        site_km, site_idx : list of numpy.ndarray
            Per route, the km positions of the candidate sites on it and their indices.
        flows : array-like
            Flow (trips) of each OD pair.
        n_sites : int
            Number of sites (columns).
        range_km : float
            Driving range R.
        p : int or None
            New sites to open, at most the number of sites not fixed open; ``None`` =
            fewest sites refuelling all refuellable flow.
        fixed_open : array-like of int or bool mask, optional
            Sites open whatever happens (existing stations).
        site_labels : sequence, optional
            Labels for reporting, one per site and all distinct.
        short_trips : {"free", "cycle"}
            Whether a round trip with ``2L <= R`` needs no station (``"free"``, default)
            or follows the round-trip rule like every other trip (``"cycle"``).
        origin_charge : {"half", "full"}
            No free charge at the origin, the round trip a cycle (``"half"``, default), or
            a full charge at the origin and an empty arrival allowed (``"full"``).

        Raises
        ------
        ModelInputError
            Malformed inputs (the message names the argument, the value and the fix),
            repeated ``site_labels`` or ``p`` above the number of candidate sites.
        """
        route_km, site_km, site_idx = (
            _per_route(arg, value)
            for arg, value in (("route_km", route_km), ("site_km", site_km), ("site_idx", site_idx))
        )
        flows = float_array(flows, "flows", expected="one flow (trips) per OD route").ravel()
        if short_trips not in SHORT_TRIPS:
            raise ModelInputError(
                f"FRLM: short_trips must be one of {SHORT_TRIPS}, got {short_trips!r}"
            )
        if origin_charge not in ORIGIN_CHARGE:
            raise ModelInputError(
                f"FRLM: origin_charge must be one of {ORIGIN_CHARGE}, got {origin_charge!r}"
            )
        if len(route_km) != flows.size or len(site_km) != flows.size or len(site_idx) != flows.size:
            raise ModelInputError(
                f"FRLM: {flows.size} flows but {len(route_km)} routes / {len(site_km)} site km "
                f"lists / {len(site_idx)} site index lists; give one of each per OD pair"
            )
        flows = check_per_item(
            flows, flows.size, "FRLM: flows", items="OD pairs", each="OD pair",
            zero="pairs without flow",
        )  # fmt: skip
        fix = "give the driving range in km, e.g. range_km=250"
        range_km = as_number(range_km, "FRLM: range_km", fix=fix)
        if not (math.isfinite(range_km) and range_km > 0):
            raise ModelInputError(
                f"FRLM: range_km must be a positive number, got {range_km!r}; {fix}"
            )
        n_sites = check_count(n_sites, "n_sites", allow_none=False)
        p = check_count(p, "p")
        fixed = check_fixed(fixed_open, n_sites)
        if p is not None:
            check_site_count(p, n_sites - fixed.size, model="FRLM", n_fixed=fixed.size)
        for q, idx in enumerate(site_idx):
            idx = np.asarray(idx)
            if idx.size and (idx.min() < 0 or idx.max() >= n_sites):
                raise ModelInputError(
                    f"FRLM: route {q} names site indices outside 0..{n_sites - 1} "
                    f"({idx[(idx < 0) | (idx >= n_sites)][:5].tolist()}); use site columns "
                    "0..n_sites - 1"
                )
        raw = dict(
            route_km=[np.asarray(r, float) for r in route_km],
            site_km=[np.asarray(s, float) for s in site_km],
            site_idx=[np.asarray(s, np.int64) for s in site_idx],
            flows=flows,
            n_sites=int(n_sites),
            range_km=float(range_km),
            p=p,
            fixed_open=fixed,
            short_trips=short_trips,
            origin_charge=origin_charge,
        )
        return cls(raw, site_labels=labels_array(site_labels, n_sites))

    @classmethod
    def from_network(
        cls,
        network,
        origins,
        destinations,
        flows,
        site_nodes,
        *,
        range_km: float,
        p: int | None,
        fixed_open=None,
        site_labels=None,
        short_trips: str = "free",
        origin_charge: str = "half",
    ) -> FRLM:
        """Build from a :class:`networks.RoadNetwork`: each OD pair drives its fastest route.

        Parameters
        ----------
        network : networks.RoadNetwork
            Road network; ``network.route_paths(origins, destinations)`` gives, per pair,
            the node indices along the fastest route and their cumulative km (from 0).
        origins, destinations : array-like of int
            Node indices of the OD pairs (one destination per origin).
        flows : array-like
            Flow (trips) of each OD pair.
        site_nodes : array-like of int
            Network node of every site (column); a site serves the routes through its node.
        range_km, p, fixed_open, site_labels, short_trips, origin_charge
            As in :meth:`from_paths`.
        """
        check_network(network, ("n_nodes", "route_paths"))
        nodes_f = float_array(site_nodes, "site_nodes", expected="the network node of every site")
        nodes_f = nodes_f.ravel()
        off = nodes_f[(nodes_f < 0) | (nodes_f >= network.n_nodes) | (nodes_f != np.round(nodes_f))]
        if off.size:
            raise ModelInputError(
                f"site_nodes {[int(v) if v.is_integer() else v for v in off[:5].tolist()]} are "
                f"not node indices of the network "
                f"(0..{network.n_nodes - 1}); snap the candidate sites to the network first"
            )
        site_nodes = nodes_f.astype(np.int64)
        check_count(p, "p")  # the scalars before the routes are computed
        paths = network.route_paths(np.asarray(origins), np.asarray(destinations))
        route_km, site_km, site_idx = [], [], []
        for nodes, km in paths:
            route_km.append(km)
            pos = {int(n): i for i, n in enumerate(nodes)}
            hits = [(pos[int(s)], j) for j, s in enumerate(site_nodes) if int(s) in pos]
            site_km.append(np.array([km[i] for i, _ in hits], dtype=float))
            site_idx.append(np.array([j for _, j in hits], dtype=np.int64))
        return cls.from_paths(
            route_km,
            site_km,
            site_idx,
            flows,
            n_sites=site_nodes.size,
            range_km=range_km,
            p=p,
            fixed_open=fixed_open,
            site_labels=site_labels,
            short_trips=short_trips,
            origin_charge=origin_charge,
        )

    def _solve(self, options: SolveOptions, started: float) -> SitingResult:
        from planner.siting.frlm.arc_cover import solve_frlm

        r = self.raw
        # a pair with no route cannot be refuelled: the solver sees no flow on it, and its
        # covered flag is cleared below (the formulation alone would read it as a 0-km trip)
        no_route = np.array([len(km) == 0 for km in r["route_km"]], dtype=bool)
        sol = solve_frlm(
            r["route_km"],
            r["site_km"],
            r["site_idx"],
            np.where(no_route, 0.0, r["flows"]),
            r["n_sites"],
            range_km=r["range_km"],
            fixed=r["fixed_open"],
            p=r["p"],
            time_limit_s=max(0.01, self._deadline(options, started) - time.monotonic()),
            threads=options.threads,
            seed=options.seed,
            backend="scip" if options.solver == "auto" else options.solver,
            short_trips=r["short_trips"],
            origin_charge=r["origin_charge"],
        )
        status = OPTIMAL if sol.status == "OPTIMAL" else "FEASIBLE"
        flags = np.asarray(sol.covered, dtype=bool) & ~no_route
        total = float(r["flows"].sum())
        covered = float(r["flows"][flags].sum())
        if no_route.any():
            logger.warning(
                "FRLM: %d OD pairs (flow %.6g) have no route on the network; they count in "
                "the total flow and are never refuelled",
                int(no_route.sum()),
                float(r["flows"][no_route].sum()),
            )
        details = dict(
            sol.details,
            refuelled_flow=covered,
            total_flow=total,
            unreachable_flow=float(r["flows"][no_route].sum()),
            coverage_fraction=covered / total if total else 1.0,
            new_sites=int(sol.selected.size),
            covered=flags,
        )
        sense = "max" if r["p"] is not None else "min"
        return make_result(
            self.kind,
            status=status,
            sense=sense,
            selected=sol.selected,
            fixed_open=r["fixed_open"],
            objective=sol.objective,
            bound=sol.best_bound,
            solver=sol.details.get("backend", "cp-sat"),
            started=started,
            options=options,
            labels=self.site_labels,
            details=details,
        )


def _per_route(arg: str, value: Any) -> Sequence[Any] | np.ndarray:
    """``value`` as one entry per OD route: a list, tuple or array as it is, a pandas Series
    as the list of its values (in order); anything else is refused naming ``arg``."""
    if isinstance(value, pd.Series):
        return value.tolist()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise ModelInputError(
            f"FRLM: {arg} must be a list with one array per OD route, got "
            f"{type(value).__name__} {shown(value)}; pass e.g. [np.array([0.0, 12.5])]"
        )
    return value
