"""Read raw OpenStreetMap data: ``.osm.pbf``, ``.osm``/``.osm.bz2`` XML and Overpass JSON.

PBF and XML are read with pyosmium (libosmium, no external binaries). The reader keeps the
two things evplan needs in one pass: ways tagged ``highway`` (with their node references)
and tagged features that can become charger sites (POIs). Node locations are kept for every
node, because real extracts are clipped at their bounding box and ways may reference
nodes that are not in the file; the graph builder decides what to do with those.
"""

from __future__ import annotations

import bz2
import codecs
import io
import json
import logging
import math
import re
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
    raw: bytes | None = None
    try:
        # bz2 XML is decompressed by libosmium itself when built with bzip2; do it here so
        # the reader does not depend on how the wheel was built.
        if path.name.lower().endswith(".bz2"):
            raw = bz2.decompress(path.read_bytes())
            processor = osmium.FileProcessor(osmium.io.FileBuffer(raw, "osm"))
        else:
            processor = osmium.FileProcessor(str(path))
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                loc = obj.location
                if not loc.valid():
                    continue
                nid.append(obj.id)
                nlon.append(loc.lon)
                nlat.append(loc.lat)
                if any(k in obj.tags for k in POI_KEYS):
                    poi_nodes.append((obj.id, loc.lon, loc.lat, dict(obj.tags)))
            elif isinstance(obj, osmium.osm.Way):
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
        raise InputFileError(f"cannot read OSM file {path}: {exc}. {_xml_hint(path, raw)}") from exc
    if not nid and not highways:
        raise InputFileError(f"{path} contains no OSM nodes or ways; is it really an OSM extract?")
    return _assemble(nid, nlon, nlat, highways, poi_nodes, poi_ways, str(path), n_relations)


def _read_overpass_json(path: Path) -> OSMData:
    hint = (
        "Expected an Overpass API answer with an 'elements' list (query with [out:json] and "
        "'out body; >; out skel qt;')"
    )
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        why = _not_utf8(exc.start, data[exc.start], binary=b"\x00" in data[:4096])
        raise InputFileError(
            f"cannot read Overpass JSON {path}: {why}. {hint}; save the answer as UTF-8 (as "
            "Overpass sends it)"
        ) from exc
    except OSError as exc:
        raise InputFileError(f"cannot read Overpass JSON {path}: {exc}") from exc
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputFileError(f"cannot read Overpass JSON {path}: {exc}. {hint}") from exc
    elements = doc.get("elements") if isinstance(doc, dict) else None
    if not isinstance(elements, list):
        found = (
            f"'elements' is {type(elements).__name__}"
            if isinstance(doc, dict) and "elements" in doc
            else f"no 'elements' key in the top-level {type(doc).__name__}"
        )
        raise InputFileError(f"cannot read Overpass JSON {path}: {found}. {hint}")
    nid, nlon, nlat = [], [], []
    highways: list[OSMWay] = []
    poi_nodes, poi_ways = [], []
    for i, el in enumerate(elements):
        if not isinstance(el, dict):
            raise InputFileError(
                f"Overpass JSON {path}: element {i} is {type(el).__name__} {_short(el)}, not an "
                "object; every entry of 'elements' must be an OSM node/way/relation object. "
                "Fix or remove it, or download the answer again"
            )
        kind = el.get("type")
        if kind not in ("node", "way"):
            continue  # relations, areas, counts: not used
        el_id = _element_id(path, i, kind, el)
        tags = _element_tags(path, i, kind, el_id, el)
        if kind == "node":
            lon = _coordinate(path, i, el_id, el, "lon", 180.0)
            lat = _coordinate(path, i, el_id, el, "lat", 90.0)
            nid.append(el_id)
            nlon.append(lon)
            nlat.append(lat)
            if any(k in tags for k in POI_KEYS):
                poi_nodes.append((el_id, lon, lat, tags))
        else:
            refs = _way_refs(path, i, el_id, el)
            if "highway" in tags:
                highways.append(OSMWay(el_id, refs, tags))
            elif any(k in tags for k in POI_KEYS):
                poi_ways.append((el_id, refs, tags))
    return _assemble(nid, nlon, nlat, highways, poi_nodes, poi_ways, str(path), 0)


