"""Persistence of a :class:`networks.RoadNetwork`: one compressed ``.npz`` file of plain
arrays (no pickle), written atomically.

Kept apart from :mod:`networks.road_network` (one module per concept, as osmnx's ``io``):
:meth:`RoadNetwork.save <networks.RoadNetwork.save>` and
:meth:`RoadNetwork.load <networks.RoadNetwork.load>` are the public entry points; this
module knows the file layout and nothing of routing. It does not import
:mod:`networks.road_network` (the architecture test forbids the cycle), so reading returns
the constructor's keyword arguments.

File layout: the edges as coordinate lists ``row``, ``col`` with ``time`` (s), ``length``
(m, of the fastest parallel edge), ``length_min`` (m, the shortest parallel edge) and
``road_class`` (code + 1); the nodes as ``node_ids``, ``lon``, ``lat``; ``crs`` and
``name``; every node-table column ``c`` as strings ``attr_c`` with its missing values in
``null_c``. Files written before ``length_min`` or ``road_class`` existed still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from networks.atomic import atomic_open
from networks.errors import InputFileError

__all__ = ["read_network_npz", "write_network_npz"]


def write_network_npz(
    path: str | Path,
    *,
    node_ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    time: sparse.csr_matrix,
    length: sparse.csr_matrix,
    length_min: sparse.csr_matrix,
    road_class: sparse.csr_matrix,
    crs: str,
    name: str,
    node_table: pd.DataFrame,
) -> None:
    """Write a network's arrays to ``path`` atomically (the fields of
    :class:`networks.RoadNetwork`; the matrices share the pattern of ``time``)."""
    coo_t = time.tocoo()
    # every matrix is read at the pattern of ``time`` (the same for all, see RoadNetwork)
    lens = np.asarray(length[coo_t.row, coo_t.col]).ravel()
    lens_min = np.asarray(length_min[coo_t.row, coo_t.col]).ravel()
    classes = np.asarray(road_class[coo_t.row, coo_t.col]).ravel()
    extra = {
        f"attr_{c}": node_table[c].to_numpy(dtype=object).astype(str) for c in node_table.columns
    }
    extra_null = {f"null_{c}": node_table[c].isna().to_numpy() for c in node_table.columns}
    with atomic_open(Path(path)) as fh:
        np.savez_compressed(
            fh,
            node_ids=node_ids,
            lon=lon,
            lat=lat,
            row=coo_t.row,
            col=coo_t.col,
            time=coo_t.data,
            length=lens,
            length_min=lens_min,
            road_class=classes,
            crs=np.array(crs),
            name=np.array(name),
            **extra,
            **extra_null,
        )


def read_network_npz(path: str | Path) -> dict[str, Any]:
    """Read a file written by :func:`write_network_npz`: the keyword arguments of the
    :class:`networks.RoadNetwork` constructor.

    Raises
    ------
    InputFileError
        When the file cannot be read (the message says to delete it and rerun: it is a
        cache written by evplan).
    """
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"cannot read cached network {path}: {exc}; delete it and rerun"
        ) from exc
    n = z["node_ids"].size
    t = sparse.csr_matrix((z["time"], (z["row"], z["col"])), shape=(n, n))
    ln = sparse.csr_matrix((z["length"], (z["row"], z["col"])), shape=(n, n))
    # files written before length_min existed: the fastest edge's length
    ln_min = (
        sparse.csr_matrix((z["length_min"], (z["row"], z["col"])), shape=(n, n))
        if "length_min" in z.files
        else None
    )
    # files written before road classes existed: every edge local
    rc = (
        sparse.csr_matrix((z["road_class"], (z["row"], z["col"])), shape=(n, n))
        if "road_class" in z.files
        else None
    )
    table = pd.DataFrame({k[5:]: z[k] for k in z.files if k.startswith("attr_")})
    for c in table.columns:
        table.loc[z[f"null_{c}"], c] = None
        if c == "population":
            table[c] = pd.to_numeric(table[c], errors="coerce")
    return {
        "node_ids": z["node_ids"],
        "lon": z["lon"],
        "lat": z["lat"],
        "time": t,
        "length": ln,
        "crs": str(z["crs"]),
        "node_table": table,
        "name": str(z["name"]),
        "length_min": ln_min,
        "road_class": rc,
    }
