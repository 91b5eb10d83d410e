"""What the design loop records for a station it could not give the plugs its simulated
load needs (:func:`planner.study.loop_remedies.size_plugs`): a :class:`CappedStation`,
with the limit that binds (the budget, the site's grid connection, ``candidates.max_plugs``
or a truck bay class's ``max_bays``) as a field. The sentence the verdict and the report
show ("Helios (node/530287120): needs 10 plugs, has 6 (p95 wait 25.2 min); max_plugs is
6") is a rendering of the record (:attr:`CappedStation.sentence`), never read back: the
verdict (:mod:`planner.study.verdict`) sorts and classifies on the fields. Until
2026-12-07 it parsed the sentences, so a station whose name held "needs 99 plugs" or "the
budget left stops it at" moved up the list or changed the reason given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

__all__ = [
    "BUDGET_HELD",
    "GRID_HELD",
    "MAX_PLUGS",
    "CappedStation",
    "CapLimit",
    "Limit",
    "bay_cap_field",
    "cap_kind",
    "cap_text",
    "station_name",
]

#: The binding limit of a capped station: the budget left, its grid connection (no
#: upgrade price), ``candidates.max_plugs`` or a truck bay class's ``max_bays``
Limit = Literal["budget", "grid", "plug_cap", "bay_cap"]
#: The limits a station's need can exceed (the budget holds a station below them)
CapLimit = Literal["grid", "plug_cap", "bay_cap"]

#: How the sentences name the plug cap of every station (``candidates.max_plugs``)
MAX_PLUGS = "max_plugs"
#: How a sentence says the budget left holds a station below its limit ("... the budget
#: left stops it at 2") and that its grid connection does ("... (no upgrade price)
#: carries 1"); wording only: nothing reads them back
BUDGET_HELD = "the budget left stops it at"
GRID_HELD = "(no upgrade price) carries"


def bay_cap_field(label: str) -> str:
    """How the sentences name a truck bay class's cap (under ``candidates``)."""
    return f"truck_bays.{label}.max_bays"


def cap_kind(fields: tuple[str, ...]) -> CapLimit:
    """``"bay_cap"`` when a truck bay class's ``max_bays`` sets the cap (alone, or equal to
    ``max_plugs``), ``"plug_cap"`` when ``max_plugs`` alone does."""
    return "plug_cap" if all(f == MAX_PLUGS for f in fields) else "bay_cap"


def cap_text(fields: tuple[str, ...], cap: int) -> str:
    """The cap as the sentences name it: "max_plugs is 6", "truck_bays.mcs.max_bays is 4",
    "max_plugs and truck_bays.mcs.max_bays are 6" (both bind)."""
    verb = "is" if len(fields) == 1 else "are"
    return f"{' and '.join(fields)} {verb} {int(cap)}"


@dataclass(frozen=True, kw_only=True)
class CappedStation:
    """A station whose simulated load needs more plugs than the design loop could give it.

    Attributes
    ----------
    station_id : str
        The station's id.
    name : str or None
        Its name (None when it has none, or the name is its id).
    needs : int
        The plugs the wait target needs (Erlang C / Allen-Cunneen on its busiest simulated
        hour, at most the cars there at once); ``lookahead + 1`` when no count up to the
        sizing's look-ahead meets the target.
    has : int
        The plugs it had when it was sized.
    limit : {"budget", "grid", "plug_cap", "bay_cap"}
        What binds first: the budget left when it holds the station below its other
        limits, else the limit its need exceeds (``over``).
    over : {"grid", "plug_cap", "bay_cap"} or None
        The limit its need exceeds: the plugs its grid connection carries (no upgrade
        price), ``candidates.max_plugs``, or its truck bay class's ``max_bays``; None when
        the need is within them and only the budget holds the station. Equal to ``limit``
        unless ``limit`` is ``"budget"``.
    cap : int
        Its plug cap (``max_plugs``, or its bay class's ``max_bays`` where smaller).
    cap_fields : tuple of str
        The ``candidates`` fields that set ``cap``: ``("max_plugs",)``,
        ``("truck_bays.mcs.max_bays",)`` or both when they are equal.
    wait_p95_min : float or None
        Its simulated p95 wait (None when not known).
    lookahead : int or None
        The most plugs the sizing looked at: a need above it reads "more than" it.
    budget_stops_at : int or None
        The plugs the budget left stops it at (``limit == "budget"``), else None.
    grid_kw : float or None
        Its grid connection's capacity (kW) where the grid binds or charging is managed.
    grid_plugs : int or None
        The plugs its grid connection carries (``over == "grid"``).
    managed : bool
        Its need was sized with managed charging within ``grid_kw``.
    """

    station_id: str
    name: str | None = None
    needs: int
    has: int
    limit: Limit
    over: CapLimit | None = None
    cap: int
    cap_fields: tuple[str, ...] = (MAX_PLUGS,)
    wait_p95_min: float | None = None
    lookahead: int | None = None
    budget_stops_at: int | None = None
    grid_kw: float | None = None
    grid_plugs: int | None = None
    managed: bool = False

    def __post_init__(self) -> None:
        if self.limit == "budget":
            if self.budget_stops_at is None:
                raise ValueError("a station the budget holds needs budget_stops_at")
        elif self.over != self.limit:
            raise ValueError(f"limit {self.limit!r} but over {self.over!r}: they must agree")
        if self.over == "grid" and (self.grid_kw is None or self.grid_plugs is None):
            raise ValueError("a station its grid connection holds needs grid_kw and grid_plugs")
        if self.managed and self.grid_kw is None:
            raise ValueError("managed charging needs the grid connection's grid_kw")
        if self.over in ("plug_cap", "bay_cap") and cap_kind(self.cap_fields) != self.over:
            raise ValueError(f"over {self.over!r} but the cap is set by {self.cap_fields}")

    @property
    def label(self) -> str:
        """The station as the sentences name it: "name (id)", or its id (corridor sites
        share names: "KAZ06 roadside")."""
        return f"{self.name} ({self.station_id})" if self.name else self.station_id

    @property
    def sentence(self) -> str:
        """The record in words, as the verdict and the report show it."""
        beyond = self.lookahead is not None and self.needs > self.lookahead
        needs = f"more than {self.lookahead}" if beyond else str(self.needs)
        seen = f" (p95 wait {self.wait_p95_min:.1f} min)" if self.wait_p95_min is not None else ""
        parts = [f"{BUDGET_HELD} {self.budget_stops_at}"] if self.limit == "budget" else []
        if self.over == "grid":
            parts.append(
                f"its grid connection of {self.grid_kw:,.0f} kW {GRID_HELD} {self.grid_plugs}"
            )
        elif self.over is not None:
            at_cap = cap_text(self.cap_fields, self.cap)
            parts.append(
                f"with managed charging within its {self.grid_kw:,.0f} kW grid connection; {at_cap}"
                if self.managed
                else at_cap
            )
        return f"{self.label}: needs {needs} plugs, has {self.has}{seen}; {'; '.join(parts)}"

    def __str__(self) -> str:
        return self.sentence

    def record(self) -> dict[str, Any]:
        """The record as plain JSON types (``kpis.json`` verdict ``capped_stations``)."""
        out = dataclasses.asdict(self)
        out["cap_fields"] = list(self.cap_fields)
        return out


def station_name(name: Any, station_id: str) -> str | None:
    """A station's name for :attr:`CappedStation.name`: None when missing (NaN read "nan
    (id)" before) or the same as its id."""
    if name is None or (pd.api.types.is_scalar(name) and pd.isna(name)):
        return None
    text = str(name)
    return text if text and text != station_id else None
