"""Bad values inside a study's input files, through the command line's entry point.

The study files are the shipped ones (``configs/cargo-china.yaml``, ``configs/almaty.yaml``)
pointed at copies of the real inputs with one bad value each, built in ``tmp_path``. Every
case asserts exit code 2 (an input error), a message naming the file, the row (or feature)
and the value, and no traceback; ``evplan validate`` finds the file values it reads.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from networks.errors import ConfigError
from tests.e2e.test_bad_inputs import _run_cli

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp: Path, name: str, **replace: str) -> Path:
    """A copy of ``configs/<name>.yaml`` in ``tmp`` with each ``old -> new`` (regex) replaced
    once; its output folder is under ``tmp``."""
    body = (ROOT / "configs" / f"{name}.yaml").read_text(encoding="utf-8")
    replace = {r"folder: \.\./runs/\S+": f"folder: {tmp / 'out'}", **replace}
    for old, new in replace.items():
        body, n = re.subn(old, lambda _m, new=new: new, body, count=1, flags=re.M)
        assert n == 1, old
    path = tmp / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _text(out: str, err: str) -> str:
    return " ".join((out + err).split())


def _clean_error(monkeypatch, capsys, *args: str) -> str:
    """Run the CLI; assert exit 2 and no traceback; the messages on one line."""
    code, out, err = _run_cli(monkeypatch, capsys, *args)
    text = _text(out, err)
    assert code == 2, text
    assert "Traceback" not in out + err
    return text


def _validate_and_run(monkeypatch, capsys, config: Path, tmp: Path, needles: list[str]) -> None:
    """``evplan validate`` and ``evplan run`` both exit 2 naming every needle; the run
    writes nothing."""
    for args in (["validate", str(config)], ["run", str(config), "-o", str(tmp / "run-out")]):
        text = _clean_error(monkeypatch, capsys, *args)
        for needle in needles:
            assert needle in text, f"{args[0]}: {needle!r} not in: {text}"
    assert not (tmp / "run-out").exists()


# --------------------------------------------------------------------------- 1: plants CSV


def _plants(tmp: Path, data: Path, key: str, column: str, value: str) -> Path:
    rows = list(
        csv.DictReader(open(data / "kz" / "karaganda-renewable-plants.csv", encoding="utf-8"))
    )
    assert any(r["key"] == key for r in rows)
    for r in rows:
        if r["key"] == key:
            r[column] = value
    path = tmp / "plants.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_plants_capacity_that_is_not_a_number(monkeypatch, capsys, tmp_path, data_env):
    """capacity_mw = abc in the cargo study's plants: exit 70 (ValueError: could not convert
    string to float) after the network was built, and `validate` said ok."""
    plants = _plants(tmp_path, data_env, "solar_saran", "capacity_mw", "abc")
    config = _config(tmp_path, "cargo-china", **{r"plants: \S+": f"plants: {plants}"})
    # solar_saran is the CSV's second plant: row 3 with the header as row 1
    needles = [str(plants), "row 3", "solar_saran", "capacity_mw", "'abc'", "a number > 0"]
    _validate_and_run(monkeypatch, capsys, config, tmp_path, needles)


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [("capacity_mw", "-5", "capacity_mw = '-5'"), ("capacity_mw", "nan", "capacity_mw = 'nan'"),
     ("lon", "east", "column lon = 'east'"), ("lat", "95", "column lat = '95'")],
)  # fmt: skip
def test_the_studys_plant_reader_names_the_cell(tmp_path, data_dir, column, value, needle):
    """The study's own reader (planner.study.grid.read_plants) refuses the cell too."""
    from planner.config.study import config_from_dict
    from planner.study.grid import read_plants

    plants = _plants(tmp_path, data_dir, "solar_agadyr", column, value)
    cfg = config_from_dict(
        {
            "name": "g",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "capacitated"},
            "renewables": {"plants": str(plants)},
        },
        base_dir=tmp_path,
    )
    with pytest.raises(ConfigError, match=re.escape(needle)) as err:
        read_plants(cfg)
    assert str(plants) in str(err.value) and "row 4" in str(err.value)


# --------------------------------------------------------------------------- 2: substations


def _substations(tmp: Path, capacity: object) -> Path:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Almaty-1", "capacity_kw": 2000},
                "geometry": {"type": "Point", "coordinates": [76.9, 43.25]},
            },
            {
                "type": "Feature",
                "properties": {"name": "Astana-2", "capacity_kw": capacity},
                "geometry": {"type": "Point", "coordinates": [71.4, 51.1]},
            },
        ],
    }
    path = tmp / "substations.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")  # NaN / Infinity as Python writes them
    return path


def test_substation_capacity_that_is_not_a_number(monkeypatch, capsys, tmp_path, data_env):
    """ "capacity_kw": "abc" on a grid.substations feature: exit 70 (ValueError)."""
    subs = _substations(tmp_path, "abc")
    config = _config(tmp_path, "cargo-china", **{r"^# grid:.*$": f"grid:\n  substations: {subs}"})
    needles = [str(subs), "feature 1", "Astana-2", "capacity_kw", '"abc"', "a number > 0"]
    _validate_and_run(monkeypatch, capsys, config, tmp_path, needles)


