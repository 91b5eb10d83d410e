"""Cheap argument checks shared by the public entry points of :mod:`sim`.

Each check is an ``isinstance`` test (no deep validation: the tables themselves are checked
by :mod:`sim.inputs`, settings by :class:`~sim.settings.SimSettings`) that turns a wrong
*type* -- a list where a DataFrame is expected, a dict where settings are -- into one of the
project's domain errors naming the argument, what was received and what to pass instead,
instead of an ``AttributeError`` deep inside the simulation.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from typing import TypeGuard

import numpy as np
import pandas as pd

from networks.errors import NetworkTypeError
from networks.road_network import RoadNetwork
from sim._errors import SimSettingsError, VehicleSpecError
from sim.catalogue import builtin_models
from sim.settings import SimSettings
from sim.vehicles import VehicleModel

#: What an ``rng`` argument takes: a Generator, or a seed for :func:`numpy.random.default_rng`.
RngLike = int | np.integer | np.random.Generator | np.random.SeedSequence

#: Short ``repr`` of a received value (a 10 000-row list is not printed whole).
_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 40
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 3
_SHORT.maxlevel = 2


def received(value: object) -> str:
    """``value`` as shown in an error message: a short repr and its type.

    Parameters
    ----------
    value : object
        The value received.

    Returns
    -------
    str
        E.g. ``[1, 2] (list)``; long containers and strings are cut short.
    """
    return f"{_SHORT.repr(value)} ({type(value).__name__})"


def require_network(value: object, *, name: str = "network") -> RoadNetwork:
    """``value`` if it is a :class:`~networks.road_network.RoadNetwork`; otherwise a
    :class:`~networks.errors.NetworkTypeError` naming what was given and how to get one
    (before, a path or a graph failed deep inside with a bare ``AttributeError``).

    Parameters
    ----------
    value : object
        What the caller passed as the network.
    name : str
        The argument's name, for the message.

    Returns
    -------
    RoadNetwork
    """
    if isinstance(value, RoadNetwork):
        return value
    hint = (
        f"use its .network (a {type(value).__name__} holds one)"
        if isinstance(getattr(value, "network", None), RoadNetwork)
        else "load one with networks.load_network(path).network"
    )
    raise NetworkTypeError(f"{name} = {received(value)} must be a networks.RoadNetwork; {hint}")


def whole_number(value: object, *, at_least: int) -> TypeGuard[int | np.integer]:
    """Whether ``value`` is a Python or numpy integer ``>= at_least`` (a bool is not one).

    Parameters
    ----------
    value : object
        The value received.
    at_least : int
        The smallest value allowed.

    Returns
    -------
    bool
        True for such an integer (and a type guard for it).
    """
    return (
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and bool(value >= at_least)
    )


def node_values(values: pd.Series, n_nodes: int) -> tuple[pd.Series, np.ndarray]:
    """``values`` as numbers (same index) and, by position, which of them are not node
    indices ``0..n_nodes - 1`` of a network (blank, text, negative, fractional, too large).

    Parameters
    ----------
    values : Series
        Node values as given (a stations, trips or places column).
    n_nodes : int
        Nodes of the network.

    Returns
    -------
    (Series, ndarray of bool)
        The numbers (NaN where not one) and the mask of bad values.
    """
    v = pd.to_numeric(values, errors="coerce")
    bad = v.isna() | (v < 0) | (v >= n_nodes) | (v != np.floor(v))
    return v, bad.to_numpy()


def int_seed(seed: object) -> TypeGuard[int | np.integer]:
    """Whether ``seed`` is an integer seed numpy's SeedSequence takes (an integer >= 0)."""
    return whole_number(seed, at_least=0)


