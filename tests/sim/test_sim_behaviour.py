"""Driver behaviour: comfort buffer and look-ahead, giving up at a queue, overnight recovery,
queue-aware choice, connectors, warm-up days and congestion (docs/simulation.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import CannotReach, ChargingPolicy, SimSettings, replicate, simulate
from sim.synthetic import grid_network, line_network

DAY = 86_400.0
NET = grid_network(8, 8, spacing_m=3000.0, speed_kph=40.0)  # 21 km x 21 km city


def _chains(n: int, days: int, rng: np.random.Generator, model: str) -> pd.DataFrame:
    """Home -> work -> other -> home every day, random nodes of the grid."""
    rows = []
    for v in range(n):
        home, work = rng.integers(0, NET.n_nodes, 2)
        seq = 0
        for d in range(days):
            other = int(rng.integers(0, NET.n_nodes))
            t0 = d * DAY + 7 * 3600 + rng.uniform(0, 2 * 3600)
            for o, de, t in (
                (home, work, t0),
                (work, other, t0 + 9 * 3600),
                (other, home, t0 + 11 * 3600),
            ):
                rows.append((v, model, int(o), int(de), t, seq))
                seq += 1
    return pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )


def _everywhere_stations(step: int = 3) -> pd.DataFrame:
    nodes = [j * 8 + i for j in range(0, 8, step) for i in range(0, 8, step)]
    return pd.DataFrame(
        {"station_id": [f"s{n}" for n in nodes], "node": nodes, "plugs": 20, "power_kw": 50.0}
    )


def test_look_ahead_never_strands_when_a_charger_is_always_in_buffer_range():
    # i-MiEV at -15 C (~0.3 kWh/km, 14.5 kWh): a 20 % buffer is ~10 km, and a 50 kW charger
    # lies within 6 km of every node; legs are up to ~42 km long.
    trips = _chains(40, 2, np.random.default_rng(1), "mitsubishi_imiev_2013")
    base = dict(ambient_temp_c=-15.0, initial_soc=(0.9, 1.0), home_charging_share=0.0)
    res = simulate(NET, _everywhere_stations(), trips, settings=SimSettings(**base), seed=2)
    k = res.kpis()
    assert k["stranded_vehicles"] == 0 and k["share_trips_completed"] == 1.0
    assert k["sessions_public"] > 0
    # the old rule (charge only when the destination is out of reach) strands some
    old = SimSettings(**base, policy=ChargingPolicy(when=CannotReach()))
    assert (
        simulate(NET, _everywhere_stations(), trips, settings=old, seed=2).kpis()[
            "stranded_no_charger"
        ]
        > 0
    )


def test_giving_up_bounds_every_wait_and_records_the_cause():
    net = line_network([10_000.0] * 3, speed_kph=60.0)
    st = pd.DataFrame({"station_id": ["only"], "node": [1], "plugs": [1], "power_kw": [50.0]})
    n = 12
    trips = pd.DataFrame(
        {
            "vehicle_id": range(n),
            "vehicle_model": "byd_atto3",
            "origin": 0,
            "destination": 3,
            "depart_s": np.arange(n) * 60.0,
            "chain_seq": 0,
            "initial_soc": 0.12,  # cannot do 30 km with the reserve: must charge at "only"
        }
    )
    cold = dict(ambient_temp_c=-15.0)
    res = simulate(net, st, trips, settings=SimSettings(**cold, max_wait_s=900.0), seed=0)
    pub = res.sessions[res.sessions["station"] >= 0]
    assert (pub["wait_s"] <= 900.0 + 1e-9).all()
    t = res.trips
    ab = t[t["status"] == "abandoned"]
    assert len(ab) > 0 and (ab["strand_cause"] == "queue_abandoned").all()
    k = res.kpis()
    assert k["trips_abandoned"] == len(ab) == k["stranded_queue"]
    # without giving up the same drivers wait for hours
    forever = simulate(net, st, trips, settings=SimSettings(**cold, max_wait_s=math.inf), seed=0)
    assert forever.kpis()["wait_p95_min"] > 60 and forever.kpis()["trips_abandoned"] == 0


def test_stranded_vehicle_resumes_next_day():
    net = line_network([30_000.0] * 2, speed_kph=60.0)
    trips = pd.DataFrame(
        {
            "vehicle_id": 0,
            "vehicle_model": "byd_atto3",
            "origin": [0, 2, 0],
            "destination": [2, 0, 2],
            "depart_s": [8 * 3600.0, 18 * 3600.0, DAY + 8 * 3600.0],
            "chain_seq": [0, 1, 2],
            "initial_soc": 0.05,
        }
    )
    res = simulate(net, None, trips, settings=SimSettings(recovery_soc=0.5), seed=0)
    status = res.trips["status"].astype(str).tolist()
    assert status == ["stranded", "cancelled", "completed"]
    assert res.trips["strand_cause"].astype(str).tolist()[0] == "started_below_reach"
    rec = res.sessions[res.sessions["kind"] == "recovery"]
    assert len(rec) == 1 and rec["soc_end"].iloc[0] == pytest.approx(0.5)
    v = res.vehicles.iloc[0]
    assert v["energy_start_kwh"] + v["charged_kwh"] - v["consumed_kwh"] == pytest.approx(
        v["energy_end_kwh"]
    )


def test_queue_aware_driver_takes_the_free_station_nearby():
    net = grid_network(5, 1, spacing_m=1000.0, speed_kph=30.0)  # a street of 5 nodes
    st = pd.DataFrame(
        {"station_id": ["busy", "free"], "node": [1, 2], "plugs": [1, 1], "power_kw": [50.0, 50.0]}
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 1],
            "vehicle_model": "byd_atto3",
            "origin": 0,
            "destination": 1,
            "depart_s": [0.0, 300.0],  # decisions after the first car has plugged in
            "chain_seq": 0,
            "initial_soc": 0.15,
        }
    )
    res = simulate(net, st, trips, seed=0)
    ses = res.sessions[res.sessions["station"] >= 0].sort_values("arrive_s")
    # the first driver takes the nearest; the next ones see it occupied and go one block on
    assert ses["station_id"].tolist() == ["busy", "free"]
    assert (ses["wait_s"] == 0).all()


def test_incompatible_vehicle_never_plugs_in():
    net = line_network([10_000.0] * 2, speed_kph=60.0)
    st = pd.DataFrame(
        {
            "station_id": ["ccs"],
            "node": [1],
            "plugs": [2],
            "power_kw": [50.0],
            "connectors": ["CCS2;CHAdeMO"],
        }
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 1],
            "vehicle_model": ["vw_id4_crozz_pro", "vw_id4_pro"],
            "origin": 0,
            "destination": 2,
            "depart_s": 0.0,
            "chain_seq": 0,
            "initial_soc": 0.1,
        }
    )
    res = simulate(net, st, trips, seed=0)
    pub = res.sessions[res.sessions["station"] >= 0]
    assert pub["vehicle_model"].tolist() == ["vw_id4_pro"]


def _warm_city(rng: np.random.Generator) -> pd.DataFrame:
    return _chains(60, 7, rng, "byd_atto3")


@pytest.mark.parametrize("stations", [_everywhere_stations(7)])
def test_warm_up_makes_kpis_independent_of_the_initial_draw(stations):
    """Two very different initial state-of-charge draws give measured-day KPIs within each
    other's confidence intervals after six warm-up days (without warm-up they do not).
    How long the initial draw shows depends on the length of a charging cycle: an Atto 3
    at -10 C on these ~30 km days charges every five to six days. Three warm-up days
    passed this test on 4 replications until 2026-12-07, but 16 show the draw still there
    after three (public energy 620 against 735-820 kWh); with the horizon's last leg
    looking ahead like every other day's, the gap shows on 4 too."""
    kw = dict(ambient_temp_c=-10.0, home_charging_share=0.0)
    out = {}
    for warm in (0.0, 6 * DAY):
        for soc in ((0.5, 0.9), (0.05, 0.3)):
            s = SimSettings(**kw, initial_soc=soc, warmup_s=warm)
            out[(warm, soc)] = replicate(
                NET, stations, _warm_city, replications=4, settings=s, seed=5
            )
    key = "energy_public_kwh"
    a, b = out[(6 * DAY, (0.5, 0.9))].loc[key], out[(6 * DAY, (0.05, 0.3))].loc[key]
    assert a["ci_low"] <= b["mean"] <= a["ci_high"] or b["ci_low"] <= a["mean"] <= b["ci_high"]
    # without warm-up the KPIs are the mean over all four days, and the initial draw shows
    c, d = out[(0.0, (0.5, 0.9))].loc[key], out[(0.0, (0.05, 0.3))].loc[key]
    assert d["mean"] - c["mean"] > abs(a["mean"] - b["mean"])


