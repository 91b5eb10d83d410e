"""One number formatter for every output a person reads (HTML report, command line).

Precision comes from the KPI registry (:data:`sim.kpis.KPIS`: unit and decimals per KPI);
other values get thousands separators and a precision that suits their size. Shares are
shown in percent (changes of shares in percentage points), missing values as an em dash.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.kpis import KPIS

__all__ = [
    "COST_UNIT",
    "config_section",
    "format_kpi",
    "format_kpi_range",
    "format_value",
    "study_currency",
    "unit_label",
]

MISSING = "—"

#: The registry's unit of costs (:data:`sim.kpis.KPIS`), replaced by the study's currency
COST_UNIT = "cost units"


def config_section(result: Any, name: str) -> dict[str, Any]:
    """Section ``name`` of the study config a result was run with (the manifest's
    ``config_resolved``); empty when the result carries none."""
    resolved = (getattr(result, "manifest", None) or {}).get("config_resolved") or {}
    return resolved.get(name) or {}


def study_currency(result: Any) -> str:
    """The unit of the study's costs (``candidates.currency``; "cost units" by default)."""
    return str(config_section(result, "candidates").get("currency") or COST_UNIT)


def unit_label(unit: str) -> str:
    """How a unit is written next to a number (``share`` -> ``%``)."""
    return "%" if unit == "share" else unit


def format_value(
    value: Any,
    *,
    unit: str = "",
    decimals: int | None = None,
    delta: bool = False,
    marks: bool = True,
) -> str:
    """``value`` for people: ``12,345``, ``3.4``, ``97.3 %``, ``+1.2 pp``, ``—``; a share
    that rounds to 100 % (or 0 %) without being it reads ``> 99.9 %`` (``< 0.1 %``).

    Parameters
    ----------
    value : number, bool, str or None
        What to show (non-numbers are returned as text).
    unit : str
        ``share`` for 0-1 fractions (shown in percent); other units only pick a precision.
    decimals : int, optional
        Fixed decimals (of the percentage for shares); by default 1 for shares and values
        below 100, none above.
    delta : bool
        A change: a sign is always shown, shares in percentage points.
    marks : bool
        Mark a share that rounds to 100 % or 0 % without being it (``> 99.9 %``); off inside
        a sentence or a range, where the mark would read as a comparison.
    """
    if value is None:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return MISSING
    sign = "+" if delta and v > 0 else ""
    if unit == "share":
        d = 1 if decimals is None else decimals
        text = f"{v * 100:,.{d}f}"
        if marks and not delta:
            # a share that is not whole (one stranded car in 10,000) must not read "100.0 %",
            # nor a share that is not zero "0.0 %"
            shown, step = float(text.replace(",", "")), 10.0**-d
            if 0 <= v < 1 and shown >= 100:
                return f"> {100 - step:.{d}f} %"
            if 0 < v <= 1 and shown <= 0:
                return f"< {step:.{d}f} %"
        return f"{sign}{text} {'pp' if delta else '%'}"
    if decimals is None:
        decimals = 0 if (abs(v) >= 100 or float(v).is_integer()) else 1
        if 0 < abs(v) < 0.1:
            decimals = 3
    elif decimals == 0 and not float(v).is_integer() and abs(v) < 100:
        decimals = 1  # a mean over replications of a count (5.3 stranded vehicles)
    return f"{sign}{v:,.{decimals}f}"


def format_kpi(name: str, value: Any, *, delta: bool = False, marks: bool = True) -> str:
    """A KPI value with the registry's unit and decimals (other names: :func:`format_value`)."""
    entry = KPIS.get(name)
    if entry is None:
        return format_value(value, delta=delta)
    return format_value(value, unit=entry.unit, decimals=entry.decimals, delta=delta, marks=marks)


def format_kpi_range(name: str, low: Any, high: Any) -> tuple[str, str]:
    """The two bounds of an interval of KPI ``name``, written with one precision.

    A share's bounds get up to three more decimals than the registry's when a bound that is
    not 100 % (or 0 %) would read as it (``99.8 %`` to ``99.996 %``, not ``100.0 %``); the
    ``> 99.9 %`` mark of :func:`format_value` would read as a comparison inside a range,
    and is kept only for a bound still whole at the finest precision.
    """
    entry = KPIS.get(name)
    if entry is None or entry.unit != "share":
        return format_kpi(name, low, marks=False), format_kpi(name, high, marks=False)
    base = 1 if entry.decimals is None else entry.decimals
    bounds = [float(b) for b in (low, high) if _is_number(b) and math.isfinite(float(b))]
    d = base
    while d < base + 3 and any(_rounds_to_whole(b, d) for b in bounds):
        d += 1
    # still whole at the finest precision (1 stranded trip in 10 million): marked after all
    lo, hi = (format_value(b, unit="share", decimals=d) for b in (low, high))
    return lo, hi


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _rounds_to_whole(share: float, decimals: int) -> bool:
    """Whether ``share`` (a 0-1 fraction) shows as 100 % or 0 % at ``decimals`` in percent
    without being it."""
    shown = round(share * 100, decimals)
    return (0 <= share < 1 and shown >= 100) or (0 < share <= 1 and shown <= 0)
