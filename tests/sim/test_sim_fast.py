"""The exact fast path (issue 15): ``engine="fast"`` gives the same tables and KPIs, value
for value, as the all-SimPy reference ``engine="full"``."""

from __future__ import annotations

import dataclasses
import heapq
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim import ChargingPolicy, SimSettings, TargetSoc, simulate
from sim.catalogue import builtin_models
from sim.policies import SocThreshold
from sim.synthetic import grid_network, line_network
from tests.sim.test_sim_properties import scenarios
from tests.sim.test_sim_queue import FLAT

_CLASS_JAM = {
    "motorway": [1.0] * 7 + [1.8] * 3 + [1.2] * 14,
    "local": [1.0] * 7 + [1.3] * 3 + [1.1] * 14,
}


def assert_same_results(a, b) -> None:
    """Every table equal (exact floats, same row order) and every KPI equal (NaN == NaN)."""
    for name in ("trips", "sessions", "station_timeseries", "stations", "vehicles"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    ka, kb = a.kpis(), b.kpis()
    assert ka.keys() == kb.keys()
    for key, x in ka.items():
        y = kb[key]
        assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), key


def _both(net, stations, trips, cfg: SimSettings, seed: int, vehicles=None):
    kw = {} if vehicles is None else {"vehicles": vehicles}
    fast = simulate(
        net, stations, trips, settings=dataclasses.replace(cfg, engine="fast"), seed=seed, **kw
    )
    full = simulate(
        net, stations, trips, settings=dataclasses.replace(cfg, engine="full"), seed=seed, **kw
    )
    return fast, full


@st.composite
def fast_scenarios(draw):
    net, stations, trips, cfg, seed = draw(scenarios())
    trips = trips.copy()
    if draw(st.booleans()):  # whole minutes: many vehicles leave at the same instant
        trips["depart_s"] = (trips["depart_s"] // 60.0) * 60.0
    kw: dict = {}
    if draw(st.booleans()):
        kw["time_factors"] = draw(st.sampled_from([_CLASS_JAM, tuple([1.3] * 24)]))
    if draw(st.booleans()):
        kw["horizon_s"] = draw(st.sampled_from([2 * 3600.0, 6 * 3600.0, 9 * 3600.0]))
    return net, stations, trips, dataclasses.replace(cfg, **kw), seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fast_scenarios())
def test_fast_path_equals_full_engine(scenario):
    net, stations, trips, cfg, seed = scenario
    fast, full = _both(net, stations, trips, cfg, seed)
    event(f"late starts: {min(fast.timings['vehicles_started_late'], 3)}")
    event(f"tails settled: {min(fast.timings['vehicles_tail_settled'], 3)}")
    assert_same_results(fast, full)
    t = fast.timings
    assert t["vehicles_settled"] + t["vehicles_as_events"] == len(fast.vehicles)
    assert fast.events <= full.events