@pytest.mark.parametrize(
    ("capacity", "shown"),
    [(-500, "-500"), (float("nan"), "NaN"), (float("inf"), "Infinity"), (True, "true")],
)  # fmt: skip
def test_substation_capacity_must_be_a_positive_number(tmp_path, capacity, shown):
    """Negative, NaN, infinite, boolean or text capacities are refused, naming the feature
    (NaN was read as 'no capacity given', a negative capacity capped every plug)."""
    from planner.config.study import config_from_dict
    from planner.study.grid import site_grid

    subs = _substations(tmp_path, capacity)
    cfg = config_from_dict(
        {
            "name": "g",
            "network": {"source": str(tmp_path / "x.osm.pbf")},
            "demand": {"kind": "city", "population": 1000},
            "model": {"kind": "capacitated"},
            "grid": {"substations": str(subs), "upgrade_cost_per_kw": 100},
        },
        base_dir=tmp_path,
    )
    cand = pd.DataFrame({"site_id": ["s0"], "lon": [71.41], "lat": [51.1], "power_kw": [100.0]})
    with pytest.raises(ConfigError) as err:
        site_grid(cfg, cand, [])
    msg = str(err.value)
    assert str(subs) in msg and "feature 1 ('Astana-2')" in msg
    assert f"capacity_kw = {shown}" in msg and "a number > 0" in msg


# --------------------------------------------------------------------------- 3: catalogue

_VAN = """\
models:
  city_van:
    name: City e-van
    category: van
    battery_kwh: 75
    consumption_kwh_per_km: 0.25
    max_ac_kw: 11
    connectors: [CCS2, Type2]
"""


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        # UTF-16 (a byte-order mark), as Windows editors save "Unicode" text
        (b"\xff\xfe\x00m", ["saved as UTF-16", "save it as UTF-8"]),
        # Latin-1: the e-acute of a model name is the single byte 0xe9
        (
            _VAN.replace("City e-van", "Caf\xe9 van").encode("latin-1"),
            [":3: not UTF-8 text (byte 0xe9"],
        ),
    ],
    ids=["utf-16", "latin-1"],
)
def test_catalogue_that_is_not_utf8(monkeypatch, capsys, tmp_path, data_env, data, needles):
    """A vehicles.catalogue that is not UTF-8: exit 70 (UnicodeDecodeError), from `evplan
    validate` too."""
    cat = tmp_path / "cat.yaml"
    cat.write_bytes(data)
    config = _config(tmp_path, "almaty", **{r"^vehicles:$": f"vehicles:\n  catalogue: {cat}"})
    _validate_and_run(
        monkeypatch, capsys, config, tmp_path, ["vehicles.catalogue", str(cat), *needles]
    )


def test_catalogue_with_a_key_given_twice(monkeypatch, capsys, tmp_path, data_env):
    """battery_kwh given twice in one model was read as the last value without a word (a
    study file refuses that): refused the same way, naming both lines."""
    cat = tmp_path / "cat.yaml"
    cat.write_text(
        _VAN.replace("    battery_kwh: 75\n", "    battery_kwh: 75\n    battery_kwh: 750\n")
    )
    config = _config(tmp_path, "almaty", **{r"^vehicles:$": f"vehicles:\n  catalogue: {cat}"})
    needles = [
        f"{cat}:6",
        "models.city_van.battery_kwh",
        "duplicate key 'battery_kwh' (first given at line 5)",
    ]
    _validate_and_run(monkeypatch, capsys, config, tmp_path, needles)
    # the library's reader too (sim.load_vehicle_models), and a model key given twice
    from sim import VehicleSpecError, load_vehicle_models

    cat.write_text(_VAN + _VAN.removeprefix("models:\n"))
    with pytest.raises(
        VehicleSpecError,
        match=r"cat.yaml:9: models.city_van: duplicate key 'city_van' \(first given at line 2\)",
    ):
        load_vehicle_models(cat)


# --------------------------------------------------------------------------- 4: population


