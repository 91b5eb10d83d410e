"""The study entry points of the notebook API: the checks ``evplan run`` makes on a config
(:func:`planner.config.checks.check_environment` and
:func:`~planner.config.checks.check_study`), then the run itself.

Before, ``evplan.run_study`` was :func:`planner.study.run.run_study` and skipped those
checks: a config the command line refuses (a season at -55 C, outside the -50..50 C the
checks allow) gave a vehicle table at that temperature in a notebook, and an unknown
``vehicles.compare`` model failed later with a message about a trips table the user never
wrote (review of the notebook API, 2026-12-08).
"""

from __future__ import annotations

from pathlib import Path

from planner.config.study import StudyConfig
from planner.study import run as _run
from planner.study.result import StudyResult
from planner.study.skeleton import StepCallback
from sim._checks import received

__all__ = ["checked", "optimize_study", "run_study", "simulate_study"]


def checked(cfg: StudyConfig, *, config_path: str | Path | None = None) -> StudyConfig:
    """``cfg`` once it passes every check of ``evplan validate`` / ``evplan run``.

    Parameters
    ----------
    cfg : StudyConfig
        A validated study (:func:`evplan.load_config`).
    config_path : path, optional
        The YAML file, named in the message (the study's name otherwise).

    Returns
    -------
    StudyConfig
        ``cfg`` itself.

    Raises
    ------
    ConfigError
        ``cfg`` is not a :class:`StudyConfig`.
    ConfigFileError
        Listing every problem the checks found, each with its key and value (an unknown
        vehicle model, a season outside -50..50 C, a budget below one site, a missing
        input file ...), as the command line does.
    """
    from networks.errors import ConfigError
    from planner.config.checks import check_environment, check_study

    if not isinstance(cfg, StudyConfig):  # a dict or a path: an AttributeError before
        raise ConfigError(
            f"cfg = {received(cfg)} must be a StudyConfig; read one with "
            "evplan.load_config(path, overrides={...})"
        )
    check_environment()  # as the command line, before any work
    check_study(cfg, source=str(config_path) if config_path is not None else f"study {cfg.name!r}")
    return cfg


def run_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> StudyResult:
    """Check ``cfg`` as ``evplan run`` does (:func:`checked`), then run the whole study
    (:func:`planner.study.run.run_study`; same parameters) and, by default, write its
    output folder atomically.

    Raises
    ------
    ConfigFileError
        A config ``evplan run`` refuses, before anything runs or is written.
    """
    return _run.run_study(
        checked(cfg, config_path=config_path),
        out_dir=out_dir,
        config_path=config_path,
        on_step=on_step,
        write=write,
        overwrite=overwrite,
    )


def simulate_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> StudyResult:
    """Check ``cfg`` as ``evplan simulate`` does (:func:`checked`), then simulate the
    study's trips with the existing stations (:func:`planner.study.run.simulate_study`;
    same parameters).

    Raises
    ------
    ConfigFileError
        A config ``evplan simulate`` refuses, before anything runs or is written.
    """
    return _run.simulate_study(
        checked(cfg, config_path=config_path),
        out_dir=out_dir,
        config_path=config_path,
        on_step=on_step,
        write=write,
        overwrite=overwrite,
    )


def optimize_study(
    cfg: StudyConfig,
    *,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    on_step: StepCallback | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> StudyResult:
    """Check ``cfg`` as ``evplan optimize`` does (:func:`checked`), then run one siting
    round on the study's whole demand (:func:`planner.study.run.optimize_study`; same
    parameters).

    Raises
    ------
    ConfigFileError
        A config ``evplan optimize`` refuses, before anything runs or is written.
    """
    return _run.optimize_study(
        checked(cfg, config_path=config_path),
        out_dir=out_dir,
        config_path=config_path,
        on_step=on_step,
        write=write,
        overwrite=overwrite,
    )
