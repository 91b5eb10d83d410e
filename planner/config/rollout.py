"""The staged-rollout part of a study file: years, demand growth, budgets, scenarios.

```yaml
stages:                          # one entry per year the plan is checked in
  - {year: 2025, demand_scale: 1.0, budget: 300000}
  - {year: 2028, demand_scale: 3.0, budget: 300000, fleet: {byd_atto3: 0.6, ...}}
rollout:
  method: both                   # myopic, lookahead or both (then the regret is reported)
  discount_rate: 0.05            # later capex is worth less today (tie-breaking only)
  scenarios: {low: 0.5, base: 1.0, high: 2.0}   # demand multipliers for the robust choice
  # or, with a winter severity (corridors: the range, so the refuellable flows, depend on it)
  # scenarios: {mild: {demand: 1.0, temperature_c: -10}, severe: {demand: 1.0, temperature_c: -30}}
```

``demand_scale`` multiplies the study's demand (city: ``demand.adoption_share``; corridor:
``demand.trips_per_day``); ``adoption_share`` sets the city share directly. Every stage may
change the fleet mix (``fleet``: checked as ``vehicles.fleet`` is; left out, the stage keeps
the study's) and the temperature, and has its own capital budget (sites and plugs
opened in that stage; no carry-over) or a number of ``new_sites`` (corridor studies: the
FRLM sites by count).

A scenario is a demand multiplier (``low: 0.5``) or a mapping with ``demand`` (multiplier,
default 1) and ``temperature_c`` (the temperature every stage of the scenario is planned at,
replacing the stage's or the study's) or ``seasons`` (a set of temperatures: the scenario
counts the mean over them, each season equally likely). Corridor studies plan for the range at
that temperature, so a severe winter shortens the hops a plan must bridge.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from planner.config._strict import Number
from planner.config._strict import StrictSection as _Strict
from planner.config.inputs import check_fleet_shares

__all__ = ["RolloutConfig", "ScenarioConfig", "StageConfig", "StageFleet"]


def _stage_fleet(fleet: dict[str, float]) -> dict[str, float]:
    # An empty mapping was read as "no fleet given" (the study's vehicles.fleet) without a
    # word; the stage may mean that or have lost its shares: refused, with both fixes.
    if not fleet:
        raise ValueError(
            "an empty fleet names no vehicle model; leave fleet out to keep the study's "
            "vehicles.fleet in this stage, or give the stage's shares"
        )
    return check_fleet_shares(fleet)


#: A stage's fleet mix: checked as ``vehicles.fleet`` (shares > 0, the names against the
#: study's catalogue by ``evplan validate``); an empty mapping is refused.
StageFleet = Annotated[dict[str, Number], AfterValidator(_stage_fleet)]


class StageConfig(_Strict):
    """One stage (year) of a rollout."""

    year: int = Field(ge=1900, le=2200)
    demand_scale: float | None = Field(None, gt=0, le=1000)
    adoption_share: float | None = Field(None, gt=0, le=1)
    fleet: StageFleet | None = None  # None: the study's vehicles.fleet
    budget: float | None = Field(None, gt=0)  # capex of the stage (sites and plugs)
    new_sites: int | None = Field(None, ge=0, le=2000)  # or a number of new sites
    temperature_c: float | None = Field(None, ge=-60, le=60)
    source: str = ""  # where the stage's demand figure comes from

    @model_validator(mode="after")
    def _one_scale(self) -> StageConfig:
        if self.demand_scale is not None and self.adoption_share is not None:
            raise ValueError("give demand_scale or adoption_share, not both")
        if self.budget is None and self.new_sites is None:
            raise ValueError(f"stage {self.year}: give a budget or a number of new_sites")
        return self


class ScenarioConfig(_Strict):
    """One scenario of the robust first-stage choice: demand level and temperature."""

    demand: float = Field(1.0, gt=0, le=1000)  # multiplies every stage's demand
    temperature_c: float | None = Field(None, ge=-60, le=60)  # replaces the stages' temperature
    # or a season set: the scenario counts the mean over its seasons (equal weights)
    seasons: dict[str, Number] | None = None
    source: str = ""  # where the scenario's figures come from

    @model_validator(mode="after")
    def _one_climate(self) -> ScenarioConfig:
        if self.temperature_c is not None and self.seasons:
            raise ValueError("give temperature_c or seasons, not both")
        for name, t in (self.seasons or {}).items():
            if not -60 <= t <= 60:
                raise ValueError(f"season {name!r}: temperature must be in -60..60 C, got {t}")
        return self

    def temperatures(self) -> list[float | None]:
        """The temperatures the scenario is planned at (``[None]``: the stages' own)."""
        if self.seasons:
            return [float(t) for t in self.seasons.values()]
        return [self.temperature_c]


class RolloutConfig(_Strict):
    """How a staged plan is made."""

    method: str = Field("both", pattern="^(myopic|lookahead|both)$")
    discount_rate: float = Field(0.05, ge=0, le=1)
    scenarios: dict[str, Number | ScenarioConfig] = Field(default_factory=dict)
    time_limit_s: float = Field(60.0, gt=0)

    @field_validator("scenarios", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        for k, v in (value or {}).items() if isinstance(value, dict) else ():
            if isinstance(v, bool):
                raise ValueError(
                    f"scenario {k!r}: give a demand multiplier or {{demand: ..., "
                    f"temperature_c: ...}}, not {str(v).lower()}"
                )
        return value

    @model_validator(mode="after")
    def _scenarios(self) -> RolloutConfig:
        for k, v in self.scenarios.items():
            if isinstance(v, float | int) and not v > 0:
                raise ValueError(f"scenario {k!r}: demand multiplier must be > 0, got {v}")
        return self

    def scenario_specs(self) -> dict[str, ScenarioConfig]:
        """Every scenario in the mapping form (a bare number is its demand multiplier)."""
        return {
            k: v if isinstance(v, ScenarioConfig) else ScenarioConfig(demand=float(v))
            for k, v in self.scenarios.items()
        }
