"""Flow-refuelling location (:class:`FRLM`): the model class and the arc-cover formulation
of Capar & Kuby (2012) it solves (:mod:`.arc_cover`)."""

from planner.siting.frlm.model import FRLM

__all__ = ["FRLM"]
