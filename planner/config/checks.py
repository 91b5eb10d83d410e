"""Named validation checks run by ``evplan validate`` and before every ``evplan run``.

Each check takes the validated config and returns a list of problems (strings naming the
field, the value and the fix). Checks only read local files; none goes online or builds
the network, so ``validate`` is quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from planner.config.study import ConfigFileError, StudyConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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


# --------------------------------------------------------------------------- input files
# The readers of the grid section's input files live here, beside the check that runs them,
# so that `evplan validate` and the study (planner.study.grid) read them with one code path:
# planner.config cannot import planner.study. A bad cell is a ConfigError naming the file,
# the row (feature), the column (property) and the value, and what to give instead.

#: The values of a plants table's ``location_quality`` (case and blanks ignored).
LOCATION_QUALITIES = ("plant", "town", "none")
#: Columns a ``renewables.plants`` CSV needs (``location_source`` is optional).
PLANT_COLUMNS = ("key", "name", "kind", "capacity_mw", "lon", "lat", "location_quality")


def _cell(value: object) -> str:
    """A table cell for a message: blank as 'blank', text quoted, numbers as read."""
    if value is None or (isinstance(value, float) and value != value):
        return "blank"
    return repr(value) if isinstance(value, str) else str(value)


def _number(value: object) -> float | None:
    """``value`` as a finite float; None for text that is not a number, a bool, NaN or
    infinity (a CSV cell read as text, a GeoJSON property such as ``"abc"`` or ``true``)."""
    import math

    if isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_plants_table(path: Path, kinds: Collection[str]) -> tuple[pd.DataFrame, list[str]]:
    """The plants of a ``renewables.plants`` CSV that the study uses, checked cell by cell.

    Returns a table ``key, name, kind, capacity_kw, lon, lat, quality, source`` (one row per
    plant of ``kinds`` with ``location_quality`` plant or town; a town-located plant's
    ``lon``/``lat`` are NaN: :func:`planner.study.grid.read_plants` places it at its town)
    and a sentence for each plant left out (not located, or a kind with no output model).

    Raises
    ------
    ConfigError
        The file cannot be read as a CSV, lacks a column, or a used plant has a
        ``location_quality`` that is none of :data:`LOCATION_QUALITIES`, a ``capacity_mw``
        that is not a number > 0, or (located ``plant``) a ``lon``/``lat`` that is not a
        WGS84 coordinate. The message names the file, the row (header = row 1), the plant,
        the column and the value.
    """
    import pandas as pd

    from networks.csv_header import repeated_columns, repeated_columns_message
    from networks.errors import ConfigError

    cols = ["key", "name", "kind", "capacity_kw", "lon", "lat", "quality", "source"]
    if repeated := repeated_columns(path):  # pandas would read a repeat as name.1, unused
        raise ConfigError(f"renewables.plants {path}: {repeated_columns_message(repeated)}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:  # missing, not a CSV, not UTF-8
        raise ConfigError(
            f"renewables.plants: cannot read {path}: {exc}; give a CSV with columns key, name, "
            "kind, capacity_mw, lon, lat, location_quality, location_source (UTF-8 text)"
        ) from None
    if missing := sorted(set(PLANT_COLUMNS) - set(raw.columns)):
        raise ConfigError(f"renewables.plants {path}: missing columns {missing}")
    where = f"renewables.plants {path}"
    notes: list[str] = []
    rows = []
    for i, r in enumerate(raw.to_dict("records")):
        row = f"row {i + 2} (plant {r['key']!r})"  # header = row 1
        key, name, kind = r["key"], r["name"], r["kind"].strip().lower()
        # "Plant" or "plant " read as "plant"; a value none of the three is refused (it was
        # read as "none" and the plant left out as "not located"; energy review, 2026-12-07)
        quality = r["location_quality"].strip().lower()
        if quality not in LOCATION_QUALITIES:
            raise ConfigError(
                f"{where}: {row}: plant {key!r} has location_quality "
                f"{_cell(r['location_quality'] or None)}; give one of "
                f"{', '.join(LOCATION_QUALITIES)} (plant: its lon/lat; town: its town's "
                "GeoNames point, approximate; none: left out) (header = row 1)"
            )
        if kind not in kinds or quality == "none":
            # a plant with no location is left out before its other fields are read (a
            # solar row marked none with no capacity stopped the study)
            why = "not located" if quality == "none" else f"kind {kind!r} has no output model"
            notes.append(f"Renewable plant {name} ({key}) left out: {why}.")
            continue
        cap = _number(r["capacity_mw"])
        if cap is None or cap <= 0:
            raise ConfigError(
                f"{where}: {row}, column capacity_mw = {_cell(r['capacity_mw'] or None)}: "
                "give the plant's capacity in MW, a number > 0 (header = row 1)"
            )
        lon = lat = float("nan")
        if quality == "plant":
            given = [_number(r[c]) for c in ("lon", "lat")]
            if not all(r[c].strip() for c in ("lon", "lat")):
                raise ConfigError(
                    f"{where}: {row}: plant {key!r} is located 'plant' but has no lon/lat; "
                    "fill them or set location_quality to town (header = row 1)"
                )
            for c, v, lim in (("lon", given[0], 180.0), ("lat", given[1], 90.0)):
                if v is None or abs(v) > lim:
                    raise ConfigError(
                        f"{where}: {row}, column {c} = {_cell(r[c])}: give the plant's WGS84 "
                        f"{'longitude' if c == 'lon' else 'latitude'} in degrees, a number in "
                        f"[-{lim:g}, {lim:g}] (header = row 1)"
                    )
            lon, lat = float(given[0]), float(given[1])  # type: ignore[arg-type]
        rows.append(
            (key, name, kind, cap * 1000.0, lon, lat, quality, r.get("location_source", ""))
        )
    return pd.DataFrame(rows, columns=cols), notes


def read_substations(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points of a ``grid.substations`` GeoJSON: lon, lat and their ``capacity_kw``
    property (NaN where a feature has none, or it is null).

    Raises
    ------
    ConfigError
        The file cannot be read as JSON, has no point features, a feature is not a Point,
        its coordinates are not WGS84 degrees, or its ``capacity_kw`` is not a number > 0
        (text, a bool, NaN, infinity, zero or negative). The message names the file, the
        feature (counted from 0, as in the file's ``features`` list), the property and the
        value.
    """
    import json

    import numpy as np

    from networks.errors import ConfigError

    where = f"grid.substations {path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # missing, not JSON, not UTF-8
        raise ConfigError(
            f"grid.substations: cannot read {path}: {exc}; give a GeoJSON file (UTF-8) of "
            "Point features"
        ) from None
    features = data.get("features") if isinstance(data, dict) else None
    lon: list[float] = []
    lat: list[float] = []
    cap: list[float] = []
    for i, f in enumerate(features if isinstance(features, list) else []):
        f = f if isinstance(f, dict) else {}
        props: dict[str, Any] = p if isinstance(p := f.get("properties"), dict) else {}
        label = f"feature {i}" + (f" ({props['name']!r})" if "name" in props else "")
        geom: dict[str, Any] = g if isinstance(g := f.get("geometry"), dict) else {}
        if geom.get("type") != "Point":
            raise ConfigError(
                f"{where}: {label} is a {geom.get('type')!r}, not a Point; give substations "
                "as points (features counted from 0)"
            )
        xy = geom.get("coordinates")
        x, y = (
            (_number(v) for v in xy[:2]) if isinstance(xy, list) and len(xy) >= 2 else (None,) * 2
        )
        if x is None or y is None or abs(x) > 180 or abs(y) > 90:
            raise ConfigError(
                f"{where}: {label} has coordinates {xy!r}; give [longitude, latitude] in WGS84 "
                "degrees (features counted from 0)"
            )
        c = props.get("capacity_kw")
        kw = _number(c)
        if c is not None and (kw is None or kw <= 0):
            raise ConfigError(
                f"{where}: {label}, property capacity_kw = {json.dumps(c)}: give the "
                "substation's spare capacity in kW, a number > 0 (or leave the property out "
                "and set grid.near_substation_kw) (features counted from 0)"
            )
        lon.append(x)
        lat.append(y)
        cap.append(kw if kw is not None else float("nan"))
    if not lon:
        raise ConfigError(f"{where}: no point features; give a FeatureCollection of Points")
    return np.array(lon, dtype=float), np.array(lat, dtype=float), np.array(cap, dtype=float)


