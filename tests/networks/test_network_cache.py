"""The prepared-network cache (``network-<key>.npz``, arrays + JSON, never pickle): a
cached load equals the fresh build (real Almaty extract and a synthetic file), and crafted,
damaged, foreign or other-version files are never executed but ignored and rebuilt."""

from __future__ import annotations

import io
import json
import logging
import os
import pickletools
import zipfile

import numpy as np
import pandas as pd
import pytest

from networks._netcache import FORMAT, CacheFormatError, write_bundle
from networks.load import load_network
from tests.networks.test_networks_synthetic import _osm_xml


def assert_same_network(a, b):
    """Same RoadNetwork arrays, graph (incl. iteration orders), POIs, report and source."""
    na, nb = a.network, b.network
    for attr in ("node_ids", "lon", "lat", "x", "y"):
        np.testing.assert_array_equal(getattr(na, attr), getattr(nb, attr), strict=True)
    for attr in ("time", "length", "length_min"):
        ma, mb = getattr(na, attr), getattr(nb, attr)
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(ma, part), getattr(mb, part)), (attr, part)
    assert (na.crs, na.name) == (nb.crs, nb.name)
    pd.testing.assert_frame_equal(na.node_table, nb.node_table)
    ga, gb = a.graph, b.graph
    assert type(ga) is type(gb) and ga.graph == gb.graph
    assert list(ga.nodes(data=True)) == list(gb.nodes(data=True))
    ea, eb = list(ga.edges(keys=True, data=True)), list(gb.edges(keys=True, data=True))
    assert ea == eb
    for (_, _, _, da), (_, _, _, db) in zip(ea, eb, strict=True):
        assert list(da) == list(db)  # attribute order
        assert {k: type(x) for k, x in da.items()} == {k: type(x) for k, x in db.items()}
    assert all(list(ga.pred[n]) == list(gb.pred[n]) for n in ga)
    pd.testing.assert_frame_equal(a.pois, b.pois)
    assert a.report == b.report and a.source == b.source and a.extra == b.extra


def test_almaty_from_cache_equals_fresh_build(data_dir, tmp_path):
    # Fresh build and cache file from this very process: osmnx's simplify_graph orders
    # merged 'highway' lists by string hash, so builds in processes with other hash seeds
    # can differ (see drive_graph); the cache must reproduce its writer's build exactly.
    src = data_dir / "osm" / "almaty-2012.osm.pbf"
    fresh = load_network(src, cache_dir=tmp_path)
    cached = load_network(src, cache_dir=tmp_path)
    assert cached.from_cache and not fresh.from_cache
    assert any("geometry" in d for _, _, d in cached.graph.edges(data=True))
    assert_same_network(fresh, cached)
    assert [p.name for p in tmp_path.iterdir()] == [_only_cache_file(tmp_path).name]


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "synthetic-grid.osm"
    path.write_text(_osm_xml())
    return path


def _only_cache_file(folder):
    files = list(folder.glob("network-*.npz"))
    assert len(files) == 1, files
    return files[0]


def test_synthetic_from_cache_equals_fresh_build(grid_file, tmp_path):
    cache = tmp_path / "cache"
    fresh = load_network(grid_file, cache_dir=cache)
    cached = load_network(grid_file, cache_dir=cache)
    assert not fresh.from_cache and cached.from_cache
    assert_same_network(fresh, cached)
    assert sorted(p.name for p in cache.iterdir()) == [_only_cache_file(cache).name]


# A protocol-0 pickle that calls builtins.open(<marker>, "w") when unpickled: creating the
# marker file would prove the cache executed it. Hand-written opcodes (the project does not
# import pickle); pickletools only disassembles it to check it is well formed.
def _pickle_payload(marker) -> bytes:
    return b"c__builtin__\nopen\n(V" + str(marker).encode() + b"\nVw\ntR."


