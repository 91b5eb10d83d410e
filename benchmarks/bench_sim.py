"""Simulation benchmark (the simulation issue): throughput, an Almaty city-day with 100,000
trips and a corridor-week on the national network.

Each scenario runs in a fresh subprocess (peak memory = that process' ``ru_maxrss``):

* ``city``: Almaty 2012 OSM extract (``networks.load.load_network``, warm cache), the 8 real
  districts with official populations, OSM POIs as attractors, 43,000 EVs truncated to
  100,000 trips, 60 public DC stations at fuel POIs + the KazZhol hotel, -10 C, half the
  fleet with home chargers.
* ``corridor``: national roads KAZ01-KAZ23 with GeoNames places
  (``networks.corridor.build_national_network``), gravity demand (exponent 1.5), 1,500 trips
  a day for 7 days, 15 % cargo trucks, stations at the three 2013 hotel chargers and at every
  attached place of >= 10,000 inhabitants (150 kW; 6 plugs from 100,000 inhabitants, else 3),
  plus 2-plug highway stations placed greedily until every road node is within 60 km of a
  station, 0 C.

Throughput (in the ``city`` child, same process, interleaved, ``--reps`` times): SimPy events
per second of the full model's event loop, against two bare SimPy loops of plain
``env.timeout``:

* *matched* -- one process per vehicle replaying the same departure times and leg durations
  with no model logic (same process count, same event-queue size and timing pattern): the
  overhead of the model itself. **Target: model >= 35 % of this rate.**
* *single* -- one process yielding as many timeouts as the model scheduled events (SimPy's
  best case, heap of size 1), for reference.

Rates are given per wall second and per CPU second of this process (the machine is shared;
CPU time is less sensitive to other jobs). Writes ``benchmarks/results/sim.md`` and
``sim.json`` atomically. Run from the repository root::

    python benchmarks/bench_sim.py            # full run (~3-5 min)
    python benchmarks/bench_sim.py --quick    # small smoke run, writes nothing unless --out
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, CpuMeter, machine_info, write_atomic

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TARGET_RATIO = 0.35


def data_dir() -> Path:
    env = os.environ.get("EVPLAN_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def clock(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


# --------------------------------------------------------------------------- bare loops
def _event_count(env) -> int:
    """Events scheduled so far, read from SimPy's private id counter (``_eid``).

    Benchmark-only: the bare loops must not pay for counting (the model counts through the
    public ``Environment.schedule``, :class:`sim.model.Engine`). Reading the counter consumes
    one id, which is harmless (ids only break ties).
    """
    return next(env._eid)


def bare_single(n_events: int) -> tuple[int, float, float]:
    import simpy

    env = simpy.Environment()

    def loop(env):
        for _ in range(n_events):
            yield env.timeout(1.0)

    env.process(loop(env))
    e0 = _event_count(env)
    w, c, _ = clock(env.run)
    return _event_count(env) - e0, w, c


def bare_matched(eng) -> tuple[int, float, float]:
    """One process per vehicle: wait for each planned departure, then the leg's duration."""
    import simpy

    env = simpy.Environment()
    depart, t_leg = eng.depart, eng.t_leg

    def vehicle(env, k0, k1):
        for k in range(k0, k1):
            d = depart[k]
            if env.now < d:
                yield env.timeout(d - env.now)
            t = t_leg[k]
            if t < float("inf"):
                yield env.timeout(t)

    for v in range(eng.n_veh):
        env.process(vehicle(env, eng.v_k0[v], eng.v_k1[v]))
    e0 = _event_count(env)
    w, c, _ = clock(env.run)
    return _event_count(env) - e0, w, c


