"""The config checks of the command line: ``evplan validate`` on a sweep file (every run
it expands to, checked, as a table or ``--json``) and the checked load each study command
starts with. :mod:`planner.cli` holds the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from networks.errors import EvplanError
from planner.cli_output import out
from planner.report.console import escape


def looks_like_sweep(path: Path) -> bool:
    """True for a YAML mapping with the sweep key ``base`` and no study section (``network``,
    ``demand``): a sweep with ``parameters`` misspelt is still read as a sweep, whose
    message names the key it means (unreadable: False, so the study loader reports it)."""
    from planner.config.yaml_reader import read_yaml

    try:
        doc, _ = read_yaml(path)
    except EvplanError:
        return False
    return isinstance(doc, dict) and "base" in doc and not {"network", "demand"} & set(doc)


def validate_sweep(path: Path, *, as_json: bool = False) -> None:
    """``evplan validate`` on a sweep file: the checks of every run it expands to (a table,
    or ``--json``); raises on the first run with problems."""
    from planner.batch.execute import check_batch_folder
    from planner.batch.plan import plan_sweep
    from planner.config.checks import raise_on_problems, run_checks

    try:
        plan = plan_sweep(path)  # loads every expanded run: schema errors name the run
        # the batch folder, checked as `evplan batch` checks it (here, whatever --overwrite)
        check_batch_folder(plan, overwrite=True)
    except EvplanError as exc:
        if as_json:  # a script reading stdout gets an answer for every outcome
            out.print_json(json.dumps({"sweep": str(path), "ok": False, "error": str(exc)}))
        raise
    table = Table(
        title=escape(
            f"{path}: sweep {plan.name!r}, {len(plan.runs)} runs over {', '.join(plan.parameters)}"
        )
    )
    table.add_column("run")
    table.add_column("checks")
    failed = None
    runs = []
    for spec in plan.runs:
        results = run_checks(spec.config, source=f"{path} run {spec.label}")
        bad = {k: v for k, v in results.items() if v}
        runs.append({"run": spec.key, "label": spec.label, "ok": not bad, "checks": results})
        table.add_row(
            escape(spec.label),
            "[green]ok[/]"
            if not bad
            else "[red]"
            + escape("; ".join(f"{k}: {'; '.join(v)}" for k, v in bad.items()))
            + "[/]",
        )
        if bad and failed is None:
            failed = (results, f"{path} run {spec.label}")
    if as_json:
        doc = {
            "sweep": str(path),
            "batch_folder": str(plan.output),
            "ok": failed is None,
            "runs": runs,
        }
        out.print_json(json.dumps(doc))
    else:
        out.print(table)
        out.print(f"batch folder: {escape(plan.output)}")
    if failed is not None:
        raise_on_problems(failed[0], source=failed[1])


def output_folder_problems(cfg, config: Path) -> list[str]:
    """What ``evplan run`` would refuse about the study's output folder (``outputs.folder``
    or ``runs/<name>``) whatever ``--overwrite`` says: the checks of
    :func:`planner.report.atomic.check_output_target` before any work (the study file's
    own folder, the current folder, an input inside it, a batch folder, ...). ``validate``
    reports them as its ``output_folder`` check; it passed a folder ``run`` then refused."""
    from planner.config.study import input_files
    from planner.report.atomic import OutputFolderError, check_output_target
    from planner.study.skeleton import default_folder

    what = "outputs.folder" if cfg.outputs.folder is not None else "output folder"
    try:
        check_output_target(
            default_folder(cfg),
            config_path=config,
            overwrite=True,  # (a folder evplan did not write is the --overwrite choice of run)
            what=what,
            inputs=input_files(cfg),
        )
    except OutputFolderError as exc:
        return [str(exc)]
    return []


def load_checked(config: Path):
    """The study config at ``config``, loaded and checked (raises on any problem)."""
    from planner.config.checks import check_environment, check_study
    from planner.config.study import load_config

    check_environment()
    cfg = load_config(config)
    check_study(cfg, source=str(config))
    return cfg
