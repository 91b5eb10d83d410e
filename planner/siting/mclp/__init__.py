"""Maximal covering location (:class:`MCLP`): the model, its Lagrangian bound
(:mod:`.lagrange`) and its exact dual-LP bound with reduced-cost fixing (:mod:`.lp`)."""

from planner.siting.mclp.model import MCLP

__all__ = ["MCLP"]
