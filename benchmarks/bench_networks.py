"""Road-network benchmark on the Almaty extract (the road-networks issue).

Measures, in one run:

1. ``networks.load.load_network`` of ``osm/almaty-2012.osm.pbf`` cold (``cache_dir=None``) and
   from a warm evplan cache: wall time, CPU time and peak memory, each in a *fresh subprocess*
   (``ru_maxrss`` of that process, plus its rise over the post-import baseline) and, in a
   separate subprocess run, the ``tracemalloc`` peak of Python/numpy allocations.
2. A 1,000 x 1,000 travel-time matrix (origins and destinations drawn with a fixed seed from
   the node indices) with ``RoadNetwork.travel_time_matrix``, raw
   ``scipy.sparse.csgraph.dijkstra`` on the same CSR (one call), networkx
   ``single_source_dijkstra_path_length`` per origin on the osmnx graph, and osmnx
   ``shortest_path`` per pair on a sample extrapolated to 1,000,000 pairs; plus the
   ``cutoff=600`` s matrix against raw full csgraph. All methods are checked to agree.
3. ``RoadNetwork.route_matrices`` (time + length along the fastest route), for information.

Writes ``benchmarks/results/networks.md`` (tables ready to paste into a README) and
``networks.json`` (raw samples, machine info, noise indicators).

Run from the repository root::

    python benchmarks/bench_networks.py            # full run, writes benchmarks/results/
    python benchmarks/bench_networks.py --quick    # smoke run (200 x 200), writes nothing
                                                   # unless --out is given

The data folder is ``../shared/data`` beside the repository, or ``$EVPLAN_DATA_DIR``.
This is a plain script, not a pytest module (pytest only collects ``tests/``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, CpuMeter, fmt_s, git, machine_info, wait_idle, write_atomic

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

EXTRACT = "osm/almaty-2012.osm.pbf"
TARGET_VS_NX = 40.0  # RoadNetwork must be >= 40x faster than networkx per-source
TARGET_VS_RAW = 1.3  # ... and <= 1.3x raw csgraph
TARGET_CUTOFF = 1.0  # cutoff matrix must be faster than raw *full* csgraph


def data_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = os.environ.get("EVPLAN_DATA_DIR")
    root = Path(base) if base else REPO.parent / "shared" / "data"
    return root / EXTRACT


# --------------------------------------------------------------------------- load (child)
def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def load_child(path: str, cache_dir: str, trace: bool) -> None:
    """Runs in a fresh interpreter: import, then time one ``load_network`` call."""
    import logging
    import tracemalloc

    logging.disable(logging.WARNING)  # the clipped-ways warning is expected on this extract
    from networks.load import load_network

    base_hwm = _maxrss_mb()
    base_rss = _rss_now_mb()
    if trace:
        tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    loaded = load_network(path, cache_dir=cache_dir or None)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out = {
        "wall_s": wall,
        "cpu_s": cpu,
        "maxrss_mb": _maxrss_mb(),
        "baseline_maxrss_mb": base_hwm,
        "baseline_rss_mb": base_rss,
        "rss_after_mb": _rss_now_mb(),
        "from_cache": loaded.from_cache,
        "n_nodes": loaded.network.n_nodes,
        "n_edges": loaded.network.n_edges,
        "graph_edges": loaded.graph.number_of_edges(),
    }
    if trace:
        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print("RESULT " + json.dumps(out))


def run_load_child(path: Path, cache_dir: str, trace: bool) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--load-child",
        str(path),
        "--child-cache",
        cache_dir,
    ] + (["--child-trace"] if trace else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"load subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


# --------------------------------------------------------------------------- noise meter
# --------------------------------------------------------------------------- timing
def _pool_cpu_s() -> float:
    """CPU seconds used so far by RoadNetwork's worker processes (live children are not in
    RUSAGE_CHILDREN, so read /proc)."""
    try:
        import networks._dijkstra_pool as dp
    except ImportError:
        return 0.0
    pool = dp._pool
    if pool is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in list(getattr(pool, "_processes", {}) or {}):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def timed(fn):
    """Wall and CPU seconds of ``fn()``; CPU includes RoadNetwork's worker processes."""
    w0, c0, p0 = time.perf_counter(), time.process_time(), _pool_cpu_s()
    res = fn()
    return time.perf_counter() - w0, time.process_time() - c0 + (_pool_cpu_s() - p0), res


