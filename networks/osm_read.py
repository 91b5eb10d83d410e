"""Read raw OpenStreetMap data: ``.osm.pbf``, ``.osm``/``.osm.bz2`` XML and Overpass JSON.

PBF and XML are read with pyosmium (libosmium, no external binaries). The reader keeps the
two things evplan needs in one pass: ways tagged ``highway`` (with their node references)
and tagged features that can become charger sites (POIs). Node locations are kept for every
node, because real extracts are clipped at their bounding box and ways may reference
nodes that are not in the file; the graph builder decides what to do with those.
"""

from __future__ import annotations

import bz2
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from networks.errors import InputFileError

logger = logging.getLogger(__name__)

#: Keys whose presence makes a node/way a potential charger site (POI).
POI_KEYS = ("amenity", "tourism", "shop", "leisure", "office")

_PBF_SUFFIXES = (".pbf",)
_XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2", ".bz2")
_JSON_SUFFIXES = (".json", ".geojson_overpass", ".overpass")


@dataclass
class OSMWay:
    """A way with its node references and tags."""

    id: int
    refs: np.ndarray
    tags: dict[str, str]


@dataclass
class OSMData:
    """The raw content evplan keeps from an OSM file.

    Attributes
    ----------
    node_ids, lon, lat : numpy.ndarray
        Every node with a valid location (sorted by id).
    highways : list of OSMWay
        Every way tagged ``highway``.
    pois : pandas.DataFrame
        Tagged features with one of :data:`POI_KEYS`: ``osm_type`` ('node'/'way'),
        ``osm_id``, ``lon``, ``lat`` (way: mean of its present nodes), ``name``, ``tags``.
    source : str
        Where the data came from (path or query).
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    highways: list[OSMWay]
    pois: pd.DataFrame
    source: str = ""
    stats: dict[str, int] = field(default_factory=dict)

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(present_mask, lon, lat)`` for node ids (NaN where missing)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.node_ids, ids)
        pos_c = np.clip(pos, 0, max(self.node_ids.size - 1, 0))
        present = (self.node_ids.size > 0) & (self.node_ids[pos_c] == ids)
        lon = np.where(present, self.lon[pos_c] if self.node_ids.size else np.nan, np.nan)
        lat = np.where(present, self.lat[pos_c] if self.node_ids.size else np.nan, np.nan)
        return present, lon, lat


def detect_format(path: Path) -> str:
    """Return ``'pbf'``, ``'xml'`` or ``'json'`` from the file name."""
    name = path.name.lower()
    if name.endswith(_PBF_SUFFIXES):
        return "pbf"
    if name.endswith(_XML_SUFFIXES):
        return "xml"
    if name.endswith(_JSON_SUFFIXES):
        return "json"
    raise InputFileError(
        f"{path}: unknown OSM file type; expected .osm.pbf, .osm, .osm.bz2 or an Overpass .json answer"
    )


def read_osm(path: str | Path) -> OSMData:
    """Read an OSM file (PBF, XML, bz2-compressed XML or Overpass JSON).

    Parameters
    ----------
    path : str or pathlib.Path
        The file to read.

    Returns
    -------
    OSMData

    Raises
    ------
    InputFileError
        When the file is missing, empty, truncated or not OSM data.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(
            f"OSM file not found: {path}; check the path (or pass a place name with --download)"
        )
    if path.stat().st_size == 0:
        raise InputFileError(f"OSM file is empty: {path}")
    fmt = detect_format(path)
    if fmt == "json":
        data = _read_overpass_json(path)
    else:
        data = _read_osmium(path)
    logger.info(
        "read %s: %d nodes, %d highway ways, %d POIs",
        path.name,
        data.node_ids.size,
        len(data.highways),
        len(data.pois),
    )
    return data


