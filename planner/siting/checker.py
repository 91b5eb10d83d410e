"""Independent solution checker: recomputes every reported objective and constraint from
the raw model inputs, without the models' preprocessing (no aggregation, no reductions).

It shares no code with the solvers beyond reading the raw arrays, so a bug in a
reduction, an aggregation or an integer scaling shows up as a disagreement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from planner._errors import CheckerError

logger = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """What the checker found: the recomputed objective and the violated constraints."""

    model: str
    objective: float
    reported: float
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> None:
        if self.violations:
            raise CheckerError(
                f"{self.model} solution failed the independent check: " + "; ".join(self.violations)
            )


def _dense(cost) -> np.ndarray:
    if not sparse.issparse(cost):
        return np.asarray(cost, dtype=float)
    coo = cost.tocoo()
    out = np.full(cost.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


def check_result(
    kind: str, raw: dict, result, *, rtol: float = 1e-6, strict: bool = True
) -> CheckReport:
    """Recompute ``result`` of model ``kind`` from ``raw``; raise :class:`CheckerError` on
    any disagreement when ``strict``."""
    fn = {
        "mclp": _mclp,
        "pmedian": _pmedian,
        "cover": _cover,
        "capacitated": _capacitated,
        "frlm": _frlm,
    }[kind]
    sel = np.asarray(result.selected).ravel()
    fixed = np.asarray(raw["fixed_open"], dtype=np.int64)
    v: list[str] = []
    # site indices first: a negative index would wrap around (-1 read as the last site)
    m = _n_sites(raw)
    whole = sel.size == 0 or (
        np.issubdtype(sel.dtype, np.number) and bool(np.all(np.mod(sel, 1) == 0))
    )
    if not whole:
        v.append(f"new sites {sel[:5].tolist()} are not whole site indices")
        return _failed(kind, result, v, strict)
    sel = sel.astype(np.int64)
    bad = sel[(sel < 0) | (sel >= m)]
    if bad.size:
        v.append(f"new sites {bad[:5].tolist()} are outside the site indices 0..{m - 1}")
        return _failed(kind, result, v, strict)
    if np.intersect1d(sel, fixed).size:
        v.append(f"new sites {np.intersect1d(sel, fixed).tolist()} are already fixed open")
    if np.unique(sel).size != sel.size:
        v.append("a new site is listed twice")
    if not np.array_equal(np.sort(np.asarray(result.fixed_open)), np.sort(fixed)):
        v.append("the fixed-open sites differ from the input")
    obj = fn(raw, result, sel, fixed, v, rtol)
    if not _close(obj, result.objective, rtol):
        v.append(f"reported objective {result.objective:.10g} but the inputs give {obj:.10g}")
    if result.sense == "max" and result.best_bound < obj - rtol * max(1.0, abs(obj)):
        v.append(
            f"best bound {result.best_bound:.10g} is below the objective {obj:.10g} of a maximisation"
        )
    if result.sense == "min" and result.best_bound > obj + rtol * max(1.0, abs(obj)):
        v.append(
            f"best bound {result.best_bound:.10g} is above the objective {obj:.10g} of a minimisation"
        )
    report = CheckReport(model=kind, objective=obj, reported=float(result.objective), violations=v)
    if strict:
        report.raise_if_failed()
    return report


def _n_sites(raw: dict) -> int:
    """Number of candidate sites of a model's raw inputs."""
    if "n_sites" in raw:
        return int(raw["n_sites"])
    return int(raw["cost"].shape[1])


def _failed(kind: str, result, v: list[str], strict: bool) -> CheckReport:
    """A report for a solution whose sites cannot even be read (no objective recomputed)."""
    report = CheckReport(
        model=kind, objective=float("nan"), reported=float(result.objective), violations=v
    )
    if strict:
        report.raise_if_failed()
    return report


def _count_and_budget(raw, sel, fixed, v):
    if raw.get("p") is not None and sel.size > raw["p"]:
        v.append(f"{sel.size} new sites opened but p = {raw['p']}")
    if raw.get("budget") is not None:
        spent = float(raw["candidate_costs"][np.union1d(sel, fixed)].sum())
        if spent > raw["budget"] * (1 + 1e-9) + 1e-9:
            v.append(f"cost {spent:.10g} exceeds the budget {raw['budget']:.10g}")


def _covered(raw, open_):
    D = _dense(raw["cost"])
    return (
        (D[:, open_] <= raw["threshold"]).any(axis=1) if open_.size else np.zeros(D.shape[0], bool)
    )


