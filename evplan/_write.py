"""Writing a study result from Python, with the same folder rules as the command line."""

from __future__ import annotations

from pathlib import Path

from planner.report.atomic import atomic_dir, claim_output
from planner.study.result import StudyResult
from planner.study.run import write_study as _write_into


def write_study(
    result: StudyResult, folder: str | Path, *, html: bool = True, overwrite: bool = False
) -> Path:
    """Write ``result`` (tables, GeoPackage, KPIs, manifest, ``report.html``) to ``folder``.

    The folder is written atomically and only replaces a folder evplan wrote (or any folder
    with ``overwrite=True``), as ``evplan run -o`` does; a folder that is or holds one of
    the study's input files (``result.manifest["inputs"]``) is refused, ``overwrite`` or
    not. Returns the folder.
    """
    inputs = list((result.manifest or {}).get("inputs") or {})
    with (
        claim_output(folder, overwrite=overwrite, inputs=inputs) as target,
        atomic_dir(target, foreign_ok=overwrite) as tmp,
    ):
        _write_into(result, tmp, html=html)
    return Path(target)
