"""Load a road network from a file or (when asked) a download, with an on-disk cache.

``load_network`` is the one entry point the rest of evplan uses. Prepared networks are
cached under ``cache_dir`` as ``network-<key>.npz`` (arrays plus JSON, never pickle; see
:mod:`networks._netcache`), keyed by the SHA-256 of the input file, the build options and
the cache format; the cache is always safe to delete. Downloads go through osmnx (its own HTTP cache lives in
the same folder), so a place fetched once works offline afterwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from networks._netcache import CacheFormatError, cache_path, read_bundle, write_bundle
from networks.drive_graph import BuildReport, graph_from_osm_data
from networks.errors import ConfigError, InputFileError, OfflineError
from networks.osm_read import OSMData, read_osm
from networks.road_network import RoadNetwork
from networks.validate import validate_bbox

logger = logging.getLogger(__name__)

#: Bump when the cached bundle's layout or the build semantics change (part of the key).
CACHE_FORMAT = 7  # 4: street_count; 5: .npz + JSON bundle, no pickle; 6: merged attributes
# sorted; 7: the build's warnings stored and replayed on a load
DEFAULT_CACHE_DIR = Path(os.environ.get("EVPLAN_CACHE_DIR", Path.home() / ".cache" / "evplan"))


@dataclass
class LoadedNetwork:
    """A prepared network: the osmnx-compatible graph, its frozen array form, the POIs
    that may become charger sites, and a report of what was kept and dropped.

    ``warnings`` are the WARNING-or-worse records the ``networks`` loggers emitted while
    reading and building it (``{"logger", "level", "message"}``); a load from the cache
    logs them again, so a run warns the same whether the cache was warm or not."""

    graph: nx.MultiDiGraph
    network: RoadNetwork
    pois: pd.DataFrame
    report: BuildReport
    source: str
    from_cache: bool = False
    extra: dict = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_network(
    source: str | Path,
    *,
    network_type: str = "drive",
    speeds_kph: Mapping[str, float] | None = None,
    simplify: bool = True,
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
) -> LoadedNetwork:
    """Load and prepare a drive network from an OSM file.

    Parameters
    ----------
    source : str or pathlib.Path
        ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or Overpass ``.json`` file.
    network_type, speeds_kph, simplify
        Passed to :func:`networks.drive_graph.graph_from_osm_data`.
    cache_dir : path or None
        Folder for prepared networks; ``None`` disables caching.

    Returns
    -------
    LoadedNetwork
    """
    path = Path(source)
    if not path.is_file():
        raise InputFileError(
            f"road network source not found: {path}. Pass an .osm.pbf/.osm/.osm.bz2/Overpass .json "
            "file, or use a place name with the download option"
        )
    options = {
        "network_type": network_type,
        "speeds_kph": dict(sorted((speeds_kph or {}).items())),
        "simplify": simplify,
        "format": CACHE_FORMAT,
    }
    key = hashlib.sha256(
        (file_sha256(path) + json.dumps(options, sort_keys=True)).encode()
    ).hexdigest()[:24]
    cached = _cache_get(cache_dir, key)
    if cached is not None:
        logger.info("network %s loaded from cache %s", path.name, key)
        for rec in cached.warnings:  # as the build logged them (same logger, level, text)
            logging.getLogger(rec["logger"]).log(rec["level"], "%s", rec["message"])
        return cached
    with _BuildWarnings() as seen:
        data = read_osm(path)
        loaded = _prepare(
            data,
            network_type=network_type,
            speeds_kph=speeds_kph,
            simplify=simplify,
            name=path.name,
        )
    loaded.warnings = seen.records
    _cache_put(cache_dir, key, loaded)
    return loaded


class _BuildWarnings(logging.Handler):
    """Collects, while in its ``with`` block, the WARNING-or-worse records this thread
    logs through the ``networks`` loggers, as plain dicts a cache entry can hold (JSON).
    It only listens: the records still reach every other handler."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[dict] = []
        self._thread = threading.get_ident()
        self._root = logging.getLogger("networks")

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self.records.append(
                {"logger": record.name, "level": record.levelno, "message": record.getMessage()}
            )

    def __enter__(self) -> _BuildWarnings:
        self._root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._root.removeHandler(self)


def _prepare(data: OSMData, *, network_type, speeds_kph, simplify, name) -> LoadedNetwork:
    G, report = graph_from_osm_data(
        data, network_type=network_type, speeds_kph=speeds_kph, simplify=simplify
    )
    net = RoadNetwork.from_graph(G, name=name)
    return LoadedNetwork(
        graph=G, network=net, pois=data.pois, report=report, source=str(data.source)
    )


