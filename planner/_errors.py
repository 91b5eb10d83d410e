"""Domain exceptions of the planner (siting models, solution checker).

Every class derives from :class:`networks.errors.EvplanError`, so the CLI turns each
into one clear line and a non-zero exit code. Messages name the constraint and the data
at fault (which sites, which demand points, which values) and what would fix it.
"""

from __future__ import annotations

from networks.errors import ConfigError, EvplanError

__all__ = [
    "BudgetError",
    "CheckerError",
    "InfeasibleModelError",
    "ModelInputError",
    "NoCandidatesError",
    "PlannerError",
    "SolverError",
    "UnreachableDemandError",
]


class PlannerError(EvplanError):
    """Base class of every planner error."""


class ModelInputError(PlannerError, ConfigError):
    """Model data are malformed: wrong shapes, negative weights or costs, NaN, bad indices,
    an unknown model or solver name, contradictory options."""


class NoCandidatesError(PlannerError):
    """There is no candidate site to choose from (none given, or none survives filtering)."""


class BudgetError(PlannerError):
    """The budget is below the cost of what is fixed open, or cannot buy a required site."""


class UnreachableDemandError(PlannerError):
    """Demand that no candidate or existing station can ever reach (within the cut-off)."""


class InfeasibleModelError(PlannerError):
    """The model has no feasible solution; the message names the constraint at fault."""


class SolverError(PlannerError):
    """The solver failed without a usable solution (model invalid, solver unavailable)."""


class CheckerError(PlannerError):
    """The independent checker found a reported objective or constraint that does not hold."""
