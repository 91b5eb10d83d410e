"""The KPI registry: one entry per KPI name evplan outputs, with label, unit and direction.

Holds the simulator's KPIs (:func:`sim.measures.compute_kpis`) and the study-level ones the
planner adds (``coverage_share``, ``n_stations``, ``n_plugs``, ``capex``). The registry is
ordered: writers list KPIs in this order (units in ``kpis.json``, rows of ``kpis.csv``).

Example
-------
>>> from sim.kpis import KPIS, kpi
>>> kpi("wait_p95_min").label
'95th percentile wait'
>>> kpi("share_trips_completed").display(0.9731)
'97.3 %'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from sim._errors import UnknownKPIError

__all__ = ["KPI", "KPIS", "UnknownKPIError", "kpi"]

Better = Literal["higher", "lower", ""]

_SHARE = (0.0, 1.0)
_NON_NEGATIVE = (0.0, math.inf)
_ANY = (-math.inf, math.inf)


@dataclass(frozen=True)
class KPI:
    """One KPI: how to name, read and bound it.

    Parameters
    ----------
    name : str
        Key in the KPI dictionaries (``SimulationResult.kpis()``, ``kpis.json``).
    label : str
        Human-readable label for tables and reports.
    unit : str
        Unit of the value; ``'share'`` is a 0-1 fraction shown in percent.
    better : {'higher', 'lower', ''}
        Which direction is an improvement; ``''`` when there is none (e.g. a cost or a
        volume is not a score).
    decimals : int
        Decimals to show (of the percentage for shares).
    range : tuple of float
        ``(low, high)`` the value can take; used to truncate replication intervals.
    """

    name: str
    label: str
    unit: str
    better: Better
    decimals: int
    range: tuple[float, float]

    def __post_init__(self) -> None:
        if self.better not in ("higher", "lower", ""):
            raise ValueError(f"KPI {self.name!r}: better = {self.better!r}")
        lo, hi = self.range
        if not lo <= hi:
            raise ValueError(f"KPI {self.name!r}: range {self.range!r} is empty")

    def display(self, value: float) -> str:
        """``value`` formatted with :attr:`decimals` (shares in percent, '-' when missing)."""
        if not math.isfinite(value):
            return "-"
        if self.unit == "share":
            return f"{value * 100:.{self.decimals}f} %"
        return f"{value:,.{self.decimals}f}"


def _k(
    name: str,
    label: str,
    unit: str,
    better: Better,
    decimals: int,
    range: tuple[float, float] = _NON_NEGATIVE,
) -> KPI:
    return KPI(name, label, unit, better, decimals, range)


#: Every KPI evplan outputs, in output order (name -> :class:`KPI`; read-only).
KPIS: Mapping[str, KPI] = MappingProxyType(
    {
        k.name: k
        for k in (
            _k("share_trips_completed", "Trips completed", "share", "higher", 1, _SHARE),
            # of the trips that relied on public charging (sim.measures): the network's own
            # service, where the share above is mostly trips that never needed a charger
            _k(
                "share_public_trips_completed",
                "Trips relying on public charging, completed",
                "share",
                "higher",
                1,
                _SHARE,
            ),
            _k("trips", "Trips simulated", "trips", "", 0),
            _k("trips_completed", "Trips completed (count)", "trips", "higher", 0),
            _k("stranded_vehicles", "Stranded vehicles", "vehicles", "lower", 0),
            _k("share_vehicles_stranded", "Vehicles stranded", "share", "lower", 1, _SHARE),
            _k("stranded_no_charger", "Stranded: no charger in range", "vehicles", "lower", 0),
            _k("stranded_queue", "Stranded: gave up at a queue", "vehicles", "lower", 0),
            _k("stranded_below_reach", "Stranded: started below reach", "vehicles", "lower", 0),
            _k("trips_abandoned", "Trips abandoned (queue)", "trips", "lower", 0),
            _k("trips_no_road_path", "Trips with no road path", "trips", "lower", 0),
            _k("vehicles", "Vehicles simulated", "vehicles", "", 0),
            _k("wait_mean_min", "Mean wait at charger", "min", "lower", 1),
            _k("wait_p95_min", "95th percentile wait", "min", "lower", 1),
            _k("sessions_balked", "Charging visits abandoned (queue)", "sessions", "lower", 0),
            _k("station_visits", "Charging station visits", "visits", "", 0),
            _k("sessions_public", "Public charging sessions", "sessions", "", 0),
            _k("detour_km_mean", "Mean detour to charge", "km", "lower", 1),
            _k("detour_km_total", "Total detour to charge", "km", "lower", 1),
            _k("plug_utilisation", "Plug utilisation", "share", "", 1, _SHARE),
            _k("energy_delivered_kwh", "Energy charged into batteries", "kWh", "higher", 0),
            _k("energy_public_kwh", "Energy from public chargers, into batteries", "kWh", "", 0),
            _k("energy_home_kwh", "Energy from home charging, into batteries", "kWh", "", 0),
            _k("peak_kw_station_max", "Highest station peak load", "kW", "", 0),
            _k("peak_kw_network", "Network peak load", "kW", "", 0),
            _k("ev_km", "Distance driven electric", "km", "", 0),
            _k("co2_avoided_kg", "CO2 avoided (flat grid factor)", "kg", "higher", 0, _ANY),
            _k("co2_ice_kg", "CO2 of the same km by combustion vehicles", "kg", "", 0),
            # the energy the km used, drawn from the grid through the charger's and the grid's
            # losses: consumed / 0.90 / (1 - 0.07) x 0.641 = 0.766 kg per kWh used (sim.settings);
            # co2_charging_kg counts the energy *charged* at public stations in the period,
            # drawn at the charger (battery side / 0.90), at the hourly factor with renewables
            # matched: the two bases differ, and the labels say which (energy review,
            # 2026-12-07: "kWh" of the battery side and of the grid side read as one)
            _k(
                "co2_ev_kg",
                "CO2 of the grid electricity for the km driven (flat grid factor)",
                "kg",
                "lower",
                0,
            ),
            # --- chargers on the grid (planner/study/grid.py, sim/renewables.py; docs/grid.md)
            _k(
                "energy_renewable_kwh",
                "Public charging drawn at the chargers matched with renewables",
                "kWh",
                "higher",
                0,
            ),
            _k(
                "renewable_share_charging",
                "Renewable share of the energy drawn at public chargers",
                "share",
                "higher",
                1,
                _SHARE,
            ),
            _k(
                "co2_charging_kg",
                "CO2 of the energy charged at public stations (hourly matched)",
                "kg",
                "lower",
                0,
            ),
            _k("grid_upgrade_kw", "Grid connection upgrades", "kW", "", 0),
            _k("grid_upgrade_cost", "Grid upgrade cost", "cost units", "", 0),
            _k("stations_managed", "Stations with managed charging", "stations", "", 0),
            _k(
                "wait_p95_min_unmanaged", "95th percentile wait, before grid fit", "min", "lower", 1
            ),
            _k("wait_mean_min_unmanaged", "Mean wait, before grid fit", "min", "lower", 1),
            # --- end of the grid block
            _k("coverage_share", "Siting coverage", "share", "higher", 1, _SHARE),
            _k("n_stations", "Stations", "stations", "", 0),
            # truck-bay studies: one station row (own queue) per bay class of a site
            _k("n_sites", "Sites (locations)", "sites", "", 0),
            _k("n_plugs", "Plugs", "plugs", "", 0),
            _k("capex", "Capital cost", "cost units", "", 0),
            _k("demand_expansion_factor", "Demand expansion factor", "x", "", 2, (1.0, math.inf)),
        )
    }
)


def kpi(name: str) -> KPI:
    """The registered KPI called ``name``.

    Raises
    ------
    UnknownKPIError
        (a ``KeyError``) naming the unknown KPI and listing the registered ones.
    """
    try:
        return KPIS[name]
    except KeyError:
        raise UnknownKPIError(f"unknown KPI {name!r}; registered KPIs: {', '.join(KPIS)}") from None