def _mclp(raw, result, sel, fixed, v, rtol):
    _count_and_budget(raw, sel, fixed, v)
    return float(raw["weights"][_covered(raw, np.union1d(sel, fixed))].sum())


def _cover(raw, result, sel, fixed, v, rtol):
    got = float(raw["weights"][_covered(raw, np.union1d(sel, fixed))].sum())
    need = raw["coverage"] * float(raw["weights"].sum())
    if got < need * (1 - 1e-9) - 1e-9:
        v.append(f"covered weight {got:.10g} is below the target {need:.10g}")
    return float(raw["candidate_costs"][sel].sum())


def _pmedian(raw, result, sel, fixed, v, rtol):
    if sel.size != raw["p"]:
        v.append(f"{sel.size} new sites opened but p = {raw['p']}")
    D = _dense(raw["cost"])
    w = raw["weights"]
    best = D[:, np.union1d(sel, fixed)].min(axis=1)
    live = w > 0
    if not np.isfinite(best[live]).all():
        v.append(f"{int((~np.isfinite(best[live])).sum())} demand rows reach no open site")
    return float((w[live] * best[live]).sum())


def _capacitated(raw, result, sel, fixed, v, rtol):
    X = sparse.csr_matrix(result.details["assignment"])
    D = _dense(raw["cost"])
    h = raw["demand"]
    plugs = np.asarray(result.plugs)
    open_ = np.union1d(sel, fixed)
    coo = X.tocoo()
    if (coo.data < -1e-9).any():
        v.append("negative assignment")
    far = D[coo.row, coo.col] > raw["threshold"]
    if far.any():
        v.append(f"{int(far.sum())} demand rows assigned to sites beyond the threshold")
    if not np.isin(coo.col, open_).all():
        v.append("demand assigned to a closed site")
    rows = np.asarray(X.sum(axis=1)).ravel()
    if (rows > 1 + 1e-6).any():
        v.append(f"{int((rows > 1 + 1e-6).sum())} demand rows assigned more than once")
    load = np.asarray(X.multiply(h[:, None]).sum(axis=0)).ravel()
    over = load > raw["utilisation"] * plugs + 1e-6 * max(1.0, float(h.sum()))
    if over.any():
        v.append(f"sites {np.flatnonzero(over)[:5].tolist()} carry more than utilisation x plugs")
    if (plugs > raw["cap"]).any():
        v.append(
            f"sites {np.flatnonzero(plugs > raw['cap'])[:5].tolist()} exceed max plugs / grid power"
        )
    closed = np.setdiff1d(np.arange(plugs.size), open_)
    if (plugs[closed] > 0).any():
        v.append("plugs at a closed site")
    if (plugs[fixed] < raw["existing_plugs"][fixed]).any():
        v.append("existing plugs removed")
    added = np.where(np.isin(np.arange(plugs.size), open_), plugs - raw["existing_plugs"], 0)
    capex = float(raw["site_costs"][sel].sum() + (raw["plug_costs"] * added).sum())
    if "grid_kw" in raw:
        # grid capacity: a site's plugs x kW within its connection, or the upgrade paid
        upgrade = np.zeros(plugs.size)
        for j, u in (result.details.get("upgrade_kw") or {}).items():
            upgrade[int(j)] = float(u)
        v.extend(
            grid_violations(
                plugs,
                raw["plug_kw"],
                raw["grid_kw"],
                upgrade_kw=upgrade,
                upgradable=~np.isnan(raw["upgrade_cost_per_kw"]),
            )
        )
        capex += float(np.nansum(np.where(upgrade > 0, raw["upgrade_cost_per_kw"], 0.0) * upgrade))
    served = float((rows * h).sum())
    if raw["budget"] is None:
        need = raw["coverage"] * float(h.sum())
        if served < need * (1 - 1e-7) - 1e-9:
            v.append(
                f"served {served:.10g} charging hours/h, below the coverage target {need:.10g}"
            )
        return capex
    if capex > raw["budget"] * (1 + 1e-9) + 1e-9:
        v.append(f"cost {capex:.10g} exceeds the budget {raw['budget']:.10g}")
    return served


