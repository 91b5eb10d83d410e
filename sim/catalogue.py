"""Built-in vehicle catalogue (``sim/catalogue.yaml``) and user YAML extensions.

A user file has the same layout as the built-in one::

    models:
      my_van:
        name: My e-van
        category: van
        battery_kwh: 75
        consumption_kwh_per_km: 0.25
        max_ac_kw: 11
        dc_curve: [[0, 100], [0.8, 100], [1.0, 20]]
        connectors: [CCS2, Type2]
        source: manufacturer data sheet 2024
      id4_china:
        extends: vw_id4_pro          # copy a known model, override some fields
        connectors: [GB/T]

Unknown fields, impossible values and unknown ``extends`` targets raise
:class:`~sim._errors.VehicleSpecError` naming the file, the model and the field.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from networks.yaml_reader import read_yaml
from sim._errors import UnknownVehicleModelError, VehicleSpecError
from sim.connectors import split_connectors
from sim.vehicles import VehicleModel

logger = logging.getLogger(__name__)

BUILTIN_PATH = Path(__file__).with_name("catalogue.yaml")
_FIELDS = {f.name for f in dataclasses.fields(VehicleModel)} - {"key"}
_PAIR_FIELDS = ("dc_curve", "cold_dc_factor")


@lru_cache(maxsize=1)
def _builtin() -> dict[str, VehicleModel]:
    return load_vehicle_models(BUILTIN_PATH, base={}, require_source=True)


def builtin_models() -> dict[str, VehicleModel]:
    """The built-in catalogue as ``{key: VehicleModel}`` (a fresh dict each call)."""
    return dict(_builtin())


def load_vehicle_models(
    source: str | Path | Mapping[str, Any],
    *,
    base: Mapping[str, VehicleModel] | None = None,
    require_source: bool = False,
) -> dict[str, VehicleModel]:
    """Read vehicle models from a YAML file (or an already parsed mapping).

    Parameters
    ----------
    source : path or mapping
        YAML file with a top-level ``models`` mapping, or that mapping's parsed form.
    base : mapping, optional
        Models that ``extends:`` may refer to and that the result is merged onto; the
        built-in catalogue by default. Pass ``{}`` to get only the file's models.
    require_source : bool
        Require a non-empty ``source`` field (used for the built-in catalogue).

    Returns
    -------
    dict
        ``base`` updated with the file's models (user models override built-ins of the same key).
    """
    where = str(source) if isinstance(source, (str, Path)) else "<vehicle mapping>"
    data = _read_yaml(source) if isinstance(source, (str, Path)) else dict(source)
    models = data.get("models", data) if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping) or not models:
        raise VehicleSpecError(
            f"{where}: expected a top-level 'models:' mapping of model key -> fields"
        )
    out: dict[str, VehicleModel] = dict(builtin_models() if base is None else base)
    for key, spec in models.items():
        model = _build(str(key), spec, out, where, require_source)
        old = out.get(str(key))
        if old is not None and old != model:
            # allowed (a user's better figures), but a report showing the built-in's key and
            # name with other numbers must not go unsaid (carmaker review, 2026-12-07)
            changed = sorted(f for f in _FIELDS if getattr(old, f) != getattr(model, f))
            logger.warning(
                "%s: vehicle model %r replaces the one of that key already known (fields "
                "changed: %s); give it a key of its own to compare the two",
                where,
                str(key),
                ", ".join(changed),
            )
        out[str(key)] = model
    return out


def _read_yaml(path: str | Path) -> Any:
    """A catalogue file read by evplan's one bounded YAML reader (:mod:`networks.yaml_reader`,
    as study files are): UTF-8 text, at most 1 MB, no YAML tags, and a key given twice in one
    mapping refused naming both lines (YAML would keep the last value without a word)."""
    p = Path(path)
    if not p.exists():
        raise VehicleSpecError(f"vehicle catalogue file {p} does not exist; check the path")
    data, _ = read_yaml(p, what="vehicle catalogue", error=VehicleSpecError)
    return data


def _build(
    key: str, spec: Any, known: Mapping[str, VehicleModel], where: str, require_source: bool
) -> VehicleModel:
    if not isinstance(spec, Mapping):
        raise VehicleSpecError(
            f"{where}: vehicle model {key!r} must be a mapping of fields, got {spec!r}"
        )
    spec = dict(spec)
    parent = spec.pop("extends", None)
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise VehicleSpecError(
            f"{where}: vehicle model {key!r} has unknown field(s) {unknown}; allowed fields: {sorted(_FIELDS)}"
        )
    fields: dict[str, Any] = {}
    if parent is not None:
        if str(parent) not in known:
            raise VehicleSpecError(
                f"{where}: vehicle model {key!r} extends unknown model {parent!r}; known: {sorted(known)}"
            )
        fields = {f: getattr(known[str(parent)], f) for f in _FIELDS}
        if "chemistry" in spec and "cold_dc_factor" not in spec:
            fields["cold_dc_factor"] = ()  # the new chemistry's default table
    fields.update(spec)
    fields.setdefault("name", key)
    for f in _PAIR_FIELDS:
        if f in fields:
            fields[f] = _pairs(key, f, fields[f], where)
    if "connectors" in fields:  # "CCS2; Type2" or a list
        fields["connectors"] = split_connectors(fields["connectors"])
    required = ("category", "battery_kwh", "consumption_kwh_per_km", "max_ac_kw", "connectors")
    missing = [f for f in required if f not in fields]
    if missing:
        raise VehicleSpecError(f"{where}: vehicle model {key!r} lacks required field(s) {missing}")
    if require_source and not str(fields.get("source", "")).strip():
        raise VehicleSpecError(
            f"{where}: vehicle model {key!r} has no 'source'; every built-in needs one"
        )
    for f in ("battery_kwh", "consumption_kwh_per_km", "max_ac_kw"):
        v = fields[f]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise VehicleSpecError(
                f"{where}: vehicle model {key!r}: field {f!r} = {v!r} is not a number"
            )
    try:
        model = VehicleModel(key=key, **fields)
    except VehicleSpecError as exc:
        raise VehicleSpecError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise VehicleSpecError(f"{where}: vehicle model {key!r}: {exc}") from exc
    return model


def _pairs(key: str, fld: str, value: Any, where: str) -> tuple[tuple[float, float], ...]:
    try:
        pairs = tuple((float(a), float(b)) for a, b in value)
    except (TypeError, ValueError) as exc:
        raise VehicleSpecError(
            f"{where}: vehicle model {key!r}: field {fld!r} = {value!r} must be a list of [x, y] pairs"
        ) from exc
    return pairs


def resolve_models(
    keys: Iterable[str], vehicles: Mapping[str, VehicleModel], *, what: str = "trips table"
) -> None:
    """Raise :class:`UnknownVehicleModelError` if any of ``keys`` is not in ``vehicles``."""
    missing = sorted({str(k) for k in keys} - set(vehicles))
    if missing:
        raise UnknownVehicleModelError(
            f"{what} refers to unknown vehicle model(s) {missing[:10]}; known models: {sorted(vehicles)}. "
            "Fix the model name or add it in a vehicles YAML file (sim.load_vehicle_models)."
        )


def default_car_mix(vehicles: Mapping[str, VehicleModel] | None = None) -> dict[str, float]:
    """Equal shares over the catalogue's current cars (the 2013 i-MiEV excluded)."""
    vehicles = builtin_models() if vehicles is None else vehicles
    cars = [k for k, m in vehicles.items() if m.category == "car" and not k.endswith("_2013")]
    if not cars:
        raise UnknownVehicleModelError(
            "no car models in the catalogue for a default vehicle mix; pass one explicitly"
        )
    return {k: 1.0 / len(cars) for k in cars}


def default_truck_mix(vehicles: Mapping[str, VehicleModel] | None = None) -> dict[str, float]:
    """Equal shares over the catalogue's trucks."""
    vehicles = builtin_models() if vehicles is None else vehicles
    trucks = [k for k, m in vehicles.items() if m.category == "truck"]
    if not trucks:
        raise UnknownVehicleModelError(
            "no truck models in the catalogue for a truck mix; pass one explicitly"
        )
    return {k: 1.0 / len(trucks) for k in trucks}