def test_most_vehicles_are_settled_and_queues_still_couple_the_others():
    """A city-like day: most vehicles never need a public charger (settled without events),
    a low-charge minority queues at one single-plug station; both paths agree exactly."""
    net = grid_network(8, 8, spacing_m=800.0)
    rng = np.random.default_rng(5)
    n_veh = 120
    rows = []
    for v in range(n_veh):
        nodes = rng.integers(0, 64, 4)
        nodes[-1] = nodes[0]
        t0 = float(rng.integers(6 * 60, 10 * 60)) * 60.0
        for k in range(3):
            rows.append((v, "byd_atto3", nodes[k], nodes[k + 1], t0 + k * 3 * 3600.0, k))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    trips["initial_soc"] = np.where(np.arange(len(trips)) // 3 % 10 == 0, 0.12, 0.85)
    stations = pd.DataFrame({"station_id": ["hub"], "node": [27], "plugs": [1], "power_kw": [50.0]})
    cfg = SimSettings(home_charging_share=0.5, time_factors=_CLASS_JAM)
    fast, full = _both(net, stations, trips, cfg, 3)
    assert_same_results(fast, full)
    settled = fast.timings["vehicles_settled"]
    assert 0.8 * n_veh <= settled < n_veh
    assert (fast.sessions["wait_s"] > 0).any()  # the queue coupled the event vehicles
    assert fast.events < 0.3 * full.events


class _FiveArgWhen:
    """A custom *when* policy without look-ahead (five arguments): the fast path calls it
    per vehicle instead of evaluating it as arrays."""

    def needs_charge(self, energy_kwh, capacity_kwh, leg_kwh, trip_start, has_home):
        return energy_kwh - leg_kwh < 0.3 * capacity_kwh


def test_custom_when_policy_takes_the_scalar_route_and_agrees():

    net, stations, trips, cfg, seed = _small_city()
    cfg = dataclasses.replace(cfg, policy=ChargingPolicy(when=_FiveArgWhen()))
    fast, full = _both(net, stations, trips, cfg, seed)
    assert_same_results(fast, full)
    assert 0 < fast.timings["vehicles_settled"] < len(fast.vehicles)


def _small_city():
    net = grid_network(6, 6, spacing_m=900.0)
    rng = np.random.default_rng(9)
    rows = []
    for v in range(40):
        nodes = rng.integers(0, 36, 3)
        nodes[-1] = nodes[0]
        for k in range(2):
            rows.append((v, "byd_atto3", nodes[k], nodes[k + 1], 8 * 3600.0 + k * 4 * 3600.0, k))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    stations = pd.DataFrame({"station_id": ["a"], "node": [14], "plugs": [1], "power_kw": [50.0]})
    return net, stations, trips, SimSettings(initial_soc=(0.25, 0.9), home_charging_share=0.5), 4


# ---------------------------------------------------------------- late starts (issue 15)
def _tie_case():
    """Two cars leave node 1 at exactly 08:00 for the same far destination, both needing a
    charge, towards the one single-plug station. Car 0 first drove 0 -> 1 at 07:00 (its
    08:00 departure is a late start: its first leg is settled in numpy); car
    1 leaves at 08:00 as its first leg. They reach the plug at the same instant, so who
    charges first is decided by SimPy's order of simultaneous events: in the full engine,
    car 1's 08:00 event (scheduled at time 0) comes before car 0's (scheduled at its 07:xx
    arrival), although car 0 is the lower vehicle."""
    net = grid_network(6, 6, spacing_m=1500.0)
    rows = [
        (0, "byd_atto3", 0, 1, 7 * 3600.0, 0),
        (0, "byd_atto3", 1, 35, 8 * 3600.0, 1),
        (1, "byd_atto3", 1, 35, 8 * 3600.0, 0),
    ]
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    trips["initial_soc"] = [0.2005, 0.2005, 0.199]
    stations = pd.DataFrame({"station_id": ["s"], "node": [7], "plugs": [1], "power_kw": [50.0]})

    policy = ChargingPolicy(when=SocThreshold(threshold_soc=0.2, reserve_soc=0.05, buffer_soc=0.0))
    cfg = SimSettings(home_charging_share=0.0, policy=policy, initial_soc=(0.5, 0.5))
    return net, stations, trips, cfg


def test_late_start_keeps_the_full_engines_order_of_simultaneous_events(monkeypatch):
    net, stations, trips, cfg = _tie_case()
    fast, full = _both(net, stations, trips, cfg, 1)
    assert fast.timings["vehicles_started_late"] == 1
    s = full.sessions
    public = s[s["kind"] == "public"].sort_values("queue_seq")
    # the tie is real: both arrive together and the first in line is car 1
    assert public["arrive_s"].nunique() == 1 and len(public) == 2
    assert public["vehicle_id"].tolist()[0] == full.vehicles["vehicle_id"].iloc[1]
    assert_same_results(fast, full)

    # negative control: placing the late start's event right after its process start (no
    # ancestry) puts car 0 first among the 08:00 events, and the results differ
    from sim._events import OrderedEnvironment

    def naive(self, event, times, parent=None):
        self.scheduled += 1
        self._sub += 1
        import heapq

        heapq.heappush(self._queue, (times[-1], 1, self._cur, self._sub, event))

    monkeypatch.setattr(OrderedEnvironment, "schedule_chain", naive)
    wrong = simulate(net, stations, trips, settings=dataclasses.replace(cfg, engine="fast"), seed=1)
    assert not wrong.sessions.equals(full.sessions)


@st.composite
def contention_scenarios(draw):
    """Many cars on a small grid, whole-minute departures, two short errands before a long
    leg that needs a charge, one or two single-plug stations at common origins: late starts
    tie with each other, with first-leg starts and with queue events."""
    n_side = 5
    model = draw(st.sampled_from(["byd_atto3", "flat60"]))
    net = grid_network(n_side, n_side, spacing_m=draw(st.sampled_from([700.0, 1500.0])))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    hubs = rng.integers(0, n_side * n_side, draw(st.integers(1, 2)))
    rows, soc = [], []
    for v in range(draw(st.integers(4, 14))):
        o = int(rng.choice(hubs))
        legs = int(rng.integers(1, 4))
        t = float(rng.integers(6 * 60, 9 * 60)) * 60.0
        nodes = [o, *rng.integers(0, n_side * n_side, legs - 1).tolist(), o]
        for k in range(legs):
            rows.append((v, model, nodes[k], nodes[k + 1], t, k))
            t += float(rng.integers(1, 4)) * 1800.0
        rows.append((v, model, o, n_side * n_side - 1 - o, t, legs))
        soc.extend([float(rng.choice([0.19, 0.205, 0.22, 0.6]))] * (legs + 1))
    trips = pd.DataFrame(
        rows,
        columns=["vehicle_id", "vehicle_model", "origin", "destination", "depart_s", "chain_seq"],
    )
    trips["initial_soc"] = soc
    stations = pd.DataFrame(
        {
            "station_id": [f"h{i}" for i in range(len(hubs))],
            "node": hubs,
            "plugs": [draw(st.sampled_from([1, 1, 2]))] * len(hubs),
            "power_kw": [draw(st.sampled_from([22.0, 50.0]))] * len(hubs),
        }
    )
    cfg = SimSettings(
        home_charging_share=draw(st.sampled_from([0.0, 0.5])),
        max_wait_s=draw(st.sampled_from([math.inf, 600.0, 1800.0])),
        time_factors=draw(st.sampled_from([None, _CLASS_JAM])),
    )
    return net, stations.drop_duplicates("node"), trips, cfg, draw(st.integers(0, 100))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contention_scenarios())