def summary(samples: list[tuple[float, float]]) -> dict:
    walls = [s[0] for s in samples]
    cpus = [s[1] for s in samples]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "cpu_median_s": statistics.median(cpus),
        "n": len(walls),
        "samples_s": [round(w, 4) for w in walls],
    }


def traced_peak_mb(fn) -> float:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------- main bench
def bench(args) -> dict:
    import logging

    logging.disable(logging.WARNING)
    import networkx as nx
    import numpy as np
    import osmnx as ox
    import scipy
    from scipy.sparse import csgraph

    from networks import road_network as rn
    from networks.load import load_network

    path = data_path(args.pbf)
    if not path.is_file():
        sys.exit(
            f"extract not found: {path}; put the shared data beside the repository "
            "(../shared/data) or set EVPLAN_DATA_DIR"
        )
    R = args.repeats
    out: dict = {
        "config": {
            "extract": EXTRACT,
            "n": args.n,
            "seed": args.seed,
            "repeats": R,
            "cutoff_s": args.cutoff,
            "quick": args.quick,
        }
    }
    noise: dict = {}
    idle = (
        (lambda label: noise.setdefault("wait_" + label, wait_idle(args.wait_idle)))
        if args.wait_idle > 0
        else (lambda label: None)
    )

    # ---- 1. load, each measurement in a fresh interpreter
    print(f"[load] {path} (fresh subprocess per measurement)", flush=True)
    idle("load")
    meter = CpuMeter()
    with tempfile.TemporaryDirectory(prefix="evplan-bench-cache-") as cache:
        cold = [run_load_child(path, "", False) for _ in range(args.load_repeats)]
        cold_tr = run_load_child(path, "", True)
        prime = run_load_child(path, cache, False)  # cold load that also writes the cache
        warm = [run_load_child(path, cache, False) for _ in range(args.load_repeats)]
        warm_tr = run_load_child(path, cache, True)
        assert not any(c["from_cache"] for c in cold) and not prime["from_cache"]
        assert all(w["from_cache"] for w in warm) and warm_tr["from_cache"]
        cache_bytes = sum(p.stat().st_size for p in Path(cache).glob("network-*.npz"))
        noise["load"] = meter.stop()

        def load_stats(runs, tr):
            return {
                "wall_median_s": statistics.median(r["wall_s"] for r in runs),
                "wall_samples_s": [round(r["wall_s"], 3) for r in runs],
                "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
                "maxrss_mb": statistics.median(r["maxrss_mb"] for r in runs),
                "maxrss_rise_mb": statistics.median(
                    r["maxrss_mb"] - r["baseline_maxrss_mb"] for r in runs
                ),
                "baseline_maxrss_mb": statistics.median(r["baseline_maxrss_mb"] for r in runs),
                "tracemalloc_peak_mb": tr["tracemalloc_peak_mb"],
                "tracemalloc_run_wall_s": tr["wall_s"],
            }

        out["load"] = {
            "cold": load_stats(cold, cold_tr),
            "warm": load_stats(warm, warm_tr),
            "cache_file_mb": cache_bytes / 2**20,
        }
        for k in ("cold", "warm"):
            s = out["load"][k]
            print(
                f"  {k}: {s['wall_median_s']:.3f} s (samples {s['wall_samples_s']}), "
                f"maxrss {s['maxrss_mb']:.0f} MB (+{s['maxrss_rise_mb']:.0f} over imports), "
                f"tracemalloc peak {s['tracemalloc_peak_mb']:.1f} MB",
                flush=True,
            )
        loaded = load_network(path, cache_dir=cache)  # the main process works from the cache

    net, G = loaded.network, loaded.graph
    out["network"] = {
        "n_nodes": net.n_nodes,
        "n_edges_csr": net.n_edges,
        "graph_edges": G.number_of_edges(),
        "threads": rn._n_threads(),
    }
    rng = np.random.default_rng(args.seed)
    n = min(args.n, net.n_nodes)
    org = np.sort(rng.choice(net.n_nodes, n, replace=False))
    dst = np.sort(rng.choice(net.n_nodes, n, replace=False))
    org_ids, dst_ids = net.node_ids[org], net.node_ids[dst]
    W = net.time
    cut = float(args.cutoff)

    # ---- 2. fast methods, interleaved (rotating order) so they share the machine's noise
    methods = {
        "roadnetwork": lambda: net.travel_time_matrix(org, dst),
        "raw_csgraph": lambda: csgraph.dijkstra(W, directed=True, indices=org)[:, dst],
        "roadnetwork_cutoff": lambda: net.travel_time_matrix(org, dst, cutoff=cut),
        "raw_csgraph_cutoff": lambda: csgraph.dijkstra(W, directed=True, indices=org, limit=cut)[
            :, dst
        ],
        "route_matrices": lambda: net.route_matrices(org, dst),
    }
    print(
        f"[matrix] {n} x {n}, {R} timed repeats after one warm-up, "
        f"RoadNetwork threads={rn._n_threads()}",
        flush=True,
    )
    res = {k: f() for k, f in methods.items()}  # warm-up + results for the checks
    samples: dict[str, list] = {k: [] for k in methods}
    idle("fast")
    meter = CpuMeter()
    names = list(methods)
    for r in range(R):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            w, c, _ = timed(methods[k])
            samples[k].append((w, c))
    noise["fast_methods"] = meter.stop()
    fast = {k: summary(v) for k, v in samples.items()}
    # single-threaded raw csgraph: cpu/wall < 1 means this process was descheduled
    fast["raw_csgraph"]["cpu_over_wall"] = (
        fast["raw_csgraph"]["cpu_median_s"] / fast["raw_csgraph"]["median_s"]
    )
    mem = {
        "roadnetwork": traced_peak_mb(methods["roadnetwork"]),
        "raw_csgraph": traced_peak_mb(methods["raw_csgraph"]),
        "roadnetwork_cutoff": traced_peak_mb(methods["roadnetwork_cutoff"]),
        "route_matrices": traced_peak_mb(methods["route_matrices"]),
    }
    for k in names:
        print(f"  {k}: median {fast[k]['median_s']:.3f} s {fast[k]['samples_s']}", flush=True)

    # ---- checks on the fast methods
    A, B = res["roadnetwork"], res["raw_csgraph"]
    assert A.shape == (n, n)
    np.testing.assert_allclose(A, B, rtol=1e-12, atol=0)
    C = res["roadnetwork_cutoff"]
    np.testing.assert_array_equal(C, np.where(B <= cut, B, np.inf))
    np.testing.assert_array_equal(C, res["raw_csgraph_cutoff"])
    RT, RL = res["route_matrices"]
    np.testing.assert_allclose(RT, A, rtol=1e-12, atol=0)
    checks = {
        "roadnetwork_vs_raw": f"max |diff| = {np.max(np.abs(A - B)):.3g} s",
        "cutoff_vs_full_masked": "identical",
        "route_time_vs_matrix": "identical within 1e-12",
    }
    unreachable = int(np.isinf(A).sum())

    # ---- (iii) networkx per source
    k_nx = n if args.nx_origins in (None, 0) else min(args.nx_origins, n)
    print(f"[networkx] single_source_dijkstra_path_length from {k_nx} of {n} origins", flush=True)
    idle("networkx")
    meter = CpuMeter()
    rows = []
    w0, c0 = time.perf_counter(), time.process_time()
    for oid in org_ids[:k_nx]:
        d = nx.single_source_dijkstra_path_length(G, int(oid), weight="travel_time")
        rows.append([d.get(int(t), np.inf) for t in dst_ids])
    nx_wall, nx_cpu = time.perf_counter() - w0, time.process_time() - c0
    noise["networkx"] = meter.stop()
    NX = np.asarray(rows)
    # RoadNetwork clamps zero weights to 1e-6 s; tolerance covers that.
    np.testing.assert_allclose(NX, A[:k_nx], rtol=1e-9, atol=1e-3)
    checks["networkx_vs_roadnetwork"] = (
        f"{k_nx} rows, max |diff| = {np.max(np.abs(NX - A[:k_nx])):.3g} s"
    )
    nx_total = nx_wall * n / k_nx
    out["networkx"] = {
        "origins_timed": k_nx,
        "extrapolated": k_nx < n,
        "wall_s": nx_wall,
        "cpu_s": nx_cpu,
        "per_origin_s": nx_wall / k_nx,
        "total_s": nx_total,
    }
    print(f"  {nx_wall:.1f} s for {k_nx} origins -> {nx_total:.1f} s for {n}", flush=True)

    # ---- (iv) osmnx per pair
    P = min(args.osmnx_pairs, n)
    print(f"[osmnx] shortest_path per pair on {P} pairs, extrapolated to {n * n:,}", flush=True)
    ox.shortest_path(G, int(org_ids[-1]), int(dst_ids[-1]), weight="travel_time")  # warm-up
    idle("osmnx")
    meter = CpuMeter()
    per_pair, per_pair_cpu, osmnx_diff = [], [], 0.0
    for i in range(P):
        w, c, route = timed(
            lambda i=i: ox.shortest_path(G, int(org_ids[i]), int(dst_ids[i]), weight="travel_time")
        )
        per_pair.append(w)
        per_pair_cpu.append(c)
        if route is None:
            assert np.isinf(A[i, i])
            continue
        edges = [
            min(G[u][v].values(), key=lambda e: e["travel_time"])
            for u, v in zip(route[:-1], route[1:], strict=True)
        ]
        t_route = sum(e["travel_time"] for e in edges)
        l_route = sum(e["length"] for e in edges)
        assert abs(t_route - A[i, i]) <= 1e-3 + 1e-9 * A[i, i], (i, t_route, A[i, i])
        # length along the fastest route must match route_matrices (no time ties expected)
        assert abs(l_route - RL[i, i]) <= 1e-3 + 1e-9 * RL[i, i], (i, l_route, RL[i, i])
        osmnx_diff = max(osmnx_diff, abs(t_route - A[i, i]))
    noise["osmnx"] = meter.stop()
    mean_pair = statistics.fmean(per_pair)
    out["osmnx"] = {
        "pairs_timed": P,
        "mean_per_pair_s": mean_pair,
        "median_per_pair_s": statistics.median(per_pair),
        "extrapolated_total_s": mean_pair * n * n,
        "mean_cpu_per_pair_s": statistics.fmean(per_pair_cpu),
        "extrapolated_total_cpu_s": statistics.fmean(per_pair_cpu) * n * n,
    }
    checks["osmnx_vs_roadnetwork"] = (
        f"{P} pairs, route time max |diff| = {osmnx_diff:.3g} s; "
        "route length = route_matrices length"
    )
    print(
        f"  {mean_pair * 1e3:.1f} ms/pair -> {mean_pair * n * n / 3600:.1f} h for {n * n:,} pairs",
        flush=True,
    )

    # ---- ratios and targets
    rn_t, raw_t = fast["roadnetwork"]["median_s"], fast["raw_csgraph"]["median_s"]
    cut_t = fast["roadnetwork_cutoff"]["median_s"]
    ratios = {
        "speedup_vs_networkx": nx_total / rn_t,
        "raw_csgraph_speedup_vs_networkx": nx_total / raw_t,
        "roadnetwork_over_raw": rn_t / raw_t,
        "cutoff_over_raw_full": cut_t / raw_t,
        "speedup_vs_osmnx_pairs": out["osmnx"]["extrapolated_total_s"] / rn_t,
        "route_matrices_over_travel_time": fast["route_matrices"]["median_s"] / rn_t,
    }
    # CPU-time ratios: less sensitive to other processes (RoadNetwork CPU counts all threads)
    cpu = {k: fast[k]["cpu_median_s"] for k in fast}
    ratios_cpu = {
        "speedup_vs_networkx": nx_cpu * n / k_nx / cpu["roadnetwork"],
        "roadnetwork_over_raw": cpu["roadnetwork"] / cpu["raw_csgraph"],
        "cutoff_over_raw_full": cpu["roadnetwork_cutoff"] / cpu["raw_csgraph"],
    }
    targets = {
        "speedup_vs_networkx >= 40": ratios["speedup_vs_networkx"] >= TARGET_VS_NX,
        "roadnetwork_over_raw <= 1.3": ratios["roadnetwork_over_raw"] <= TARGET_VS_RAW,
        "cutoff_over_raw_full < 1": ratios["cutoff_over_raw_full"] < TARGET_CUTOFF,
    }
    out.update(
        fast=fast,
        traced_peak_mb=mem,
        ratios=ratios,
        ratios_cpu_time=ratios_cpu,
        targets=targets,
        checks=checks,
        unreachable_pairs=unreachable,
        reachable_within_cutoff_share=float(np.isfinite(C).mean()),
        noise=noise,
    )
    out["machine"] = machine_info(
        {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "networkx": nx.__version__,
            "osmnx": ox.__version__,
        },
        EVPLAN_THREADS=os.environ.get("EVPLAN_THREADS", ""),
        road_network_py_modified=bool(git("status", "--porcelain", "networks/road_network.py")),
    )
    return out


