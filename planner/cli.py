"""The ``evplan`` command line (typer + rich).

Library code never configures logging or prints; this module does both. Every
:class:`~networks.errors.EvplanError` becomes one red line and a non-zero exit code; a
traceback is shown only with ``--debug``.

This module holds the commands and :func:`main`; their helpers are beside it: the exit
codes and the messages of a stopped command in :mod:`planner.cli_exits`, the consoles and
the ``--json`` summary in :mod:`planner.cli_output`, the sweep checks of ``validate`` and
the checked config load in :mod:`planner.cli_checks`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.table import Table

from networks.cli import network_app
from networks.errors import EvplanError
from planner._terminate import EXIT_TERMINATED, Terminated, stop_children
from planner._terminate import install as install_sigterm
from planner.cli_checks import (
    load_checked,
    looks_like_sweep,
    output_folder_problems,
    validate_sweep,
)
from planner.cli_exits import (
    COMMAND_STATE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TARGETS_MISSED,
    batch_stopped_message,
    click_exceptions,
    interrupted_exit,
    traceback_if_debug,
)
from planner.cli_output import console, json_summary, out, verdict_line
from planner.report.console import (
    BatchBar,
    OnceFilter,
    StepProgress,
    batch_table,
    escape,
    kpi_table,
    missed_runs,
)
from planner.report.numbers import study_currency

_CONTEXT = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=_CONTEXT,
    help="evplan: EV charging network planner and simulator.",
)
app.add_typer(network_app, name="network")

logger = logging.getLogger("evplan")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("evplan")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            text = "unknown (not installed)"
        out.print(f"evplan {text}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the evplan version and exit.",
        ),
    ] = False,
) -> None:
    COMMAND_STATE["debug"] = debug
    COMMAND_STATE["stopped"] = None
    level = logging.WARNING - 10 * min(verbose, 2) if not debug else logging.DEBUG
    handler = RichHandler(console=console, show_path=False)
    if level >= logging.WARNING:  # -v / --debug show every repeat
        handler.addFilter(OnceFilter())
    logging.basicConfig(
        level=level, format="%(message)s", datefmt="[%X]", handlers=[handler], force=True
    )
    logging.getLogger("osmnx").setLevel(max(level, logging.WARNING))


ConfigArg = Annotated[Path, typer.Argument(help="Study YAML file (see configs/).")]


@app.command("validate")
def validate(
    config: ConfigArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the checks as JSON on stdout.")
    ] = False,
) -> None:
    """Check a study config (schema, files, vehicle names, budget) without running it.

    A sweep file (top-level ``base`` and ``parameters``) is recognised: every run it expands
    to is loaded and checked, and the runs are listed.
    """
    from planner.config.checks import raise_on_problems, run_checks
    from planner.config.study import load_config

    if looks_like_sweep(config):
        validate_sweep(config, as_json=as_json)
        return
    try:
        cfg = load_config(config)
    except EvplanError as exc:
        if as_json:  # a script reading stdout gets an answer for every outcome
            out.print_json(json.dumps({"config": str(config), "ok": False, "error": str(exc)}))
        raise
    results = run_checks(cfg, source=str(config))
    results["output_folder"] = output_folder_problems(cfg, config)
    if as_json:
        ok = not any(results.values())
        out.print_json(
            json.dumps({"config": str(config), "study": cfg.name, "ok": ok, "checks": results})
        )
    else:
        table = Table(title=escape(f"{config}: study {cfg.name!r}"))
        table.add_column("check")
        table.add_column("result")
        for name, problems in results.items():
            table.add_row(
                name,
                "[green]ok[/]" if not problems else "[red]" + escape("; ".join(problems)) + "[/]",
            )
        out.print(table)
    raise_on_problems(results, source=str(config))


OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder (default: outputs.folder).")
]


OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace the output folder even if evplan did not write it (its contents are lost).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a JSON summary on stdout instead of tables.")
]


def _study_command(
    entry: str, config: Path, out_dir: Path | None, *, overwrite: bool, as_json: bool, **kw: Any
) -> Any:
    """Load and check a study, run one entry point of planner.study.run with a progress
    display (none with --json), return its result."""
    from planner.study import run as study_run

    cfg = load_checked(config)
    for key, value in kw.items():
        setattr(cfg.outputs, key, value)
    fn = getattr(study_run, entry)
    if as_json:
        return fn(cfg, out_dir=out_dir, config_path=config, overwrite=overwrite)
    with StepProgress(console) as progress:
        return fn(cfg, out_dir=out_dir, config_path=config, on_step=progress, overwrite=overwrite)


@app.command("run")
def run(
    config: ConfigArg,
    out_dir: OutOpt = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip the HTML report.")] = False,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit with code 3 when a service target is missed."),
    ] = False,
) -> None:
    """Run a study: baseline simulation, siting, proposal simulation (repeated until the
    service targets are met or the budget is spent), then write the report folder."""
    extra = {"html": False} if no_html else {}
    result = _study_command(
        "run_study", config, out_dir, overwrite=overwrite, as_json=as_json, **extra
    )
    folder = result.manifest.get("output_folder")
    if as_json:
        out.print_json(json.dumps(json_summary(result, folder=folder)))
    else:
        out.print(
            kpi_table(
                f"{result.name}: before / after",
                result.kpis_before,
                result.kpis_after,
                currency=study_currency(result),
            )
        )
        out.print(f"report folder: [bold]{escape(folder)}[/]")
    missed = result.verdict.get("status") == "missed"
    console.print(verdict_line(result.verdict), highlight=False, soft_wrap=True)
    if missed and strict:
        raise typer.Exit(EXIT_TARGETS_MISSED)


@app.command("simulate")
def simulate(
    config: ConfigArg,
    out_dir: OutOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a study's trips with the existing stations; write tables and KPIs."""
    result = _study_command("simulate_study", config, out_dir, overwrite=overwrite, as_json=as_json)
    folder = result.manifest.get("output_folder")
    if as_json:
        out.print_json(json.dumps(json_summary(result, folder=folder)))
        return
    out.print(
        kpi_table(
            f"{result.name}: existing stations", result.kpis_before, currency=study_currency(result)
        )
    )
    out.print(f"output folder: [bold]{escape(folder)}[/]")