# --------------------------------------------------------------------------- scenarios
def city_inputs(quick: bool, seed: int):
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from networks.kz import known_sites
    from networks.load import load_network
    from sim import demand

    d = data_dir()
    times = {}
    w, _, ln = clock(lambda: load_network(d / "osm" / "almaty-2012.osm.pbf"))
    times["network_load_s"] = w
    net = ln.network
    zones = demand.join_population(
        gpd.read_file(d / "kz" / "almaty-districts.geojson"),
        pd.read_csv(d / "kz" / "almaty-district-population.csv"),
    )
    n_trips = 5_000 if quick else 100_000
    w, _, trips = clock(
        lambda: demand.city_trips(
            net,
            zones,
            zone_col="name_ru",
            pois=ln.pois,
            fleet_size=int(n_trips / 2.3) + 200,
            max_trips=n_trips,
            rng=np.random.default_rng(seed),
        )
    )
    times["demand_s"] = w
    fuel = ln.pois[ln.pois["tags"].astype(str).str.contains("fuel")].sample(60, random_state=seed)
    kz = known_sites().set_index("key").loc["kazzhol_almaty"]
    lon = np.r_[fuel["lon"].to_numpy(float), kz["lon"]]
    lat = np.r_[fuel["lat"].to_numpy(float), kz["lat"]]
    stations = pd.DataFrame(
        {
            "station_id": [f"fuel{i}" for i in range(60)] + ["kazzhol_almaty"],
            "node": net.snap(lon, lat).node,
            "plugs": [4] * 60 + [1],
            "power_kw": 50.0,
            "existing": [False] * 60 + [True],
            "name": list(fuel["name"].fillna("")) + ["Hotel Kazzhol"],
            "lon": lon,
            "lat": lat,
        }
    )
    return (
        net,
        stations,
        trips,
        times,
        {
            "network": f"{net.name}: {net.n_nodes} nodes, {net.n_edges} edges",
            "trips": len(trips),
            "vehicles": int(trips["vehicle_id"].nunique()),
            "stations": len(stations),
        },
    )


def corridor_inputs(quick: bool, seed: int):
    import numpy as np
    import pandas as pd

    from networks.corridor import build_national_network
    from networks.kz import known_sites
    from sim import demand, prepare_stations

    d = data_dir()
    times = {}
    w, _, (G, net) = clock(
        lambda: build_national_network(
            d / "kz" / "kz-republic-roads.geojson",
            d / "kz" / "kz-places-geonames.csv",
            official_population_csv=d / "kz" / "kz-city-population.csv",
        )
    )
    times["network_build_s"] = w
    nt = net.node_table
    places = pd.DataFrame(
        {
            "node": nt.index,
            "name": nt["name"],
            "population": pd.to_numeric(nt["population"], errors="coerce"),
        }
    )
    places = places.dropna(subset=["population"]).reset_index(drop=True)
    days = 2 if quick else 7
    w, _, trips = clock(
        lambda: demand.corridor_trips(
            net,
            places,
            trips_per_day=300 if quick else 1500,
            truck_share=0.15,
            days=days,
            gravity_exponent=1.5,
            min_distance_km=50,
            rng=np.random.default_rng(seed),
        )
    )
    times["demand_s"] = w
    hotels = known_sites()
    hotels = hotels[hotels["kind"] == "charger"]
    existing = prepare_stations(
        net,
        pd.DataFrame(
            {
                "station_id": hotels["key"],
                "lon": hotels["lon"],
                "lat": hotels["lat"],
                "plugs": 1,
                "power_kw": 50.0,
                "existing": True,
                "name": hotels["name"],
            }
        ),
        max_snap_m=30_000,
    )
    big = places[places["population"] >= 10_000]
    new = pd.DataFrame(
        {
            "station_id": [f"place{n}" for n in big["node"]],
            "node": big["node"],
            "plugs": np.where(big["population"] >= 100_000, 6, 3),
            "power_kw": 150.0,
            "existing": False,
            "name": big["name"],
        }
    )
    # highway stations so that every road node is within 60 km (both ways) of a station:
    # greedy farthest-node cover on the road distance matrix (a plausible planned network)
    dist = net.distance_matrix()
    dist = np.maximum(dist, dist.T) / 1000.0
    chosen = list(np.unique(np.r_[existing["node"], new["node"]]))
    near = dist[:, chosen].min(axis=1)
    extra = []
    while np.isfinite(near).any() and near[np.isfinite(near)].max() > 60.0:
        far = int(np.argmax(np.where(np.isfinite(near), near, -1.0)))
        extra.append(far)
        near = np.minimum(near, dist[:, far])
    hwy = pd.DataFrame(
        {
            "station_id": [f"road{n}" for n in extra],
            "node": extra,
            "plugs": 2,
            "power_kw": 150.0,
            "existing": False,
            "name": "",
        }
    )
    stations = pd.concat([existing, new, hwy], ignore_index=True)
    return (
        net,
        stations,
        trips,
        times,
        {
            "network": f"{net.name}: {net.n_nodes} nodes, {net.n_edges} edges",
            "trips": len(trips),
            "vehicles": len(trips),
            "days": days,
            "cargo_trips": int((trips["flow"] == "cargo").sum()),
            "stations": len(stations),
            "places": len(places),
        },
    )


