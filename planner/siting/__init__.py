"""OR-Tools charger siting models.

Every model is a class with a core constructor from arrays (``from_cost_matrix`` or, for
corridors, ``from_paths``); MCLP, PMedian and SetCover also build from GeoDataFrames on a
:class:`networks.RoadNetwork` (``from_geodataframe``) and the FRLM from OD pairs on one
(``from_network``). ``solve()`` returns a :class:`SitingResult` (chosen sites and plugs,
objective, best bound, gap, status, time). :func:`check_result` recomputes a result from
the raw inputs.

=================  =========================================================
``MCLP``           maximal covering with ``p`` new sites or a budget
``PMedian``        minimise demand-weighted travel time to the nearest site
``SetCover``       cheapest new sites reaching a coverage target
``Capacitated``    sites and plugs per site (integer) under demand, grid power
``FRLM``           flow-refuelling on corridors (arc-cover, round trips)
=================  =========================================================
"""

from planner.siting._base import SitingResult, SolveOptions
from planner.siting.capacitated import Capacitated
from planner.siting.checker import CheckReport, check_result
from planner.siting.frlm.model import FRLM
from planner.siting.mclp.model import MCLP
from planner.siting.pmedian.model import PMedian
from planner.siting.setcover import SetCover

__all__ = [
    "FRLM",
    "MCLP",
    "Capacitated",
    "CheckReport",
    "PMedian",
    "SetCover",
    "SitingResult",
    "SolveOptions",
    "check_result",
]