@app.command("optimize")
def optimize(
    config: ConfigArg,
    out_dir: OutOpt = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """One siting round on the study's whole demand: chosen sites (GeoJSON/CSV) and a summary."""
    result = _study_command("optimize_study", config, out_dir, overwrite=overwrite, as_json=as_json)
    folder = result.manifest.get("output_folder")
    if as_json:
        out.print_json(json.dumps(json_summary(result, folder=folder)))
        return
    table = Table(title=escape(f"{result.name}: {len(result.selected)} new sites"))
    for col in ("station_id", "name", "plugs", "lon", "lat"):
        table.add_column(col)
    for r in result.selected.itertuples():
        table.add_row(
            escape(r.station_id), escape(r.name), str(r.plugs), f"{r.lon:.5f}", f"{r.lat:.5f}"
        )
    out.print(table)
    out.print(
        kpi_table(
            "coverage", result.kpis_before, result.kpis_after, currency=study_currency(result)
        )
    )
    out.print(f"output folder: [bold]{escape(folder)}[/]")


@app.command("batch")
def batch(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(help="Study YAML files, one run each (or use --sweep).", show_default=False),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option(
            "--sweep",
            "-s",
            help="Sweep file: a base study and parameters to expand (docs/batch.md).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "--out",
            "-o",
            help="Batch folder. Default: the sweep's 'output' (relative to the sweep file); "
            "without it, a folder named after the sweep beside the base study's "
            "outputs.folder (<its parent>/<sweep name>), or <sweep file's folder>/runs/<sweep "
            "name> when the study sets none; runs/batch for study files.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            help="Local Dask worker processes (default: one per core); 0 = this process, no "
            "Dask (not with --scheduler).",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Use an existing Dask cluster at this address, e.g. tcp://10.0.0.5:8786.",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option("--retries", help="Extra attempts for a run whose worker died."),
    ] = 1,
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", help="Seconds to reach --scheduler and find a worker."),
    ] = 10.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and list the runs; run nothing.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Use the batch folder even if evplan did not write it: its files are kept, "
            "except any named like the batch's own (runs/, failed/, summary.csv, "
            "summary.parquet, failures.csv, coverage_vs_budget.png).",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Exit with code 3 when a finished run missed a service target."
        ),
    ] = False,
) -> None:
    """Run many studies in parallel with Dask: study files or a parameter sweep. Resumable."""
    import contextlib

    from planner.batch.execute import check_batch_folder, finished_runs, run_batch
    from planner.batch.plan import check_runs, plan_configs, plan_sweep
    from planner.config.checks import check_environment

    if (sweep is None) == (not configs):
        raise EvplanError("give study files or --sweep SWEEP.yaml (one of the two)")
    if workers == 0 and scheduler is not None:
        # "--workers 0" is this process without Dask, --scheduler a Dask cluster: the
        # scheduler won silently (after connecting to it); refused before anything starts
        raise EvplanError(
            f"--workers 0 (run in this process, no Dask) and --scheduler {scheduler} (run on "
            "that Dask cluster) conflict; give one of them"
        )
    check_environment()
    plan = (
        plan_sweep(sweep, output=output)
        if sweep is not None
        else plan_configs(list(configs or []), output=output or Path("runs") / "batch")
    )
    # the checks `evplan run` makes (input files, vehicles, budget), on every run, before
    # anything is written: a missing data file failed every run at run time instead
    check_runs(plan)
    done = finished_runs(plan)
    if dry_run:
        # the batch folder checks of the real batch (run_batch): a dry run listed, and
        # returned 0 for, a folder the batch then refused (the sweep's own folder, say)
        check_batch_folder(plan, overwrite=overwrite)
        table = Table(
            title=f"{plan.name}: {len(plan.runs)} runs, {len(done)} finished -> {plan.output}"
        )
        for col in ("run", "label", "status"):
            table.add_column(col)
        for spec in plan.runs:
            table.add_row(spec.key, spec.label, "finished" if spec.key in done else "to run")
        out.print(table)
        return
    with contextlib.suppress(ImportError):
        import distributed  # noqa: F401 - importing it sets its own log levels; quieten them unless -v
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    # an interrupted batch keeps and summarises the runs that finished (run_batch)
    COMMAND_STATE["stopped"] = lambda: batch_stopped_message(plan.output)
    with BatchBar(console, plan.name, total=len(plan.runs), finished=len(done)) as on_progress:
        result = run_batch(
            plan,
            workers=workers,
            scheduler=scheduler,
            retries=retries,
            connect_timeout=connect_timeout,
            progress=on_progress,
            overwrite=overwrite,
        )
    df = result.summary
    table = batch_table(
        f"{plan.name}: {result.count('done')} done, {result.count('skipped')} resumed, "
        f"{len(result.failed)} failed in {result.elapsed_s:.0f} s",
        df,
        width=out.width,  # 80 when stdout is not a terminal: fewer columns, not cut cells
        full=result.summary_csv.name,
    )
    out.print(table)
    if len(df) > 40:
        console.print(f"(first 40 of {len(df)} runs shown)")
    console.print(
        f"summary: {result.summary_csv} (+ .parquet)"
        + (f", chart: {result.chart}" if result.chart else "")
        + f", failures: {result.failures_csv}"
    )
    missed = missed_runs(df)
    if strict and len(df) and "targets_met" not in df.columns:
        console.print(
            "[yellow]--strict: the runs' summaries have no targets_met (a custom runner?): "
            "service targets were not checked[/]"
        )
    if missed:
        # a finished run that missed its targets must not read as a success
        console.print(
            f"[bold red]{missed} of {result.count('done') + result.count('skipped')} finished "
            "runs missed their service targets[/] (targets_met and verdict_reason in "
            "summary.csv; each run's kpis.json has every reason)"
        )
    if result.failed:
        console.print(
            f"[bold red]{len(result.failed)} of {len(plan.runs)} runs failed[/] (see failures.csv); "
            "re-run the same command to retry them"
        )
        raise typer.Exit(1)
    if missed and strict:
        raise typer.Exit(EXIT_TARGETS_MISSED)


