"""The order of a study's steps, written once.

Each entry point of :mod:`planner.study.run` runs a prefix or a selection of these steps in
this order; the progress display and the manifest's ``timings_s`` use the same names.
"""

from __future__ import annotations

__all__ = ["STEPS", "RUN_STEPS", "SIMULATE_STEPS", "OPTIMIZE_STEPS"]

#: Every step a study may run, in the order the data flows.
STEPS: tuple[str, ...] = (
    "network",  # inputs: road network (file, download or national corridors)
    "sites",  # inputs: existing stations snapped to the network
    "demand",  # demand: trips of the fleet
    "candidates",  # inputs: candidate sites
    "simulation",  # simulate: the trips with the existing stations (evplan simulate)
    "optimisation",  # optimize: one siting round on all demand (evplan optimize)
    "closed loop",  # loop: baseline -> optimise -> proposal until targets or limits
    "vehicle comparison",  # compare: vehicle x season matrix
    "coverage curve",  # compare: coverage vs number of new stations
    "outputs",  # report: files written atomically
)

#: ``evplan run``: the closed loop and its comparisons.
RUN_STEPS = tuple(s for s in STEPS if s not in ("simulation", "optimisation"))
#: ``evplan simulate``: the existing stations only.
SIMULATE_STEPS = ("network", "sites", "demand", "simulation", "outputs")
#: ``evplan optimize``: one siting round, no simulation.
OPTIMIZE_STEPS = ("network", "sites", "demand", "candidates", "optimisation", "outputs")
