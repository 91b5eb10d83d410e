"""Scenario settings of a simulation run and the emission defaults.

Emission defaults (all overridable):

* ``grid_kg_co2_per_kwh = 0.641`` -- Kazakhstan's electricity generation carbon intensity,
  641 gCO2e/kWh for 2021 (Our World in Data "Carbon intensity of electricity generation",
  built from Ember and the Energy Institute Statistical Review; 61 % of 114 TWh from coal),
  as redistributed in codecarbon's ``global_energy_mix.json``. Generation-side: the grid
  losses are added on top (``grid_loss_share`` below).
* ``charging_efficiency = 0.90`` -- grid-to-battery efficiency (on-board charger / DC
  converter and battery losses; EPA and WLTP wall-to-wheel figures imply ~10-15 %).
* ICE baseline: petrol car 7.0 L/100 km x 2.35 kg CO2/L; diesel truck 33 L/100 km x
  2.69 kg CO2/L. Fuel factors: US EPA "Greenhouse gas emissions from a typical passenger
  vehicle" (8,887 g CO2 per gallon of gasoline, 10,180 g per gallon of diesel,
  tank-to-wheel). 7.0 L/100 km is a mid-size petrol car (assumption; Kazakhstan's fleet is
  old, so this understates the avoided CO2); 33 L/100 km is a typical 40 t tractor-trailer
  in long-haul use: ICCT (Delgado, Rodriguez & Muncrief 2017, "Fuel efficiency technology in
  European heavy-duty vehicles: baseline and potential for the 2020-2030 timeframe"): a
  typical 2015 European 40 t 4x2 tractor-trailer uses 33.1 L/100 km on the regulatory Long
  Haul cycle (the ICCT's TU Graz tests: 32.6 typical, 29.9 best in class).
* Well-to-wheel on both sides (overridable): ``petrol_wtt_kg_co2_per_l = 0.60`` and
  ``diesel_wtt_kg_co2_per_l = 0.62`` -- well-to-tank (extraction, refining, transport) per
  litre, UK DESNZ/DEFRA "Greenhouse gas reporting: conversion factors" (2025 set, WTT fuels:
  road diesel (B7) 0.627 kg CO2e/L, petrol about 0.6; rounded), i.e. about +25 % on the tank-to-wheel figures;
  ``grid_loss_share = 0.07`` -- transmission and distribution losses between generation and
  the charger (World Bank WDI ``EG.ELC.LOSS.ZS`` from IEA statistics: Kazakhstan in the
  2010s roughly 6-9 % of output; 7 % assumed). The grid factor is per kWh *generated*
  (Ember uses lifecycle emission factors, so upstream fuel supply is already in it).
* ICE winter penalty of cars (overridable): ``ice_cold_penalty_per_c = (1 / 0.85 - 1) / 31.7``
  per kelvin below ``ice_cold_ref_c = 25`` C -- US DOE/EPA fueleconomy.gov "Fuel economy in
  cold weather": a petrol car's fuel *economy* (km per litre) is about 15 % lower at 20 F
  (-6.7 C) than at 77 F (25 C) in city driving (up to 24 % on short trips), i.e. fuel *use*
  x 1 / 0.85 = +17.6 %. Linear in temperature down to ``ice_cold_floor_c = -6.7`` C (the
  tested point) and held there below it: the source gives no colder figure, and holding it
  does not inflate the CO2 an EV avoids. The figure is for *city* driving, so it applies to
  the km of car trips driven at city speeds: an average driving speed of at most
  ``ice_cold_max_kph = 56`` km/h, midway between the averages of EPA's city (FTP-75, 34 km/h)
  and highway (HWFET, 78 km/h) test cycles; highway km get no penalty (no sourced figure;
  until 2026-12-07 the city figure applied to every car km, corridor trips included, which
  inflated the CO2 EVs avoid on intercity trips). Trucks: ``ice_truck_cold_penalty_per_c = 0`` -- the
  figure is for passenger cars in city driving, not for a warmed-up diesel tractor on the
  highway, and no sourced truck figure is in the model (set one from fleet data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from networks.road_classes import ROAD_CLASSES
from sim._errors import SimSettingsError
from sim.policies import ChargingPolicy, is_real

#: Kazakhstan grid carbon intensity (kg CO2e per kWh generated), OWID/Ember 2021.
KZ_GRID_KG_CO2_PER_KWH = 0.641
PETROL_KG_CO2_PER_L = 8.887 / 3.785411784  # 2.348, US EPA
DIESEL_KG_CO2_PER_L = 10.180 / 3.785411784  # 2.689, US EPA
PETROL_WTT_KG_CO2_PER_L = 0.60  # UK DESNZ 2025 WTT fuels (rounded)
DIESEL_WTT_KG_CO2_PER_L = 0.62  # UK DESNZ 2025 WTT fuels, diesel (B7) 0.627 (rounded)
KZ_GRID_LOSS_SHARE = 0.07  # World Bank WDI EG.ELC.LOSS.ZS, Kazakhstan ~6-9 % (assumed 7 %)
#: fueleconomy.gov: fuel economy 15 % lower at -6.7 C than at 25 C, i.e. fuel use x 1 / 0.85
ICE_COLD_PENALTY_PER_C = (1.0 / 0.85 - 1.0) / (25.0 + 6.7)
#: the coldest temperature of that figure (20 F); the penalty is held below it
ICE_COLD_FLOOR_C = -6.7
#: Highest average driving speed (km/h) of a car trip the cold penalty applies to: midway
#: between EPA's city (FTP-75, 34 km/h) and highway (HWFET, 78 km/h) cycle averages.
ICE_COLD_MAX_KPH = 56.0
#: Recovery charge of a stranded vehicle for its next day (tow to a charger / roadside
#: assistance; assumption).
RECOVERY_SOC = 0.2


@dataclass(frozen=True)
class SimSettings:
    """Everything about a run except network, stations, trips and vehicle models.

    Parameters
    ----------
    ambient_temp_c : float
        Ambient temperature (C); drives HVAC load and cold DC derating.
    initial_soc : float, (low, high) or "steady"
        Starting state of charge: fixed, uniform between ``low`` and ``high`` per vehicle
        (drawn from the run's generator), or ``"steady"``: the long-run distribution of a
        driver who charges from her trigger level up to her target (a sawtooth: by the
        renewal argument the time-average state of charge is uniform between the two), i.e.
        uniform between the *when* policy's largest of threshold / buffer / reserve and the
        *how much* policy's ``target_soc`` (0.8). Vehicles with home chargers start at
        ``home_target_soc`` in every case; under ``"steady"``, a vehicle with no home charger
        and no compatible public station starts at ``recovery_soc`` (its only periodic state:
        dry, then recovered overnight). A trips column ``initial_soc`` overrides it.
    policy : ChargingPolicy
        When / where / how-much decisions.
    max_wait_s : float
        Drivers leave a station queue (balk) after this wait and try the next station;
        ``math.inf`` = never.
    max_balks_per_leg, max_stops_per_leg : int
        Limits per trip leg: at most this many balks (>= 1; after the last one the driver
        stops looking for another station) and this many charging stops (0: no public
        charging; a corridor leg may need several stops).
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
        Bin width of the station time series (seconds, at least 1: finer bins only multiply
        the table's rows).
    warmup_s : float
        Warm-up before the measured period (seconds, whole days in studies): trips departing
        and charging visits arriving earlier are simulated (state of charge and queues carry
        over) but not counted in the KPIs, the station summary or the time series. A
        charging visit is counted with its trip: the visits of the trips departing after the
        warm-up (however late they arrive), none of a warm-up trip's.
    measure_end_s : float or None
        End of the measured period: the trips counted depart before it (a study simulates
        cool-down days after it, not counted, so that the measured trips' late stops meet
        the traffic of a day that goes on), and the end of the window of the *time*
        measures (plug utilisation, busy hours,
        station peaks and the station time series), which count the plug time busy within
        ``[warmup_s, measure_end_s]`` whichever trip it served, over that period's length
        (a time average, as queueing theory's utilisation). Studies: the end of the last
        generated day, ``(warm-up + measured days) x 24 h``. None: the end of the planned
        days, whole days up to the last planned departure (``horizon_s`` when set). Until
        2026-12-07 the window ran to the last trip's arrival: a day's trips that arrive after
        midnight made it a day longer, and the utilisation half of the plugs' real use.
    recovery_soc : float
        A vehicle stranded (or whose driver abandoned a queue) is recovered overnight: it
        resumes its first trip of the next day at its home charger target (home chargers) or
        at least this state of charge (a tow / roadside charge; assumption 0.2).
    precondition : bool
        Drivers of models that can precondition their pack before DC charging do so.
    time_factors : 24 floats, mapping road class -> 24 floats, or None
        Travel-time multipliers by hour of day (congestion; None = free flow). Either one
        profile for every road, or one per road class of
        :data:`networks.road_classes.ROAD_CLASSES` (``motorway``, ``arterial``, ``local``;
        a class left out keeps free flow; stored as ``((class, 24 factors), ...)`` in
        :data:`ROAD_CLASSES` order). A route's time at hour ``h`` is then
        ``t + sum_c t_c (F[c, h] - 1)`` with ``t_c`` its free-flow time on class ``c``
        (so factors of 1 give free flow exactly); the route itself stays the free-flow
        fastest one. Applied to leg times (planned departure hour) and to
        approach/continuation legs of charging stops (hour of the decision), so HVAC energy
        follows.
    petrol_wtt_kg_co2_per_l, diesel_wtt_kg_co2_per_l, grid_loss_share : float
        Well-to-wheel terms (module docstring).
    ice_cold_penalty_per_c, ice_cold_ref_c, ice_cold_floor_c : float
        A petrol car's fuel-consumption increase per kelvin below the reference
        temperature, down to the floor (held below it; module docstring).
    ice_truck_cold_penalty_per_c : float
        The same for a diesel truck (0: no sourced figure; module docstring).
    ice_cold_max_kph : float
        The car penalty applies to trips driven at an average speed up to this (city
        driving, the figure's scope; module docstring).
    engine : {"fast", "full"}
        ``"fast"`` (default): every leg before a vehicle's first public-charging decision
        (or stranding) is settled in vectorised numpy, the vehicle becomes a SimPy process
        only from that leg (a late start with its exact place in the event order), and the
        rest of its day after its last public visit is settled again without events when
        nothing can couple it; ``"full"``: every vehicle is a SimPy process (the reference).
        Both give identical tables (docs/simulation.md, "Fast path").
    """

    ambient_temp_c: float = 20.0
    initial_soc: float | tuple[float, float] | str = (0.5, 0.9)
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
    warmup_s: float = 0.0
    measure_end_s: float | None = None
    recovery_soc: float = RECOVERY_SOC
    precondition: bool = False
    time_factors: (
        tuple[float, ...]
        | tuple[tuple[str, tuple[float, ...]], ...]
        | Mapping[str, Sequence[float]]
        | None
    ) = None
    petrol_wtt_kg_co2_per_l: float = PETROL_WTT_KG_CO2_PER_L
    diesel_wtt_kg_co2_per_l: float = DIESEL_WTT_KG_CO2_PER_L
    grid_loss_share: float = KZ_GRID_LOSS_SHARE
    ice_cold_penalty_per_c: float = ICE_COLD_PENALTY_PER_C
    ice_cold_ref_c: float = 25.0
    ice_cold_floor_c: float = ICE_COLD_FLOOR_C
    ice_truck_cold_penalty_per_c: float = 0.0
    ice_cold_max_kph: float = ICE_COLD_MAX_KPH
    engine: str = "fast"

    def __post_init__(self) -> None:
        def fail(name: str, why: str) -> SimSettingsError:
            return SimSettingsError(f"simulation setting {name} = {getattr(self, name)!r} {why}")

        # a numpy scalar (a value read from an array or a table) is kept as the Python value
        # it holds, so that the checks below, the reports and JSON see one kind of number
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.generic):
                object.__setattr__(self, f.name, v.item())
        if not (is_real(self.ambient_temp_c) and -60 <= self.ambient_temp_c <= 60):
            raise fail("ambient_temp_c", "must be a temperature in C between -60 and 60")
        soc: Any = self.initial_soc  # a list too, from YAML
        pair = isinstance(soc, (tuple, list))
        if (
            (isinstance(soc, str) and soc != "steady")
            or (pair and len(soc) != 2)
            or not (pair or isinstance(soc, str) or is_real(soc))  # True was read as 1.0
        ):
            raise fail("initial_soc", 'must be a number, a (low, high) pair or "steady"')
        if pair and not all(is_real(x) for x in soc):
            raise fail("initial_soc", "must hold numbers: a (low, high) pair such as (0.5, 0.9)")
        lo, hi = self.soc_range()
        if not (0 <= lo <= hi <= 1):
            raise fail(
                "initial_soc",
                "must be a state of charge in [0, 1] or a (low, high) pair with low <= high",
            )
        for name in ("max_wait_s", "home_charging_share", "home_target_soc", "charging_efficiency",
                     "grid_loss_share", "recovery_soc", "ice_cold_ref_c",
                     "ice_cold_floor_c"):  # fmt: skip
            if not is_real(getattr(self, name)):
                raise fail(name, "must be a number")
        for name in ("ice_cold_ref_c", "ice_cold_floor_c"):
            if not math.isfinite(getattr(self, name)):
                raise fail(name, "must be a finite temperature in C")
        if self.ice_cold_floor_c > self.ice_cold_ref_c:
            raise fail(
                "ice_cold_floor_c", f"must be at most ice_cold_ref_c ({self.ice_cold_ref_c:g} C)"
            )
        if not (is_real(self.ice_cold_max_kph) and self.ice_cold_max_kph >= 0):
            raise fail("ice_cold_max_kph", "must be a speed >= 0 km/h (math.inf: every trip)")
        if not (self.max_wait_s > 0):
            raise fail("max_wait_s", "must be > 0 seconds (math.inf to never balk)")
        # a driver learns the queue at the station: the first balk cannot be avoided
        limits = (("max_balks_per_leg", 1, " (the first balk cannot be avoided)"),
                  ("max_stops_per_leg", 0, ""))  # fmt: skip
        for name, low, why in limits:
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
                raise fail(name, f"must be an integer >= {low}{why}")
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
            if not (is_real(v) and math.isfinite(v) and v > 0):
                raise fail(name, "must be a finite number > 0")
        if self.timeseries_step_s < 1.0:
            raise fail("timeseries_step_s", "must be at least 1 second (900 = 15 min bins)")
        if not isinstance(self.precondition, bool):
            raise fail("precondition", "must be True or False")
        for name in (
            "grid_kg_co2_per_kwh",
            "ice_car_l_per_100km",
            "ice_truck_l_per_100km",
            "petrol_kg_co2_per_l",
            "diesel_kg_co2_per_l",
            "petrol_wtt_kg_co2_per_l",
            "diesel_wtt_kg_co2_per_l",
            "ice_cold_penalty_per_c",
            "ice_truck_cold_penalty_per_c",
            "warmup_s",
        ):
            v = getattr(self, name)
            if not (is_real(v) and math.isfinite(v) and v >= 0):
                raise fail(name, "must be a finite number >= 0")
        if not (0 <= self.grid_loss_share < 1):
            raise fail("grid_loss_share", "must be in [0, 1)")
        if not (0 <= self.recovery_soc <= 1):
            raise fail("recovery_soc", "must be in [0, 1]")
        if self.time_factors is not None:
            tf = _hourly_factors(self.time_factors, fail)
            object.__setattr__(self, "time_factors", tf if tf else None)
        if self.engine not in ("fast", "full"):
            raise fail("engine", 'must be "fast" or "full"')
        if self.horizon_s is not None and not (self.horizon_s > 0):
            raise fail("horizon_s", "must be > 0 seconds or None")
        if self.horizon_s is not None and self.warmup_s >= self.horizon_s:
            # nothing would be measured: every KPI would be empty
            raise fail(
                "warmup_s", f"must be below horizon_s ({self.horizon_s:g} s): nothing is measured"
            )
        if self.measure_end_s is not None and not (
            is_real(self.measure_end_s)
            and math.isfinite(self.measure_end_s)
            and self.measure_end_s > self.warmup_s
        ):
            raise fail(
                "measure_end_s",
                f"must be a finite number of seconds above warmup_s ({self.warmup_s:g} s) or None",
            )
        if not isinstance(self.policy, ChargingPolicy):
            raise fail("policy", "must be a sim.ChargingPolicy")

    @property
    def per_class(self) -> bool:
        """Whether :attr:`time_factors` is a per-road-class mapping."""
        tf: Any = self.time_factors
        return tf is not None and bool(tf) and isinstance(tf[0], tuple)

    def factor_table(self) -> np.ndarray | None:
        """Congestion factors as an array: None (free flow), ``(24,)`` (one profile) or
        ``(n_classes, 24)`` (per road class, :data:`ROAD_CLASSES` order)."""
        tf: Any = self.time_factors
        if tf is None:
            return None
        if not self.per_class:
            return np.asarray(tf, dtype=float)
        out = np.ones((len(ROAD_CLASSES), 24))
        for name, row in tf:
            out[ROAD_CLASSES.index(str(name))] = row
        return out

    def ice_factor(self, temp_c: float, *, truck: bool = False) -> float:
        """Fuel-consumption multiplier of a petrol car (or, with ``truck``, a diesel truck)
        at ``temp_c``: the winter penalty, held below :attr:`ice_cold_floor_c`."""
        per_c = self.ice_truck_cold_penalty_per_c if truck else self.ice_cold_penalty_per_c
        below = self.ice_cold_ref_c - max(temp_c, self.ice_cold_floor_c)
        return 1.0 + per_c * max(0.0, below)

    def soc_range(self) -> tuple[float, float]:
        s = self.initial_soc
        if isinstance(s, str):  # "steady": trigger level .. charge target
            when, how = self.policy.when, self.policy.how_much
            lo = max(
                float(getattr(when, name, 0.0))
                for name in ("threshold_soc", "buffer_soc", "reserve_soc")
            )
            hi = float(getattr(how, "target_soc", 0.8))
            return (min(lo, hi), hi)
        return (float(s), float(s)) if isinstance(s, (int, float)) else (float(s[0]), float(s[1]))

    def as_dict(self) -> dict:
        """Plain values (policy rendered with ``repr``) for reports."""
        return {
            f.name: (repr(getattr(self, f.name)) if f.name == "policy" else getattr(self, f.name))
            for f in fields(self)
        }


def _hourly_factors(tf: object, fail: Callable[[str, str], SimSettingsError]) -> tuple:
    """Normalise ``time_factors``: 24 floats, or ``((class, 24 floats), ...)`` in
    :data:`ROAD_CLASSES` order from a mapping (or from pairs)."""

    def profile(x: object) -> tuple[float, ...] | None:
        if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
            return None
        vals = tuple(x)  # type: ignore[call-overload]
        if len(vals) != 24 or not all(
            is_real(v) and math.isfinite(v) and v >= 1  # type: ignore[arg-type]
            for v in vals
        ):
            return None
        return tuple(float(v) for v in vals)

    if isinstance(tf, Mapping) or (
        isinstance(tf, tuple) and tf and all(isinstance(p, tuple) and len(p) == 2 for p in tf)
    ):
        items = dict(tf.items() if isinstance(tf, Mapping) else tf)  # type: ignore[arg-type]
        unknown = [k for k in items if k not in ROAD_CLASSES]
        if unknown:
            raise fail(
                "time_factors",
                f"names unknown road class(es) {unknown}; known: {list(ROAD_CLASSES)}",
            )
        out = []
        for name in ROAD_CLASSES:
            if name in items:
                row = profile(items[name])
                if row is None:
                    raise fail(
                        "time_factors", f"[{name!r}] must be 24 hourly travel-time multipliers >= 1"
                    )
                out.append((name, row))
        return tuple(out)
    row = profile(tf)
    if row is None:
        raise fail(
            "time_factors",
            "must be 24 hourly travel-time multipliers >= 1 or a mapping road class -> 24 "
            f"multipliers (classes {list(ROAD_CLASSES)})",
        )
    return row
