"""Shared plumbing of the siting models: solve options, the result object and input
validation (the OR-Tools calls are in :mod:`planner.siting._backends`).

Conventions used by every model
-------------------------------
* A *cost matrix* has one row per demand point and one column per site (candidate or
  existing). It is a dense ``numpy`` array (``inf`` = unreachable) or a
  ``scipy.sparse`` matrix whose *stored* entries are the finite costs (explicit zeros
  included) and whose missing entries are unreachable. Travel times are in seconds.
* ``fixed_open`` lists columns that are open whatever happens (existing stations, or
  sites forced by the user). They count for coverage and service, and their
  ``candidate_costs`` count against a budget. ``p`` always counts *new* sites.
* ``selected`` in a result holds the new sites only; ``open_sites`` adds the fixed ones.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from scipy import sparse

from planner._errors import ModelInputError, NoCandidatesError

logger = logging.getLogger(__name__)

SOLVERS = ("auto", "cp-sat", "scip", "highs")
OPTIMAL, FEASIBLE = "OPTIMAL", "FEASIBLE"


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class SolveOptions:
    """How to solve: wall-clock limit, worker threads, random seed and solver backend.

    ``solver`` is ``"auto"`` (the measured-fastest backend for the model), ``"cp-sat"``,
    ``"scip"`` or ``"highs"`` (the latter two through ``ortools.linear_solver``).
    """

    time_limit_s: float = 60.0
    threads: int = 2
    seed: int = 0
    solver: str = "auto"
    log: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.time_limit_s, int | float) and self.time_limit_s > 0):
            raise ModelInputError(
                f"time_limit_s must be a positive number of seconds, got {self.time_limit_s!r}"
            )
        if not (isinstance(self.threads, int) and self.threads >= 1):
            raise ModelInputError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ModelInputError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.solver not in SOLVERS:
            raise ModelInputError(f"solver {self.solver!r} is not one of {', '.join(SOLVERS)}")


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SitingResult:
    """Outcome of a siting model.

    Attributes
    ----------
    model : str
        ``"mclp"``, ``"pmedian"``, ``"cover"``, ``"capacitated"`` or ``"frlm"``.
    status : str
        ``"OPTIMAL"`` (proven) or ``"FEASIBLE"`` (best solution found when a limit was
        reached; ``gap`` is then the proven optimality gap).
    sense : str
        ``"max"`` or ``"min"``.
    selected : numpy.ndarray
        Column indices of the *new* sites opened, sorted.
    fixed_open : numpy.ndarray
        Column indices of the sites that were fixed open (existing stations).
    objective : float
        Objective value of the reported solution, in the model's units.
    best_bound : float
        Proven bound on the optimum (upper for ``max``, lower for ``min``).
    gap : float
        ``|best_bound - objective| / max(|objective|, 1e-9)``; 0 when optimal.
    solver : str
        What produced the answer: the backend (``"scip"``, ``"highs"``, ``"cp-sat"``),
        ``"presolve"``, ``"lagrangian"`` or ``"lp"`` when a bound proved it, or e.g.
        ``"lagrangian+highs"`` (p-median residual).
    solve_time_s : float
        Wall-clock time of ``solve`` including preprocessing.
    time_limit_s : float
        The limit that applied.
    message : str
        One human-readable sentence (says when a time limit was hit).
    plugs : numpy.ndarray or None
        Plugs per column (capacitated model only), including existing plugs.
    site_labels : numpy.ndarray or None
        Labels of all columns (e.g. ``site_id`` from a GeoDataFrame), if known.
    details : dict
        Model-specific figures (covered weight, assignment, costs, sizes ...).
    """

    model: str
    status: str
    sense: str
    selected: np.ndarray
    fixed_open: np.ndarray
    objective: float
    best_bound: float
    gap: float
    solver: str
    solve_time_s: float
    time_limit_s: float
    message: str
    plugs: np.ndarray | None = None
    site_labels: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def open_sites(self) -> np.ndarray:
        """All open columns: fixed ones and new ones, sorted."""
        return np.union1d(self.fixed_open, self.selected).astype(np.int64)

    @property
    def optimal(self) -> bool:
        """True when optimality is proven."""
        return self.status == OPTIMAL

    @property
    def selected_labels(self) -> list:
        """Labels of the new sites (column indices when no labels are known)."""
        if self.site_labels is None:
            return self.selected.tolist()
        return self.site_labels[self.selected].tolist()

    def to_frame(self) -> pd.DataFrame:
        """One row per open site: ``site`` (column), ``label``, ``new``, ``plugs``."""
        sites = self.open_sites
        labels = sites if self.site_labels is None else self.site_labels[sites]
        frame = pd.DataFrame({"site": sites, "label": labels, "new": np.isin(sites, self.selected)})
        if self.plugs is not None:
            frame["plugs"] = self.plugs[sites]
        return frame

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays larger than the site lists)."""
        out = {
            "model": self.model,
            "status": self.status,
            "sense": self.sense,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "gap": self.gap,
            "solver": self.solver,
            "solve_time_s": round(self.solve_time_s, 4),
            "time_limit_s": self.time_limit_s,
            "message": self.message,
            "selected": self.selected.tolist(),
            "selected_labels": self.selected_labels,
            "fixed_open": self.fixed_open.tolist(),
        }
        if self.plugs is not None:
            out["plugs"] = {int(s): int(self.plugs[s]) for s in self.open_sites}
        for key, value in self.details.items():
            if isinstance(value, int | float | str | bool) or value is None:
                out[key] = value
        return out