def as_generator(
    rng: object, *, name: str = "rng", where: str = "", error: type[Exception] = SimSettingsError
) -> np.random.Generator:
    """The random generator for ``rng``: a numpy Generator as it is, an integer seed >= 0 or
    a SeedSequence through :func:`numpy.random.default_rng` (as ``sim.simulate``'s seed).

    Parameters
    ----------
    rng : object
        The value received.
    name : str
        The argument's name, for the message.
    where : str
        The function it was passed to (``"city_trips"``), prefixed to the message.
    error : type of Exception
        The domain error to raise.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    error
        ``rng`` is none of these (``None``, a bool, a float, a negative integer, ...).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if int_seed(rng):
        return np.random.default_rng(int(rng))
    prefix = f"{where}: " if where else ""
    raise error(
        f"{prefix}{name} = {received(rng)} must be an integer >= 0 (a seed), a numpy "
        "Generator or a SeedSequence; pass e.g. numpy.random.default_rng(1) or 1 so the same "
        "seed gives the same result"
    )


def require_frame(
    value: object, *, name: str, columns: Iterable[str], error: type[Exception], note: str = ""
) -> pd.DataFrame:
    """``value`` if it is a pandas DataFrame.

    Parameters
    ----------
    value : object
        The value received.
    name : str
        The argument's name (``"stations"``), for the message.
    columns : iterable of str
        The table's required columns, for the message.
    error : type of Exception
        The domain error to raise.
    note : str
        Appended to the message (e.g. what ``None`` means for this argument).

    Returns
    -------
    DataFrame
        ``value`` itself (its contents are not checked here).

    Raises
    ------
    error
        ``value`` is not a DataFrame (a list of rows, a dict of columns, a path, ...); the
        message names ``name``, the value and its type, the columns and how to build one.
    """
    if isinstance(value, pd.DataFrame):
        return value
    cols = ", ".join(columns)
    raise error(
        f"{name} = {received(value)} must be a pandas DataFrame with columns {cols}; "
        f"build one with pandas.DataFrame(...) (a list of row dicts or a dict of columns "
        f"works: pandas.DataFrame({name})){note}"
    )


def settings_or_default(settings: object) -> SimSettings:
    """The settings of a run.

    Parameters
    ----------
    settings : object
        The value received.

    Returns
    -------
    SimSettings
        ``settings`` itself, or the defaults for ``None``.

    Raises
    ------
    SimSettingsError
        ``settings`` is anything else (a dict of options, a path, ...); an empty dict is
        refused too rather than taken for the defaults.
    """
    if settings is None:
        return SimSettings()
    if isinstance(settings, SimSettings):
        return settings
    hint = (
        "build one with SimSettings(**options)"
        if isinstance(settings, Mapping)
        else "build one with SimSettings(...)"
    )
    raise SimSettingsError(
        f"settings = {received(settings)} must be a sim.SimSettings or None (defaults); {hint}"
    )


def vehicle_catalogue(vehicles: object) -> dict[str, VehicleModel]:
    """The vehicle catalogue of a run.

    Parameters
    ----------
    vehicles : object
        The value received.

    Returns
    -------
    dict
        ``{key: VehicleModel}``, a copy of ``vehicles`` (the built-in catalogue for ``None``).

    Raises
    ------
    VehicleSpecError
        ``vehicles`` is not a mapping, or one of its values is not a :class:`VehicleModel`.
    """
    if vehicles is None:
        return builtin_models()
    if not isinstance(vehicles, Mapping):
        hint = (
            f"; for one model pass {{{vehicles.key!r}: model}}"
            if isinstance(vehicles, VehicleModel)
            else ""
        )
        raise VehicleSpecError(
            f"vehicles = {received(vehicles)} must be a vehicle catalogue, a mapping of "
            "model key -> sim.VehicleModel: sim.builtin_models(), or "
            f"sim.load_vehicle_models(path) for a YAML file{hint}"
        )
    for key, model in vehicles.items():
        if not isinstance(model, VehicleModel):
            raise VehicleSpecError(
                f"vehicles[{key!r}] = {received(model)} must be a sim.VehicleModel; build "
                "the catalogue with sim.load_vehicle_models(path or mapping of fields) or "
                "take models from sim.builtin_models()"
            )
    return dict(vehicles)


def check_confidence(confidence: object) -> None:
    """Raise :class:`SimSettingsError` naming ``confidence`` unless it is a real number (not
    a bool) in (0, 1). A string or None raised a bare ``TypeError`` from the comparison, and
    :func:`summarise` took 1.5 and returned NaN intervals without a word."""
    if isinstance(confidence, bool | np.bool_) or not (
        isinstance(confidence, int | float | np.integer | np.floating) and 0 < confidence < 1
    ):
        raise SimSettingsError(
            f"confidence = {received(confidence)} must be a number in (0, 1), e.g. 0.95"
        )