def child(kind: str, quick: bool, seed: int, reps: int) -> dict:
    import numpy as np

    from sim import SimSettings
    from sim.catalogue import builtin_models
    from sim.inputs import validate_stations, validate_trips
    from sim.model import Engine
    from sim.results import build_result

    base_rss = _maxrss_mb()
    meter = CpuMeter()
    if kind == "city":
        net, stations, trips, times, info = city_inputs(quick, seed)
        settings = SimSettings(
            ambient_temp_c=-10.0, home_charging_share=0.5, initial_soc=(0.15, 0.8)
        )
    else:
        net, stations, trips, times, info = corridor_inputs(quick, seed)
        settings = SimSettings(ambient_temp_c=0.0, initial_soc=(0.6, 0.95), max_wait_s=3600.0)
    vehicles = builtin_models()
    w0 = time.perf_counter()
    st = validate_stations(net, stations, ac_dc_threshold_kw=settings.ac_dc_threshold_kw)
    tr = validate_trips(net, trips, vehicles)
    eng = Engine(net, st, tr, vehicles, settings, np.random.default_rng(seed))
    times["validate_prepare_s"] = time.perf_counter() - w0
    times["route_tables_s"] = eng.routes.seconds
    c0 = time.process_time()
    eng.run()
    times["event_loop_s"] = eng.run_seconds
    times["event_loop_cpu_s"] = time.process_time() - c0
    w, _, res = clock(lambda: build_result(eng))
    times["tables_s"] = w
    w, _, kpis = clock(res.kpis)
    times["kpis_s"] = w
    times["simulate_total_s"] = (
        times["validate_prepare_s"] + times["event_loop_s"] + times["tables_s"] + times["kpis_s"]
    )
    out = {
        "kind": kind,
        "info": info,
        "times": times,
        "events": eng.events,
        "events_per_s": eng.events / eng.run_seconds,
        "trips_per_s": len(trips) / eng.run_seconds,
        "kpis": kpis,
        "noise": meter.stop(),
        "peak_rss_mb": _maxrss_mb(),
        "rss_after_import_mb": base_rss,
        "sessions": len(res.sessions),
        "status": res.trips["status"].value_counts().to_dict(),
    }
    if kind == "city":
        out["throughput"] = throughput(eng, net, st, tr, vehicles, settings, seed, reps)
    return out


def throughput(eng0, net, st, tr, vehicles, settings, seed, reps) -> dict:
    import numpy as np

    from sim.model import Engine

    samples = {"model": [], "matched": [], "single": []}
    meter = CpuMeter()
    for _ in range(reps):
        eng = Engine(
            net, st, tr, vehicles, settings, np.random.default_rng(seed), routes=eng0.routes
        )
        c0 = time.process_time()
        eng.run()
        samples["model"].append((eng.events, eng.run_seconds, time.process_time() - c0))
        samples["matched"].append(bare_matched(eng))
        samples["single"].append(bare_single(eng.events))
    rates = {}
    for k, rows in samples.items():
        rates[k] = {
            "events": rows[0][0],
            "wall_rate_median": statistics.median(n / w for n, w, _ in rows),
            "wall_rate_best": max(n / w for n, w, _ in rows),
            "cpu_rate_median": statistics.median(n / c for n, _, c in rows),
            "samples_wall_s": [round(w, 3) for _, w, _ in rows],
            "samples_cpu_s": [round(c, 3) for _, _, c in rows],
        }
    ratio = {}
    for ref in ("matched", "single"):
        ratio[ref] = {
            m: rates["model"][m] / rates[ref][m]
            for m in ("wall_rate_median", "wall_rate_best", "cpu_rate_median")
        }
    return {
        "rates": rates,
        "ratio": ratio,
        "noise": meter.stop(),
        "reps": reps,
        "target_ratio_vs_matched": TARGET_RATIO,
        "meets_target": ratio["matched"]["cpu_rate_median"] >= TARGET_RATIO,
    }


def run_child(kind: str, quick: bool, seed: int, reps: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--seed",
        str(seed),
        "--reps",
        str(reps),
        "--child-out",
        out,
    ]
    if quick:
        cmd.append("--quick")
    subprocess.run(cmd, check=True, cwd=REPO)
    try:
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