def relative_gap(objective: float, bound: float) -> float:
    """Relative gap between a solution value and a proven bound."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return float("inf")
    return abs(bound - objective) / max(abs(objective), 1e-9)


def make_result(
    model: str,
    *,
    status: str,
    sense: str,
    selected,
    fixed_open,
    objective: float,
    bound: float,
    solver: str,
    started: float,
    options: SolveOptions,
    plugs=None,
    labels=None,
    details: dict | None = None,
    note: str = "",
) -> SitingResult:
    """Assemble a :class:`SitingResult` with a consistent bound, gap and message."""
    objective = float(objective)
    bound = float(bound)
    if sense == "max":
        bound = max(bound, objective)
    else:
        bound = min(bound, objective)
    gap = 0.0 if status == OPTIMAL else relative_gap(objective, bound)
    if status == OPTIMAL:
        bound = objective if abs(bound - objective) <= 1e-9 * max(1.0, abs(objective)) else bound
    elapsed = time.monotonic() - started
    if status == OPTIMAL:
        msg = f"optimal {model} solution proven in {elapsed:.2f} s ({solver})"
    else:
        msg = (
            f"time limit of {options.time_limit_s:g} s reached: best {model} solution found, "
            f"proven gap {100 * gap:.3g}% (objective {objective:.6g}, bound {bound:.6g}; {solver})"
        )
    if note:
        msg += f"; {note}"
    return SitingResult(
        model=model,
        status=status,
        sense=sense,
        selected=np.sort(np.asarray(selected, dtype=np.int64)),
        fixed_open=np.sort(np.asarray(fixed_open, dtype=np.int64)),
        objective=objective,
        best_bound=bound,
        gap=gap,
        solver=solver,
        solve_time_s=elapsed,
        time_limit_s=float(options.time_limit_s),
        message=msg,
        plugs=None if plugs is None else np.asarray(plugs, dtype=np.int64),
        site_labels=labels,
        details=dict(details or {}),
    )


# ---------------------------------------------------------------------------- validation
def check_cost_matrix(cost, *, name: str = "cost") -> np.ndarray | sparse.csr_matrix:
    """Validate a cost matrix; returns a float64 ndarray or a CSR matrix (explicit zeros kept)."""
    if sparse.issparse(cost):
        if cost.format == "csr" and cost.dtype == np.float64 and cost.has_canonical_format:
            mat = cost  # used read-only: copying 10^8 entries took seconds
        else:
            mat = sparse.csr_matrix(cost, dtype=np.float64, copy=True)
            mat.sum_duplicates()
        data = mat.data
    else:
        mat = np.asarray(cost, dtype=np.float64)
        if mat.ndim != 2:
            raise ModelInputError(
                f"{name} must be a 2-D matrix (demand x sites), got shape {mat.shape}"
            )
        data = mat
    if mat.shape[1] == 0:
        raise NoCandidatesError(
            f"{name} has no columns: there are no candidate sites or existing stations to choose from; "
            "add candidate sites (e.g. widen the candidate tag rules)"
        )
    if mat.shape[0] == 0:
        raise ModelInputError(f"{name} has no rows: there are no demand points")
    if np.isnan(data).any():
        raise ModelInputError(
            f"{name} contains NaN; use inf (or leave a sparse entry out) for unreachable pairs"
        )
    if (data < 0).any():
        bad = (
            np.argwhere(mat < 0)[:3].tolist() if not sparse.issparse(mat) else "some stored entries"
        )
        raise ModelInputError(f"{name} has negative travel costs (at {bad}); costs must be >= 0")
    return mat


def check_weights(weights, n: int, *, name: str = "weights") -> np.ndarray:
    """Non-negative finite demand weights of length ``n`` (all ones when ``None``)."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != n:
        raise ModelInputError(f"{name} has {w.size} values but the cost matrix has {n} demand rows")
    if not np.isfinite(w).all() or (w < 0).any():
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))[:5].tolist()
        raise ModelInputError(f"{name} must be finite and >= 0; bad demand rows {bad}")
    return w