def test_warm_up_days_are_not_counted():
    trips = _chains(10, 3, np.random.default_rng(3), "byd_atto3")
    res = simulate(
        NET, _everywhere_stations(), trips, settings=SimSettings(warmup_s=2 * DAY), seed=1
    )
    assert res.kpis()["trips"] == (trips["depart_s"] >= 2 * DAY).sum()
    m = res.measured()
    assert (m.trips["depart_s"] >= 2 * DAY).all() and (m.sessions["arrive_s"] >= 2 * DAY).all()
    assert res.station_timeseries["t_s"].min() == 2 * DAY


def test_congestion_slows_peak_legs_and_costs_heater_energy():
    trips = _chains(5, 1, np.random.default_rng(4), "byd_atto3")
    factors = tuple(2.0 if 7 <= h < 10 else 1.0 for h in range(24))
    kw = dict(ambient_temp_c=-10.0, initial_soc=0.9)
    free = simulate(NET, None, trips, settings=SimSettings(**kw), seed=0).trips
    jam = simulate(NET, None, trips, settings=SimSettings(**kw, time_factors=factors), seed=0).trips
    peak = (trips["depart_s"] % DAY < 10 * 3600) & (trips["depart_s"] % DAY >= 7 * 3600)
    dur = lambda t: t["arrived_s"] - t["departed_s"]  # noqa: E731
    assert np.allclose(dur(jam)[peak], 2 * dur(free)[peak])
    assert (jam["energy_kwh"][peak] > free["energy_kwh"][peak]).all()
    assert np.allclose(jam["energy_kwh"][~peak], free["energy_kwh"][~peak])