@check("input_file_values")
def _input_values(cfg: StudyConfig) -> list[str]:
    """The values in the study's tables: read as the study reads them, so that a bad cell
    is found by ``evplan validate`` and named (file, row, column, value)."""
    from networks.errors import EvplanError
    from sim.demand.od_table import check_od_table
    from sim.demand.zones import check_population_table, read_population_table

    def population(path: Path) -> None:
        # named as the run names it (file and field), so validate's message is the run's
        check_population_table(
            read_population_table(path), source=f"{path} (demand.zone_population)"
        )

    d = cfg.demand
    readers: list[tuple[Path | None, Callable[[Path], object]]] = [
        (cfg.renewables.plants, lambda p: read_plants_table(p, cfg.renewables.kinds)),
        (cfg.grid.substations, read_substations),
        # read only by a city study with district polygons (planner.study.demand.city_zones)
        (d.zone_population if d.kind == "city" and d.zones is not None else None, population),
        (d.od_table if d.kind == "od_table" else None, check_od_table),
    ]
    problems = []
    for path, read in readers:
        if path is None or not Path(path).is_file():  # input_files_exist reports those
            continue
        try:
            read(Path(path))
        except EvplanError as exc:
            problems.append(str(exc))
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


def check_environment() -> None:
    """Check the worker-count environment variables (``EVPLAN_THREADS``,
    ``EVPLAN_SIM_WORKERS``) before any work: a bad value is a usage error at once, not an
    error once routing or the replications start. Used by the command line and the
    notebook API's study functions."""
    from networks.road_network import check_thread_env
    from sim.api import check_workers_env

    check_thread_env()
    check_workers_env()


def check_study(cfg: StudyConfig, *, source: str) -> None:
    """Every check of ``evplan validate`` / ``evplan run`` on a loaded study
    (:func:`run_checks`), raising :class:`ConfigFileError` that lists every problem, each
    named with ``source`` (the study file, or the study's name)."""
    raise_on_problems(run_checks(cfg, source=source), source=source)