def check_site_costs(costs, m: int, *, name: str = "candidate_costs") -> np.ndarray:
    """Non-negative finite per-site costs of length ``m`` (all ones when ``None``)."""
    if costs is None:
        return np.ones(m)
    c = np.asarray(costs, dtype=np.float64).ravel()
    if c.size != m:
        raise ModelInputError(f"{name} has {c.size} values but there are {m} sites (columns)")
    if not np.isfinite(c).all() or (c < 0).any():
        bad = np.flatnonzero(~np.isfinite(c) | (c < 0))[:5].tolist()
        raise ModelInputError(f"{name} must be finite and >= 0; bad sites {bad}")
    return c


def check_fixed(fixed_open, m: int) -> np.ndarray:
    """Sorted unique column indices from an index list or a boolean mask."""
    if fixed_open is None:
        return np.empty(0, dtype=np.int64)
    arr = np.asarray(fixed_open)
    if arr.dtype == bool:
        if arr.size != m:
            raise ModelInputError(f"fixed_open mask has {arr.size} entries but there are {m} sites")
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.ravel()
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= m):
        raise ModelInputError(
            f"fixed_open must hold site indices in 0..{m - 1}, got {arr[:5].tolist()}"
        )
    return np.unique(arr.astype(np.int64))


def check_free_sites(m: int, fixed: np.ndarray) -> np.ndarray:
    """Columns that may be opened; raises :class:`NoCandidatesError` when there are none."""
    free = np.setdiff1d(np.arange(m), fixed)
    if free.size == 0:
        raise NoCandidatesError(
            f"no candidate sites: all {m} sites are fixed open (existing stations), so there is "
            "nothing to choose; add candidate sites"
        )
    return free


@overload
def check_count(value: Any, name: str, *, allow_none: Literal[False]) -> int: ...


@overload
def check_count(value: Any, name: str, *, allow_none: bool = True) -> int | None: ...


def check_count(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    """A non-negative integer count; ``None`` passes through when ``allow_none``."""
    if value is None:
        if allow_none:
            return None
        raise ModelInputError(f"{name} is required")
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ModelInputError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_budget(budget, costs: np.ndarray, fixed: np.ndarray) -> float | None:
    """Validate a budget against the cost of what is fixed open."""
    from planner._errors import BudgetError

    if budget is None:
        return None
    b = float(budget)
    if not math.isfinite(b) or b < 0:
        raise ModelInputError(f"budget must be a finite number >= 0, got {budget!r}")
    fixed_cost = float(costs[fixed].sum())
    if b + 1e-9 * max(1.0, abs(b)) < fixed_cost:
        top = fixed[np.argsort(-costs[fixed])][:5]
        items = ", ".join(f"site {j} costs {costs[j]:g}" for j in top)
        raise BudgetError(
            f"budget {b:g} is below the {fixed_cost:g} already committed to the {fixed.size} "
            f"fixed-open sites ({items}); raise the budget to at least {fixed_cost:g} or set "
            "the cost of existing stations to 0"
        )
    return b


def labels_array(labels, m: int) -> np.ndarray | None:
    if labels is None:
        return None
    arr = np.asarray(list(labels), dtype=object)
    if arr.size != m:
        raise ModelInputError(f"site_labels has {arr.size} entries but there are {m} sites")
    return arr