def _where(path: Path, i: int, what: str) -> str:
    return f"Overpass JSON {path}: element {i} ({what})"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _element_id(path: Path, i: int, kind: str, el: dict) -> int:
    value = el.get("id")
    if type(value) is not int or not -(2**63) <= value < 2**63:
        raise InputFileError(
            f"{_where(path, i, kind)}: field 'id' is {_short(value)}; an OSM id must "
            "be an integer. Fix or remove the element, or download the answer again"
        )
    return value


def _element_tags(path: Path, i: int, kind: str, el_id: int, el: dict) -> dict[str, str]:
    tags = el.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise InputFileError(
            f"{_where(path, i, f'{kind} {el_id}')}: field 'tags' is {_short(tags)}; expected "
            "an object of text keys and text values. Fix or remove the element"
        )
    return tags


def _coordinate(path: Path, i: int, el_id: int, el: dict, field: str, limit: float) -> float:
    value = el.get(field)
    if field not in el:
        problem = "is missing"
    elif not isinstance(value, int | float) or isinstance(value, bool):
        problem = f"is {_short(value)}, not a number"
    elif not math.isfinite(value):
        problem = f"= {value!r} is not a finite number"
    elif -limit <= value <= limit:
        return float(value)
    else:
        problem = f"= {value!r} is outside [-{limit:g}, {limit:g}]"
    raise InputFileError(
        f"{_where(path, i, f'node {el_id}')}: field '{field}' {problem}. Every node needs "
        "numeric WGS84 'lat' (-90..90) and 'lon' (-180..180); query Overpass with 'out body' "
        "(not 'out ids'/'out tags'), or fix or remove the node"
    )


def _way_refs(path: Path, i: int, el_id: int, el: dict) -> np.ndarray:
    refs = el.get("nodes", [])
    if not isinstance(refs, list) or not all(
        type(r) is int and -(2**63) <= r < 2**63 for r in refs
    ):
        raise InputFileError(
            f"{_where(path, i, f'way {el_id}')}: field 'nodes' is {_short(refs)}; expected a "
            "list of integer node ids. Fix or remove the way, or download the answer again"
        )
    return np.asarray(refs, dtype=np.int64)


def _xml_hint(path: Path, raw: bytes | None) -> str:
    """What would fix an unreadable OSM file: for XML that is not UTF-8, say so."""
    generic = "The file looks truncated or corrupt; download it again"
    if detect_format(path) != "xml":
        return generic
    try:
        bad = _utf8_error(raw if raw is not None else path)
        head = raw[:4096] if raw is not None else path.open("rb").read(4096)
    except OSError:
        return generic
    if bad is None:
        return generic
    if b"\x00" in head:
        return (
            f"{_not_utf8(*bad, binary=True)}: not OSM XML; an .osm.pbf extract must be named "
            "*.osm.pbf, else download the file again"
        )
    declared = re.search(rb"""encoding=["']([A-Za-z0-9._-]+)""", head[:200])
    if declared is None or declared.group(1).lower() in (b"utf-8", b"utf8"):
        return f"{_not_utf8(*bad)}; OSM XML must be UTF-8: re-export or convert it to UTF-8"
    return generic  # another declared encoding: the parser decoded it, the error is elsewhere


def _utf8_error(source: bytes | Path, *, chunk: int = 1 << 20) -> tuple[int, int] | None:
    """``(offset, byte)`` of the first invalid UTF-8 byte of a byte string or a file (read
    in chunks); ``byte`` is -1 for a sequence cut off at the end. ``None`` when valid."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as fh:
        while block := fh.read(chunk):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:  # exc.object: bytes held back + this block
                pos = offset + exc.start - (len(exc.object) - len(block))
                return pos, exc.object[exc.start]
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return offset, -1
    return None


def _not_utf8(offset: int, byte: int, *, binary: bool = False) -> str:
    what = f"byte 0x{byte:02x}" if byte >= 0 else "a cut-off character"
    return (
        f"it is not UTF-8 text ({what} at offset {offset}{'; it looks binary' if binary else ''})"
    )


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