# --------------------------------------------------------------------------- report
def render(res: dict) -> str:
    c, k = res["city"], res["corridor"]
    tp = c["throughput"]
    r = tp["rates"]
    lines = [
        "# Simulation benchmark",
        "",
        f"Run {res['when']} on {res['machine']['cpu_count']} CPUs ({res['machine']['python']}, simpy {res['machine']['simpy']}); "
        f"seed {res['seed']}; shared machine, other processes used "
        f"{c['noise']['other_procs_cpu_share']:.0%} (city) / {k['noise']['other_procs_cpu_share']:.0%} (corridor) of the CPU.",
        "",
        "## Throughput (city-day event loop, same process, interleaved)",
        "",
        "| loop | events | events/s (wall, median) | events/s (CPU, median) | model / loop (CPU) |",
        "|---|---:|---:|---:|---:|",
        f"| full model | {r['model']['events']:,} | {r['model']['wall_rate_median']:,.0f} | {r['model']['cpu_rate_median']:,.0f} | |",
        f"| bare matched loop (one process per vehicle, same timetable) | {r['matched']['events']:,} | "
        f"{r['matched']['wall_rate_median']:,.0f} | {r['matched']['cpu_rate_median']:,.0f} | "
        f"**{tp['ratio']['matched']['cpu_rate_median']:.0%}** (target >= {TARGET_RATIO:.0%}) |",
        f"| bare single-process loop (SimPy best case) | {r['single']['events']:,} | "
        f"{r['single']['wall_rate_median']:,.0f} | {r['single']['cpu_rate_median']:,.0f} | "
        f"{tp['ratio']['single']['cpu_rate_median']:.0%} |",
        "",
        f"{tp['reps']} repetitions each. Wall-clock ratios (median): {tp['ratio']['matched']['wall_rate_median']:.0%} "
        f"of the matched loop, {tp['ratio']['single']['wall_rate_median']:.0%} of the single-process loop.",
        "",
        "## Scenarios",
        "",
        "| scenario | network | trips | events | event loop | events/s | simulate total | peak memory |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in (("Almaty city-day", c), ("national corridor-week", k)):
        lines.append(
            f"| {name} | {s['info']['network']} | {s['info']['trips']:,} | {s['events']:,} | "
            f"{s['times']['event_loop_s']:.1f} s | {s['events_per_s']:,.0f} | "
            f"{s['times']['simulate_total_s']:.1f} s | {s['peak_rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        "`simulate total` = validation + route tables + event loop + result tables + KPIs "
        "(network loading and demand generation excluded, listed below).",
        "",
    ]
    for name, s in (("Almaty city-day", c), ("national corridor-week", k)):
        t = s["times"]
        lines.append(
            f"- **{name}**: " + ", ".join(f"{key} {val:.2f} s" for key, val in t.items()) + "."
        )
        kp = s["kpis"]
        lines.append(
            f"  KPIs: trips completed {kp['share_trips_completed']:.1%}, stranded vehicles "
            f"{kp['stranded_vehicles']:.0f}, public sessions {kp['sessions_public']:.0f}, wait mean / p95 "
            f"{kp['wait_mean_min']:.1f} / {kp['wait_p95_min']:.1f} min, plug utilisation "
            f"{kp['plug_utilisation']:.1%}, energy public / home {kp['energy_public_kwh']:,.0f} / "
            f"{kp['energy_home_kwh']:,.0f} kWh, peak station {kp['peak_kw_station_max']:.0f} kW, "
            f"CO2 avoided {kp['co2_avoided_kg'] / 1000:,.1f} t."
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small smoke run; writes nothing unless --out"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="results folder (default benchmarks/results)"
    )
    ap.add_argument("--seed", type=int, default=2013)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", choices=["city", "corridor"], help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child(args.child, args.quick, args.seed, args.reps)
        args.child_out.write_text(json.dumps(res, default=float))
        return 0
    import simpy

    res = {
        "when": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": args.seed,
        "quick": args.quick,
        "machine": machine_info({"simpy": simpy.__version__}),
    }
    res["city"] = run_child("city", args.quick, args.seed, args.reps)
    res["corridor"] = run_child("corridor", args.quick, args.seed, args.reps)
    md = render(res)
    print(md)
    out = (
        args.out
        if args.out is not None
        else (None if args.quick else REPO / "benchmarks" / "results")
    )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "sim.md", md)
        write_atomic(out / "sim.json", json.dumps(res, indent=1, default=float))
    return 0 if res["city"]["throughput"]["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
