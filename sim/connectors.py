"""Charging connector standards: the names evplan knows, and the check every place that
reads one (vehicle catalogue, stations table, study config) runs.

A vehicle can charge at a plug when the two share a standard (:meth:`VehicleModel.can_use
<sim.vehicles.VehicleModel.can_use>`), so a misspelt name is not a harmless label: a car
with ``connectors: [GBT]`` could use no ``GB/T`` station, and the design loop would buy
plugs of the misspelt kind for it. Names are therefore checked against this list and a
near miss is named in the error.

Sources: IEC 62196-2/-3 (Type 1, Type 2, the CCS combo inlets CCS1/CCS2); the CHAdeMO
Association's protocol; China's GB/T 20234 (AC and DC, one name here: a study of Chinese
imports needs the DC inlet); CharIN's Megawatt Charging System for trucks (MCS, SAE J3271);
SAE J3400 (NACS, Tesla's North American connector).
"""

from __future__ import annotations

import difflib
import math
import re

#: The connector standards evplan knows (exact spelling used in catalogues and tables)
CONNECTOR_STANDARDS: tuple[str, ...] = (
    "Type1",
    "Type2",
    "CCS1",
    "CCS2",
    "CHAdeMO",
    "GB/T",
    "MCS",
    "NACS",
)


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


_BY_KEY = {_key(n): n for n in CONNECTOR_STANDARDS}


def unknown_connector_hint(name: str) -> str | None:
    """``None`` when ``name`` is a known standard, else ``name`` quoted with the standard it
    most likely means (``'GBT' (did you mean 'GB/T'?)``)."""
    if name in CONNECTOR_STANDARDS:
        return None
    near = _BY_KEY.get(_key(name)) or next(
        iter(difflib.get_close_matches(name, CONNECTOR_STANDARDS, n=1, cutoff=0.6)), None
    )
    return f"{name!r}" + (f" (did you mean {near!r}?)" if near else "")


def split_connectors(value: object) -> list[str]:
    """Connector names from a list (or tuple, set) or a text such as ``"CCS2; Type2"`` /
    ``"CCS2, Type2"`` (as catalogue files and station tables write them), each stripped,
    blanks dropped."""
    items = (
        value
        if isinstance(value, (list, tuple, set, frozenset))
        else str(value).replace(";", ",").split(",")
    )
    return [str(c).strip() for c in items if str(c).strip()]


def station_connectors(value: object) -> frozenset[str]:
    """The plug types of a station's ``connectors`` value; empty when it is missing (None,
    NaN, blank), which the engine reads as "any connector" (a station table without the
    column, or a row of it left blank)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return frozenset()
    return frozenset(split_connectors(value))


def check_connectors(names: object) -> str | None:
    """``None`` when every name in ``names`` is a known standard, else one message naming
    the unknown ones (with the standard each most likely means) and the known standards."""
    items = names if isinstance(names, (list, tuple, set, frozenset)) else [names]
    bad = [h for h in (unknown_connector_hint(str(n)) for n in items) if h is not None]
    if not bad:
        return None
    what = "an unknown connector" if len(bad) == 1 else "unknown connectors"
    return (
        f"{what} {', '.join(bad)}; connector standards are "
        f"{', '.join(CONNECTOR_STANDARDS)} (spelt exactly so)"
    )


__all__ = [
    "CONNECTOR_STANDARDS",
    "check_connectors",
    "split_connectors",
    "station_connectors",
    "unknown_connector_hint",
]
