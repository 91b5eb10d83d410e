"""The ``evplan`` command line (typer + rich).

Library code never configures logging or prints; this module does both. Every
:class:`~networks.errors.EvplanError` becomes one red line and a non-zero exit code; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import TaskID

from networks.errors import EvplanError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="evplan: EV charging network planner and simulator.",
)
network_app = typer.Typer(no_args_is_help=True, help="Inspect road networks and charger sites.")
app.add_typer(network_app, name="network")

console = Console(stderr=True)
out = Console()
_STATE = {"debug": False}
logger = logging.getLogger("evplan")


@app.callback()
def _main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _STATE["debug"] = debug
    level = logging.WARNING - 10 * min(verbose, 2) if not debug else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    logging.getLogger("osmnx").setLevel(max(level, logging.WARNING))


def _load_source(
    source: str | None,
    *,
    cache_dir: Path | None,
    network_type: str,
    place: str | None = None,
    bbox: str | None = None,
):
    from networks.load import DEFAULT_CACHE_DIR, download_network, load_network

    cache = cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR
    if sum(x is not None for x in (source, place, bbox)) != 1:
        raise EvplanError(
            "give exactly one of SOURCE (an OSM file), --place NAME or --bbox W,S,E,N"
        )
    if source is not None:
        if str(source).lower().endswith(".geojson"):
            return _load_corridor(source)
        return load_network(source, network_type=network_type, cache_dir=cache)
    from networks.validate import validate_bbox

    box = validate_bbox(bbox, what="--bbox") if bbox is not None else None
    return download_network(place=place, bbox=box, network_type=network_type, cache_dir=cache)


def _load_corridor(source: str):
    """A national-roads GeoJSON (route polylines) through the corridor builder."""
    import pandas as pd

    from networks.corridor import build_national_network
    from networks.drive_graph import BuildReport
    from networks.load import LoadedNetwork

    G, net = build_national_network(source)
    report = BuildReport(nodes=net.n_nodes, edges=net.n_edges)
    empty = pd.DataFrame(columns=["osm_type", "osm_id", "lon", "lat", "name", "tags"])
    return LoadedNetwork(graph=G, network=net, pois=empty, report=report, source=str(source))


SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="OSM file (.osm.pbf, .osm, .osm.bz2, Overpass .json), a national-roads .geojson, or use --place / --bbox"
    ),
]
PlaceOpt = Annotated[
    str | None, typer.Option("--place", help="Download by place name with osmnx (cached).")
]
BboxOpt = Annotated[
    str | None, typer.Option("--bbox", help="Download a bbox W,S,E,N with osmnx (cached).")
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Folder for prepared networks (safe to delete).")
]
TypeOpt = Annotated[
    str, typer.Option("--network-type", help="osmnx network type: drive or drive_service.")
]


@network_app.command("info")
def network_info(
    source: SourceArg = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    cache_dir: CacheOpt = None,
    network_type: TypeOpt = "drive",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Nodes, edges, km of road, components, dropped items and bbox of a network."""
    loaded = _load_source(
        source, cache_dir=cache_dir, network_type=network_type, place=place, bbox=bbox
    )
    net, rep = loaded.network, loaded.report
    info = {
        "source": loaded.source,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "road_km_directed": round(net.total_km, 1),
        "strongly_connected_components_kept": 1,
        "nodes_dropped_outside_largest_scc": rep.scc_nodes_dropped,
        "edges_dropped_outside_largest_scc": rep.scc_edges_dropped,
        "highway_ways": rep.highway_ways,
        "drivable_ways": rep.drivable_ways,
        "clipped_ways_cut": rep.clipped_ways,
        "clipped_ways_dropped": rep.clipped_ways_dropped,
        "missing_node_refs": rep.missing_node_refs,
        "pois": len(loaded.pois),
        "bbox": [round(v, 6) for v in net.bbox],
        "crs_projected": net.crs,
    }
    if as_json:
        out.print_json(json.dumps(info))
        return
    table = Table(title=f"Road network: {Path(loaded.source).name}", show_header=False)
    for k, v in info.items():
        table.add_row(k.replace("_", " "), str(v))
    out.print(table)


