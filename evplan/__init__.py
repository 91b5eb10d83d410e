"""evplan: EV charging network planner and simulator.

The public Python API in one place (the command line is ``evplan``). Road networks from
OpenStreetMap (:mod:`networks`), a SimPy simulation of EV trips (:mod:`sim`), OR-Tools
siting models (:mod:`planner.siting`) and the study pipeline and its reports
(:mod:`planner.study`, :mod:`planner.report`).

A study in a notebook::

    import evplan

    cfg = evplan.load_config("configs/almaty.yaml", overrides={"demand.max_trips": 1500})
    result = evplan.run_study(cfg, write=False)       # baseline -> siting -> proposal
    result.kpis_before["wait_p95_min"], result.kpis_after["wait_p95_min"]
    result.selected[["name", "plugs", "lon", "lat"]]   # the proposed stations
    evplan.write_study(result, "runs/almaty-notebook")  # report.html, study.gpkg, tables

The pieces on their own::

    net = evplan.load_network("almaty-2012.osm.pbf").network      # RoadNetwork
    tt = net.travel_time_matrix([0, 1], [2, 3])                    # seconds
    model = evplan.MCLP.from_cost_matrix(tt, [1.0, 1.0], threshold=600, p=1)
    res = model.solve(time_limit_s=10)
    model.check(res)                                               # independent checker
    evplan.check_result(model.kind, model.raw, res)                # the same, as a function
    out = evplan.simulate(net, stations, trips, settings=evplan.SimSettings())

``run_study``, ``simulate_study`` and ``optimize_study`` check the config as the command
line does before anything runs (:func:`evplan._study.checked`). Names are imported on first
use, so ``import evplan`` is quick.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("evplan")
except PackageNotFoundError:  # pragma: no cover - a source tree without installation
    __version__ = "0+unknown"

#: public name -> (module, attribute)
_API: dict[str, tuple[str, str | None]] = {
    # road networks
    "RoadNetwork": ("networks.road_network", "RoadNetwork"),
    "LoadedNetwork": ("networks.load", "LoadedNetwork"),
    "load_network": ("networks.load", "load_network"),
    "download_network": ("networks.load", "download_network"),
    "build_national_network": ("networks.corridor", "build_national_network"),
    "candidate_sites": ("networks.sites", "candidate_sites"),
    "existing_stations": ("networks.sites", "existing_stations"),
    # simulation
    "simulate": ("sim.api", "simulate"),
    "replicate": ("sim.api", "replicate"),
    "SimSettings": ("sim.settings", "SimSettings"),
    "SimulationResult": ("sim.results", "SimulationResult"),
    "builtin_models": ("sim.catalogue", "builtin_models"),
    "load_vehicle_models": ("sim.catalogue", "load_vehicle_models"),
    "demand": ("sim.demand", None),  # module: city_trips, corridor_trips, read_od_table
    "KPIS": ("sim.kpis", "KPIS"),
    # siting models
    "MCLP": ("planner.siting", "MCLP"),
    "PMedian": ("planner.siting", "PMedian"),
    "SetCover": ("planner.siting", "SetCover"),
    "Capacitated": ("planner.siting", "Capacitated"),
    "FRLM": ("planner.siting", "FRLM"),
    "SitingResult": ("planner.siting", "SitingResult"),
    "check_result": ("planner.siting", "check_result"),
    # studies
    "StudyConfig": ("planner.config.study", "StudyConfig"),
    "load_config": ("planner.config.study", "load_config"),
    # the study entry points check the config as the command line does (evplan._study)
    "run_study": ("evplan._study", "run_study"),
    "simulate_study": ("evplan._study", "simulate_study"),
    "optimize_study": ("evplan._study", "optimize_study"),
    "StudyResult": ("planner.study.result", "StudyResult"),
    "write_study": ("evplan._write", "write_study"),
    "write_outputs": ("planner.report.export", "write_outputs"),
    "write_report": ("planner.report.html", "write_report"),
    # batches and errors
    "plan_sweep": ("planner.batch.plan", "plan_sweep"),
    "run_batch": ("planner.batch.execute", "run_batch"),
    "EvplanError": ("networks.errors", "EvplanError"),
}

__all__ = sorted([*_API, "__version__"])


def __getattr__(name: str) -> Any:
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'evplan' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value  # cache: the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
