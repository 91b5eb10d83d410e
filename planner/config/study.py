"""Study configuration: YAML validated with pydantic, errors with file, line and hint.

Every section rejects unknown keys. Paths are resolved relative to the config file after
``${VAR}`` / ``${VAR:-default}`` expansion, so shipped studies can point at the shared data
folder (``${EVPLAN_DATA_DIR:-../../shared/data}``). ``load_config`` is the only way in; it
raises :class:`ConfigFileError` naming the file, the line, the field path and a hint.

The sections live beside this module, one module per concern: :mod:`.inputs` (network,
demand, vehicles), :mod:`.siting` (existing stations, candidates, model),
:mod:`.simulation` (targets, simulation), :mod:`.energy` (grid, renewables) and
:mod:`.rollout` (stages); their classes are importable from here as before.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from networks.errors import ConfigError
from planner.config._strict import StrictSection as _Strict
from planner.config._strict import unknown_key_hint
from planner.config.energy import GridConfig, RenewablesConfig
from planner.config.inputs import (  # noqa: F401 - the section's names re-exported
    CorridorSource,
    DemandConfig,
    FleetShares,
    NetworkConfig,
    RoadClass,
    VehiclesConfig,
    check_fleet_shares,
)
from planner.config.rollout import RolloutConfig, StageConfig
from planner.config.simulation import SimulationConfig, TargetsConfig
from planner.config.siting import (  # noqa: F401 - the sections re-exported
    MAX_NEW_SITES,
    CandidatesConfig,
    ExtraSite,
    ModelConfig,
    SolverConfig,
    StationConfig,
    TagRule,
    TruckBayClass,
)
from planner.config.yaml_reader import expand_vars, line_of, read_yaml


class ConfigFileError(ConfigError):
    """A study file is unreadable or invalid; the message names file, line and field."""


class OutputsConfig(_Strict):
    folder: Path | None = None
    html: bool = True
    gpkg: bool = True
    # coverage vs number of new stations: one optimal solve per point, spanning the proposal
    coverage_curve: bool = True
    curve_points: int = Field(15, ge=2, le=100)

    @field_validator("folder", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        # '' became Path('.'), the study file's own folder: `run` refused it, `validate`
        # passed it. Refused here, both say the same (an unset variable is the usual cause)
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "is empty (an unset shell variable?); give a new or empty folder such as "
                "runs/<study>, or leave outputs.folder out for the default runs/<name>"
            )
        return value


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

    def cooldown_days(self) -> int:
        """Days simulated after the measured ones (``simulation.cooldown_days`` or its
        default by demand: 0 city and OD table, 1 corridor, 2 freight)."""
        c = self.simulation.cooldown_days
        if c is not None:
            return c
        return {"corridor": 1, "freight": 2}.get(self.demand.kind, 0)

    def simulated_days(self) -> int:
        """Warm-up, measured and cool-down days: the days demand is generated for."""
        return self.warmup_days() + self.simulation.days + self.cooldown_days()

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
        if self.demand.kind == "od_table" and (self.simulation.cooldown_days or 0) > 0:
            raise ValueError(
                "simulation.cooldown_days needs generated demand (city, corridor or freight): "
                "an OD table's trips are given; remove it"
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
        wait_target, give_up = self.targets.wait_p95_min, self.simulation.balk_after_min
        if wait_target is not None and wait_target >= give_up:
            # a driver leaves the queue after balk_after_min and the visit's wait is recorded
            # as that limit, so no recorded wait, and no percentile of them, exceeds it: such
            # a target would be met whatever the plan
            default = (
                ""
                if "wait_p95_min" in self.targets.model_fields_set
                else " (the default, as the file sets none)"
            )
            raise ValueError(
                f"targets.wait_p95_min = {wait_target:g} min{default} can never be missed: "
                f"drivers give up after simulation.balk_after_min = {give_up:g} min and no "
                "recorded wait is longer; set the target below the give-up limit (or raise "
                "balk_after_min)"
            )
        p, most = self.model.p, self.candidates.max_candidates
        if p is not None and most is not None and p > most:
            # known from the file alone; the run refused it only once the network and the
            # candidates were built (and named a key, extra_sites, the file cannot have)
            raise ValueError(
                f"model.p asks for {p} new stations but candidates.max_candidates keeps at most "
                f"{most} candidate sites; lower model.p or raise candidates.max_candidates"
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
        errors = _best_shapes(exc.errors())
        for err in errors[:8]:
            # pydantic's own steps ("function-after[...]", "[key]" of a mapping's key, the
            # shape of a union, "list[...]") are not fields the user wrote
            loc = tuple(x for x in err["loc"] if not _is_step(x))
            field = ".".join(str(x) for x in loc) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            line = line_of(yaml_root, loc or _named_field(msg, yaml_root))
            where = _set_at(field, override_where)
            also = "" if where else _set_within(field, override_where)
            where = where or (f"{source}:{line}" if line else source)
            hint = unknown_key_hint(StudyConfig, loc) if err["type"] == "extra_forbidden" else ""
            given = (
                f" (got {err['input']!r})"
                if err["type"] not in ("missing", "extra_forbidden")
                and not isinstance(err.get("input"), dict)
                else ""
            )
            # a check across sections names its field first: "(top level): " before it
            # read as if the file's top level were wrong (planner review, 2026-12-07)
            named = "" if not loc and _DOTTED.match(msg) else f"{field}: "
            lines.append(f"{where}: {named}{msg}{given}{hint}{also}")
        more = f"\n  ... and {len(errors) - 8} more" if len(errors) > 8 else ""
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

#: A step of pydantic's error location that is no field: a validator or the shape of a
#: union ("function-after[...]", "literal['auto','none']", "list[...]", "float"), or "[key]".
_STEP = re.compile(r"^(?:\[key\]|[a-z-]+\[.*\]|float|int|str)$")


def _is_step(part: object) -> bool:
    return isinstance(part, str) and _STEP.match(part) is not None


def _best_shapes(errors: list[Any]) -> list[Any]:
    """``errors`` without a union shape's "not this shape" error where another shape of the
    same value got further (``scenarios.cold: {seasons: {winter: true}}`` is no number, but
    the error is in its seasons): pydantic reports one error per shape a field may take."""

    def shape_at(loc: tuple[Any, ...]) -> int | None:
        return next((i for i, part in enumerate(loc) if _is_step(part)), None)

    def deeper(loc: tuple[Any, ...], i: int) -> bool:
        return any(
            len(o["loc"]) > i + 1 and o["loc"][:i] == loc[:i] and o["loc"][i] != loc[i]
            for o in errors
        )

    out = []
    for err in errors:
        loc = tuple(err["loc"])
        i = shape_at(loc)
        if i is not None and len(loc) == i + 1 and deeper(loc, i):
            continue
        out.append(err)
    return out


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
    # (a notebook's bad argument: a TypeError or AttributeError before, review 2026-12-08)
    if not isinstance(path, str | Path):
        raise ConfigFileError(f"path = {path!r} must be the study YAML file (str or Path)")
    if overrides is not None and not (
        isinstance(overrides, dict) and all(isinstance(k, str) for k in overrides)
    ):
        raise ConfigFileError(
            f"overrides = {overrides!r} must be a dict of dotted keys -> values, e.g. "
            '{"demand.max_trips": 1500}'
        )
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
