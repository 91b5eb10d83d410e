"""The ``evplan network`` commands: inspect a road network and its charger sites.

Mounted by the ``evplan`` command line (:mod:`planner.cli`, which handles errors, logging
and exit codes); kept here because it needs nothing but :mod:`networks`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from networks.errors import ConfigError, EvplanError

__all__ = ["network_app"]

network_app = typer.Typer(
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Inspect road networks and charger sites.",
)
console = Console(stderr=True)
out = Console()


def _load_source(
    source: str | None,
    *,
    cache_dir: Path | None,
    network_type: str,
    place: str | None = None,
    bbox: str | None = None,
) -> Any:
    from networks.load import load_source

    return load_source(
        source, place=place, bbox=bbox, network_type=network_type, cache_dir=cache_dir
    )


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
        # the graph's edges (parallel roads between two nodes counted apart, as osmnx and
        # edges_before_scc / edges_dropped count them); the routable arrays keep the
        # fastest of parallel edges: one arc per ordered node pair
        "edges": rep.edges,
        "routable_arcs": net.n_edges,
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
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the --output file if it exists.")
    ] = False,
) -> None:
    """Candidate sites and existing stations of a network, as a table, GeoJSON or CSV."""
    import pandas as pd

    from networks.atomic import write_text_atomic
    from networks.sites import (
        DEFAULT_CANDIDATE_TAGS,
        candidate_sites,
        existing_stations,
        parse_station_spec,
    )

    if fmt not in ("table", "geojson", "csv"):
        raise ConfigError(f"--format {fmt!r} is not one of table, geojson, csv")
    if output is not None:  # checked before the network is loaded
        if output.is_dir():
            raise ConfigError(
                f"--output {output}: is a folder; give a file name such as sites.geojson"
            )
        _refuse_input(output, source)
        if output.exists() and not overwrite:
            raise ConfigError(f"--output {output}: the file exists; pass --overwrite to replace it")
        if fmt == "table":
            raise ConfigError("--output needs --format geojson or csv (a table is printed)")
        _probe_writable(output)
    loaded = _load_source(
        source, cache_dir=cache_dir, network_type=network_type, place=place, bbox=bbox
    )
    specs = [parse_station_spec(e, what="--existing") for e in (existing or [])]
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
        try:
            write_text_atomic(output, text)
        except OSError as exc:
            err = EvplanError(
                f"could not write --output {output} ({exc.strerror or exc}); nothing was "
                "written (an existing file is unchanged)"
            )
            err.exit_code = 1  # a failed write fails the run (README: exit codes)
            raise err from None
        console.print(f"wrote {len(sites)} sites to {output}")


def _refuse_input(output: Path, source: str | None) -> None:
    """Refuse an ``--output`` that is the network file being read, --overwrite or not:
    ``-o X.osm.pbf --overwrite`` replaced the user's OSM extract with the sites' GeoJSON.
    The same rule as the study commands' output folder (evplan never replaces its own
    inputs), for one file: compared as files, so a symlink or a hard link is caught too."""
    if source is None:
        return
    src = Path(source)
    try:
        same = output.exists() and src.exists() and output.samefile(src)
    except OSError:  # unreadable: compare the names only
        same = output.resolve() == src.resolve()
    if same:
        raise ConfigError(
            f"--output {output} is the network file being read ({source}); even with "
            "--overwrite evplan will not replace its own inputs: give a new file name such "
            "as sites.geojson"
        )


def _probe_writable(output: Path) -> None:
    """Before any work: the folder that will hold ``output`` (its nearest existing ancestor)
    accepts a new file; the file is written there as a temporary sibling first."""
    from networks.atomic import nearest_existing, probe_new_file

    base = nearest_existing(output.parent)
    try:
        probe_new_file(base)
    except OSError as exc:
        raise ConfigError(
            f"--output {output}: {base} does not accept new files ({exc.strerror or exc}); "
            "choose another location"
        ) from None