def test_fast_path_equals_full_engine_under_queue_contention(scenario):
    net, stations, trips, cfg, seed = scenario
    fast, full = _both(net, stations, trips, cfg, seed, vehicles=_VEHICLES)
    public = full.sessions[full.sessions["kind"] == "public"]
    event(f"balks: {min(int(public['status'].eq('balked').sum()), 3)}")
    event(f"patience ends on a release: {_patience_ties(full, cfg)}")
    event(f"late starts: {min(fast.timings['vehicles_started_late'], 3)}")
    event(f"tails settled: {min(fast.timings['vehicles_tail_settled'], 3)}")
    assert_same_results(fast, full)


# ------------------------------------------------------- patience ties (issue 15, sim._stops)
#: FLAT (test_sim_queue): a flat 60 kW curve on a 50 kWh pack, 0.2 -> 0.8 takes exactly
#: 1800 s, so patience ends and plug releases coincide (the hardest case for the fast
#: path's patience entry)
_VEHICLES = {**builtin_models(), "flat60": FLAT}


def _patience_ties(res, cfg) -> bool:
    """Whether some visit's patience ended exactly when a plug of its station was freed."""
    s = res.sessions[res.sessions["kind"] == "public"]
    ends = set(zip(s["station"], s.loc[s["status"] == "charged", "end_s"], strict=False))
    return any(
        (st_, a + cfg.max_wait_s) in ends
        for st_, a in zip(s["station"], s["arrive_s"], strict=True)
    )


def _tie_at_patience_end():
    """Car 0 charges from 0 s (about 1800 s) on the one plug; car 1 arrives at 600 s with
    a patience chosen so that it ends at the very instant the plug is released (found from
    a run without patience, to the last bit)."""
    net = line_network([1000.0, 1000.0], speed_kph=36.0)
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 1],
            "vehicle_model": "flat60",
            "origin": 0,
            "destination": 1,
            "depart_s": [0.0, 600.0],
            "chain_seq": 0,
            "initial_soc": 0.2,
        }
    )
    stations = pd.DataFrame({"station_id": ["S"], "node": [0], "plugs": [1], "power_kw": [60.0]})
    policy = ChargingPolicy(
        when=SocThreshold(threshold_soc=0.5, reserve_soc=0.0), how_much=TargetSoc(0.8)
    )
    cfg = SimSettings(policy=policy, max_wait_s=math.inf, engine="full")
    ref = simulate(net, stations, trips, vehicles=_VEHICLES, settings=cfg, seed=0).sessions
    release = float(ref["end_s"].min())
    arrive = float(ref["arrive_s"].max())
    wait = release - arrive
    while arrive + wait != release:  # the float sum must land exactly on the release
        wait = float(np.nextafter(wait, math.inf if arrive + wait < release else -math.inf))
    return net, stations, trips, dataclasses.replace(cfg, max_wait_s=wait)