@network_app.command("sites")
def network_sites(
    source: SourceArg = None,
    place: PlaceOpt = None,
    bbox: BboxOpt = None,
    cache_dir: CacheOpt = None,
    network_type: TypeOpt = "drive",
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Candidate rule key=value (repeatable).")
    ] = None,
    existing: Annotated[
        list[str] | None,
        typer.Option(
            "--existing", help="Existing station as NAME=OSM_ID or NAME=LON,LAT (repeatable)."
        ),
    ] = None,
    max_snap_m: Annotated[
        float, typer.Option("--max-snap-m", help="Snap limit in metres.")
    ] = 300.0,
    fmt: Annotated[str, typer.Option("--format", help="table, geojson or csv.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
    ] = None,
) -> None:
    """Candidate sites and existing stations of a network, as a table, GeoJSON or CSV."""
    import pandas as pd

    from networks.sites import DEFAULT_CANDIDATE_TAGS, candidate_sites, existing_stations
    from planner.report.atomic import write_text_atomic

    if fmt not in ("table", "geojson", "csv"):
        raise EvplanError(f"--format {fmt!r} is not one of table, geojson, csv")
    loaded = _load_source(
        source, cache_dir=cache_dir, network_type=network_type, place=place, bbox=bbox
    )
    specs = [_parse_existing(e) for e in (existing or [])]
    cands = candidate_sites(
        loaded.network, loaded.pois, tags=tag or DEFAULT_CANDIDATE_TAGS, max_snap_m=max_snap_m
    )
    ex = existing_stations(
        loaded.network, loaded.pois, specs, max_snap_m=max_snap_m, source=loaded.source
    )
    cands = cands[~cands["site_id"].isin(ex["site_id"])]
    sites = pd.concat([ex, cands], ignore_index=True)
    if fmt == "table":
        table = Table(title=f"{len(ex)} existing stations, {len(cands)} candidate sites")
        for col in ("site_id", "name", "kind", "existing", "node", "snap_m", "lon", "lat"):
            table.add_column(col)
        for row in sites.itertuples():
            table.add_row(
                row.site_id,
                str(row.name),
                row.kind,
                str(row.existing),
                str(row.node),
                f"{row.snap_m:.0f}",
                f"{row.lon:.5f}",
                f"{row.lat:.5f}",
            )
        out.print(table)
        return
    text = (
        sites.to_json(drop_id=True)
        if fmt == "geojson"
        else sites.drop(columns="geometry").to_csv(index=False)
    )
    if output is None:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))
    else:
        write_text_atomic(output, text)
        console.print(f"wrote {len(sites)} sites to {output}")


ConfigArg = Annotated[Path, typer.Argument(help="Study YAML file (see configs/).")]


@app.command("validate")
def validate(config: ConfigArg) -> None:
    """Check a study config (schema, files, vehicle names, budget) without running it.

    A sweep file (top-level ``base`` and ``parameters``) is recognised: every run it expands
    to is loaded and checked, and the runs are listed.
    """
    from planner.config.checks import raise_on_problems, run_checks
    from planner.config.study import load_config

    if _looks_like_sweep(config):
        _validate_sweep(config)
        return
    cfg = load_config(config)
    results = run_checks(cfg, source=str(config))
    table = Table(title=f"{config}: study {cfg.name!r}")
    table.add_column("check")
    table.add_column("result")
    for name, problems in results.items():
        table.add_row(
            name, "[green]ok[/]" if not problems else "[red]" + "; ".join(problems) + "[/]"
        )
    out.print(table)
    raise_on_problems(results, source=str(config))


def _looks_like_sweep(path: Path) -> bool:
    """True for a YAML mapping with the sweep keys ``base`` and ``parameters`` (unreadable: False,
    so the study loader reports the problem)."""
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(doc, dict) and "base" in doc and "parameters" in doc


