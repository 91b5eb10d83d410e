"""Input validation shared by the siting models' public constructors.

Every check raises a :mod:`planner._errors` domain error (``ModelInputError`` and friends,
which the command line reports with exit code 2) whose message names the argument, the
offending value and what would fix it, instead of letting a wrong type surface as a numpy
or attribute error deep inside a solve. The functions are re-exported by :mod:`planner.siting._base`, where
they used to live.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Iterable
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from scipy import sparse

from planner._errors import BudgetError, ModelInputError, NoCandidatesError

#: Repeated labels (or bad entries) quoted in one message at most.
SHOWN = 5


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_number(value: Any, name: str, *, fix: str) -> float:
    """``value`` as a float; a string, bool, ``None``, sequence or array is refused.

    Parameters
    ----------
    value : Any
        What the caller passed.
    name : str
        Argument name, for the message.
    fix : str
        What to pass instead (the end of the message).

    Returns
    -------
    float

    Raises
    ------
    ModelInputError
        When ``value`` is not a real number.
    """
    value = scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real | decimal.Decimal):
        raise ModelInputError(
            f"{name} must be a number, got {type(value).__name__} {shown(value)}; {fix}"
        )
    return float(value)


def scalar(value: Any) -> Any:
    """A 0-d numpy array as the number it holds (``np.array(2)`` from a reduction); any
    other value as it is."""
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def float_array(values: Any, name: str, *, expected: str) -> np.ndarray:
    """``values`` as a float64 array; what numpy cannot read as real numbers is refused.

    Parameters
    ----------
    values : array-like
        What the caller passed (list, array, Series, DataFrame ...).
    name : str
        Argument name, for the message.
    expected : str
        What the argument should be (e.g. ``"one number per demand row"``).

    Returns
    -------
    numpy.ndarray
        ``float64``; no copy when ``values`` already is one.

    Raises
    ------
    ModelInputError
        On strings, mappings, sets, ragged nesting, non-numeric or complex entries.
    """
    fix = f"pass {expected} as a list or numpy array of numbers"
    if isinstance(values, str | bytes | dict | set | frozenset):
        raise ModelInputError(
            f"{name} must be {expected}, got {type(values).__name__} {shown(values)}; {fix}"
        )
    try:
        arr = np.asarray(values)
        if arr.dtype.kind not in "biufO":
            raise TypeError(f"dtype {arr.dtype}")
        return arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ModelInputError(
            f"{name} must be {expected}, got {type(values).__name__} {shown(values)} that is "
            f"not readable as real numbers ({exc}); {fix}"
        ) from None


def check_network(network: Any, needs: tuple[str, ...]) -> None:
    """Refuse a ``network`` that lacks what the model calls on it (a path, a graph, a
    LoadedNetwork), naming what it got and how to get one, instead of an
    ``AttributeError`` from inside. Duck-typed: the siting models do not import the road
    network's class."""
    for attr in needs:
        if not hasattr(network, attr):
            hint = (
                "use its .network"
                if hasattr(getattr(network, "network", None), attr)
                else "load one with networks.load_network(...).network"
            )
            raise ModelInputError(
                f"network must be a networks.RoadNetwork, got {type(network).__name__} (it has "
                f"no {attr!r}); {hint}"
            )


def check_threshold(threshold: Any) -> float:
    """The coverage radius: a finite number of seconds ``>= 0``."""
    fix = "give the coverage radius as a travel time in seconds, e.g. threshold=600 (10 min)"
    t = as_number(threshold, "threshold", fix=fix)
    if not math.isfinite(t) or t < 0:
        raise ModelInputError(
            f"threshold must be a finite number >= 0 (seconds), got {threshold!r}; {fix}"
        )
    return t


def check_share(value: Any, name: str, *, example: str) -> float:
    """A share in ``(0, 1]`` (a coverage target, a utilisation), e.g. ``0.9``."""
    fix = f"pass a fraction in (0, 1], e.g. {name}={example}"
    v = as_number(value, name, fix=fix)
    if not 0 < v <= 1:
        raise ModelInputError(f"{name} must be a share in (0, 1], got {value!r}; {fix}")
    return v


