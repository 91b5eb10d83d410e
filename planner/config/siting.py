"""The ``existing_stations``, ``candidates`` and ``model`` sections of a study file: the
chargers there are, where new ones may go (POI tag rules, extra sites, truck bay classes,
costs) and the location model that chooses among them, with its solver.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from networks.errors import ConfigError
from planner.config._strict import StrictSection as _Strict

__all__ = [
    "MAX_NEW_SITES",
    "CandidatesConfig",
    "ExtraSite",
    "ModelConfig",
    "SolverConfig",
    "StationConfig",
    "TagRule",
    "TruckBayClass",
]

#: Most new stations one study may ask for (``model.p``).
MAX_NEW_SITES = 2_000


def _known_connectors(v: list[str]) -> list[str]:
    if not v or any(not str(c).strip() or ";" in c for c in v):
        raise ValueError(
            "connectors must be a non-empty list of standards such as [CCS2, GB/T, CHAdeMO]"
        )
    from sim.connectors import check_connectors  # (here: the schema loads without sim)

    unknown = check_connectors(v)
    if unknown:  # a misspelt standard matches no car (sim.connectors)
        raise ValueError(unknown)
    return v


#: A list of connector standards, each one evplan knows (:mod:`sim.connectors`)
ConnectorList = Annotated[list[str], AfterValidator(_known_connectors)]


class StationConfig(_Strict):
    """An existing station: by OSM id (in the OSM source), by place name (corridor), or lon/lat."""

    name: str
    osm_id: int | None = None
    osm_type: Literal["node", "way"] | None = None
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    plugs: int = Field(1, ge=1)
    power_kw: float = Field(50.0, gt=0)
    # None: the study's candidates.connectors (any connector when that is unset too)
    connectors: ConnectorList | None = None
    source: str = ""

    @model_validator(mode="after")
    def _where(self) -> StationConfig:
        if self.osm_id is None and (self.lon is None or self.lat is None):
            raise ValueError(f"station {self.name!r} needs osm_id or both lon and lat")
        return self


class ExtraSite(_Strict):
    """A candidate site given by coordinates (e.g. a planned renewable plant)."""

    name: str
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    renewable: bool = False
    note: str = ""
    # grid connection of this site (kW without upgrade) and its upgrade price; None: the
    # study's rule (grid section, candidates.grid_kw)
    grid_kw: float | None = Field(None, gt=0)
    upgrade_cost_per_kw: float | None = Field(None, ge=0)
    approximate: bool = False  # location only approximate (e.g. the town, not the plant)
    source: str = ""


class TruckBayClass(_Strict):
    """One class of truck charging bays (docs/cargo.md): power, cost, connectors, grid draw."""

    power_kw: float = Field(gt=0)
    plug_cost: float = Field(ge=0)
    connectors: ConnectorList
    # share of a site's bays (from the load-based sizing) in this class; at least min_bays
    share: float = Field(0.5, gt=0, le=1)
    min_bays: int = Field(1, ge=0)
    max_bays: int = Field(6, ge=1)
    # grid connection per bay (kW); None = the bay's power
    grid_kw_per_bay: float | None = Field(None, gt=0)
    source: str = ""

    @model_validator(mode="after")
    def _bays(self) -> TruckBayClass:
        # the siting gives a row at least min_bays and at most max_bays (np.clip, which
        # returns max_bays when the two cross): a contradiction the file must not hold
        if self.min_bays > self.max_bays:
            raise ValueError(
                f"min_bays ({self.min_bays}) is above max_bays ({self.max_bays}): a site's row of "
                "this class gets at least min_bays bays and at most max_bays; lower min_bays "
                "or raise max_bays"
            )
        return self


def _tag_rule(rule: str) -> str:
    # Parsed now with the rule reader optimize uses, so validate names the field and the
    # rule instead of optimize failing after the network is built.
    from networks.sites import parse_tag_rules

    try:
        parse_tag_rules([rule])
    except ConfigError as exc:
        raise ValueError(f"{exc} (an OSM key=value; '*' matches any value)") from None
    return rule


#: One POI tag rule of ``candidates.tags``: ``key=value`` or ``key=*``.
TagRule = Annotated[str, AfterValidator(_tag_rule)]


class CandidatesConfig(_Strict):
    tags: list[TagRule] | None = None
    include_network_places: bool = True
    include_road_nodes: bool = False
    extra: list[ExtraSite] = Field(default_factory=list)
    max_snap_m: float = Field(300.0, gt=0)
    max_candidates: int | None = Field(None, gt=0)
    site_cost: float = Field(40_000.0, ge=0)
    plug_cost: float = Field(25_000.0, ge=0)
    # the unit of every cost of the study (site, plug and bay costs, grid upgrade prices,
    # model.budget), written beside the cost KPIs in the reports ("USD", "KZT"); a planner
    # review found "cost units" everywhere (2026-12-07)
    currency: str = Field("cost units", min_length=1, max_length=24)
    renewable_cost_factor: float = Field(1.0, gt=0)
    power_kw: float = Field(50.0, gt=0)
    max_plugs: int = Field(6, ge=1)
    grid_kw: float | None = Field(None, gt=0)
    # connector standards of new (and, by default, existing) stations; None = any connector
    connectors: ConnectorList | None = None
    # truck bay classes (e.g. mcs, ccs_truck): a new site gets one station row per class at
    # its node (own power, cost, connectors, grid draw) instead of power_kw / plug_cost
    truck_bays: dict[str, TruckBayClass] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _bays_within_plugs(self) -> CandidatesConfig:
        # a truck bay row's plug cap is the smaller of max_plugs and its class's max_bays
        # (planner.study.loop_remedies.plug_caps): a class whose rows start above it
        # would be sited over the cap the closed loop holds every row to
        over = {k: bc.min_bays for k, bc in self.truck_bays.items() if bc.min_bays > self.max_plugs}
        if over:
            k, n = next(iter(over.items()))
            raise ValueError(
                f"truck_bays.{k}.min_bays ({n}) is above max_plugs ({self.max_plugs}), the most "
                "plugs (bays) any station row may have; lower min_bays or raise max_plugs"
            )
        return self


class SolverConfig(_Strict):
    time_limit_s: float = Field(60.0, gt=0)
    threads: int = Field(2, ge=1)
    backend: Literal["auto", "cp-sat", "scip", "highs"] = "auto"


class ModelConfig(_Strict):
    kind: Literal["mclp", "pmedian", "cover", "capacitated", "frlm"]
    # Bounded: the coverage curve solves once per new station up to p.
    p: int | None = Field(None, ge=1, le=MAX_NEW_SITES)
    budget: float | None = Field(None, gt=0)
    threshold_min: float = Field(10.0, gt=0)
    coverage_target: float = Field(0.95, gt=0, le=1)
    range_km: float | None = Field(None, gt=0)
    target_utilisation: float = Field(0.6, gt=0, le=1)
    solver: SolverConfig = Field(default_factory=SolverConfig)

    @model_validator(mode="after")
    def _size(self) -> ModelConfig:
        if self.kind in ("mclp", "pmedian") and self.p is None and self.budget is None:
            raise ValueError(f"model {self.kind!r} needs p (number of new stations) or budget")
        if self.kind in ("cover", "capacitated") and self.p is not None:
            # These models open as many sites as the coverage target needs (a p=8 study
            # opened 16); p was ignored without a word, so it is refused like frlm's budget.
            within = (
                " within the sites' plug and grid capacity" if self.kind == "capacitated" else ""
            )
            raise ValueError(
                f"model.p ({self.p}) is not used by model {self.kind!r}, which opens as many "
                f"sites as model.coverage_target ({self.coverage_target:g}) needs{within}: "
                "remove p, or use kind 'mclp' or 'pmedian' to site a number of new stations"
            )
        if self.kind == "frlm" and self.budget is not None:
            # The FRLM sites by number of stations (Capar & Kuby's arc cover has no cost row
            # here); a budget would be silently ignored, so it is refused.
            raise ValueError(
                f"model.budget ({self.budget:g}) is not supported by the corridor model 'frlm', "
                "which sites by number of new stations: remove budget and set p (or leave p "
                "unset for the fewest stations refuelling every flow)"
            )
        return self