def _debug_first(argv: list[str]) -> None:
    """Move a ``--debug`` written after the command (``evplan run study.yaml --debug``, as the
    "rerun with --debug" advice invites) before it, where the option belongs; arguments
    after ``--`` are left alone."""
    rest = argv[1:]
    stop = rest.index("--") if "--" in rest else len(rest)
    kept = [a for a in rest[:stop] if a != "--debug"]
    if len(kept) < stop:  # given once or more, before or after the command: once, first
        argv[1:] = ["--debug", *kept, *rest[stop:]]


def main() -> None:
    """Console entry point: run the app, turn domain errors into clean exits."""
    usage_errors, aborts = click_exceptions()
    install_sigterm()
    _debug_first(sys.argv)
    try:
        rv = app(standalone_mode=False)
    except Terminated:
        traceback_if_debug()
        stop_children()
        interrupted_exit("terminated", EXIT_TERMINATED)
    except EvplanError as exc:
        traceback_if_debug()
        console.print(f"[bold red]error:[/] {escape(exc)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except usage_errors as exc:
        show: Any = exc.show  # type: ignore[attr-defined]  # click's usage message and hint
        show()
        sys.exit(getattr(exc, "exit_code", 2))
    except (*aborts, KeyboardInterrupt):  # type: ignore[misc]  # a tuple built at run time
        traceback_if_debug()
        interrupted_exit()
    except Exception as exc:  # an unexpected bug: one line unless --debug
        traceback_if_debug()
        console.print(
            f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(exc)} "
            "(rerun with --debug for a traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_INTERNAL)
    if rv == EXIT_INTERRUPTED:  # typer turns Ctrl-C into exit code 130 itself
        interrupted_exit()
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
