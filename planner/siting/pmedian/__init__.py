"""p-median (:class:`PMedian`): the model and Beasley's Lagrangian machinery (:mod:`.lagrange`)."""

from planner.siting.pmedian.model import PMedian

__all__ = ["PMedian"]
