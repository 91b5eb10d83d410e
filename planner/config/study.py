"""Study configuration: YAML validated with pydantic, errors with file, line and hint.

Every section rejects unknown keys. Paths are resolved relative to the config file after
``${VAR}`` / ``${VAR:-default}`` expansion, so shipped studies can point at the shared data
folder (``${EVPLAN_DATA_DIR:-../../shared/data}``). ``load_config`` is the only way in; it
raises :class:`ConfigFileError` naming the file, the line, the field path and a hint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from networks.errors import ConfigError
from planner.config._strict import StrictSection as _Strict
from planner.config.energy import GridConfig, RenewablesConfig
from planner.config.rollout import RolloutConfig, StageConfig
from planner.config.simulation import SimulationConfig, TargetsConfig
from planner.config.yaml_reader import expand_vars, line_of, read_yaml

#: Most new stations one study may ask for (``model.p``).
MAX_NEW_SITES = 2_000


class ConfigFileError(ConfigError):
    """A study file is unreadable or invalid; the message names file, line and field."""


class CorridorSource(_Strict):
    """National road network built from route polylines (GeoJSON) and GeoNames places."""

    roads: Path
    places: Path
    official_population: Path | None = None
    snap_tolerance_m: float = Field(500.0, gt=0)
    place_distance_km: float = Field(15.0, gt=0)
    min_population: int = Field(5_000, ge=0)
    # per road ref, km/h: checked here so that `evplan validate` names the field (the roads
    # a ref must match are known only when the network is built)
    speeds_kph: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    default_speed_kph: float = Field(90.0, gt=0)
    max_edge_km: float | None = Field(25.0, gt=0)  # candidate positions along long roads


class NetworkConfig(_Strict):
    """Exactly one of ``source`` (OSM file), ``place``/``bbox`` (download) or ``corridor``."""

    source: Path | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    download: bool = False
    corridor: CorridorSource | None = None
    network_type: Literal["drive", "drive_service"] = "drive"
    speeds_kph: dict[str, float] = Field(default_factory=dict)
    cache_dir: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> NetworkConfig:
        given = [k for k in ("source", "place", "bbox", "corridor") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of source, place, bbox or corridor (got {given or 'none'})"
            )
        if self.bbox is not None:
            from networks.validate import validate_bbox

            try:
                validate_bbox(self.bbox, what="network.bbox")
            except ConfigError as exc:  # reported with file and line like any field error
                raise ValueError(str(exc)) from None
        if (self.place is not None or self.bbox is not None) and not self.download:
            raise ValueError(
                "place/bbox need 'download: true' (evplan never goes online unless asked); "
                "or pass an extract with 'source: path/to/file.osm.pbf'"
            )
        for k, v in self.speeds_kph.items():
            if not v > 0:
                raise ValueError(f"speeds_kph.{k} must be > 0 km/h, got {v}")
        return self


class DemandConfig(_Strict):
    """Where trips come from."""

    kind: Literal["city", "corridor", "od_table", "freight"]
    zones: Path | None = None
    zone_population: Path | None = None
    zone_name_field: str = "name_ru"
    population: int | None = Field(None, gt=0)
    use_poi_weight: bool = True
    adoption_share: float = Field(0.01, gt=0, le=1)
    trips_per_ev_day: float | None = Field(None, gt=0)  # None: what the trip-chain mix implies
    max_trips: int | None = Field(None, gt=0)
    gravity_exponent: float = Field(2.0, ge=0)
    trips_per_day: float = Field(400.0, gt=0)
    truck_share: float = Field(0.0, ge=0, le=1)
    min_trip_km: float = Field(50.0, ge=0)
    od_table: Path | None = None
    # snap limit of an OD table's lon/lat trip ends to the network (m)
    od_snap_m: float = Field(500.0, gt=0, allow_inf_nan=False)
    # freight (docs/cargo.md): trucks_per_day = trips_per_day; share of the China-border
    # trucks that cross Kazakhstan to a Russian border post; relative weight per border post
    # (by name, default 1 each); snap limit of the posts to the network
    transit_share: float = Field(0.3, ge=0, le=1)
    border_weights: dict[str, float] = Field(default_factory=dict)
    border_snap_m: float = Field(5_000.0, gt=0)

    @field_validator("border_weights")
    @classmethod
    def _border_weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if not w >= 0:
                raise ValueError(f"border_weights[{k!r}] must be >= 0, got {w}")
        return v

    @model_validator(mode="after")
    def _inputs(self) -> DemandConfig:
        if self.kind == "city" and self.zones is None and self.population is None:
            raise ValueError(
                "kind 'city' needs 'zones' (district polygons + zone_population) or a total "
                "'population' spread over a grid of the network"
            )
        if self.kind == "od_table" and self.od_table is None:
            raise ValueError("kind 'od_table' needs 'od_table: path/to/table.csv'")
        return self


class VehiclesConfig(_Strict):
    """Fleet mix by catalogue name (shares are normalised) and optional user catalogue."""

    fleet: dict[str, float] = Field(default_factory=lambda: {"mitsubishi_imiev_2013": 1.0})
    truck: str | None = None
    catalogue: Path | None = None
    compare: list[str] = Field(default_factory=list)
    # driving-time rules of truck drivers (sim.driving_rules): "auto" = AETR for the trucks of
    # a freight study, none otherwise
    driving_rules: Literal["auto", "aetr", "none"] = "auto"

    @field_validator("fleet")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("fleet must name at least one vehicle model")
        for k, s in v.items():
            if not s > 0:
                raise ValueError(f"fleet share of {k!r} must be > 0, got {s}")
        return v


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
    connectors: list[str] | None = None
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
    connectors: list[str] = Field(min_length=1)
    # share of a site's bays (from the load-based sizing) in this class; at least min_bays
    share: float = Field(0.5, gt=0, le=1)
    min_bays: int = Field(1, ge=0)
    max_bays: int = Field(6, ge=1)
    # grid connection per bay (kW); None = the bay's power
    grid_kw_per_bay: float | None = Field(None, gt=0)
    source: str = ""


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
    renewable_cost_factor: float = Field(1.0, gt=0)
    power_kw: float = Field(50.0, gt=0)
    max_plugs: int = Field(6, ge=1)
    grid_kw: float | None = Field(None, gt=0)
    # connector standards of new (and, by default, existing) stations; None = any connector
    connectors: list[str] | None = None
    # truck bay classes (e.g. mcs, ccs_truck): a new site gets one station row per class at
    # its node (own power, cost, connectors, grid draw) instead of power_kw / plug_cost
    truck_bays: dict[str, TruckBayClass] = Field(default_factory=dict)

    @field_validator("connectors")
    @classmethod
    def _connectors(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or any(not str(c).strip() or ";" in c for c in v)):
            raise ValueError(
                "connectors must be a non-empty list of standards such as [CCS2, GB/T, CHAdeMO]"
            )
        return v


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
        if self.kind == "frlm" and self.budget is not None:
            # The FRLM sites by number of stations (Capar & Kuby's arc cover has no cost row
            # here); a budget would be silently ignored, so it is refused.
            raise ValueError(
                f"model.budget ({self.budget:g}) is not supported by the corridor model 'frlm', "
                "which sites by number of new stations: remove budget and set p (or leave p "
                "unset for the fewest stations refuelling every flow)"
            )
        return self


class OutputsConfig(_Strict):
    folder: Path | None = None
    html: bool = True
    gpkg: bool = True
    # coverage vs number of new stations: one optimal solve per point, spanning the proposal
    coverage_curve: bool = True
    curve_points: int = Field(15, ge=2, le=100)


class StudyConfig(_Strict):
    """A whole study: one YAML file."""

    # A file-name-safe id that is never "." or ".." (it names the output folder runs/<name>).
    name: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$", max_length=120)
    title: str = ""
    question: str = ""
    seed: int = Field(0, ge=0)
    network: NetworkConfig
    demand: DemandConfig
    vehicles: VehiclesConfig = Field(default_factory=VehiclesConfig)
    existing_stations: list[StationConfig] = Field(default_factory=list)
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    renewables: RenewablesConfig = Field(default_factory=RenewablesConfig)
    model: ModelConfig
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    # staged rollout (planner/config/rollout.py): years, demand growth, budgets, scenarios
    stages: list[StageConfig] = Field(default_factory=list)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)

    def warmup_days(self) -> int:
        """Warm-up days of the study (``simulation.warmup_days`` or its default by demand)."""
        w = self.simulation.warmup_days
        if w is not None:
            return w
        return 0 if self.demand.kind == "od_table" else 2

    @model_validator(mode="after")
    def _cross(self) -> StudyConfig:
        if self.demand.kind == "freight" and self.network.corridor is None:
            raise ValueError(
                "demand.kind 'freight' runs on a national network: give network.corridor "
                "(the roads file names the border posts)"
            )
        if self.demand.kind == "od_table" and (self.simulation.warmup_days or 0) > 0:
            raise ValueError(
                "simulation.warmup_days needs generated demand (city or corridor); an OD "
                "table is simulated as given: set warmup_days: 0 or add the days to the table"
            )
        if (
            self.model.kind == "frlm"
            and self.network.corridor is None
            and self.demand.kind not in ("corridor", "freight")
        ):
            raise ValueError(
                "model 'frlm' plans corridors: use demand.kind 'corridor' or 'freight'"
            )
        years = [st.year for st in self.stages]
        if years != sorted(set(years)):
            raise ValueError(f"stages: years must increase, got {years}")
        if self.stages and self.model.kind not in ("mclp", "frlm"):
            raise ValueError(
                f"stages: a staged rollout sites with model 'mclp' (cities) or 'frlm' "
                f"(corridors), not {self.model.kind!r}"
            )
        return self


# --------------------------------------------------------------------------- loading


def _resolve_paths(model: BaseModel, base: Path) -> None:
    for name, value in model:
        if isinstance(value, Path) and not value.is_absolute():
            setattr(model, name, (base / value).resolve())
        elif isinstance(value, BaseModel):
            _resolve_paths(value, base)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    _resolve_paths(item, base)


def input_files(cfg: StudyConfig) -> list[Path]:
    """Every existing file a study names as input (path fields anywhere but ``outputs``), sorted."""
    found: set[Path] = set()

    def walk(model: BaseModel) -> None:
        for _, value in model:
            if isinstance(value, Path):
                if value.is_file():
                    found.add(value.resolve())
            elif isinstance(value, BaseModel):
                walk(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, BaseModel):
                        walk(item)

    for name, value in cfg:
        if name != "outputs" and isinstance(value, BaseModel):
            walk(value)
    return sorted(found)


def config_from_dict(
    data: dict[str, Any],
    *,
    base_dir: Path | None = None,
    source: str = "<dict>",
    yaml_root: yaml.Node | None = None,
    override_where: dict[str, str] | None = None,
) -> StudyConfig:
    """Validate a parsed study; resolve relative paths against ``base_dir``.
    ``override_where`` (dotted key -> ``"<file>:<line>"``) names where a value set from
    outside the study (a sweep) was given, for the messages about it."""
    try:
        cfg = StudyConfig.model_validate(
            expand_vars(data, source=source, root=yaml_root, error=ConfigFileError)
        )
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:8]:
            # pydantic's own steps ("function-after[...]", "[key]" of a mapping's key) are
            # not fields the user wrote
            loc = tuple(
                x
                for x in err["loc"]
                if not (isinstance(x, str) and (x.startswith("function-after") or x == "[key]"))
            )
            field = ".".join(str(x) for x in loc) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            line = line_of(yaml_root, loc or _named_field(msg, yaml_root))
            where = _set_at(field, override_where)
            also = "" if where else _set_within(field, override_where)
            where = where or (f"{source}:{line}" if line else source)
            hint = " (remove it or check its spelling)" if err["type"] == "extra_forbidden" else ""
            given = (
                f" (got {err['input']!r})"
                if err["type"] not in ("missing", "extra_forbidden")
                and not isinstance(err.get("input"), dict)
                else ""
            )
            lines.append(f"{where}: {field}: {msg}{given}{hint}{also}")
        more = f"\n  ... and {len(exc.errors()) - 8} more" if len(exc.errors()) > 8 else ""
        if isinstance(data, dict) and {"base", "parameters"} <= set(data):
            more += (
                f"\n  {source} looks like a sweep file (it has 'base' and 'parameters'): "
                f"run it with: evplan batch --sweep {source}"
            )
        raise ConfigFileError("invalid study config:\n  " + "\n  ".join(lines) + more) from None
    if base_dir is not None:
        _resolve_paths(cfg, base_dir)
    return cfg


_DOTTED = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+")


def _named_field(msg: str, root: yaml.Node | None) -> tuple[str, ...]:
    """The field a check across sections names first (``simulation.warmup_days needs
    ...``), when its section is in the file: its line is where to look, not the file's
    first line. Empty when the message names no field of the file."""
    m = _DOTTED.match(msg)
    if m is None or not isinstance(root, yaml.MappingNode):
        return ()
    path = tuple(m.group(0).split("."))
    return path if any(k.value == path[0] for k, _ in root.value) else ()


def _set_at(field: str, override_where: dict[str, str] | None) -> str | None:
    """Where the value at ``field`` (or the section holding it: the longest such key) was
    set from outside."""
    keys = [k for k in (override_where or {}) if field == k or field.startswith(k + ".")]
    return (override_where or {})[max(keys, key=len)] if keys else None


def _set_within(field: str, override_where: dict[str, str] | None) -> str:
    """For an error on a whole section (a check across its fields): the values set from
    outside inside it, and where (``" (set by the sweep: model.kind at sweep.yaml:6)"``)."""
    inner = [
        f"{k} at {w}"
        for k, w in (override_where or {}).items()
        if field == "(top level)" or k.startswith(field + ".")
    ]
    return f" (set from outside: {', '.join(inner)})" if inner else ""


def load_config(
    path: str | Path,
    *,
    overrides: dict[str, Any] | None = None,
    override_where: dict[str, str] | None = None,
) -> StudyConfig:
    """Read and validate a study YAML file.

    Parameters
    ----------
    path : path
        The YAML file.
    overrides : dict, optional
        Dotted keys to set before validation (``{"model.p": 12, "simulation.temperature_c": -20}``),
        as batch sweeps do.
    override_where : dict, optional
        Where each override was given (dotted key -> ``"<file>:<line>"``): an invalid
        override is reported there, not at the study file's line.
    """
    path = Path(path)
    data, root = read_yaml(path, what="study config", error=ConfigFileError)
    for key, value in (overrides or {}).items():
        set_dotted(data, key, value, source=str(path))
    return config_from_dict(
        data,
        base_dir=path.parent,
        source=str(path),
        yaml_root=root,
        # an override's error is reported where it was given (a sweep line), or as the
        # override itself, never at the study file's line of that key
        override_where={
            k: (override_where or {}).get(k, f"{path} with overrides[{k!r}]")
            for k in (overrides or {})
        },
    )


def set_dotted(data: dict[str, Any], key: str, value: Any, *, source: str = "") -> None:
    """Set ``data["a"]["b"] = value`` for ``key = "a.b"`` (creating sections as needed)."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigFileError(f"{source}: cannot set {key!r}: {part!r} is not a section")
        node = nxt
    node[parts[-1]] = value


def config_hash(cfg: StudyConfig) -> str:
    """Stable short hash of a validated config (what a batch uses to skip finished runs).

    Output folders are excluded: the same study written elsewhere is the same study.
    """
    import hashlib

    payload = cfg.model_dump(mode="json", exclude={"outputs": {"folder"}})
    text = yaml.safe_dump(payload, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
