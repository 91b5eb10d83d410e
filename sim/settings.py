"""Scenario settings of a simulation run and the emission defaults.

Emission defaults (all overridable):

* ``grid_kg_co2_per_kwh = 0.641`` -- Kazakhstan's electricity generation carbon intensity,
  641 gCO2e/kWh for 2021 (Our World in Data "Carbon intensity of electricity generation",
  built from Ember and the Energy Institute Statistical Review; 61 % of 114 TWh from coal),
  as redistributed in codecarbon's ``global_energy_mix.json``. Generation-side: grid
  losses are not added (conservative for CO2 avoided only if losses are small).
* ``charging_efficiency = 0.90`` -- grid-to-battery efficiency (on-board charger / DC
  converter and battery losses; EPA and WLTP wall-to-wheel figures imply ~10-15 %).
* ICE baseline: petrol car 7.0 L/100 km x 2.35 kg CO2/L; diesel truck 33 L/100 km x
  2.69 kg CO2/L. Fuel factors: US EPA "Greenhouse gas emissions from a typical passenger
  vehicle" (8,887 g CO2 per gallon of gasoline, 10,180 g per gallon of diesel,
  tank-to-wheel). 7.0 L/100 km is a mid-size petrol car (assumption; Kazakhstan's fleet is
  old, so this understates the avoided CO2); 33 L/100 km is a typical 40 t tractor-trailer
  in long-haul use (assumption, 30-35 L/100 km in European fleet data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from sim._errors import SimSettingsError
from sim.policies import ChargingPolicy

#: Kazakhstan grid carbon intensity (kg CO2e per kWh generated), OWID/Ember 2021.
KZ_GRID_KG_CO2_PER_KWH = 0.641
PETROL_KG_CO2_PER_L = 8.887 / 3.785411784  # 2.348, US EPA
DIESEL_KG_CO2_PER_L = 10.180 / 3.785411784  # 2.689, US EPA


@dataclass(frozen=True)
class SimSettings:
    """Everything about a run except network, stations, trips and vehicle models.

    Parameters
    ----------
    ambient_temp_c : float
        Ambient temperature (C); drives HVAC load and cold DC derating.
    initial_soc : float or (low, high)
        Starting state of charge: fixed, or uniform between ``low`` and ``high`` per vehicle
        (drawn from the run's generator). A trips column ``initial_soc`` overrides it.
    policy : ChargingPolicy
        When / where / how-much decisions.
    max_wait_s : float
        Drivers leave a station queue (balk) after this wait and try the next station;
        ``math.inf`` = never.
    max_balks_per_leg, max_stops_per_leg : int
        Safety limits per trip leg (a corridor leg may need several charging stops).
    home_charging_share : float
        Share of vehicles (drawn per vehicle) that charge at home / depot whenever they are
        at their first trip's origin between trips, overnight included.
    home_charger_kw, home_target_soc : float
        Home AC wallbox power (7.4 kW = single-phase 32 A) and the target it charges to.
    depot_charger_kw : float
        Power of depot chargers for trucks/buses (DC).
    ac_dc_threshold_kw : float
        Stations without a ``dc`` column are DC above this power per plug.
    charging_efficiency, grid_kg_co2_per_kwh : float
        Grid-to-battery efficiency and grid emission factor (module docstring).
    ice_car_l_per_100km, ice_truck_l_per_100km, petrol_kg_co2_per_l, diesel_kg_co2_per_l : float
        ICE baseline.
    horizon_s : float or None
        Stop the clock here (None: run until every vehicle has finished).
    timeseries_step_s : float
        Bin width of the station time series.
    """

    ambient_temp_c: float = 20.0
    initial_soc: float | tuple[float, float] = (0.5, 0.9)
    policy: ChargingPolicy = field(default_factory=ChargingPolicy)
    max_wait_s: float = 1800.0
    max_balks_per_leg: int = 3
    max_stops_per_leg: int = 20
    home_charging_share: float = 0.0
    home_charger_kw: float = 7.4
    home_target_soc: float = 0.9
    depot_charger_kw: float = 150.0
    ac_dc_threshold_kw: float = 22.0
    charging_efficiency: float = 0.90
    grid_kg_co2_per_kwh: float = KZ_GRID_KG_CO2_PER_KWH
    ice_car_l_per_100km: float = 7.0
    ice_truck_l_per_100km: float = 33.0
    petrol_kg_co2_per_l: float = PETROL_KG_CO2_PER_L
    diesel_kg_co2_per_l: float = DIESEL_KG_CO2_PER_L
    horizon_s: float | None = None
    timeseries_step_s: float = 900.0

    def __post_init__(self) -> None:
        def fail(name: str, why: str) -> SimSettingsError:
            return SimSettingsError(f"simulation setting {name} = {getattr(self, name)!r} {why}")

        if not (isinstance(self.ambient_temp_c, (int, float)) and -60 <= self.ambient_temp_c <= 60):
            raise fail("ambient_temp_c", "must be a temperature in C between -60 and 60")
        soc = self.initial_soc
        lo, hi = (soc, soc) if isinstance(soc, (int, float)) else tuple(soc)
        if not (0 <= lo <= hi <= 1):
            raise fail(
                "initial_soc",
                "must be a state of charge in [0, 1] or a (low, high) pair with low <= high",
            )
        if not (self.max_wait_s > 0):
            raise fail("max_wait_s", "must be > 0 seconds (math.inf to never balk)")
        for name in ("max_balks_per_leg", "max_stops_per_leg"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 0):
                raise fail(name, "must be an integer >= 0")
        for name in ("home_charging_share", "home_target_soc"):
            if not (0 <= getattr(self, name) <= 1):
                raise fail(name, "must be in [0, 1]")
        if not (0 < self.charging_efficiency <= 1):
            raise fail("charging_efficiency", "must be in (0, 1]")
        for name in (
            "home_charger_kw",
            "depot_charger_kw",
            "ac_dc_threshold_kw",
            "timeseries_step_s",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise fail(name, "must be a finite number > 0")
        for name in (
            "grid_kg_co2_per_kwh",
            "ice_car_l_per_100km",
            "ice_truck_l_per_100km",
            "petrol_kg_co2_per_l",
            "diesel_kg_co2_per_l",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise fail(name, "must be a finite number >= 0")
        if self.horizon_s is not None and not (self.horizon_s > 0):
            raise fail("horizon_s", "must be > 0 seconds or None")
        if not isinstance(self.policy, ChargingPolicy):
            raise fail("policy", "must be a sim.ChargingPolicy")

    def soc_range(self) -> tuple[float, float]:
        s = self.initial_soc
        return (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))

    def as_dict(self) -> dict:
        """Plain values (policy rendered with ``repr``) for reports."""
        return {
            f.name: (repr(getattr(self, f.name)) if f.name == "policy" else getattr(self, f.name))
            for f in fields(self)
        }
