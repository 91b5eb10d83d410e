"""Writing a study result from Python, with the same folder rules as the command line."""

from __future__ import annotations

from pathlib import Path

from networks.errors import ConfigError
from planner.report.atomic import atomic_dir, claim_output
from planner.study.result import StudyResult
from planner.study.run import write_study as _write_into
from sim._checks import received


def write_study(
    result: StudyResult, folder: str | Path, *, html: bool = True, overwrite: bool = False
) -> Path:
    """Write ``result`` (tables, GeoPackage, KPIs, manifest, ``report.html``) to ``folder``.

    The folder is written atomically and only replaces a folder evplan wrote (or any folder
    with ``overwrite=True``), as ``evplan run -o`` does; a folder that is or holds one of
    the study's input files (``result.manifest["inputs"]``) is refused, ``overwrite`` or
    not. Returns the folder.

    Raises
    ------
    EvplanError
        ``result`` is not a :class:`StudyResult` (a :class:`~networks.errors.ConfigError`,
        before any folder is claimed), or the folder is refused (as ``evplan run -o``).
    """
    if not isinstance(result, StudyResult):  # an AttributeError, before
        raise ConfigError(
            f"result = {received(result)} must be a StudyResult, as evplan.run_study, "
            "simulate_study or optimize_study return (write=False)"
        )
    inputs = list((result.manifest or {}).get("inputs") or {})
    with (
        claim_output(folder, overwrite=overwrite, inputs=inputs) as target,
        atomic_dir(target, foreign_ok=overwrite) as tmp,
    ):
        _write_into(result, tmp, html=html)
    return Path(target)