def _validate_sweep(path: Path) -> None:
    from planner.batch.plan import plan_sweep
    from planner.config.checks import raise_on_problems, run_checks

    plan = plan_sweep(path)  # loads every expanded run: schema errors name the run
    table = Table(
        title=f"{path}: sweep {plan.name!r}, {len(plan.runs)} runs over {', '.join(plan.parameters)}"
    )
    table.add_column("run")
    table.add_column("checks")
    failed = None
    for spec in plan.runs:
        results = run_checks(spec.config, source=f"{path} run {spec.label}")
        bad = {k: v for k, v in results.items() if v}
        table.add_row(
            spec.label,
            "[green]ok[/]"
            if not bad
            else "[red]" + "; ".join(f"{k}: {'; '.join(v)}" for k, v in bad.items()) + "[/]",
        )
        if bad and failed is None:
            failed = (results, f"{path} run {spec.label}")
    out.print(table)
    out.print(f"batch folder: {plan.output}")
    if failed is not None:
        raise_on_problems(failed[0], source=failed[1])


class _StepProgress:
    """Rich progress display driven by the pipeline's ``on_step`` callback."""

    def __init__(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        return self.progress.__exit__(*exc)

    def __call__(self, step: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1, total=1)
        self.task = self.progress.add_task(step, total=None)


def _load_checked(config: Path):
    from planner.config.checks import raise_on_problems, run_checks
    from planner.config.study import load_config

    cfg = load_config(config)
    raise_on_problems(run_checks(cfg, source=str(config)), source=str(config))
    return cfg


OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output folder (default: outputs.folder).")
]


def _kpi_table(title: str, before: dict, after: dict | None = None) -> Table:
    table = Table(title=title)
    table.add_column("KPI")
    table.add_column("before" if after is not None else "value", justify="right")
    if after is not None:
        table.add_column("after", justify="right")
    for k, v in before.items():
        cells = [_fmt(v)] + ([_fmt(after.get(k))] if after is not None else [])
        table.add_row(k, *cells)
    return table


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


@app.command("run")
def run(
    config: ConfigArg,
    out_dir: OutOpt = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Skip the HTML report.")] = False,
) -> None:
    """Run a study: baseline simulation, siting, proposal simulation (repeated until the
    service targets are met or the budget is spent), then write the report folder."""
    from planner.study.run import run_study

    cfg = _load_checked(config)
    if no_html:
        cfg.outputs.html = False
    with _StepProgress() as progress:
        result = run_study(cfg, out_dir=out_dir, config_path=config, on_step=progress)
    out.print(_kpi_table(f"{cfg.name}: before / after", result.kpis_before, result.kpis_after))
    out.print(f"report folder: [bold]{result.manifest.get('output_folder')}[/]")


@app.command("simulate")
def simulate(config: ConfigArg, out_dir: OutOpt = None) -> None:
    """Simulate a study's trips with the existing stations; write tables and KPIs."""
    from planner.study.run import simulate_study

    cfg = _load_checked(config)
    with _StepProgress() as progress:
        result = simulate_study(cfg, out_dir=out_dir, config_path=config, on_step=progress)
    out.print(_kpi_table(f"{cfg.name}: existing stations", result.kpis_before))
    out.print(f"output folder: [bold]{result.manifest.get('output_folder')}[/]")