def grid_violations(
    plugs: np.ndarray,
    plug_kw: np.ndarray,
    grid_kw: np.ndarray,
    *,
    upgrade_kw: np.ndarray | None = None,
    upgradable: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> list[str]:
    """Sites of a plan drawing more than their grid connection allows.

    A site's draw, ``plugs x plug_kw`` (``plug_kw`` after any managed-charging throttle),
    must be at most ``grid_kw + upgrade_kw``, and ``upgrade_kw`` may be positive only
    where ``upgradable``. ``grid_kw`` is ``inf`` for no limit. Returns one sentence per
    kind of violation (empty when the plan is within capacity).
    """
    plugs = np.asarray(plugs, dtype=float)
    kw = np.broadcast_to(np.asarray(plug_kw, dtype=float), plugs.shape)
    cap = np.broadcast_to(np.asarray(grid_kw, dtype=float), plugs.shape)
    up = np.zeros(plugs.shape) if upgrade_kw is None else np.asarray(upgrade_kw, dtype=float)
    ok_up = (
        np.ones(plugs.shape, bool)
        if upgradable is None
        else np.broadcast_to(np.asarray(upgradable, bool), plugs.shape)
    )
    names = np.arange(plugs.size) if labels is None else np.asarray(labels)
    out = []
    if (up < -1e-9).any():
        out.append(f"negative grid upgrade at sites {names[up < -1e-9][:5].tolist()}")
    bad_up = (up > 1e-9) & ~ok_up
    if bad_up.any():
        out.append(f"grid upgrade at sites that cannot be upgraded: {names[bad_up][:5].tolist()}")
    draw = plugs * kw
    over = draw > cap + up + 1e-6 * np.maximum(1.0, draw)
    if over.any():
        j = np.flatnonzero(over)[:5]
        out.append(
            "sites over their grid capacity without a paid upgrade: "
            + ", ".join(
                f"{names[i]} draws {draw[i]:.6g} kW > {cap[i]:.6g} kW + {up[i]:.6g} kW upgrade"
                for i in j
            )
        )
    return out


def round_trip_ok(
    route_km: np.ndarray,
    stations_km: np.ndarray,
    range_km: float,
    *,
    short_trips: str = "free",
    origin_charge: str = "half",
) -> bool:
    """Can the round trip o -> d -> o be driven with range ``range_km``, filling up at every
    open station passed? Independent of the arc-cover sets the model uses.

    The rule, under the two FRLM conventions (:class:`planner.siting.FRLM`):

    * no route (an empty ``route_km``: the destination is unreachable) can never be
      driven; a route of length 0 needs nothing; with ``short_trips="free"`` neither does a
      round trip with ``2L <= R`` (one charge at home);
    * ``origin_charge="half"``: the round trip is a cycle of length 2L with no free charge
      at either end, so every gap between consecutive stations around the cycle, the one
      across the origin included, must be at most R (a station at km s stands on the
      cycle at s and at 2L - s; a trip with no station fails);
    * ``origin_charge="full"``: the vehicle leaves the origin full and may arrive back
      empty: the stops 0 (the origin), the stations and 2L (the return) are sorted along
      the trip and every gap between consecutive ones must be at most R.
    """
    if not len(route_km):
        return False
    L = float(route_km[-1])
    if L <= 1e-12 or (short_trips == "free" and 2 * L <= range_km + 1e-9):
        return True
    on_cycle = np.mod(np.concatenate([stations_km, 2 * L - stations_km]), 2 * L)
    if origin_charge == "full":
        stops = np.unique(np.concatenate([[0.0], on_cycle, [2 * L]]))
        return bool(np.all(np.diff(stops) <= range_km + 1e-9))
    stops = np.unique(on_cycle)
    if stops.size == 0:
        return False
    gaps = np.diff(np.concatenate([stops, [stops[0] + 2 * L]]))
    return bool(np.all(gaps <= range_km + 1e-9))


def _frlm(raw, result, sel, fixed, v, rtol):
    open_ = set(np.union1d(sel, fixed).tolist())
    if raw["p"] is not None and sel.size > raw["p"]:
        v.append(f"{sel.size} new sites opened but p = {raw['p']}")
    ok = np.zeros(raw["flows"].size, dtype=bool)
    for q, (rkm, km, idx) in enumerate(
        zip(raw["route_km"], raw["site_km"], raw["site_idx"], strict=True)
    ):
        here = np.array([k for k, j in zip(km, idx, strict=True) if int(j) in open_], dtype=float)
        ok[q] = round_trip_ok(
            rkm,
            here,
            raw["range_km"],
            short_trips=raw.get("short_trips", "free"),
            origin_charge=raw.get("origin_charge", "half"),
        )
    covered = result.details.get("covered")
    if covered is not None and not np.array_equal(np.asarray(covered, bool), ok):
        bad = np.flatnonzero(np.asarray(covered, bool) != ok)[:5].tolist()
        v.append(f"refuelled flags disagree with a tank simulation on flows {bad}")
    if raw["p"] is None:
        return float(sel.size)
    return float(raw["flows"][ok].sum())