# --------------------------------------------------------------------------- report
def markdown(r: dict) -> str:
    n, cut = r["config"]["n"], r["config"]["cutoff_s"]
    f, ra, t, m = r["fast"], r["ratios"], r["targets"], r["machine"]
    lc, lw = r["load"]["cold"], r["load"]["warm"]
    nxr, oxr = r["networkx"], r["osmnx"]
    pf = {True: "PASS", False: "FAIL"}
    nx_how = (
        f"{nxr['origins_timed']} of {n} origins timed, extrapolated linearly"
        if nxr["extrapolated"]
        else f"all {n} origins timed, 1 run"
    )
    L = []
    L.append(
        f"Almaty extract (`{r['config']['extract']}`, OSM 2012): {r['network']['n_nodes']:,} nodes, "
        f"{r['network']['n_edges_csr']:,} directed edges in the CSR "
        f"({r['network']['graph_edges']:,} in the osmnx MultiDiGraph)."
    )
    L.append("")
    L.append(
        "| load | wall (median) | peak RSS (fresh process) | RSS rise over imports | tracemalloc peak |"
    )
    L.append("|---|---|---|---|---|")
    L.append(
        f"| `load_network(path, cache_dir=None)` (cold) | {fmt_s(lc['wall_median_s'])} | "
        f"{lc['maxrss_mb']:.0f} MB | {lc['maxrss_rise_mb']:.0f} MB | {lc['tracemalloc_peak_mb']:.0f} MB |"
    )
    L.append(
        f"| `load_network(path)` (warm evplan cache, {r['load']['cache_file_mb']:.1f} MB `.npz`) | "
        f"{fmt_s(lw['wall_median_s'])} | {lw['maxrss_mb']:.0f} MB | {lw['maxrss_rise_mb']:.0f} MB | "
        f"{lw['tracemalloc_peak_mb']:.0f} MB |"
    )
    L.append("")
    L.append(f"| {n:,} x {n:,} travel-time matrix | wall | vs RoadNetwork | target | status |")
    L.append("|---|---|---|---|---|")
    L.append(
        f"| `RoadNetwork.travel_time_matrix` | {fmt_s(f['roadnetwork']['median_s'])} | 1.00x | | |"
    )
    L.append(
        f"| raw `csgraph.dijkstra(net.time, indices=origins)[:, dst]` | {fmt_s(f['raw_csgraph']['median_s'])} "
        f"| RoadNetwork / raw = {ra['roadnetwork_over_raw']:.2f} | <= 1.3 | {pf[t['roadnetwork_over_raw <= 1.3']]} |"
    )
    L.append(
        f"| networkx `single_source_dijkstra_path_length` per origin ({nx_how}) | "
        f"{fmt_s(nxr['total_s'])} | {ra['speedup_vs_networkx']:.0f}x slower | >= 40x | "
        f"{pf[t['speedup_vs_networkx >= 40']]} |"
    )
    L.append(
        f"| osmnx `shortest_path` per pair ({oxr['pairs_timed']} pairs, "
        f"{oxr['mean_per_pair_s'] * 1e3:.1f} ms each, extrapolated to {n * n:,}) | "
        f"{fmt_s(oxr['extrapolated_total_s'])} | {ra['speedup_vs_osmnx_pairs']:,.0f}x slower | | |"
    )
    L.append(
        f"| `travel_time_matrix(..., cutoff={cut:g})` ({cut / 60:g} min) | "
        f"{fmt_s(f['roadnetwork_cutoff']['median_s'])} | cutoff / raw full = "
        f"{ra['cutoff_over_raw_full']:.2f} | < 1 | {pf[t['cutoff_over_raw_full < 1']]} |"
    )
    L.append(
        f"| raw csgraph with `limit={cut:g}` (for reference) | {fmt_s(f['raw_csgraph_cutoff']['median_s'])} | | | |"
    )
    L.append(
        f"| `route_matrices` (time + length along fastest route, info) | "
        f"{fmt_s(f['route_matrices']['median_s'])} | {ra['route_matrices_over_travel_time']:.2f}x | | |"
    )
    L.append("")
    nz = r["noise"]
    L.append(
        f"Fast methods: median of {r['config']['repeats']} interleaved runs after one warm-up; "
        f"RoadNetwork uses {r['network']['threads']} threads. Peak traced allocation of one call: "
        f"RoadNetwork {r['traced_peak_mb']['roadnetwork']:.0f} MB, raw csgraph "
        f"{r['traced_peak_mb']['raw_csgraph']:.0f} MB, cutoff {r['traced_peak_mb']['roadnetwork_cutoff']:.0f} MB, "
        f"route_matrices {r['traced_peak_mb']['route_matrices']:.0f} MB. "
        f"All methods agree on overlapping entries (asserted)."
    )
    L.append(
        f"Memory: peak RSS = `ru_maxrss` of a fresh subprocess doing only imports + one load "
        f"(imports alone: {lc['baseline_maxrss_mb']:.0f} MB); tracemalloc = Python/numpy "
        f"allocations during the load, measured in a separate subprocess run."
    )
    L.append(
        f"Machine: {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}, networkx {m['networkx']}, osmnx {m['osmnx']}; commit {m['git_commit']}, "
        f"{m['date']}. Share of the machine's CPU used by other processes during each section: "
        f"load {nz['load']['other_procs_cpu_share'] * 100:.0f}%, "
        f"fast methods {nz['fast_methods']['other_procs_cpu_share'] * 100:.0f}%, "
        f"networkx {nz['networkx']['other_procs_cpu_share'] * 100:.0f}%, "
        f"osmnx {nz['osmnx']['other_procs_cpu_share'] * 100:.0f}%; "
        f"fast-method samples ranged {f['roadnetwork']['min_s']:.2f}-{f['roadnetwork']['max_s']:.2f} s "
        f"(RoadNetwork) and {f['raw_csgraph']['min_s']:.2f}-{f['raw_csgraph']['max_s']:.2f} s (raw)."
    )
    rc = r["ratios_cpu_time"]
    L.append(
        f"Same ratios from CPU time (less sensitive to other load; RoadNetwork's CPU counts its "
        f"threads and worker processes): vs networkx {rc['speedup_vs_networkx']:.0f}x, RoadNetwork / raw "
        f"{rc['roadnetwork_over_raw']:.2f}, cutoff / raw full {rc['cutoff_over_raw_full']:.2f}; "
        f"osmnx per pair {oxr['mean_cpu_per_pair_s'] * 1e3:.1f} ms CPU "
        f"({fmt_s(oxr['extrapolated_total_cpu_s'])} for {n * n:,} pairs)."
    )
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 200 x 200, 50 networkx origins, 5 osmnx pairs, 1 repeat; "
        "writes nothing unless --out is given",
    )
    p.add_argument("--n", type=int, default=None, help="origins = destinations (default 1000)")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed repeats of fast methods (default 5)"
    )
    p.add_argument(
        "--load-repeats", type=int, default=None, help="fresh-process loads each (default 3)"
    )
    p.add_argument(
        "--nx-origins",
        type=int,
        default=None,
        help="networkx origins to time, extrapolated linearly (default 0 = all)",
    )
    p.add_argument("--osmnx-pairs", type=int, default=None, help="osmnx pairs to time (default 50)")
    p.add_argument(
        "--cutoff", type=float, default=600.0, help="travel-time cutoff in s (default 600)"
    )
    p.add_argument("--seed", type=int, default=20120313)
    p.add_argument(
        "--pbf", default=None, help="extract path (default $EVPLAN_DATA_DIR/" + EXTRACT + ")"
    )
    p.add_argument(
        "--out",
        default=None,
        help="output prefix (default benchmarks/results/networks -> .md and .json)",
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each timed section wait up to S seconds for other processes to "
        "use < 25%% of the CPU (default 0 = do not wait)",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    p.add_argument("--load-child", help=argparse.SUPPRESS)
    p.add_argument("--child-cache", default="", help=argparse.SUPPRESS)
    p.add_argument("--child-trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.load_child:
        load_child(args.load_child, args.child_cache, args.child_trace)
        return 0
    q = args.quick
    for name, full, quick in (
        ("n", 1000, 200),
        ("repeats", 5, 1),
        ("load_repeats", 3, 1),
        ("nx_origins", 0, 50),
        ("osmnx_pairs", 50, 5),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    if args.repeats < 1 or args.load_repeats < 1 or args.n < 1:
        p.error("--n, --repeats and --load-repeats must be >= 1")

    result = bench(args)
    md = markdown(result)
    print()
    print(md)
    for k, ok in result["targets"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {k}  ({result['ratios'][k.split()[0]]:.2f})")
    out = args.out or (None if q else str(REPO / "benchmarks" / "results" / "networks"))
    if out:
        write_atomic(Path(out + ".json"), json.dumps(result, indent=2, default=float) + "\n")
        write_atomic(Path(out + ".md"), md)
        print(f"wrote {out}.md and {out}.json")
    return 1 if args.strict and not all(result["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
