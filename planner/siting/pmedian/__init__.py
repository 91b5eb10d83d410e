"""p-median (:class:`PMedian`): the model, Beasley's Lagrangian machinery (:mod:`.lagrange`)
and the exact solves of the residual model (:mod:`.residual`)."""

from planner.siting.pmedian.model import PMedian

__all__ = ["PMedian"]
