"""Shared plumbing of the siting models: solve options, the result object and input
validation (defined in :mod:`planner.siting._validate`, re-exported here; the OR-Tools
calls are in :mod:`planner.siting._backends`).

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
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner._errors import ModelInputError
from planner.siting._validate import (
    as_number,
    check_budget,
    check_cost_matrix,
    check_count,
    check_fixed,
    check_free_sites,
    check_share,
    check_site_costs,
    check_site_count,
    check_threshold,
    check_unique_labels,
    check_weights,
    float_array,
    labels_array,
    scalar,
)

logger = logging.getLogger(__name__)

# the validators live in planner.siting._validate and are re-exported here, where the
# models import them from
__all__ = [
    "FEASIBLE",
    "OPTIMAL",
    "SOLVERS",
    "SitingResult",
    "SolveOptions",
    "as_number",
    "check_budget",
    "check_cost_matrix",
    "check_count",
    "check_fixed",
    "check_free_sites",
    "check_share",
    "check_site_costs",
    "check_site_count",
    "check_threshold",
    "check_unique_labels",
    "check_weights",
    "float_array",
    "labels_array",
    "make_result",
    "relative_gap",
]

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
        # numpy scalars are numbers like Python's (a value read from an array or a config
        # table); a bool is not a number here, nor is NaN
        limit = scalar(self.time_limit_s)
        if isinstance(limit, bool) or not (isinstance(limit, numbers.Real) and float(limit) > 0):
            raise ModelInputError(
                f"time_limit_s must be a positive number of seconds, got {self.time_limit_s!r}"
            )
        object.__setattr__(self, "time_limit_s", float(limit))
        for name, lowest in (("threads", 1), ("seed", 0)):
            value = scalar(getattr(self, name))
            if isinstance(value, bool) or not (
                isinstance(value, numbers.Integral) and int(value) >= lowest
            ):
                kind = "an integer >= 1" if lowest else "a non-negative integer"
                raise ModelInputError(f"{name} must be {kind}, got {getattr(self, name)!r}")
            object.__setattr__(self, name, int(value))
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