def test_district_population_above_any_city(monkeypatch, capsys, tmp_path, data_env):
    """1e15 residents in one Almaty district (demand.max_trips = 1500 set): exit 70,
    MemoryError "Unable to allocate 26.2 TiB", and `validate` said ok."""
    rows = list(
        csv.DictReader(open(data_env / "kz" / "almaty-district-population.csv", encoding="utf-8"))
    )
    assert rows[1]["district_name"] == "Auezov"
    rows[1]["official_population"] = "1e15"
    pop = tmp_path / "population.csv"
    with open(pop, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    config = _config(
        tmp_path,
        "almaty",
        **{r"^  zone_population: \S+$": f"  zone_population: {pop}\n  max_trips: 1500"},
    )
    needles = [
        str(pop),
        "row 3 (district_name 'Auezov') = 1,000,000,000,000,000",
        "above 50,000,000",
        "official_population",
    ]
    _validate_and_run(monkeypatch, capsys, config, tmp_path, needles)


def test_city_demand_is_bounded_before_it_is_allocated(almaty, data_dir):
    """The generator itself (sim.demand.city_trips) refuses a zone above any city and a fleet
    whose trips exceed the cap, before allocating (each asked numpy for terabytes)."""
    import geopandas as gpd

    from sim import DemandError
    from sim.demand import city_trips

    zones = gpd.read_file(data_dir / "kz" / "almaty-districts.geojson")
    zones["population"] = 200_000.0
    zones.attrs["population_source"] = "demand.zone_population my.csv"
    net = almaty.network
    big = zones.copy()
    big.loc[big.index[0], "population"] = 1e15
    with pytest.raises(DemandError, match=r"my.csv: population above 50,000,000") as err:
        city_trips(net, big, rng=1, zone_col="name_ru")
    assert f"{big['name_ru'].iloc[0]!r} = 1,000,000,000,000,000" in str(err.value)
    # an infinite population (a zones file's "inf") overflowed the fleet count before the
    # check ran: OverflowError, exit 70 (code review of 2026-12-07)
    big.loc[big.index[0], "population"] = float("inf")
    with pytest.raises(DemandError, match=r"my.csv: population above 50,000,000"):
        city_trips(net, big, rng=1, zone_col="name_ru")
    with pytest.raises(DemandError, match="more than the 20,000,000 trips") as err:
        city_trips(net, zones, rng=1, fleet_size=10**12, days=2)
    assert "my.csv" in str(err.value) and "1,000,000,000,000 EVs" in str(err.value)


# --------------------------------------------------------------------------- 5: OD table

_OD = """\
origin,destination,depart_time,count
Медеуский район,Бостандыкский район,08:00,20
Ауэзовский район,Алмалинский район,08:30,15
Жетысуский район,Турксибский район,17:45,{count}
"""


def test_od_table_count_above_the_trip_cap(monkeypatch, capsys, tmp_path, data_env):
    """count = 1000000000 on one row of demand.od_table: the rows were expanded until the
    kernel killed evplan (out of memory, after 16 s)."""
    od = tmp_path / "od.csv"
    od.write_text(_OD.format(count=1_000_000_000), encoding="utf-8")
    config = _config(
        tmp_path,
        "almaty",
        **{r"^  kind: city$": f"  kind: od_table\n  od_table: {od}", r"^  warmup_days: 2 .*$": ""},
    )
    needles = [
        str(od),
        "column 'count' adds up to 1,000,000,035 trips",
        "more than the 20,000,000 trips",
        "row 4 = 1,000,000,000",
    ]
    _validate_and_run(monkeypatch, capsys, config, tmp_path, needles)
    # within the cap the same study validates
    od.write_text(_OD.format(count=10), encoding="utf-8")
    code, out, err = _run_cli(monkeypatch, capsys, "validate", str(config))
    assert code == 0, _text(out, err)


def test_the_od_reader_bounds_the_trips_before_expanding(almaty, tmp_path):
    """sim.demand.read_od_table refuses the table before it repeats a row (the library path;
    a count of 10**12 asked numpy for terabytes)."""
    from sim import DemandTableError
    from sim.demand import read_od_table

    od = tmp_path / "od.csv"
    od.write_text("origin,destination,depart_s,count\n0,1,0,3\n1,2,60,1000000000000\n")
    with pytest.raises(DemandTableError, match=r"adds up to 1,000,000,000,003 trips") as err:
        read_od_table(od, network=almaty.network, rng=1)
    assert str(od) in str(err.value) and "row 3 = 1,000,000,000,000" in str(err.value)


# --------------------------------------------------------------- trips a day (same cap)


def test_trucks_a_day_above_the_trip_cap(monkeypatch, capsys, tmp_path, data_env):
    """demand.trips_per_day = 1e12 in the cargo study: exit 70 (MemoryError); a smaller typo
    (1e9) would have been allocated until the machine ran out of memory."""
    config = _config(
        tmp_path, "cargo-china", **{r"^  trips_per_day: 60 .*$": "  trips_per_day: 1e12"}
    )
    text = _clean_error(monkeypatch, capsys, "run", str(config), "-o", str(tmp_path / "run-out"))
    assert "demand.trips_per_day = 1e+12" in text and "more than the 20,000,000 trips" in text
    assert not (tmp_path / "run-out").exists()


def test_corridor_trips_a_day_above_the_trip_cap(almaty):
    from sim import DemandError
    from sim.demand import corridor_trips

    places = pd.DataFrame({"name": ["a", "b"], "population": [1e5, 2e5], "node": [0, 1]})
    for n in (1e12, float("inf")):
        with pytest.raises(DemandError, match=r"more than the 20,000,000 trips"):
            corridor_trips(almaty.network, places, rng=1, trips_per_day=n, days=2)