@app.command("optimize")
def optimize(config: ConfigArg, out_dir: OutOpt = None) -> None:
    """One siting round on the study's whole demand: chosen sites (GeoJSON/CSV) and a summary."""
    from planner.study.run import optimize_study

    cfg = _load_checked(config)
    with _StepProgress() as progress:
        result = optimize_study(cfg, out_dir=out_dir, config_path=config, on_step=progress)
    table = Table(title=f"{cfg.name}: {len(result.selected)} new sites")
    for col in ("station_id", "name", "plugs", "lon", "lat"):
        table.add_column(col)
    for r in result.selected.itertuples():
        table.add_row(str(r.station_id), str(r.name), str(r.plugs), f"{r.lon:.5f}", f"{r.lat:.5f}")
    out.print(table)
    out.print(_kpi_table("coverage", result.kpis_before, result.kpis_after))
    out.print(f"output folder: [bold]{result.manifest.get('output_folder')}[/]")


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
            "-o",
            help="Batch folder (default: the sweep's 'output'; runs/batch for study files).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            help="Local Dask worker processes (default: one per core); 0 = this process, no Dask.",
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
        int, typer.Option("--retries", help="Extra attempts for a run whose worker died.")
    ] = 1,
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", help="Seconds to reach --scheduler and find a worker."),
    ] = 10.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and list the runs; run nothing.")
    ] = False,
) -> None:
    """Run many studies in parallel with Dask: study files or a parameter sweep. Resumable."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from planner.batch.execute import BatchProgress, finished_runs, run_batch
    from planner.batch.plan import plan_configs, plan_sweep

    if (sweep is None) == (not configs):
        raise EvplanError("give study files or --sweep SWEEP.yaml (one of the two)")
    plan = (
        plan_sweep(sweep, output=output)
        if sweep is not None
        else plan_configs(list(configs or []), output=output or Path("runs") / "batch")
    )
    done = finished_runs(plan)
    if dry_run:
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
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA {task.fields[eta]}"),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(
            plan.name,
            total=len(plan.runs),
            completed=len(done),
            status=f"{len(done)} already finished, starting workers",
            eta="-",
        )

        def on_progress(p: BatchProgress) -> None:
            eta = "-" if p.eta_s is None else f"{int(p.eta_s // 60)}m{int(p.eta_s % 60):02d}s"
            bar.update(
                task,
                completed=p.skipped + p.finished,
                eta=eta,
                status=f"[green]{p.done} done[/] {p.running} running [red]{p.failed} failed[/] "
                f"{p.skipped} skipped",
            )

        result = run_batch(
            plan,
            workers=workers,
            scheduler=scheduler,
            retries=retries,
            connect_timeout=connect_timeout,
            progress=on_progress,
        )
    df = result.summary
    shown = {
        "new_stations": "new",
        "capex": "capex",
        "coverage_share_after": "coverage",
        "share_trips_completed_after": "trips done",
        "wait_p95_min_after": "wait p95 min",
        "stranded_vehicles_after": "stranded",
    }
    kpis = [c for c in shown if c in df.columns]
    table = Table(
        title=f"{plan.name}: {result.count('done')} done, {result.count('skipped')} resumed, "
        f"{len(result.failed)} failed in {result.elapsed_s:.0f} s"
    )
    table.add_column("run", no_wrap=True)
    table.add_column("status")
    for col in kpis:
        table.add_column(shown[col], justify="right")

    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return "-"
        if isinstance(v, float):
            return f"{int(v):,}" if v.is_integer() else f"{v:.3g}"
        return str(v)

    for r in df.head(40).to_dict("records"):
        table.add_row(
            str(r["label"]),
            "[green]done[/]" if r["status"] == "done" else "[red]failed[/]",
            *(cell(r[c]) for c in kpis),
        )
    out.print(table)
    if len(df) > 40:
        console.print(f"(first 40 of {len(df)} runs shown)")
    console.print(
        f"summary: {result.summary_csv} (+ .parquet)"
        + (f", chart: {result.chart}" if result.chart else "")
        + f", failures: {result.failures_csv}"
    )
    if result.failed:
        console.print(
            f"[bold red]{len(result.failed)} of {len(plan.runs)} runs failed[/] (see failures.csv); "
            "re-run the same command to retry them"
        )
        raise typer.Exit(1)


def _parse_existing(text: str):
    from networks.sites import StationSpec

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise EvplanError(f"--existing {text!r}: expected NAME=OSM_ID or NAME=LON,LAT")
    if "," in value:
        try:
            lon, lat = (float(v) for v in value.split(","))
        except ValueError:
            raise EvplanError(f"--existing {text!r}: LON,LAT must be two numbers") from None
        return StationSpec(name=name, lon=lon, lat=lat)
    kind, _, ident = value.rpartition("/")
    try:
        return StationSpec(name=name, osm_id=int(ident), osm_type=kind or None)
    except ValueError:
        raise EvplanError(
            f"--existing {text!r}: OSM id must be an integer (optionally way/ID or node/ID)"
        ) from None


def main() -> None:
    """Console entry point: run the app, turn domain errors into clean exits."""
    try:
        rv = app(standalone_mode=False)
    except EvplanError as exc:
        if _STATE["debug"]:
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.print("[red]aborted[/]")
        sys.exit(130)
    except Exception as exc:  # an unexpected bug: one line unless --debug
        if _STATE["debug"]:
            raise
        console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug for a traceback)"
        )
        sys.exit(70)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
