"""Demand generation: city chains on the real Almaty districts, gravity corridor trips, OD tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from sim import (
    DemandError,
    DemandTableError,
    UnknownVehicleModelError,
    UnknownZoneError,
    demand,
    simulate,
)
from sim.synthetic import grid_network, line_network


@pytest.fixture(scope="module")
def almaty(data_dir):
    zones = gpd.read_file(data_dir / "kz" / "almaty-districts.geojson")
    pop = pd.read_csv(data_dir / "kz" / "almaty-district-population.csv")
    zones = demand.join_population(zones, pop)
    b = zones.total_bounds
    # synthetic grid covering the city's bounding box (not the OSM roads)
    net = grid_network(
        40,
        40,
        spacing_m=(b[3] - b[1]) * 111_320 / 39,
        lon0=b[0],
        lat0=b[1],
        name="synthetic grid over Almaty",
    )
    return zones, pop, net


def test_join_population_matches_all_almaty_districts(almaty):
    zones, pop, _ = almaty
    assert zones["population"].sum() == pop["official_population"].sum()
    # the GeoJSON spells Auezov with a Latin schwa; it must still match the Kazakh token
    auezov = zones.loc[zones["name_ru"] == "Ауэзовский район", "population"].iloc[0]
    assert auezov == 358_000


def test_join_population_reports_unmatched_zone(almaty):
    zones, pop, _ = almaty
    with pytest.raises(UnknownZoneError, match="no population row"):
        demand.join_population(zones, pop[pop["district_name"] != "Medeu"])


def test_city_trips_on_almaty_zones(almaty):
    zones, pop, net = almaty
    kw = dict(zone_col="name_ru", adoption_share=0.002, rng=np.random.default_rng(3))
    trips = demand.city_trips(net, zones, **kw)
    total_pop = zones["population"].sum()
    assert trips["vehicle_id"].nunique() <= round(0.002 * total_pop)
    assert trips["vehicle_id"].nunique() > 0.95 * round(
        0.002 * total_pop
    )  # ~all EVs active by default
    # chains are continuous and return home
    for _, g in trips.groupby("vehicle_id"):
        assert (g["origin"].to_numpy()[1:] == g["destination"].to_numpy()[:-1]).all()
        assert g["destination"].iloc[-1] == g["origin"].iloc[0]
    # home zones follow population (first trip of each vehicle starts at home)
    first = trips.groupby("vehicle_id").first()
    share = first["origin_zone"].value_counts(normalize=True)
    expect = zones.set_index("name_ru")["population"] / total_pop
    assert np.allclose(share.reindex(expect.index).fillna(0), expect, atol=0.03)
    # every trip end lies in its zone's polygon
    ends = gpd.GeoDataFrame(
        trips.head(300),
        geometry=gpd.points_from_xy(
            net.lon[trips["origin"].head(300)], net.lat[trips["origin"].head(300)]
        ),
        crs=4326,
    )
    poly = zones.set_index("name_ru").geometry
    assert all(
        poly[z].buffer(1e-9).contains(p)
        for z, p in zip(ends["origin_zone"], ends.geometry, strict=True)
    )
    # reproducible, and runnable
    again = demand.city_trips(net, zones, **{**kw, "rng": np.random.default_rng(3)})
    pd.testing.assert_frame_equal(trips, again)
    res = simulate(net, None, trips.head(500), seed=1)
    assert res.kpis()["trips"] == 500


def test_city_trips_activity_rate_max_trips_and_pois(almaty):
    zones, _, net = almaty
    pois = pd.DataFrame({"lon": [76.95] * 50, "lat": [43.25] * 50})
    t = demand.city_trips(
        net,
        zones,
        zone_col="name_ru",
        fleet_size=2000,
        trips_per_ev_day=1.2,
        pois=pois,
        poi_weight=0.8,
        max_trips=1500,
        rng=np.random.default_rng(0),
    )
    assert len(t) <= 1500
    assert t["vehicle_id"].nunique() < 2000
    poi_node = net.snap(76.95, 43.25).node[0]
    work = t[t["purpose"] == "work"]
    assert (work["destination"] == poi_node).mean() > 0.5  # POIs attract most work trips
    with pytest.raises(DemandError, match="trips_per_ev_day"):
        demand.city_trips(
            net,
            zones,
            zone_col="name_ru",
            fleet_size=10,
            trips_per_ev_day=5.0,
            rng=np.random.default_rng(0),
        )
    with pytest.raises(UnknownVehicleModelError):
        demand.city_trips(
            net,
            zones,
            zone_col="name_ru",
            fleet_size=10,
            vehicle_mix={"nope": 1.0},
            rng=np.random.default_rng(0),
        )


def test_corridor_gravity_and_cargo_flow():
    net = line_network([100_000.0] * 6, speed_kph=90.0)
    places = pd.DataFrame(
        {
            "name": list("ABCDEFG"),
            "node": range(7),
            "population": [1e6, 1e4, 1e4, 5e5, 1e4, 1e4, 1e6],
        }
    )
    t = demand.corridor_trips(
        net,
        places,
        trips_per_day=2000,
        truck_share=0.25,
        days=2,
        gravity_exponent=1.5,
        min_distance_km=150,
        rng=np.random.default_rng(1),
    )
    assert len(t) == 4000 and (t["flow"] == "cargo").sum() == 1000
    # the default truck mix: every catalogue truck (eActros 600 and Windrose R700)
    assert set(t.loc[t["flow"] == "cargo", "vehicle_model"]) == {
        "mercedes_eactros_600",
        "windrose_r700",
    }
    assert (t["direct_km"] >= 150).all()
    assert t["vehicle_id"].is_unique and (t["chain_seq"] == 0).all()
    pairs = t.groupby(["origin_place", "destination_place"]).size()
    w = demand.gravity_weights(
        places["population"].to_numpy(),
        np.abs(np.subtract.outer(range(7), range(7))) * 100.0,
        exponent=1.5,
        min_distance_km=150,
    )
    expect = w[0, 6] / w.sum() * 4000
    assert pairs[("A", "G")] == pytest.approx(expect, rel=0.15)
    names = places["name"].to_numpy()
    for (o, d), n in pairs.items():  # every frequent pair within 20 % of its gravity share
        e = w[names.tolist().index(o), names.tolist().index(d)] / w.sum() * 4000
        if e >= 50:
            assert n == pytest.approx(e, rel=0.2), (o, d)
    with pytest.raises(DemandError, match="no place pair"):
        demand.corridor_trips(
            net, places, trips_per_day=10, min_distance_km=10_000, rng=np.random.default_rng(1)
        )


def test_corridor_places_by_coordinates():
    net = line_network([50_000.0] * 4)
    places = pd.DataFrame(
        {
            "name": ["X", "Y"],
            "lon": [net.lon[0], net.lon[4]],
            "lat": [net.lat[0], net.lat[4]],
            "population": [1e5, 2e5],
        }
    )
    t = demand.corridor_trips(net, places, trips_per_day=10, rng=np.random.default_rng(0))
    assert set(t["origin"]) <= {0, 4}


def _zones_2x2(net):
    from shapely.geometry import box

    x0, y0, x1, y1 = net.bbox
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    d = 1e-6
    geoms = [
        box(x0 - d, y0 - d, xm, ym),
        box(xm, y0 - d, x1 + d, ym),
        box(x0 - d, ym, xm, y1 + d),
        box(xm, ym, x1 + d, y1 + d),
    ]
    return gpd.GeoDataFrame(
        {"zone_id": ["SW", "SE", "NW", "NE"], "population": [1, 2, 3, 4]}, geometry=geoms, crs=4326
    )


def test_read_od_table_with_zones_csv_and_parquet(tmp_path):
    net = grid_network(6, 6)
    zones = _zones_2x2(net)
    od = pd.DataFrame(
        {
            "origin": ["SW", "NE", "SE"],
            "destination": ["NE", "SW", "NW"],
            "depart_time": ["07:30", "08:15:30", "17:00"],
            "day": [0, 0, 1],
            "count": [2, 1, 1],
        }
    )
    p = tmp_path / "od.csv"
    od.to_csv(p, index=False)
    t = demand.read_od_table(
        p, network=net, zones=zones, zone_col="zone_id", rng=np.random.default_rng(0)
    )
    assert len(t) == 4 and t["vehicle_id"].is_unique
    assert t["depart_s"].tolist() == [27000.0, 27000.0, 29730.0, 86400 + 61200.0]
    nodes = demand.zone_nodes(net, zones, zone_col="zone_id")
    assert all(o in nodes[z] for o, z in zip(t["origin"], t["origin_zone"], strict=True))
    pq = tmp_path / "od.parquet"
    od.to_parquet(pq)
    t2 = demand.read_od_table(
        pq, network=net, zones=zones, zone_col="zone_id", rng=np.random.default_rng(0)
    )
    pd.testing.assert_frame_equal(t.drop(columns="source_row"), t2.drop(columns="source_row"))
    assert simulate(net, None, t, seed=0).kpis()["trips_completed"] == 4


def test_read_od_table_unknown_zone_names_value_row_and_file(tmp_path):
    net = grid_network(6, 6)
    zones = _zones_2x2(net)
    p = tmp_path / "od.csv"
    pd.DataFrame(
        {"origin": ["SW", "Atlantis"], "destination": ["NE", "SW"], "depart_s": [0, 10]}
    ).to_csv(p, index=False)
    with pytest.raises(UnknownZoneError) as exc:
        demand.read_od_table(
            p, network=net, zones=zones, zone_col="zone_id", rng=np.random.default_rng(0)
        )
    msg = str(exc.value)
    assert "'Atlantis' (row 3)" in msg and str(p) in msg and "'origin'" in msg and "NE" in msg


def test_read_od_table_other_errors(tmp_path):
    net = grid_network(4, 4)
    with pytest.raises(DemandTableError, match="does not exist"):
        demand.read_od_table(tmp_path / "nope.csv", network=net, rng=np.random.default_rng(0))
    p = tmp_path / "od.txt"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DemandTableError, match="unsupported"):
        demand.read_od_table(p, network=net, rng=np.random.default_rng(0))
    p = tmp_path / "od.csv"
    pd.DataFrame({"origin": [0, 99], "destination": [1, 2], "depart_s": [0, 5]}).to_csv(
        p, index=False
    )
    with pytest.raises(DemandTableError, match=r"bad rows \[3\]"):
        demand.read_od_table(p, network=net, rng=np.random.default_rng(0))
    pd.DataFrame({"origin": [0], "destination": [1]}).to_csv(p, index=False)
    with pytest.raises(DemandTableError, match="depart"):
        demand.read_od_table(p, network=net, rng=np.random.default_rng(0))
    pd.DataFrame(
        {"origin": [0], "destination": [1], "depart_s": [0], "vehicle_model": ["zeppelin"]}
    ).to_csv(p, index=False)
    with pytest.raises(UnknownVehicleModelError, match="zeppelin"):
        demand.read_od_table(p, network=net, rng=np.random.default_rng(0))
    pd.DataFrame(
        {
            "vehicle_id": [7, 7],
            "origin": [0, 5],
            "destination": [5, 0],
            "depart_s": [100, 50_000],
            "vehicle_model": "vw_id4_pro",
        }
    ).to_csv(p, index=False)
    t = demand.read_od_table(p, network=net, rng=np.random.default_rng(0))
    assert t["chain_seq"].tolist() == [0, 1]
