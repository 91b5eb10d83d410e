"""Maximal covering location (:class:`MCLP`): the model and its solve (:mod:`.model`), its
Lagrangian bound (:mod:`.lagrange`), its exact dual-LP bound with reduced-cost fixing
(:mod:`.lp`), the restricted solves and kernel search (:mod:`.kernel`) and the backend
models on SCIP/HiGHS and CP-SAT (:mod:`.mip`)."""

from planner.siting.mclp.model import MCLP

__all__ = ["MCLP"]
