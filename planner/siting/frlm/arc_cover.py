r"""Flow-refuelling location model, arc-cover formulation (Capar & Kuby 2012), solved on
SCIP by default (HiGHS or CP-SAT selectable; see :func:`solve_frlm`).

Each OD flow q travels the round trip o -> d -> o, seen as a cycle of length 2L. A site at
km s along the route stands on the cycle at s and at 2L - s. The trip is refuellable when
every arc a of the cycle can be reached from an open site at most R behind its end:

.. math::

    \max \sum_q f_q y_q \quad \text{s.t.}\quad y_q \le \sum_{k \in K_{qa}} x_k \;\; \forall q, a;
    \quad \sum_{k \notin F} x_k \le p; \quad x_k = 1 \;\; \forall k \in F; \quad x, y \in \{0,1\}

(``p`` new sites; ``F`` existing stations). Without ``p`` the model finds the fewest new
sites refuelling every flow that all sites together could refuel:
:math:`\min \sum_{k \notin F} x_k` with :math:`y_q = 1` for those flows. Arcs are merged
per distinct :math:`K_{qa}` set (a path has few distinct ones), and a set containing a
fixed-open site is dropped because it is always satisfied.

Two conventions decide which trips need which stations (the literature uses both ways of
each; they are :data:`SHORT_TRIPS` and :data:`ORIGIN_CHARGE`, see :func:`path_cover_sets`):

* ``short_trips="free"`` (default): a round trip with :math:`2L \le R` needs no station
  (one charge at home covers it); ``"cycle"``: it follows the same rule as every other
  trip, which with a half tank means one station anywhere on its path (Kuby & Lim 2005).
* ``origin_charge="half"`` (default): no free charge at the origin; the round trip is a
  cycle of length 2L and every gap between consecutive stations around it, the one
  across the origin included, must be at most R. On a symmetric route this is Kuby &
  Lim's assumption that a vehicle leaves an origin without a station with half a tank
  (the first station must lie within R/2). ``"full"``: the vehicle leaves the origin
  fully charged (home charging) and may come back empty: the origin acts as a station at
  km 0 only, so the gap across the origin is not checked (short trips are then always
  refuellable, whatever ``short_trips`` says).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from planner.siting._backends import integer_scale, new_mip, run_mip
from planner.siting._base import SolveOptions
from planner.siting._interrupt import solve_cpsat
from planner.siting.frlm.conventions import ORIGIN_CHARGE, SHORT_TRIPS
from planner.siting.frlm.greedy import greedy_open

logger = logging.getLogger(__name__)


@dataclass
class FRLMSolution:
    """Result of :func:`solve_frlm`."""

    status: str
    selected: np.ndarray  # indices of new (non-fixed) sites opened
    objective: float  # refuelled flow (max variant) or number of new sites (min variant)
    best_bound: float
    gap: float
    covered: np.ndarray  # bool per flow
    solve_time_s: float
    model: str = "frlm"
    details: dict = field(default_factory=dict)


def path_cover_sets(
    route_km: list[np.ndarray],
    site_km: list[np.ndarray],
    site_idx: list[np.ndarray],
    range_km: float,
    *,
    short_trips: str = "free",
    origin_charge: str = "half",
) -> list[list[frozenset[int]] | None]:
    """For every flow, the distinct sets :math:`K_{qa}` (site indices) of its cycle's arcs.

    ``route_km[q]``: km of every node along route q (0 .. L); ``site_km[q]``/``site_idx[q]``:
    km positions of the candidate sites on it and their indices. An arc ends at every node
    of the cycle; it is covered by a site strictly behind its end and at most R away.
    With ``origin_charge="full"`` the origin is a station at km 0 that is always open, and
    arcs it covers are dropped. ``None`` marks a flow that needs no site: a route of length
    0, a short trip (2L <= R) when ``short_trips="free"``, or every arc covered by the
    origin's charge.
    """
    if short_trips not in SHORT_TRIPS:
        raise ValueError(f"short_trips must be one of {SHORT_TRIPS}, got {short_trips!r}")
    if origin_charge not in ORIGIN_CHARGE:
        raise ValueError(f"origin_charge must be one of {ORIGIN_CHARGE}, got {origin_charge!r}")
    home = origin_charge == "full"
    out: list[list[frozenset[int]] | None] = []
    for rkm, km, idx in zip(route_km, site_km, site_idx, strict=True):
        L = float(rkm[-1]) if len(rkm) else 0.0
        if L <= 1e-12 or (short_trips == "free" and 2 * L <= range_km + 1e-9):
            out.append(None)
            continue
        pos = np.concatenate([km, 2 * L - km, [0.0] if home else []])
        who = np.concatenate([idx, idx, [-1] if home else []]).astype(np.int64)
        ends = np.unique(np.concatenate([rkm[1:], 2 * L - rkm[:-1]]))  # every node, both ways
        back = (ends[:, None] - pos[None, :]) % (2 * L)
        back = np.where(back <= 1e-9, 2 * L, back)  # a site at the arc's end does not cover it
        hit = back <= range_km + 1e-9
        if home:
            hit = hit[~hit[:, -1]]  # arcs the origin's charge covers need no site
        sets = {frozenset(who[row].tolist()) for row in hit}
        out.append(sorted(sets, key=len) if sets else None)
    return out


def solve_frlm(
    route_km,
    site_km,
    site_idx,
    flows,
    n_sites: int,
    *,
    range_km: float,
    fixed: np.ndarray,
    p: int | None,
    time_limit_s: float = 60.0,
    threads: int = 2,
    seed: int = 0,
    backend: str = "scip",
    short_trips: str = "free",
    origin_charge: str = "half",
) -> FRLMSolution:
    """Solve the FRLM (see module docstring) for ``n_sites`` sites (``fixed`` open), under
    the ``short_trips`` / ``origin_charge`` conventions of :func:`path_cover_sets`.

    ``backend`` is ``"scip"`` (default: the arc-cover LP is strong and SCIP's LP-based
    search closes KAZ01 instances CP-SAT leaves at 40-90 % gaps on 2 workers), ``"highs"``
    or ``"cp-sat"``.
    """
    t0 = time.perf_counter()
    flows = np.asarray(flows, dtype=float)
    fixed_set = set(np.asarray(fixed, dtype=np.int64).tolist())
    sets = path_cover_sets(
        route_km,
        site_km,
        site_idx,
        range_km,
        short_trips=short_trips,
        origin_charge=origin_charge,
    )
    always = np.array([s is None for s in sets])
    coverable = np.array([s is None or all(len(k) > 0 for k in s) for s in sets])
    if backend in ("scip", "highs"):
        return _solve_mip(
            sets,
            always,
            coverable,
            flows,
            n_sites,
            fixed_set,
            p,
            range_km,
            backend,
            time_limit_s,
            threads,
            seed,
            t0,
            (short_trips, origin_charge),
        )
    # data -> variables
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{k}") for k in range(n_sites)]
    for k in fixed_set:
        m.add(x[k] == 1)
    y = {}
    zvars: dict[frozenset, cp_model.IntVar] = {}
    for q, s in enumerate(sets):
        if s is None or not coverable[q]:
            continue
        need = [k for k in s if not (k & fixed_set)]
        if not need:
            continue  # fixed sites already refuel it
        y[q] = m.new_bool_var(f"y{q}")
        for ks in need:
            z = zvars.get(ks)
            if z is None:
                z = zvars[ks] = m.new_bool_var("")
                m.add_bool_or([x[k] for k in ks]).only_enforce_if(z)
            m.add_implication(y[q], z)
    base = float(flows[always].sum()) + float(
        sum(flows[q] for q, s in enumerate(sets) if s is not None and coverable[q] and q not in y)
    )
    new_x = [x[k] for k in range(n_sites) if k not in fixed_set]
    # integer objective: ~9 significant digits (exact for integral flows); the rounding error
    # bound is added to the reported bound so it stays valid
    qs = list(y)
    fint, scale, ferr = integer_scale(flows[qs]) if qs else (np.zeros(0, np.int64), 1.0, 0.0)
    if p is not None:
        m.add(sum(new_x) <= p)
        m.maximize(sum(int(c) * y[q] for q, c in zip(qs, fint, strict=True)))
        variant = "max-flow"
    else:
        for v in y.values():
            m.add(v == 1)
        m.minimize(sum(new_x))
        variant = "min-sites"
    # greedy hint: open, one by one, the site in the most unsatisfied sets
    _hint_greedy(m, x, y, sets, fixed_set, p)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    # Full linearization: the FRLM's covering structure is what CP-SAT's LP relaxation
    # exploits (p-site KAZ01 instances stall at large gaps without it). The worker count is
    # the configured one, so parallel batch runs do not oversubscribe the cores.
    solver.parameters.num_workers = int(threads)
    solver.parameters.linearization_level = 2
    solver.parameters.random_seed = int(seed)
    status = solve_cpsat(solver, m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(
            f"FRLM ({variant}) solver status {solver.status_name(status)} after {time_limit_s} s"
        )
    chosen = np.array(
        [k for k in range(n_sites) if k not in fixed_set and solver.value(x[k])], dtype=np.int64
    )
    covered = always | np.array(
        [coverable[q] and (q not in y or bool(solver.value(y[q]))) for q in range(len(sets))]
    )
    if p is not None:
        obj = base + float(sum(flows[q] for q in qs if solver.value(y[q])))
        bound = base + solver.best_objective_bound / scale + ferr
    else:
        obj, bound = float(chosen.size), float(solver.best_objective_bound)
    gap = abs(bound - obj) / max(abs(obj), 1e-9)
    return FRLMSolution(
        status=solver.status_name(status),
        selected=chosen,
        objective=obj,
        best_bound=bound,
        gap=gap,
        covered=covered,
        solve_time_s=time.perf_counter() - t0,
        details={
            "variant": variant,
            "flows": len(sets),
            "coverable": int(coverable.sum()),
            "arc_sets": len(zvars),
            "range_km": range_km,
            "short_trips": short_trips,
            "origin_charge": origin_charge,
        },
    )


def _hint_greedy(m, x, y, sets, fixed_set, p) -> None:
    open_ = greedy_open(sets, fixed_set, p, len(x))
    for k, v in enumerate(x):
        m.add_hint(v, k in open_)


def _solve_mip(
    sets,
    always,
    coverable,
    flows,
    n_sites,
    fixed_set,
    p,
    range_km,
    backend,
    time_limit_s,
    threads,
    seed,
    t0,
    conventions,
) -> FRLMSolution:
    """The arc-cover model on SCIP/HiGHS: ``y`` continuous (exact: for binary ``x`` each
    ``y_q`` is at most 0 or 1), one covering row per distinct arc set."""
    solver = new_mip(backend)
    inf = solver.infinity()
    x = [solver.IntVar(1.0 if k in fixed_set else 0.0, 1.0, f"x{k}") for k in range(n_sites)]
    y: dict[int, object] = {}
    need_sets: dict[frozenset, list[int]] = {}
    for q, s in enumerate(sets):
        if s is None or not coverable[q]:
            continue
        need = [k for k in s if not (k & fixed_set)]
        if not need:
            continue
        y[q] = solver.NumVar(0.0, 1.0, f"y{q}") if p is not None else None
        for ks in need:
            need_sets.setdefault(ks, []).append(q)
    for ks, qs in need_sets.items():
        if p is None:  # every coverable flow must be refuelled: plain covering rows
            ct = solver.Constraint(1.0, inf)
            for k in ks:
                ct.SetCoefficient(x[k], 1.0)
            continue
        for q in qs:
            ct = solver.Constraint(0.0, inf)
            ct.SetCoefficient(y[q], -1.0)
            for k in ks:
                ct.SetCoefficient(x[k], 1.0)
    base = float(flows[always].sum()) + float(
        sum(flows[q] for q, s in enumerate(sets) if s is not None and coverable[q] and q not in y)
    )
    free = [k for k in range(n_sites) if k not in fixed_set]
    obj = solver.Objective()
    if p is not None:
        ct = solver.Constraint(0.0, float(p))
        for k in free:
            ct.SetCoefficient(x[k], 1.0)
        for q, v in y.items():
            obj.SetCoefficient(v, float(flows[q]))
        obj.SetMaximization()
        variant = "max-flow"
    else:
        for k in free:
            obj.SetCoefficient(x[k], 1.0)
        obj.SetMinimization()
        variant = "min-sites"
    opts = SolveOptions(
        time_limit_s=max(0.01, float(time_limit_s)), threads=int(threads), seed=int(seed)
    )
    hint = None
    if backend == "scip":
        open_ = greedy_open(sets, fixed_set, p, n_sites)
        hint = (x, [1.0 if k in open_ else 0.0 for k in range(n_sites)])
    out = run_mip(solver, {"x": x}, kind=backend, options=opts, time_left=time_limit_s, hint=hint)
    if out.status not in ("OPTIMAL", "FEASIBLE"):
        raise RuntimeError(f"FRLM ({variant}) solver status {out.status} after {time_limit_s} s")
    xv = out.values["x"] > 0.5
    chosen = np.array([k for k in free if xv[k]], dtype=np.int64)
    open_set = set(chosen.tolist()) | fixed_set
    covered = always | np.array(
        [coverable[q] and (s is None or all(k & open_set for k in s)) for q, s in enumerate(sets)]
    )
    if p is not None:
        objective = float(flows[covered].sum())
        bound = base + (out.bound if np.isfinite(out.bound) else float(sum(flows[q] for q in y)))
    else:
        objective, bound = (
            float(chosen.size),
            float(np.ceil(out.bound - 1e-6)) if np.isfinite(out.bound) else 0.0,
        )
    gap = abs(bound - objective) / max(abs(objective), 1e-9)
    return FRLMSolution(
        status=out.status,
        selected=chosen,
        objective=objective,
        best_bound=bound,
        gap=gap,
        covered=covered,
        solve_time_s=time.perf_counter() - t0,
        details={
            "variant": variant,
            "flows": len(sets),
            "coverable": int(coverable.sum()),
            "arc_sets": len(need_sets),
            "range_km": range_km,
            "short_trips": conventions[0],
            "origin_charge": conventions[1],
            "backend": backend,
        },
    )