def test_patience_ending_on_a_release_keeps_the_full_engines_outcome(monkeypatch):
    net, stations, trips, cfg = _tie_at_patience_end()
    fast, full = _both(net, stations, trips, cfg, 0, vehicles=_VEHICLES)
    s = full.sessions.sort_values("queue_seq")
    # the tie is real: car 1 arrived at 600 s and its patience ended at 1800 s, when car 0
    # released the plug; SimPy processes the release before the patience Condition, so
    # car 1 charges
    assert s["arrive_s"].tolist() == [0.0, 600.0]
    assert s["arrive_s"].iloc[1] + cfg.max_wait_s == s["end_s"].iloc[0]
    assert s["status"].tolist() == ["charged", "charged"]
    assert s["start_s"].iloc[1] == s["end_s"].iloc[0]
    assert_same_results(fast, full)
    assert fast.events < full.events

    # negative control: waking the driver at the timeout's own place (before the release)
    # instead of the Condition's makes car 1 balk
    from sim._events import OrderedEnvironment

    def at_timeout(self, event, delay):
        self.scheduled += 1
        sub = self._sub
        self._sub = sub + 1
        heapq.heappush(self._queue, (self._now + delay, 1, self._cur, sub, event))
        return (self._now + delay, 1, self._cur, sub)

    monkeypatch.setattr(OrderedEnvironment, "schedule_patience", at_timeout)
    wrong = simulate(
        net,
        stations,
        trips,
        vehicles=_VEHICLES,
        settings=dataclasses.replace(cfg, engine="fast"),
        seed=0,
    )
    assert "balked" in wrong.sessions["status"].tolist()


def test_trips_already_in_chain_order_skip_the_sort_and_give_the_same_table():
    """validate_trips leaves rows already in (vehicle_id, chain_seq, depart_s) order as they
    are (no sort) and sorts the others: both give the same table."""
    from sim.inputs import _chain_sorted, validate_trips

    net, _, trips, _ = _tie_case()
    trips = pd.concat([trips, trips.assign(vehicle_id=trips["vehicle_id"] + 10)])
    trips["vehicle_id"] = "v" + trips["vehicle_id"].astype(str)
    ordered = trips.sort_values(["vehicle_id", "chain_seq"]).reset_index(drop=True)
    shuffled = ordered.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert _chain_sorted(ordered) and not _chain_sorted(shuffled)
    assert not _chain_sorted(ordered.assign(vehicle_id=[None, *ordered["vehicle_id"][1:]]))
    vehicles = builtin_models()
    a, b = validate_trips(net, ordered, vehicles), validate_trips(net, shuffled, vehicles)
    pd.testing.assert_frame_equal(a.drop(columns="trip_id"), b.drop(columns="trip_id"))


class _CountingWhere:
    """A custom *where* policy (MinDetour's choice ignoring queues, counted): the fast path
    must call it exactly as often, in the same decisions, as the reference."""

    def __init__(self) -> None:
        self.calls = 0

    def choose(self, c):
        from sim.policies import MinDetour

        self.calls += 1
        return MinDetour(queue_aware=False).choose(c)


def test_custom_where_policy_is_asked_as_often_as_by_the_reference():
    net, stations, trips, cfg = _tie_at_patience_end()
    # a second station past the destination: after balking at the first, a driver is
    # offered it (the reference asks the policy twice there)
    second = pd.DataFrame({"station_id": ["T"], "node": [2], "plugs": [1], "power_kw": [60.0]})
    stations = pd.concat([stations, second], ignore_index=True)
    counts = {}
    runs = {}
    for engine in ("fast", "full"):
        where = _CountingWhere()
        policy = dataclasses.replace(cfg.policy, where=where)
        runs[engine] = simulate(
            net,
            stations,
            trips,
            vehicles=_VEHICLES,
            settings=dataclasses.replace(cfg, policy=policy, max_wait_s=60.0, engine=engine),
            seed=0,
        )
        counts[engine] = where.calls
    assert_same_results(runs["fast"], runs["full"])
    assert (runs["full"].sessions["status"] == "balked").any()  # the post-balk question ran
    assert counts["fast"] == counts["full"] > 2
