"""Vehicle physics: energy per kilometre as a function of speed and temperature, and charging
power as a function of state of charge, station power and temperature.

Consumption model (battery side, kWh/km) for a leg driven at average speed ``v``::

    c(v, T) = max(f_min * c_ref, c_ref + k_aero(T) * v**2 - k_aero(20) * v_ref**2)
              x (1 + cold_drive_per_c * (cold_drive_below_c - T)+) + P_hvac(T) / v_kmh

* ``c_ref`` -- consumption at the reference cycle (WLTP / EPA figure, converted to battery
  side), i.e. at the cycle's *aero-equivalent* speed ``v_ref`` (distance-weighted RMS speed;
  66 km/h for WLTP class 3b from its phase mean speeds, 57 km/h for EPA 55/45 city/highway),
  20-25 C, no HVAC.
* ``k_aero(T) = 0.5 * rho(T) * CdA / eta_drive`` converted to kWh/km per (m/s)^2, with
  ``rho(T) = 1.204 * 293.15 / (273.15 + T)`` (ideal gas, sea level): the textbook
  aerodynamic drag power, so faster legs cost more per km and cold air costs a little more.
* ``f_min`` floors the speed benefit: below ``v_ref`` stop-and-go (acceleration, braking
  losses not fully regenerated) dominates, so consumption never drops below
  ``f_min * c_ref`` (default 0.75, an assumption).
* ``P_hvac(T)`` -- cabin heating below ``heat_below_c`` and cooling above ``cool_above_c``,
  linear in the temperature gap and capped. It is power (kW), so it costs more per km on slow
  legs. Cars: calibrated on the AAA 2019 climate-chamber test (combined city/highway driving:
  range -12 % at -6.7 C with the heater off, -41 % with it on, -17 % at 35 C with A/C), the
  heater-off part carried by ``cold_drive_per_c`` below, and checked against Geotab's 2020
  analysis of 4,200 EVs (about 54 % of rated range at -15 C, about 115 % at the 21.5 C sweet
  spot); see ``sim/catalogue.yaml``.

* ``cold_drive_per_c`` -- extra drive energy per kelvin below ``cold_drive_below_c``, per km
  whatever the speed. Cars: 0.0045 below 23.9 C, AAA's heater-off loss (cold battery and
  drivetrain: 1 / (1 + 0.0045 x 30.6) = 88 % of the range at -6.7 C), linear below it
  (assumption). Trucks (battery thermal management, cold tyres and winter roads): calibrated
  so that a tractor-trailer uses about 20 % more energy at -20 C than in mild weather, inside
  the 15-30 % winter penalty reported by fleets (NACFE "Run on Less - Electric" 2021 and its
  2022 heavy-duty report: at least 15 %; Norwegian carriers up to 30 %). The dataclass
  default is 0: a model of one's own gives it (``extends:`` a built-in car inherits it).

Charging: AC power is ``min(station_kw, max_ac_kw)``; DC power follows a piecewise-linear
curve of power versus state of charge, multiplied by a cold-derating factor interpolated in
battery temperature (per model, or per chemistry by default: :data:`COLD_DC_FACTOR`), and
capped by the station's power per plug. The pack arrives at ambient temperature unless the
model preconditions (``preconditioning``) and the run allows it: the pack is then heated to
:data:`PRECONDITION_PACK_C` on the way, at an energy cost of the pack's heat capacity
(:data:`PACK_HEAT_KWH_PER_KWH_K`). Below about -15 C the usable capacity shrinks
(:data:`COLD_CAPACITY_FACTOR`, per chemistry).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from sim._errors import VehicleSpecError
from sim.connectors import check_connectors, split_connectors
from sim.driving_rules import RULES
from sim.policies import is_real

logger = logging.getLogger(__name__)

AIR_DENSITY_20C = 1.204  # kg/m^3 at 20 C, 101.325 kPa
J_PER_KWH = 3.6e6
#: Average speeds below this (km/h) are clamped when dividing HVAC power by speed.
MIN_SPEED_KPH = 5.0
#: Cold DC-charging derating used when a model does not give its own table: liquid-cooled
#: packs without preconditioning. An assumption scaled on INL (Motoaki, Yi & Salisbury 2018:
#: passively cooled Nissan Leaf packs reached a 36 % lower state of charge after 30 min at
#: 0 C than at 25 C): thermally managed packs keep 0.82 of their *power* at 0 C (half of 36 %,
#: read as a power loss), and the -20 C / -30 C points follow the same slope (documented in
#: docs/simulation.md). The passively cooled i-MiEV reproduces INL's own figure (catalogue).
DEFAULT_COLD_DC_FACTOR: tuple[tuple[float, float], ...] = (
    (-30.0, 0.35),
    (-20.0, 0.5),
    (-10.0, 0.65),
    (0.0, 0.82),
    (15.0, 1.0),
)
#: Cold DC-charging factor per chemistry when a model gives no table of its own. NMC: the
#: liquid-cooled default above. LFP accepts less current when cold (lower anode
#: overpotential margin against lithium plating; Jaguemont, Boulon & Dube 2016, "A
#: comprehensive review of lithium-ion batteries used in hybrid and electric vehicles at cold
#: temperatures", Applied Energy 164): assumed 0.7 at 0 C, 0.5 at -10 C, 0.35 at -20 C.
COLD_DC_FACTOR: dict[str, tuple[tuple[float, float], ...]] = {
    "NMC": DEFAULT_COLD_DC_FACTOR,
    "LFP": ((-30.0, 0.2), (-20.0, 0.35), (-10.0, 0.5), (0.0, 0.7), (15.0, 1.0)),
}
#: Usable-capacity factor versus battery temperature per chemistry (1.0 above -15 C). Cell
#: tests lose 20-30 % of capacity at -20 C at moderate rates (Jaguemont et al. 2016);
#: thermally managed, self-heating vehicle packs lose far less: NMC packs are assumed to lose
#: 5 % at -20 C and 10 % at -30 C, and LFP (flatter voltage, higher cold resistance) twice
#: the NMC loss. Assumptions, in the register (docs/assumptions.md); until 2026-12-07 this
#: comment said "half of" the cell figure, which the table never was.
COLD_CAPACITY_FACTOR: dict[str, tuple[tuple[float, float], ...]] = {
    "NMC": ((-30.0, 0.9), (-20.0, 0.95), (-15.0, 1.0)),
    "LFP": ((-30.0, 0.8), (-20.0, 0.9), (-15.0, 1.0)),
}
CHEMISTRIES = tuple(COLD_DC_FACTOR)
#: Pack temperature reached by preconditioning before a DC stop (C). Manufacturers' battery
#: conditioning targets the fast-charge window of about 20-30 C; 20 C assumed.
PRECONDITION_PACK_C = 20.0
#: Heat to warm a pack by 1 K, per kWh of capacity: ~6 kg of pack per kWh (about 160 Wh/kg
#: at pack level) x ~1.0 kJ/(kg K) specific heat of Li-ion cells and housing, in kWh.
PACK_HEAT_KWH_PER_KWH_K = 6.0 * 1.0 / 3600.0
CATEGORIES = ("car", "van", "truck", "bus")
_SOC_GRID = np.linspace(0.0, 1.0, 401)


@dataclass(frozen=True)
class VehicleModel:
    """One vehicle model of the catalogue (see ``sim/catalogue.yaml`` for sources).

    Parameters
    ----------
    key : str
        Catalogue key used in trip tables (``vehicle_model`` column).
    name : str
        Display name.
    category : {"car", "van", "truck", "bus"}
        Selects the ICE baseline (petrol car / diesel truck) and depot charging.
    battery_kwh : float
        Usable battery energy (kWh), > 0.
    consumption_kwh_per_km : float
        Battery-side consumption at ``ref_speed_kph``, mild weather, no HVAC; > 0.
    max_ac_kw : float
        On-board charger limit (kW); 0 = no AC charging.
    dc_curve : tuple of (soc, kW)
        DC charging power versus state of charge (0..1), piecewise linear; empty = no DC.
    connectors : tuple of str
        Inlet standards (``Type1``, ``Type2``, ``CCS2``, ``CHAdeMO``, ``GB/T``, ``MCS`` ...).
    ref_speed_kph, cda_m2, drivetrain_efficiency, min_consumption_factor : float
        Speed-dependence parameters (module docstring).
    heat_kw_per_c, heat_below_c, heat_max_kw, cool_kw_per_c, cool_above_c, cool_max_kw : float
        HVAC load parameters.
    cold_dc_factor : tuple of (temp_c, factor)
        DC power multiplier versus battery temperature, piecewise linear, flat outside;
        empty = the chemistry's default (:data:`COLD_DC_FACTOR`).
    chemistry : {"NMC", "LFP"}
        Cell chemistry: default cold DC table and cold usable-capacity loss.
    preconditioning : bool
        The model can heat its pack on the way to a DC charger (navigation-triggered).
    cold_drive_per_c, cold_drive_below_c : float
        Extra drive consumption (fraction per kelvin) below ``cold_drive_below_c``.
    max_speed_kph : float or None
        Speed cap (trucks); legs are never faster than this.
    driving_rules : str
        Driving-time rules its drivers follow in the simulation (``"aetr"``, see
        :mod:`sim.driving_rules`; trucks only); ``""`` = none (the catalogue default: a
        freight study switches them on for its trucks).
    source : str
        Where the figures come from (required for built-in models).
    """

    key: str
    name: str
    category: str
    battery_kwh: float
    consumption_kwh_per_km: float
    max_ac_kw: float
    dc_curve: tuple[tuple[float, float], ...] = ()
    connectors: tuple[str, ...] = ()
    ref_speed_kph: float = 66.0
    cda_m2: float = 0.7
    drivetrain_efficiency: float = 0.9
    min_consumption_factor: float = 0.75
    heat_kw_per_c: float = 0.25
    heat_below_c: float = 15.0
    heat_max_kw: float = 6.0
    cool_kw_per_c: float = 0.16
    cool_above_c: float = 25.0
    cool_max_kw: float = 3.0
    cold_dc_factor: tuple[tuple[float, float], ...] = ()
    chemistry: str = "NMC"
    preconditioning: bool = False
    cold_drive_per_c: float = 0.0
    cold_drive_below_c: float = 10.0
    max_speed_kph: float | None = None
    driving_rules: str = ""
    source: str = ""
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dc_curve", tuple((float(s), float(p)) for s, p in self.dc_curve))
        object.__setattr__(
            self, "cold_dc_factor", tuple((float(t), float(f)) for t, f in self.cold_dc_factor)
        )
        object.__setattr__(self, "connectors", tuple(split_connectors(self.connectors)))
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self, where: str = "") -> None:
        """Raise :class:`VehicleSpecError` naming the model and field when a value is
        physically impossible."""
        loc = f"{where}: " if where else ""

        def bad(fld: str, value, why: str) -> VehicleSpecError:
            return VehicleSpecError(
                f"{loc}vehicle model {self.key!r}: field {fld!r} = {value!r} {why}"
            )

        def positive(fld: str, allow_zero: bool = False) -> None:
            v = getattr(self, fld)
            if not is_real(v) or not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
                need = "a finite number >= 0" if allow_zero else "a finite number > 0"
                raise bad(fld, v, f"is impossible; it must be {need}")

        if self.category not in CATEGORIES:
            raise bad("category", self.category, f"is unknown; use one of {list(CATEGORIES)}")
        if self.driving_rules:
            if self.driving_rules not in RULES:
                raise bad(
                    "driving_rules",
                    self.driving_rules,
                    f'is unknown; use "" or one of {sorted(RULES)}',
                )
            if self.category != "truck":
                raise bad(
                    "driving_rules",
                    self.driving_rules,
                    "applies to trucks only (category 'truck'); remove it",
                )
        positive("battery_kwh")
        positive("consumption_kwh_per_km")
        positive("ref_speed_kph")
        positive("max_ac_kw", allow_zero=True)
        positive("cda_m2", allow_zero=True)
        for fld in ("heat_kw_per_c", "heat_max_kw", "cool_kw_per_c", "cool_max_kw"):
            positive(fld, allow_zero=True)
        if not (0 < self.drivetrain_efficiency <= 1):
            raise bad("drivetrain_efficiency", self.drivetrain_efficiency, "must be in (0, 1]")
        if not (0 < self.min_consumption_factor <= 1):
            raise bad("min_consumption_factor", self.min_consumption_factor, "must be in (0, 1]")
        if self.max_speed_kph is not None and not (
            math.isfinite(self.max_speed_kph) and self.max_speed_kph > 0
        ):
            raise bad("max_speed_kph", self.max_speed_kph, "must be > 0 (or omitted)")
        if self.dc_curve:
            socs = [s for s, _ in self.dc_curve]
            if any(not (0.0 <= s <= 1.0) for s in socs) or any(
                b <= a for a, b in zip(socs, socs[1:], strict=False)
            ):
                raise bad(
                    "dc_curve",
                    list(self.dc_curve),
                    "needs strictly increasing state-of-charge points in [0, 1]",
                )
            if any(not (math.isfinite(p) and p > 0) for _, p in self.dc_curve):
                raise bad("dc_curve", list(self.dc_curve), "needs powers > 0 kW at every point")
        if self.max_ac_kw == 0 and not self.dc_curve:
            raise bad(
                "max_ac_kw",
                0,
                "leaves the vehicle with no way to charge; give max_ac_kw > 0 or a dc_curve",
            )
        if self.chemistry not in CHEMISTRIES:
            raise bad("chemistry", self.chemistry, f"is unknown; use one of {list(CHEMISTRIES)}")
        positive("cold_drive_per_c", allow_zero=True)
        if not isinstance(self.preconditioning, bool):
            raise bad("preconditioning", self.preconditioning, "must be true or false")
        if not self.cold_dc_factor:
            object.__setattr__(self, "cold_dc_factor", COLD_DC_FACTOR[self.chemistry])
        temps = [t for t, _ in self.cold_dc_factor]
        if not temps or any(b <= a for a, b in zip(temps, temps[1:], strict=False)):
            raise bad(
                "cold_dc_factor",
                list(self.cold_dc_factor),
                "needs strictly increasing temperatures",
            )
        if any(not (0 < f <= 1) for _, f in self.cold_dc_factor):
            raise bad("cold_dc_factor", list(self.cold_dc_factor), "needs factors in (0, 1]")
        if not self.connectors:
            raise bad(
                "connectors",
                list(self.connectors),
                "is empty; list the inlet standards, e.g. [CCS2, Type2]",
            )
        unknown = check_connectors(self.connectors)
        if unknown:
            raise bad("connectors", list(self.connectors), f"has {unknown}")

    # ------------------------------------------------------------------ physics
    @property
    def max_dc_kw(self) -> float:
        """Peak DC power of the curve (0 without DC)."""
        return max((p for _, p in self.dc_curve), default=0.0)

    @property
    def is_truck(self) -> bool:
        return self.category in ("truck", "bus")

    def hvac_kw(self, temp_c: float) -> float:
        """Heating / cooling power draw (kW) at ambient ``temp_c``."""
        heat = min(self.heat_max_kw, self.heat_kw_per_c * max(0.0, self.heat_below_c - temp_c))
        cool = min(self.cool_max_kw, self.cool_kw_per_c * max(0.0, temp_c - self.cool_above_c))
        return heat + cool

    def aero_kwh_per_km_per_ms2(self, temp_c: float) -> float:
        """Aerodynamic term coefficient: kWh/km per (m/s)^2 of speed."""
        rho = AIR_DENSITY_20C * 293.15 / (273.15 + temp_c)
        return 0.5 * rho * self.cda_m2 / self.drivetrain_efficiency * 1000.0 / J_PER_KWH

    def consumption_kwh_per_km_at(self, speed_kph, temp_c: float):
        """Battery-side consumption (kWh/km) at average speed(s) ``speed_kph`` (array-like)."""
        v = np.maximum(np.asarray(speed_kph, dtype=float), MIN_SPEED_KPH)
        k = self.aero_kwh_per_km_per_ms2(temp_c)
        v_ref = self.ref_speed_kph / 3.6
        # c_ref holds the drag at v_ref in the rating's (20 C) air: that is what is taken
        # out, and the drag at v in the air of temp_c put in (taking k(T) v_ref^2 out made
        # cold air *lower* the consumption below v_ref)
        k_ref = self.aero_kwh_per_km_per_ms2(20.0)
        drive = self.consumption_kwh_per_km + k * (v / 3.6) ** 2 - k_ref * v_ref**2
        drive = np.maximum(drive, self.min_consumption_factor * self.consumption_kwh_per_km)
        if self.cold_drive_per_c > 0:
            drive = drive * (
                1.0 + self.cold_drive_per_c * max(0.0, self.cold_drive_below_c - temp_c)
            )
        return drive + self.hvac_kw(temp_c) / v

    def drive_time_s(self, length_m, time_s):
        """Leg time respecting ``max_speed_kph`` (network times assume cars)."""
        t = np.asarray(time_s, dtype=float)
        if self.max_speed_kph is None:
            return t
        return np.maximum(t, np.asarray(length_m, dtype=float) / (self.max_speed_kph / 3.6))

    def energy_kwh(self, length_m, time_s, temp_c: float):
        """Energy (kWh) of legs of ``length_m`` driven in ``time_s`` (already speed-capped);
        ``inf`` where the leg is unreachable, 0 for zero-length legs."""
        length = np.asarray(length_m, dtype=float)
        t = np.asarray(time_s, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            speed = np.where(t > 0, length / np.where(t > 0, t, 1.0) * 3.6, MIN_SPEED_KPH)
            speed = np.where(np.isfinite(speed), speed, MIN_SPEED_KPH)
            e = length / 1000.0 * self.consumption_kwh_per_km_at(speed, temp_c)
        e = np.where(length > 0, e, 0.0)
        return np.where(np.isfinite(length) & np.isfinite(t), e, np.inf)

    def cold_factor(self, temp_c: float) -> float:
        """DC power multiplier at battery temperature ``temp_c``."""
        t, f = zip(*self.cold_dc_factor, strict=True)
        return float(np.interp(temp_c, t, f))

    def usable_kwh(self, temp_c: float) -> float:
        """Usable capacity (kWh) at battery temperature ``temp_c`` (derated below -15 C)."""
        t, f = zip(*COLD_CAPACITY_FACTOR[self.chemistry], strict=True)
        return self.battery_kwh * float(np.interp(temp_c, t, f))

    def pack_temp_c(self, ambient_c: float, *, precondition: bool) -> float:
        """Battery temperature on arrival at a DC charger."""
        if precondition and self.preconditioning:
            return max(ambient_c, PRECONDITION_PACK_C)
        return ambient_c

    def precondition_kwh(self, ambient_c: float, *, precondition: bool) -> float:
        """Energy (kWh) to precondition the pack before a DC stop (0 when not used)."""
        if not (precondition and self.preconditioning) or ambient_c >= PRECONDITION_PACK_C:
            return 0.0
        return self.battery_kwh * PACK_HEAT_KWH_PER_KWH_K * (PRECONDITION_PACK_C - ambient_c)

    def dc_power_kw(self, soc, temp_c: float, station_kw: float = math.inf):
        """DC charging power (kW) at state(s) of charge ``soc``."""
        if not self.dc_curve:
            return np.zeros_like(np.asarray(soc, dtype=float))
        s, p = zip(*self.dc_curve, strict=True)
        return np.minimum(np.interp(soc, s, p) * self.cold_factor(temp_c), station_kw)

    def charge_profile(
        self,
        station_kw: float,
        *,
        dc: bool,
        temp_c: float,
        capacity_kwh: float | None = None,
        pack_temp_c: float | None = None,
    ) -> ChargeProfile:
        """Charging-time profile at a plug of ``station_kw`` (cached per arguments).

        ``temp_c`` is the ambient temperature; ``pack_temp_c`` (default: ambient) the battery
        temperature for the cold DC factor; ``capacity_kwh`` the usable capacity (default
        :meth:`usable_kwh` at ambient).
        """
        cap = self.usable_kwh(temp_c) if capacity_kwh is None else capacity_kwh
        pack = temp_c if pack_temp_c is None else pack_temp_c
        return _profile(self, float(station_kw), bool(dc), float(pack), float(cap))

    def can_use(self, *, dc: bool, connectors: frozenset[str] | None) -> bool:
        """Whether the model can charge at a plug of this kind / connector set."""
        if dc and not self.dc_curve:
            return False
        if not dc and self.max_ac_kw <= 0:
            return False
        return connectors is None or bool(connectors.intersection(self.connectors))


class ChargeProfile:
    """Cumulative charging time versus state of charge for one (model, plug, temperature).

    Power is interpolated on a 401-point state-of-charge grid; within a cell it is linear,
    so ``dt = C ds / p`` integrates exactly to ``C ds ln(p1/p0) / (p1 - p0)`` (and exactly
    ``C ds / p`` for flat power, which the hand-checked tests rely on).
    """

    __slots__ = ("capacity", "power_kw", "_tau_h", "_soc")

    def __init__(self, capacity_kwh: float, power_kw: np.ndarray) -> None:
        self.capacity = capacity_kwh
        self.power_kw = power_kw
        p0, p1 = power_kw[:-1], power_kw[1:]
        ds = np.diff(_SOC_GRID)
        with np.errstate(divide="ignore", invalid="ignore"):
            lin = ds * np.log(p1 / p0) / (p1 - p0)
        cell = np.where(np.isclose(p0, p1, rtol=1e-12, atol=0.0), ds / p0, lin)
        self._tau_h = np.concatenate([[0.0], np.cumsum(capacity_kwh * cell)])
        self._soc = _SOC_GRID

    def time_s(self, e0_kwh: float, e1_kwh: float) -> float:
        """Seconds to charge from ``e0_kwh`` to ``e1_kwh`` (0 if ``e1 <= e0``)."""
        if e1_kwh <= e0_kwh:
            return 0.0
        c = self.capacity
        t0 = np.interp(e0_kwh / c, self._soc, self._tau_h)
        t1 = np.interp(e1_kwh / c, self._soc, self._tau_h)
        return float(t1 - t0) * 3600.0

    def energy_after(self, e0_kwh: float, seconds: float) -> float:
        """Battery energy after charging ``seconds`` from ``e0_kwh`` (capped at capacity)."""
        c = self.capacity
        t0 = np.interp(e0_kwh / c, self._soc, self._tau_h)
        soc = np.interp(t0 + seconds / 3600.0, self._tau_h, self._soc)
        return float(min(c, max(e0_kwh, soc * c)))


@lru_cache(maxsize=4096)
def _profile(
    model: VehicleModel, station_kw: float, dc: bool, temp_c: float, capacity_kwh: float
) -> ChargeProfile:
    if dc:
        power = model.dc_power_kw(_SOC_GRID, temp_c, station_kw)
    else:
        power = np.full(_SOC_GRID.size, min(station_kw, model.max_ac_kw))
    if not (power > 0).all():
        raise VehicleSpecError(
            f"vehicle model {model.key!r} cannot charge at a {'DC' if dc else 'AC'} plug of "
            f"{station_kw} kW (power would be 0); check max_ac_kw / dc_curve"
        )
    return ChargeProfile(capacity_kwh, power)
