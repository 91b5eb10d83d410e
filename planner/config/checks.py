"""Named validation checks run by ``evplan validate`` and before every ``evplan run``.

Each check takes the validated config and returns a list of problems (strings naming the
field, the value and the fix). Checks only read local files; none goes online or builds
the network, so ``validate`` is quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel

from planner.config.study import ConfigFileError, StudyConfig

logger = logging.getLogger(__name__)

Check = Callable[[StudyConfig], list[str]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register


#: Path fields that are not input files: the folder evplan writes the results to and the
#: network cache folder it creates. Every other path field of the schema is an input.
_NOT_INPUTS = frozenset({"outputs", "network.cache_dir"})


def input_path_fields(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Every input path a study names: ``(dotted field, path)`` for each path field set.

    The schema is walked rather than listed by hand, so a path field added to any section
    (or to entries of a list or mapping of sections) is checked without changing this file.

    Parameters
    ----------
    model : pydantic.BaseModel
        A validated study (or one of its sections).
    prefix : str
        Dotted path of ``model`` in the study (``"grid."``).

    Yields
    ------
    (str, Path)
        The field (``"renewables.plants"``) and its path.
    """
    for name, value in model:
        field = f"{prefix}{name}"
        if field in _NOT_INPUTS:
            continue
        if isinstance(value, Path):
            yield field, value
        elif isinstance(value, BaseModel):
            yield from input_path_fields(value, field + ".")
        elif isinstance(value, list | dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(item, BaseModel):
                    yield from input_path_fields(item, f"{field}.{key}.")


@check("input_files_exist")
def _files(cfg: StudyConfig) -> list[str]:
    hint = (
        "(check the path; relative paths are relative to the config file; "
        "shipped studies read ${EVPLAN_DATA_DIR:-../../shared/data})"
    )
    problems = []
    for field, path in input_path_fields(cfg):
        if Path(path).is_dir():
            problems.append(f"{field}: {path} is a folder, not a file {hint}")
        elif not Path(path).is_file():
            problems.append(f"{field}: file not found: {path} {hint}")
    return problems


@check("vehicle_models_known")
def _vehicles(cfg: StudyConfig) -> list[str]:
    from networks.errors import EvplanError
    from sim.catalogue import builtin_models, load_vehicle_models

    try:
        known = (
            load_vehicle_models(cfg.vehicles.catalogue)
            if cfg.vehicles.catalogue
            else builtin_models()
        )
    except EvplanError as exc:  # a bad user catalogue is reported here, not raised
        return [f"vehicles.catalogue: {exc}"]
    names = (
        list(cfg.vehicles.fleet)
        + list(cfg.vehicles.compare)
        + ([cfg.vehicles.truck] if cfg.vehicles.truck else [])
    )
    # a stage's fleet mix replaces vehicles.fleet in that stage: its names come from the
    # same catalogue (a wrong one failed the run after the network, naming no field)
    fields = [("vehicles", n) for n in dict.fromkeys(names)] + [
        (f"stages.{k}.fleet", n) for k, st in enumerate(cfg.stages) for n in st.fleet or {}
    ]
    return [
        f"{field}: unknown vehicle model {n!r}; known: {', '.join(sorted(known))}"
        for field, n in fields
        if n not in known
    ]


@check("budget_covers_something")
def _budget(cfg: StudyConfig) -> list[str]:
    b = cfg.model.budget
    bays = cfg.candidates.truck_bays
    # a truck site's plugs are bays of its classes, each at its class's cost: the cheapest
    # class is a lower bound (the check must not refuse a budget that buys a site)
    plug, plug_name = (
        (min(bc.plug_cost for bc in bays.values()), "the cheapest candidates.truck_bays plug_cost")
        if bays
        else (cfg.candidates.plug_cost, "candidates.plug_cost")
    )
    cheapest = cfg.candidates.site_cost + plug
    if b is not None and b < cheapest * min(cfg.candidates.renewable_cost_factor, 1.0):
        return [
            f"model.budget {b:,.0f} is below the cost of one site with one plug ({cheapest:,.0f} = "
            f"candidates.site_cost + {plug_name}); raise the budget or lower the costs"
        ]
    return []


@check("seasons_plausible")
def _seasons(cfg: StudyConfig) -> list[str]:
    return [
        f"simulation.seasons.{k}: {t} C is outside -50..50 C"
        for k, t in cfg.simulation.seasons.items()
        if not -50 <= t <= 50
    ]


@check("download_is_explicit")
def _download(cfg: StudyConfig) -> list[str]:
    # The schema already enforces this; the check keeps the rule visible in `validate` output.
    n = cfg.network
    if (n.place or n.bbox) and not n.download:
        return ["network: place/bbox given without download: true"]
    return []


def run_checks(cfg: StudyConfig, *, source: str = "", log: bool = True) -> dict[str, list[str]]:
    """Run every named check; returns ``{check_name: problems}``. Each problem is logged as
    a warning unless ``log`` is false (a batch checks many runs and reports them grouped)."""
    results = {name: fn(cfg) for name, fn in CHECKS.items()}
    for name, problems in results.items() if log else ():
        for p in problems:
            logger.warning("%s: check %s: %s", source or cfg.name, name, p)
    return results


def raise_on_problems(results: dict[str, list[str]], *, source: str) -> None:
    """Raise :class:`ConfigFileError` listing every problem found by :func:`run_checks`."""
    problems = [f"[{name}] {p}" for name, ps in results.items() for p in ps]
    if problems:
        raise ConfigFileError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
