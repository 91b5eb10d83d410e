"""Downloads are only made when asked, and fail offline with one clear message."""

from __future__ import annotations

import sys

import pytest

from networks import EmptyAreaError, OfflineError
from networks.load import download_network


@pytest.fixture
def offline(monkeypatch):
    # A proxy on a closed loopback port makes every HTTP request fail at once, online or not.
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


def test_place_name_offline_without_cache(offline, tmp_path):
    with pytest.raises(OfflineError, match="Pass a local OSM extract"):
        download_network(place="Astana, Kazakhstan", cache_dir=tmp_path, timeout_s=5)


def test_empty_bbox(tmp_path):
    with pytest.raises(EmptyAreaError, match="empty or inverted"):
        download_network(bbox=(71.5, 51.2, 71.4, 51.1), cache_dir=tmp_path)


def test_cli_place_offline(offline, monkeypatch, capsys, tmp_path):
    from planner import cli

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "evplan",
            "network",
            "info",
            "--place",
            "Karaganda, Kazakhstan",
            "--cache-dir",
            str(tmp_path),
        ],
    )
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code != 0 and "no internet connection" in err and "Traceback" not in err


def test_bbox_offline_fails_within_bounded_time(offline, tmp_path):
    import time

    t0 = time.perf_counter()
    with pytest.raises(OfflineError, match="no internet connection"):
        download_network(bbox=(71.3, 51.0, 71.6, 51.3), cache_dir=tmp_path, timeout_s=5)
    assert time.perf_counter() - t0 < 20  # osmnx's 60 s Overpass status wait is disabled