def test_steady_start_of_a_vehicle_that_can_never_charge_is_the_recovery_state():
    # A GB/T car among CCS/CHAdeMO plugs, no home charger: it never charges, so "steady"
    # starts it at recovery_soc (dry, then recovered overnight); the CCS car keeps the
    # sawtooth draw between the buffer and the charge target.
    net = line_network([10_000.0] * 2, speed_kph=60.0)
    st = pd.DataFrame(
        {"station_id": ["ccs"], "node": [1], "plugs": [2], "power_kw": [50.0],
         "connectors": ["CCS2;CHAdeMO"]}
    )  # fmt: skip
    trips = pd.DataFrame(
        {
            "vehicle_id": np.arange(40),
            "vehicle_model": ["vw_id4_crozz_pro", "vw_id4_pro"] * 20,
            "origin": 0,
            "destination": 2,
            "depart_s": 3600.0,
            "chain_seq": 0,
        }
    )
    s = SimSettings(home_charging_share=0.0, initial_soc="steady")
    res = simulate(net, st, trips, settings=s, seed=4)
    veh = res.vehicles.set_index("vehicle_id")
    start = veh["energy_start_kwh"] / veh["capacity_kwh"]
    gbt = veh["vehicle_model"] == "vw_id4_crozz_pro"
    assert np.allclose(start[gbt], s.recovery_soc)
    lo, hi = s.soc_range()
    assert start[~gbt].between(lo, hi).all() and start[~gbt].std() > 0.05
    # an explicit draw is left alone
    drawn = simulate(
        net,
        st,
        trips,
        settings=SimSettings(home_charging_share=0.0, initial_soc=(0.5, 0.9)),
        seed=4,
    )
    d = drawn.vehicles.set_index("vehicle_id")
    assert (d["energy_start_kwh"] / d["capacity_kwh"])[gbt].min() >= 0.5