def check_cost_matrix(cost, *, name: str = "cost") -> np.ndarray | sparse.csr_matrix:
    """Validate a cost matrix; returns a float64 ndarray or a CSR matrix (explicit zeros kept)."""
    expected = "a 2-D demand x site matrix of travel costs in seconds"
    if sparse.issparse(cost):
        if cost.format == "csr" and cost.dtype == np.float64 and cost.has_canonical_format:
            mat = cost  # used read-only: copying 10^8 entries took seconds
        else:
            if cost.dtype.kind not in "biuf":
                raise ModelInputError(
                    f"{name} must be {expected}, got a sparse matrix of dtype {cost.dtype}; "
                    "convert it with .astype(float)"
                )
            mat = sparse.csr_matrix(cost, dtype=np.float64, copy=True)
            mat.sum_duplicates()
        data = mat.data
    else:
        mat = float_array(cost, name, expected=expected)
        if mat.ndim != 2:
            raise ModelInputError(
                f"{name} must be a 2-D matrix (demand x sites), got shape {mat.shape}; pass "
                "one row per demand point and one column per site (e.g. cost.reshape(1, -1) "
                "for a single demand point)"
            )
        data = mat
    if mat.shape[1] == 0:
        raise NoCandidatesError(
            f"{name} has no columns: there are no candidate sites or existing stations to choose from; "
            "add candidate sites (e.g. widen the candidate tag rules)"
        )
    if mat.shape[0] == 0:
        raise ModelInputError(f"{name} has no rows: there are no demand points; add demand")
    if np.isnan(data).any():
        raise ModelInputError(
            f"{name} contains NaN; use inf (or leave a sparse entry out) for unreachable pairs"
        )
    if (data < 0).any():
        bad = (
            np.argwhere(mat < 0)[:3].tolist() if not sparse.issparse(mat) else "some stored entries"
        )
        raise ModelInputError(f"{name} has negative travel costs (at {bad}); costs must be >= 0")
    return mat


def check_weights(weights, n: int, *, name: str = "weights") -> np.ndarray:
    """Non-negative finite demand weights of length ``n`` (all ones when ``None``)."""
    return check_per_item(
        weights,
        n,
        name,
        items="demand rows",
        each="demand row",
        zero="rows without demand",
    )


def check_site_costs(costs, m: int, *, name: str = "candidate_costs") -> np.ndarray:
    """Non-negative finite per-site costs of length ``m`` (all ones when ``None``)."""
    return check_per_item(
        costs,
        m,
        name,
        items="sites",
        each="site column",
        zero="sites that cost nothing",
    )


def check_per_item(values, n: int, name: str, *, items: str, each: str, zero: str) -> np.ndarray:
    """One finite number >= 0 per item (a demand row or site column of the cost matrix, an
    OD pair; ones when ``None``); ``items``, ``each`` and ``zero`` word the messages."""
    if values is None:
        return np.ones(n)
    v = float_array(values, name, expected=f"one number per {each} ({n})")
    if sum(d > 1 for d in v.shape) > 1:
        # a (n, 1) column (one-column frame) is one value per item; a (2, 3) table is not,
        # and flattening it would silently pair the wrong numbers with the items
        raise ModelInputError(
            f"{name} must be one number per {each} ({n}), got a {v.ndim}-D array of shape "
            f"{v.shape}; pass a 1-D list or array"
        )
    v = v.ravel()
    if v.size != n:
        raise ModelInputError(
            f"{name} has {v.size} values but there are {n} {items}; give one value per "
            f"{each} of the cost matrix"
        )
    if not np.isfinite(v).all() or (v < 0).any():
        bad = np.flatnonzero(~np.isfinite(v) | (v < 0))[:SHOWN]
        raise ModelInputError(
            f"{name} must be finite and >= 0; bad {each}s {bad.tolist()} (values "
            f"{v[bad].tolist()}); use 0 for {zero}"
        )
    return v


def check_fixed(fixed_open, m: int) -> np.ndarray:
    """Sorted unique column indices from an index list or a boolean mask."""
    if fixed_open is None:
        return np.empty(0, dtype=np.int64)
    arr = np.asarray(fixed_open)
    if arr.dtype == bool:
        if arr.size != m:
            raise ModelInputError(
                f"fixed_open mask has {arr.size} entries but there are {m} sites; give one "
                "True/False per site column, or a list of column indices"
            )
        return np.flatnonzero(arr).astype(np.int64)
    arr = arr.ravel()
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= m):
        raise ModelInputError(
            f"fixed_open must hold site indices in 0..{m - 1}, got {arr[:SHOWN].tolist()}; "
            "pass integer column indices of the cost matrix (or a boolean mask)"
        )
    return np.unique(arr.astype(np.int64))


def check_free_sites(m: int, fixed: np.ndarray) -> np.ndarray:
    """Columns that may be opened; raises :class:`NoCandidatesError` when there are none."""
    free = np.setdiff1d(np.arange(m), fixed)
    if free.size == 0:
        raise NoCandidatesError(
            f"no candidate sites: all {m} sites are fixed open (existing stations), so there is "
            "nothing to choose; add candidate sites"
        )
    return free


@overload
def check_count(value: Any, name: str, *, allow_none: Literal[False]) -> int: ...