def download_network(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    network_type: str = "drive",
    custom_filter: str | None = None,
    speeds_kph: Mapping[str, float] | None = None,
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
    timeout_s: float = 30.0,
) -> LoadedNetwork:
    """Download a network with osmnx by place name or ``(west, south, east, north)`` bbox.

    The bbox is checked with :func:`networks.validate.validate_bbox` (``ConfigError``;
    ``EmptyBBoxError`` when empty or inverted) before anything goes online.

    Only called when the user asked for a download. Answers are cached by osmnx in
    ``cache_dir/osmnx``, so the same request works offline later. Offline with nothing
    cached raises :class:`OfflineError` naming the option to pass a file instead.
    """
    import osmnx as ox

    if (place is None) == (bbox is None):
        raise ConfigError("give exactly one of place= or bbox= to download a network")
    box = validate_bbox(bbox) if bbox is not None else None
    if cache_dir is not None:
        ox.settings.cache_folder = str(Path(cache_dir) / "osmnx")
    ox.settings.use_cache = True
    ox.settings.requests_timeout = timeout_s
    # osmnx's Overpass status check sleeps up to 60 s when the server is unreachable.
    ox.settings.overpass_rate_limit = False
    label = place if place is not None else f"bbox {bbox}"
    kwargs: dict[str, Any] = {
        "network_type": network_type,
        "simplify": True,
        "retain_all": False,
        "truncate_by_edge": True,
    }
    if custom_filter:
        kwargs["custom_filter"] = custom_filter
    try:
        if box is not None:
            G = ox.graph_from_bbox(box, **kwargs)
        else:
            assert place is not None  # exactly one of place/bbox, checked above
            G = ox.graph_from_place(place, **kwargs)
    except Exception as exc:  # osmnx raises requests/urllib3 errors or its own
        if _looks_offline(exc):
            raise OfflineError(
                f"cannot download the road network for {label!r}: no internet connection and no cached "
                "copy. Pass a local OSM extract instead (network.source: path/to/file.osm.pbf), or run "
                "once online to fill the cache"
            ) from exc
        raise InputFileError(f"download of {label!r} failed: {exc}") from exc
    G = ox.add_edge_speeds(G, hwy_speeds={**_default_speeds(), **(speeds_kph or {})})
    G = ox.add_edge_travel_times(G)
    G = ox.truncate.largest_component(G, strongly=True)
    net = RoadNetwork.from_graph(G, name=str(label))
    report = BuildReport(nodes=G.number_of_nodes(), edges=G.number_of_edges())
    return LoadedNetwork(
        graph=G,
        network=net,
        pois=pd.DataFrame(columns=["osm_type", "osm_id", "lon", "lat", "name", "tags"]),
        report=report,
        source=str(label),
    )


def _default_speeds() -> dict[str, float]:
    from networks.drive_graph import DEFAULT_SPEEDS_KPH

    return dict(DEFAULT_SPEEDS_KPH)


def _looks_offline(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    markers = (
        "connection",
        "resolve",
        "name or service",
        "timed out",
        "timeout",
        "max retries",
        "network is unreachable",
        "temporary failure",
        "nodename",
        "proxy",
    )
    return any(m in text for m in markers)


def _cache_get(cache_dir: str | Path | None, key: str) -> LoadedNetwork | None:
    """The cached network of ``key``, or ``None`` on a miss. A file that is not a valid
    bundle of this format and key (damaged, truncated, foreign, older) is a miss, logged
    once at WARNING; it is overwritten by the rebuilt network."""
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        parts = read_bundle(path, key)
        return LoadedNetwork(
            graph=parts["graph"],
            network=parts["network"],
            pois=parts["pois"],
            report=BuildReport(**parts["report"]),
            source=str(parts["source"]),
            from_cache=True,
            extra=dict(parts["extra"]),
            warnings=list(parts["warnings"]),
        )
    except Exception as exc:  # noqa: BLE001 - a damaged cache must never stop a run
        logger.warning("ignoring invalid network cache file %s (%s); rebuilding it", path, exc)
        return None


def _cache_put(cache_dir: str | Path | None, key: str, loaded: LoadedNetwork) -> None:
    if cache_dir is None:
        return
    folder = Path(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_bundle(
            cache_path(folder, key),
            key,
            graph=loaded.graph,
            network=loaded.network,
            pois=loaded.pois,
            report=loaded.report.as_dict(),
            source=loaded.source,
            extra=loaded.extra,
            warnings=loaded.warnings,
        )
    except CacheFormatError as exc:
        logger.warning("network %s not cached: %s", loaded.source, exc)
    except OSError as exc:
        logger.warning(
            "could not write network cache in %s (%s); continuing without it", folder, exc
        )


def load_source(
    source: str | Path | None,
    *,
    place: str | None = None,
    bbox: str | tuple[float, float, float, float] | None = None,
    network_type: str = "drive",
    cache_dir: str | Path | None = None,
) -> LoadedNetwork:
    """A network from exactly one of: a file (an OSM extract, or a national-roads
    ``.geojson`` of route polylines through :func:`networks.corridor.build_national_network`),
    or, when asked, a download by ``place`` name or ``bbox`` (``"W,S,E,N"`` or a tuple).

    Raises
    ------
    ConfigError
        Not exactly one source given, or a bad bbox.
    """
    cache = cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR
    if sum(x is not None for x in (source, place, bbox)) != 1:
        raise ConfigError(
            "give exactly one of SOURCE (an OSM file), --place NAME or --bbox W,S,E,N"
        )
    if source is not None:
        if str(source).lower().endswith(".geojson"):
            from networks.corridor import build_national_network

            G, net = build_national_network(source)
            # the graph's edges, as for OSM sources (the routable arcs are net.n_edges)
            report = BuildReport(nodes=net.n_nodes, edges=G.number_of_edges())
            empty = pd.DataFrame(columns=["osm_type", "osm_id", "lon", "lat", "name", "tags"])
            return LoadedNetwork(
                graph=G, network=net, pois=empty, report=report, source=str(source)
            )
        return load_network(source, network_type=network_type, cache_dir=cache)
    box = validate_bbox(bbox, what="--bbox") if bbox is not None else None
    return download_network(place=place, bbox=box, network_type=network_type, cache_dir=cache)