def test_the_last_simulated_day_is_driven_like_any_other():
    """A chain that ends at home is a daily pattern cut by the horizon: on its last leg the
    driver keeps the look-ahead (reach a charger tomorrow) as on every other day, so a day's
    charging does not depend on whether the next day is simulated. Until 2026-12-07 the
    horizon's last leg looked ahead to nothing: the measured (last) day charged less."""
    net = line_network([10_000.0] * 4, speed_kph=60.0)  # home 0, station 2, work 3
    st = pd.DataFrame({"station_id": ["s"], "node": [2], "plugs": [1], "power_kw": [50.0]})

    def chain(days: int) -> pd.DataFrame:
        rows = []
        for d in range(days):
            rows += [(0, 3, d * DAY + 8 * 3600.0), (3, 0, d * DAY + 17 * 3600.0)]
        return pd.DataFrame(
            {
                "vehicle_id": 0,
                "vehicle_model": "mitsubishi_imiev_2013",
                "origin": [o for o, _, _ in rows],
                "destination": [d for _, d, _ in rows],
                "depart_s": [t for _, _, t in rows],
                "chain_seq": range(len(rows)),
                "initial_soc": 0.99,
            }
        )

    s = SimSettings(ambient_temp_c=20.0, home_charging_share=0.0)
    one = simulate(net, st, chain(1), settings=s, seed=0).sessions
    two = simulate(net, st, chain(2), settings=s, seed=0).sessions
    day0 = two[(two["station"] >= 0) & (two["arrive_s"] < DAY)]
    first = one[one["station"] >= 0]
    # the scenario needs the look-ahead: the arrival home keeps the comfort buffer but not
    # the energy to reach the station the next morning
    assert len(first) == 1
    assert first[["arrive_s", "soc_start", "soc_end"]].to_numpy().tolist() == (
        day0[["arrive_s", "soc_start", "soc_end"]].to_numpy().tolist()
    )


def _first_leg_stranding(initial_soc: float, reach_sites=None, policy=None) -> str:
    """An i-MiEV on a 200 km line leg with no station; the study's sites at ``reach_sites``."""
    net = line_network([10_000.0] * 20, speed_kph=60.0)
    trips = pd.DataFrame(
        {
            "vehicle_id": [0],
            "vehicle_model": ["mitsubishi_imiev_2013"],
            "origin": [0],
            "destination": [20],
            "depart_s": [3600.0],
            "chain_seq": [0],
            "initial_soc": [initial_soc],
        }
    )
    s = SimSettings(ambient_temp_c=20.0, **({"policy": policy} if policy else {}))
    res = simulate(net, None, trips, settings=s, seed=0, reach_sites=reach_sites)
    assert res.trips["status"].tolist() == ["stranded"]
    return str(res.trips["strand_cause"].iloc[0])


def test_started_below_reach_is_the_cars_state_not_a_missing_charger():
    """ "Started below reach" (not counted against the network by a study's stranded target)
    only for a car that left below its own charge trigger with no site of the study within
    reach. A car that left charged, or with a site it could reach, strands for want of a
    charger: until 2026-12-07 both were "below reach", and a plan with no charger at all
    met a stranded target of 0."""
    # left charged: the network's gap, whether or not any site exists
    assert _first_leg_stranding(0.9) == "no_charger_in_range"
    assert _first_leg_stranding(0.9, reach_sites=[15]) == "no_charger_in_range"
    # left nearly empty (below the 20 % trigger), no site within reach: the car's state
    assert _first_leg_stranding(0.15) == "started_below_reach"
    assert _first_leg_stranding(0.15, reach_sites=[15, 19]) == "started_below_reach"
    # ... but a site within its reach (10 km, about 1.5 kWh) could have served it
    assert _first_leg_stranding(0.15, reach_sites=[1, 19]) == "no_charger_in_range"
    # a driver with no threshold (CannotReach): her trigger is her reserve (5 %)
    cannot = ChargingPolicy(when=CannotReach())
    assert _first_leg_stranding(0.03, policy=cannot) == "started_below_reach"
    assert _first_leg_stranding(0.15, policy=cannot) == "no_charger_in_range"


def test_reach_sites_must_be_node_indices():
    from sim import SimSettingsError

    with pytest.raises(SimSettingsError, match=r"reach_sites holds \[99\]"):
        _first_leg_stranding(0.15, reach_sites=[1, 99])
