"""Shared fixtures.

Real data lives in ``../shared/data`` beside the project (override with the
``EVPLAN_DATA_DIR`` environment variable). Tests that need it use the
``data_dir`` fixture, which *fails* (never skips) when the folder is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("EVPLAN_DATA_DIR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder with the real shared data; fails the test when it is missing."""
    path = _data_dir()
    if not (path / "README.md").is_file():
        pytest.fail(
            f"real data folder not found at {path}; put the shared data beside the "
            "project (../shared/data) or set EVPLAN_DATA_DIR"
        )
    return path


@pytest.fixture(scope="session")
def net_cache_dir(tmp_path_factory) -> Path:
    """One network cache per test session, so the real extract is prepared once."""
    return tmp_path_factory.mktemp("evplan-netcache")


@pytest.fixture
def data_env(data_dir, net_cache_dir, monkeypatch):
    """The real data folder and the session's network cache as the environment a study
    reads them from (``EVPLAN_DATA_DIR``, ``EVPLAN_CACHE_DIR``)."""
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EVPLAN_CACHE_DIR", str(net_cache_dir))
    return data_dir


@pytest.fixture(scope="session")
def almaty(data_dir, net_cache_dir):
    """The real Almaty 2012 extract, prepared once per session (LoadedNetwork)."""
    from networks.load import load_network

    return load_network(data_dir / "osm" / "almaty-2012.osm.pbf", cache_dir=net_cache_dir)
