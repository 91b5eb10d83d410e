"""Columnar event records of a run: one typed :class:`array.array` per named column.

The engine (:mod:`sim.model`) appends one row per finished trip leg to a :class:`TripLog` and
one row per charging visit (public or home/depot) to a :class:`SessionLog`; :mod:`sim.results`
reads them back by column name (:meth:`column`) and builds the pandas tables. Typed arrays
hold raw 8-byte values (no Python object per value) and convert to numpy without a copy of
every element through the object layer.
"""

from __future__ import annotations

from array import array

import numpy as np

__all__ = ["DriveLog", "SessionLog", "TripLog"]

#: numpy dtype of each typecode used (8-byte ``q``/``d``, 1-byte ``b``)
_DTYPES = {"q": np.int64, "d": np.float64, "b": np.int8}


class _Log:
    """Append-only columnar table; subclasses define ``COLUMNS`` (name -> array typecode)."""

    COLUMNS: dict[str, str] = {}
    __slots__ = ("_cols",)

    def __init__(self) -> None:
        self._cols: dict[str, array] = {name: array(code) for name, code in self.COLUMNS.items()}

    def __len__(self) -> int:
        return len(next(iter(self._cols.values()))) if self._cols else 0

    def extend(self, **columns: np.ndarray) -> None:
        """Append many rows at once from numpy arrays, one per column (all columns, equal
        lengths): raw bytes are copied, no Python object per value."""
        sizes = {np.asarray(columns[name]).size for name in self.COLUMNS}
        if len(sizes) > 1:
            raise ValueError(f"columns of unequal length: {sorted(sizes)}")
        for name, code in self.COLUMNS.items():
            arr = np.ascontiguousarray(columns[name], dtype=_DTYPES[code])
            self._cols[name].frombytes(arr.tobytes())

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` as a numpy array (``int64``, ``float64`` or ``bool``), in row order.

        Raises
        ------
        KeyError
            When ``name`` is not one of :attr:`COLUMNS`.
        """
        values = self._cols[name]
        out = np.array(values)
        return out.astype(bool) if self.COLUMNS[name] == "b" else out


class TripLog(_Log):
    """One row per trip leg that ended (completed, stranded or unroutable).

    Columns: ``k`` (row of the trips table), ``departed_s``, ``arrived_s`` (NaN when
    unroutable), ``status`` (code, see :data:`sim.results.TRIP_STATUS`), ``driven_m``,
    ``energy_kwh`` (consumed), ``e_dep``, ``e_arr`` (battery energy, kWh),
    ``charging_stops``, ``wait_s``, ``charge_s``, ``cause`` (stranding cause code, see
    :data:`sim.results.STRAND_CAUSE`; 0 = none), ``break_s`` and ``rest_s`` (pauses the
    driving-time rules added on the leg: breaks and daily rests, :mod:`sim.driving_rules`).
    """

    COLUMNS = {
        "k": "q",
        "departed_s": "d",
        "arrived_s": "d",
        "status": "q",
        "driven_m": "d",
        "energy_kwh": "d",
        "e_dep": "d",
        "e_arr": "d",
        "charging_stops": "d",
        "wait_s": "d",
        "charge_s": "d",
        "cause": "q",
        "break_s": "d",
        "rest_s": "d",
    }
    __slots__ = ()

    def add(
        self,
        k: int,
        departed_s: float,
        arrived_s: float,
        status: int,
        driven_m: float,
        energy_kwh: float,
        e_dep: float,
        e_arr: float,
        charging_stops: float,
        wait_s: float,
        charge_s: float,
        cause: int = 0,
        break_s: float = 0.0,
        rest_s: float = 0.0,
    ) -> None:
        """Append one row."""
        c = self._cols
        c["k"].append(k)
        c["departed_s"].append(departed_s)
        c["arrived_s"].append(arrived_s)
        c["status"].append(status)
        c["driven_m"].append(driven_m)
        c["energy_kwh"].append(energy_kwh)
        c["e_dep"].append(e_dep)
        c["e_arr"].append(e_arr)
        c["charging_stops"].append(charging_stops)
        c["wait_s"].append(wait_s)
        c["charge_s"].append(charge_s)
        c["cause"].append(cause)
        c["break_s"].append(break_s)
        c["rest_s"].append(rest_s)

    def relabel_cause(self, rows: np.ndarray, cause: int) -> None:
        """Set the stranding cause of ``rows`` (row positions) to ``cause``."""
        col = self._cols["cause"]
        for i in np.asarray(rows, dtype=np.int64).tolist():
            col[i] = cause


class SessionLog(_Log):
    """One row per charging visit: a public station (charged or balked) or home/depot.

    Columns: ``v`` (vehicle position), ``k`` (trip row), ``station`` (position, -1 = home or
    depot, -2 = overnight recovery of a stranded vehicle), ``arrive_s``, ``start_s``, ``end_s``, ``e0``, ``e1`` (battery energy before and
    after, kWh), ``balked``, ``queue_seq`` (arrival rank at the station, -1 at home),
    ``detour_s``, ``detour_m``.
    """

    COLUMNS = {
        "v": "q",
        "k": "q",
        "station": "q",
        "arrive_s": "d",
        "start_s": "d",
        "end_s": "d",
        "e0": "d",
        "e1": "d",
        "balked": "b",
        "queue_seq": "q",
        "detour_s": "d",
        "detour_m": "d",
    }
    __slots__ = ()

    def add(
        self,
        v: int,
        k: int,
        station: int,
        arrive_s: float,
        start_s: float,
        end_s: float,
        e0: float,
        e1: float,
        balked: bool,
        queue_seq: int,
        detour_s: float,
        detour_m: float,
    ) -> None:
        """Append one row."""
        c = self._cols
        c["v"].append(v)
        c["k"].append(k)
        c["station"].append(station)
        c["arrive_s"].append(arrive_s)
        c["start_s"].append(start_s)
        c["end_s"].append(end_s)
        c["e0"].append(e0)
        c["e1"].append(e1)
        c["balked"].append(balked)
        c["queue_seq"].append(queue_seq)
        c["detour_s"].append(detour_s)
        c["detour_m"].append(detour_m)


class DriveLog(_Log):
    """One row per interval of a truck under driving-time rules (:mod:`sim.driving_rules`):
    ``v`` (vehicle position), ``start_s``, ``end_s``, ``kind`` (0 driving, 1 break inserted or
    a stop extended to one, 2 daily rest). Kept so that the rules can be checked on the
    simulated timeline (charging stops are the gaps between driving rows)."""

    COLUMNS = {"v": "q", "start_s": "d", "end_s": "d", "kind": "q"}
    __slots__ = ()

    def add(self, v: int, start_s: float, end_s: float, kind: int) -> None:
        """Append one row."""
        c = self._cols
        c["v"].append(v)
        c["start_s"].append(start_s)
        c["end_s"].append(end_s)
        c["kind"].append(kind)