@overload
def check_count(value: Any, name: str, *, allow_none: bool = True) -> int | None: ...


def check_count(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    """A non-negative whole number; ``None`` passes through when ``allow_none``.

    Integral floats (``3.0``) are accepted; strings, bools, sequences and fractions are not.
    """
    if value is None:
        if allow_none:
            return None
        raise ModelInputError(f"{name} is required: pass a whole number of sites, e.g. {name}=5")
    value = scalar(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        value = int(value) if value == value.to_integral_value() else float(value)
    whole = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()
    )
    if isinstance(value, bool) or not whole or value < 0:
        raise ModelInputError(
            f"{name} must be a non-negative integer (a number of sites), got "
            f"{type(value).__name__} {shown(value)}; pass e.g. {name}=5"
        )
    return int(value)


def check_site_count(p: int, n_free: int, *, model: str, n_fixed: int = 0) -> None:
    """Refuse ``p`` new sites when fewer candidates can be opened (the p-median's rule,
    shared by every model whose ``p`` counts new sites)."""
    if p > n_free:
        fixed = f" ({n_fixed} more are fixed open)" if n_fixed else ""
        raise ModelInputError(
            f"{model}: p = {p} exceeds the {n_free} candidate sites that can be opened{fixed}; "
            f"lower p to at most {n_free} or add candidate sites"
        )


def check_budget(budget, costs: np.ndarray, fixed: np.ndarray) -> float | None:
    """Validate a budget against the cost of what is fixed open."""
    if budget is None:
        return None
    fix = "give the total budget (fixed-open sites included) as a number >= 0"
    b = as_number(budget, "budget", fix=fix)
    if not math.isfinite(b) or b < 0:
        raise ModelInputError(f"budget must be a finite number >= 0, got {budget!r}; {fix}")
    fixed_cost = float(costs[fixed].sum())
    if b + 1e-9 * max(1.0, abs(b)) < fixed_cost:
        top = fixed[np.argsort(-costs[fixed])][:5]
        items = ", ".join(f"site {j} costs {costs[j]:g}" for j in top)
        raise BudgetError(
            f"budget {b:g} is below the {fixed_cost:g} already committed to the {fixed.size} "
            f"fixed-open sites ({items}); raise the budget to at least {fixed_cost:g} or set "
            "the cost of existing stations to 0"
        )
    return b


def check_unique_labels(labels: np.ndarray, name: str) -> None:
    """Refuse repeated labels: a label must name one site (column).

    Parameters
    ----------
    labels : numpy.ndarray
        One label per site column (object dtype).
    name : str
        Where the labels came from (``"site_labels"``, a GeoDataFrame column ...).

    Raises
    ------
    ModelInputError
        Naming the repeated values and the columns that carry them.
    """
    for j, lab in enumerate(labels.tolist()):
        try:
            hash(lab)
        except TypeError:
            raise ModelInputError(
                f"{name} must hold hashable labels (strings or numbers), got "
                f"{type(lab).__name__} {shown(lab)} at column {j}; pass e.g. the sites' ids "
                "as strings"
            ) from None
    index = pd.Index(labels, dtype=object, tupleize_cols=False)
    repeated = index.duplicated(keep=False)
    if not repeated.any():
        return
    cols = np.flatnonzero(repeated)
    groups: dict[Any, list[int]] = {}
    for j in cols.tolist():
        groups.setdefault(index[j], []).append(j)
    items = "; ".join(f"{shown(lab)} at columns {js}" for lab, js in list(groups.items())[:SHOWN])
    more = f" and {len(groups) - SHOWN} more" if len(groups) > SHOWN else ""
    raise ModelInputError(
        f"{name} must be unique (one label per site), but {len(groups)} labels repeat: "
        f"{items}{more}; give each site its own label (e.g. add a suffix to the repeats) or "
        "drop the duplicate sites"
    )


def labels_array(labels, m: int, *, name: str = "site_labels") -> np.ndarray | None:
    """One unique label per site column as an object array (``None`` stays ``None``)."""
    if labels is None:
        return None
    if isinstance(labels, str | bytes) or not isinstance(labels, Iterable):
        raise ModelInputError(
            f"{name} must be a sequence of {m} labels (one per site column), got "
            f"{type(labels).__name__} {shown(labels)}; pass e.g. a list of site ids"
        )
    items = list(labels)
    if len(items) != m:
        raise ModelInputError(
            f"{name} has {len(items)} entries but there are {m} sites; give exactly one label "
            "per column of the cost matrix"
        )
    arr = np.empty(m, dtype=object)
    for j, item in enumerate(items):  # element-wise: tuples stay labels, not a 2-D array
        arr[j] = item
    check_unique_labels(arr, name)
    return arr