def _truncated(valid: bytes) -> bytes:
    return valid[: len(valid) // 2]


def _other_version(valid: bytes, path) -> bytes:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["format"] = FORMAT + 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name("other.npz")
    np.savez(tmp, **arrays)
    return tmp.read_bytes()


def _foreign_npz(valid: bytes, path) -> bytes:
    tmp = path.with_name("foreign.npz")
    np.savez(tmp, meta=np.arange(5), node_ids=np.arange(3))
    return tmp.read_bytes()


def _flipped_byte(valid: bytes) -> bytes:
    # a byte in the middle of the stored data of the member at a third of the file (not in a
    # local header field that zip readers ignore): the zip CRC-32 must catch it
    with zipfile.ZipFile(io.BytesIO(valid)) as zf:
        third = len(valid) // 3
        info = max(
            (i for i in zf.infolist() if i.header_offset <= third),
            key=lambda i: i.header_offset,
        )
        hdr = valid[info.header_offset : info.header_offset + 30]
        name_len, extra_len = (
            int.from_bytes(hdr[26:28], "little"),
            int.from_bytes(hdr[28:30], "little"),
        )
        pos = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    return valid[:pos] + bytes([valid[pos] ^ 0xFF]) + valid[pos + 1 :]


@pytest.mark.parametrize(
    "craft",
    ["pickle", "random", "truncated", "flipped", "other_version", "foreign", "empty"],
)
def test_crafted_or_damaged_cache_is_ignored_and_rebuilt(grid_file, tmp_path, caplog, craft):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "notes.txt").write_text("not ours")
    marker = tmp_path / "EXECUTED"
    fresh = load_network(grid_file, cache_dir=cache)
    path = _only_cache_file(cache)
    valid = path.read_bytes()
    bad = {
        "pickle": lambda: _pickle_payload(marker),
        "random": lambda: np.random.default_rng(1).bytes(4096),
        "truncated": lambda: _truncated(valid),
        "flipped": lambda: _flipped_byte(valid),
        "other_version": lambda: _other_version(valid, path),
        "foreign": lambda: _foreign_npz(valid, path),
        "empty": lambda: b"",
    }[craft]()
    if craft == "pickle":
        pickletools.dis(bad, out=open(os.devnull, "w"))  # a well-formed pickle stream
    path.write_bytes(bad)
    with caplog.at_level(logging.WARNING, logger="networks.load"):
        again = load_network(grid_file, cache_dir=cache)
    assert not marker.exists()
    assert not again.from_cache
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cache" in r.msg]
    assert len(warnings) == 1 and path.name in warnings[0].getMessage()
    assert_same_network(fresh, again)
    third = load_network(grid_file, cache_dir=cache)  # the rebuilt entry is valid again
    assert third.from_cache
    assert (cache / "notes.txt").read_text() == "not ours"


def test_old_pickle_cache_files_are_never_opened(grid_file, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    marker = tmp_path / "EXECUTED"
    load_network(grid_file, cache_dir=cache)
    key = _only_cache_file(cache).name[len("network-") : -len(".npz")]
    old = cache / f"network-{key}.pkl"
    old.write_bytes(_pickle_payload(marker))
    _only_cache_file(cache).unlink()
    assert not load_network(grid_file, cache_dir=cache).from_cache
    assert load_network(grid_file, cache_dir=cache).from_cache
    assert not marker.exists() and old.exists()  # ignored and left alone


def test_values_json_cannot_hold_exactly_are_not_cached(grid_file, tmp_path, caplog):
    fresh = load_network(grid_file, cache_dir=None)
    with pytest.raises(CacheFormatError, match="tuple"):
        write_bundle(
            tmp_path / "network-x.npz",
            "x",
            graph=fresh.graph,
            network=fresh.network,
            pois=fresh.pois,
            report=fresh.report.as_dict(),
            source=fresh.source,
            extra={"bad": (1, 2)},
        )
    assert not list(tmp_path.glob("network-x.npz*"))  # no temporary file left behind
