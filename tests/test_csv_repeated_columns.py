"""A CSV whose header repeats a column name is refused, naming the file and the column.

pandas renames a repeated header (two ``origin_lon`` become ``origin_lon`` and
``origin_lon.1``) and reads the file silently: the second column was ignored. The OD
table, population table, places and plants readers now refuse it. Every table here is
SYNTHETIC, written to ``tmp_path`` (the places and plants tables copy the real files'
headers with one column repeated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from networks.errors import EvplanError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _assert_names(exc: pytest.ExceptionInfo, path: Path, column: str, cols: str) -> None:
    msg = str(exc.value)
    assert str(path) in msg and f"column {column!r} appears 2 times" in msg, msg
    assert f"(columns {cols})" in msg and "Delete or rename" in msg, msg


def test_od_table_repeated_column(tmp_path):
    from sim import DemandTableError, demand
    from sim.synthetic import grid_network

    p = _write(
        tmp_path / "synthetic_od.csv",
        "origin_lon,origin_lat,destination_lon,destination_lat,depart_time,origin_lon\n"
        "76.901,43.201,76.91,43.21,08:00,70.0\n",
    )
    with pytest.raises(DemandTableError) as exc:
        demand.read_od_table(p, network=grid_network(6, 6), rng=np.random.default_rng(0))
    _assert_names(exc, p, "origin_lon", "1 and 6")


def test_od_table_check_of_validate_reports_it(tmp_path):
    from sim.demand.od_table import check_od_table

    p = _write(tmp_path / "synthetic_od.csv", "origin,destination,depart_s,depart_s\n0,1,0,5\n")
    with pytest.raises(EvplanError) as exc:
        check_od_table(p)
    _assert_names(exc, p, "depart_s", "3 and 4")


def test_population_table_repeated_column(tmp_path):
    from sim import DemandError
    from sim.demand.zones import read_population_table

    p = _write(
        tmp_path / "synthetic_pop.csv",
        "district_name,official_population,official_population\nWest,1000,2000\n",
    )
    with pytest.raises(DemandError) as exc:
        read_population_table(p)
    _assert_names(exc, p, "official_population", "2 and 3")
    assert "demand.zone_population" in str(exc.value)


def test_places_and_official_population_repeated_column(tmp_path, data_dir):
    from networks.errors import InputFileError
    from networks.places import read_places

    real = (data_dir / "kz" / "kz-places-geonames.csv").read_text(encoding="utf-8")
    header, rest = real.split("\n", 1)
    p = _write(tmp_path / "places.csv", header + ",name\n" + rest.split("\n", 1)[0] + ",X\n")
    with pytest.raises(InputFileError) as exc:
        read_places(p)
    _assert_names(exc, p, "name", "2 and 9")
    off = _write(tmp_path / "official.csv", "city_name,population,population\nAlmaty,1,2\n")
    with pytest.raises(InputFileError) as exc:
        read_places(data_dir / "kz" / "kz-places-geonames.csv", official_population_csv=off)
    _assert_names(exc, off, "population", "2 and 3")


def test_plants_table_repeated_column(tmp_path, data_dir):
    from networks.errors import ConfigError
    from planner.config.checks import read_plants_table

    real = (data_dir / "kz" / "karaganda-renewable-plants.csv").read_text(encoding="utf-8")
    header, rest = real.split("\n", 1)
    p = _write(tmp_path / "plants.csv", header + ",lon\n" + rest.split("\n", 1)[0] + ",0\n")
    with pytest.raises(ConfigError) as exc:
        read_plants_table(p, ["solar", "wind"])
    _assert_names(exc, p, "lon", "5 and 9")


def test_distinct_and_blank_headers_are_not_repeats(tmp_path):
    """``a.1`` written by the user is its own column, and blank names (trailing commas)
    are not a repeated column; an unreadable file is left to the full read."""
    from networks.csv_header import repeated_columns

    p = _write(tmp_path / "synthetic.csv", "a,a.1,b,,\n1,2,3,,\n")
    assert repeated_columns(p) == {}
    assert repeated_columns(tmp_path / "missing.csv") == {}
    assert repeated_columns(_write(tmp_path / "empty.csv", "")) == {}
