"""A network loaded from the cache logs the warnings its build logged (same logger, level
and text): a run's manifest and report listed "almaty-2012.osm.pbf: 20 clipped way(s) cut
at the extract boundary" with a cold cache and nothing once the cache was warm."""

from __future__ import annotations

import logging

from networks.load import load_network


def _network_warnings(caplog) -> list[tuple[str, int, str]]:
    return [
        (r.name, r.levelno, r.getMessage())
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("networks")
    ]


def test_cached_load_replays_the_build_warnings(data_dir, tmp_path, caplog):
    src = data_dir / "osm" / "almaty-2012.osm.pbf"
    caplog.set_level(logging.INFO)
    built = load_network(src, cache_dir=tmp_path)
    from_build = _network_warnings(caplog)
    caplog.clear()
    cached = load_network(src, cache_dir=tmp_path)
    from_cache = _network_warnings(caplog)
    assert not built.from_cache and cached.from_cache
    assert any("clipped way(s) cut at the extract boundary" in m for _, _, m in from_build)
    assert from_cache == from_build