def _read_osmium(path: Path) -> OSMData:
    import osmium

    nid: list[int] = []
    nlon: list[float] = []
    nlat: list[float] = []
    highways: list[OSMWay] = []
    poi_nodes: list[tuple[int, float, float, dict]] = []
    poi_ways: list[tuple[int, np.ndarray, dict]] = []
    n_relations = 0
    try:
        # bz2 XML is decompressed by libosmium itself when built with bzip2; do it here so
        # the reader does not depend on how the wheel was built.
        if path.name.lower().endswith(".bz2"):
            raw = bz2.decompress(path.read_bytes())
            processor = osmium.FileProcessor(osmium.io.FileBuffer(raw, "osm"))
        else:
            processor = osmium.FileProcessor(str(path))
        for obj in processor:
            if obj.is_node():
                loc = obj.location
                if not loc.valid():
                    continue
                nid.append(obj.id)
                nlon.append(loc.lon)
                nlat.append(loc.lat)
                if any(k in obj.tags for k in POI_KEYS):
                    poi_nodes.append((obj.id, loc.lon, loc.lat, dict(obj.tags)))
            elif obj.is_way():
                tags = obj.tags
                if "highway" in tags:
                    highways.append(
                        OSMWay(
                            obj.id, np.fromiter((n.ref for n in obj.nodes), np.int64), dict(tags)
                        )
                    )
                elif any(k in tags for k in POI_KEYS):
                    poi_ways.append(
                        (obj.id, np.fromiter((n.ref for n in obj.nodes), np.int64), dict(tags))
                    )
            else:
                n_relations += 1
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        raise InputFileError(
            f"cannot read OSM file {path}: {exc}. The file looks truncated or corrupt; download it again"
        ) from exc
    if not nid and not highways:
        raise InputFileError(f"{path} contains no OSM nodes or ways; is it really an OSM extract?")
    return _assemble(nid, nlon, nlat, highways, poi_nodes, poi_ways, str(path), n_relations)


def _read_overpass_json(path: Path) -> OSMData:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        elements = doc["elements"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(
            f"cannot read Overpass JSON {path}: {exc}. Expected an Overpass API answer with an "
            "'elements' list (query with [out:json] and 'out body; >; out skel qt;')"
        ) from exc
    nid, nlon, nlat = [], [], []
    highways: list[OSMWay] = []
    poi_nodes, poi_ways = [], []
    for el in elements:
        kind = el.get("type")
        tags = el.get("tags") or {}
        if kind == "node" and "lat" in el and "lon" in el:
            nid.append(int(el["id"]))
            nlon.append(float(el["lon"]))
            nlat.append(float(el["lat"]))
            if any(k in tags for k in POI_KEYS):
                poi_nodes.append((int(el["id"]), float(el["lon"]), float(el["lat"]), tags))
        elif kind == "way":
            refs = np.asarray(el.get("nodes", []), dtype=np.int64)
            if "highway" in tags:
                highways.append(OSMWay(int(el["id"]), refs, tags))
            elif any(k in tags for k in POI_KEYS):
                poi_ways.append((int(el["id"]), refs, tags))
    return _assemble(nid, nlon, nlat, highways, poi_nodes, poi_ways, str(path), 0)


def _assemble(nid, nlon, nlat, highways, poi_nodes, poi_ways, source, n_relations) -> OSMData:
    ids = np.asarray(nid, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    data = OSMData(
        node_ids=ids[order],
        lon=np.asarray(nlon, dtype=np.float64)[order],
        lat=np.asarray(nlat, dtype=np.float64)[order],
        highways=highways,
        pois=pd.DataFrame(),
        source=source,
    )
    rows = [
        {"osm_type": "node", "osm_id": i, "lon": x, "lat": y, "name": _name(t), "tags": t}
        for i, x, y, t in poi_nodes
    ]
    for wid, refs, tags in poi_ways:
        present, lon, lat = data.locate(refs)
        if present.any():
            rows.append(
                {
                    "osm_type": "way",
                    "osm_id": wid,
                    "lon": float(np.nanmean(lon)),
                    "lat": float(np.nanmean(lat)),
                    "name": _name(tags),
                    "tags": tags,
                }
            )
    data.pois = pd.DataFrame(rows, columns=["osm_type", "osm_id", "lon", "lat", "name", "tags"])
    data.stats = {
        "nodes": int(ids.size),
        "highway_ways": len(highways),
        "pois": len(rows),
        "relations_ignored": int(n_relations),
    }
    return data


def _name(tags: dict[str, str]) -> str:
    # Prefer the international name: the Almaty extract tags KazZhol as name=Казжол,
    # int_name=KazZhol Hotel, and a planner's report is read in English as often as not.
    return tags.get("int_name") or tags.get("name:en") or tags.get("name") or ""
