"""Batch benchmark (the batch-sweeps issue): Dask scaling and per-run overhead.

Measures, in one run:

1. A sweep of 16 small *real* studies (the KAZ01 corridor with MCLP siting: ``model.p`` 1-4 x
   ``demand.trips_per_day`` 60/120 x ``simulation.temperature_c`` 25/-20, one replication, one
   solver thread, no HTML report) run four ways, each into a fresh folder so nothing is skipped:
   a plain loop of ``planner.study.run.run_study`` (the baseline), ``run_batch`` in-process
   (``workers=0``: the batch machinery without Dask), and ``run_batch`` on a
   ``LocalCluster`` of 1, 2 and 4 single-threaded worker processes. Cluster start-up and
   shut-down are timed apart from the runs. Speed-up = plain-loop time / batch time.
2. The fixed cost of the Dask path per run: 64 runs of a no-op runner (writes a folder,
   returns a row) in-process vs on 1 worker; and the same 16 real studies, 1 worker vs the
   plain loop, per run.

Writes ``benchmarks/results/batch.md`` and ``batch.json`` (wall times, per-run times, machine
info, CPU used by other processes during each section). Run from the repository root::

    python benchmarks/bench_batch.py                 # full run (~5 min on 2 cores)
    python benchmarks/bench_batch.py --quick         # 4 runs, 1-2 workers, writes nothing
    python benchmarks/bench_batch.py --workload simulate   # real runs = evplan simulate only

3. A synthetic runner of fixed pure-CPU work (~0.5 s) with the same worker counts: what the
   hardware allows when runs do nothing but compute (the scaling ceiling).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, CpuMeter, machine_info, wait_idle, write_atomic

HERE = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


SWEEP = """\
name: bench-batch
base: {base}
fixed:
  model.kind: mclp
  simulation.days: 1
  simulation.replications: 1
  vehicles.compare: []
  targets.max_iterations: 1
  model.solver.threads: 1
  model.solver.time_limit_s: 10
  outputs.html: false
parameters:
  model.p: {p}
  demand.trips_per_day: [60, 120]
  simulation.temperature_c: [25, -20]
"""

# `--workload simulate`: evplan simulate (network, demand, SimPy baseline, tables) instead of the
# whole study; for when the siting step is unavailable or to time the simulation side alone.
SWEEP_SIMULATE = """\
name: bench-batch-simulate
base: {base}
fixed:
  simulation.days: 2
  simulation.replications: 2
  outputs.html: false
  outputs.gpkg: false
parameters:
  seed: {p}
  demand.trips_per_day: [500, 1000]
  simulation.temperature_c: [25, -20]
"""
WORKLOAD = {"sweep": SWEEP}


def simulate_runner(cfg, *, out_dir: Path) -> dict:
    """``evplan simulate`` of one study (existing stations only); its KPIs as the summary row."""
    from planner.study.run import simulate_study

    return {f"{k}_before": v for k, v in simulate_study(cfg, out_dir=out_dir).kpis_before.items()}


def noop_runner(cfg, *, out_dir: Path) -> dict:
    """A run that does nothing but write its folder: what the batch machinery costs alone."""
    from planner.report.atomic import atomic_dir

    with atomic_dir(out_dir) as tmp:
        (tmp / "ok.txt").write_text(str(cfg.model.p))
    return {"n_stations_after": cfg.model.p, "coverage_share_after": 0.0}


def cpu_runner(cfg, *, out_dir: Path) -> dict:
    """A run of fixed pure-CPU work (~1 s on one core): the ideal case for scaling."""
    from planner.report.atomic import atomic_dir

    acc = 0
    for i in range(6_000_000):
        acc += i * i % 7
    with atomic_dir(out_dir) as tmp:
        (tmp / "ok.txt").write_text(str(acc))
    return {"n_stations_after": cfg.model.p, "coverage_share_after": 0.0}


def _plan(tmp: Path, p: str, out: str):
    from planner.batch.plan import plan_sweep

    path = tmp / "sweep.yaml"
    path.write_text(WORKLOAD["sweep"].format(base=REPO / "configs" / "corridor-kaz01.yaml", p=p))
    return plan_sweep(path, output=tmp / out)


def plain_loop(plan, out: Path) -> list[float]:
    """The baseline: ``run_study`` for each run, one after the other, no batch machinery."""
    from planner.study.run import run_study

    times = []
    for spec in plan.runs:
        t0 = time.perf_counter()
        if WORKLOAD.get("runner"):
            WORKLOAD["runner"](spec.config, out_dir=out / spec.key)
        else:
            run_study(spec.config, out_dir=out / spec.key)
        times.append(time.perf_counter() - t0)
    return times


def _warm_worker() -> None:
    import planner.batch.execute  # noqa: F401
    import planner.study.run  # noqa: F401


def dask_batch(plan, workers: int, runner=None) -> dict:
    """``run_batch`` on a fresh LocalCluster; start-up, runs and shut-down timed apart."""
    from distributed import Client

    from planner.batch.execute import local_cluster, run_batch

    t0 = time.perf_counter()
    cluster = local_cluster(workers)
    client = Client(cluster, set_as_default=False)
    client.wait_for_workers(workers)
    client.run(_warm_worker)  # imports, as a long-lived cluster would have done already
    t1 = time.perf_counter()
    result = run_batch(plan, client=client, runner=runner)
    t2 = time.perf_counter()
    client.close()
    cluster.close()
    t3 = time.perf_counter()
    assert not result.failed, [o.error for o in result.failed]
    return {
        "workers": workers,
        "startup_s": round(t1 - t0, 3),
        "runs_s": round(t2 - t1, 3),
        "shutdown_s": round(t3 - t2, 3),
        "total_s": round(t3 - t0, 3),
        "run_s": [round(o.elapsed_s, 3) for o in result.outcomes],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="4 runs, 1 and 2 workers; writes nothing unless --out"
    )
    ap.add_argument(
        "--only",
        choices=["real", "cpu", "noop"],
        action="append",
        help="run only these sections (repeatable; default all); writes nothing unless --out",
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="results folder (default benchmarks/results)"
    )
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        help="wait up to S s for a quiet machine per section",
    )
    ap.add_argument(
        "--workload",
        choices=["study", "simulate"],
        default="study",
        help="real runs: the whole study (default) or evplan simulate only",
    )
    args = ap.parse_args()
    if args.workload == "simulate":
        WORKLOAD.update(sweep=SWEEP_SIMULATE, runner=simulate_runner)
    logging.basicConfig(level=logging.WARNING)
    import distributed  # sets its own log levels on import; quieten them after

    logging.getLogger("distributed").setLevel(logging.WARNING)
    from planner.batch.execute import run_batch

    sections = args.only or ["real", "cpu", "noop"]
    p_values = "[1]" if args.quick else "[1, 2, 3, 4]"
    worker_counts = [1, 2] if args.quick else [1, 2, 4]
    n_noop = 8 if args.quick else 64
    tmp = Path(tempfile.mkdtemp(prefix="evplan-bench-batch-"))
    noise: dict = {}
    res: dict = {}

    def section(name: str) -> CpuMeter:
        if args.wait_idle > 0:
            noise["wait_" + name] = wait_idle(args.wait_idle)
        return CpuMeter()

    try:
        if "real" in sections:
            # warm-up: imports, network build, file caches, so the first timed method is not penalised
            warm = _plan(tmp, "[1]", "warm")
            plain_loop(type(warm)(warm.name, warm.output, warm.runs[:1]), tmp / "warm-loop")
            plan = _plan(tmp, p_values, "loop")
            m = section("plain_loop")
            times = plain_loop(plan, tmp / "loop")
            noise["plain_loop"] = m.stop()
            real = res["real"] = {
                "workload": args.workload,
                "runs": len(plan.runs),
                "plain_loop": {
                    "total_s": round(sum(times), 3),
                    "run_s": [round(t, 3) for t in times],
                },
            }
            iplan = _plan(tmp, p_values, "inproc")
            m = section("in_process")
            t0 = time.perf_counter()
            r = run_batch(iplan, workers=0, runner=WORKLOAD.get("runner"))
            assert not r.failed, [o.error for o in r.failed]
            real["batch_in_process"] = {
                "total_s": round(time.perf_counter() - t0, 3),
                "run_s": [round(o.elapsed_s, 3) for o in r.outcomes],
            }
            noise["in_process"] = m.stop()
            real["dask"] = []
            for w in worker_counts:
                m = section(f"dask_{w}")
                real["dask"].append(
                    dask_batch(_plan(tmp, p_values, f"dask{w}"), w, runner=WORKLOAD.get("runner"))
                )
                noise[f"dask_{w}"] = m.stop()
            _derive(real)
        if "cpu" in sections:
            cplan = _plan(tmp, p_values, "cpu-loop")
            m = section("cpu")
            t0 = time.perf_counter()
            for spec in cplan.runs:
                cpu_runner(spec.config, out_dir=tmp / "cpu-loop" / spec.key)
            cpu = res["cpu"] = {
                "runs": len(cplan.runs),
                "plain_loop": {"total_s": round(time.perf_counter() - t0, 3)},
                "dask": [
                    dask_batch(_plan(tmp, p_values, f"cpu{w}"), w, runner=cpu_runner)
                    for w in worker_counts
                ],
            }
            noise["cpu"] = m.stop()
            _derive(cpu)
        if "noop" in sections:
            m = section("noop")
            stop = f"{{start: 1, stop: {n_noop // 4}}}"
            nplan = _plan(tmp, stop, "noop-loop")
            t0 = time.perf_counter()
            for spec in nplan.runs:
                noop_runner(spec.config, out_dir=tmp / "noop-loop" / spec.key)
            loop_s = time.perf_counter() - t0
            iplan = _plan(tmp, stop, "noop-inproc")
            t0 = time.perf_counter()
            run_batch(iplan, workers=0, runner=noop_runner)
            inproc_s = time.perf_counter() - t0
            d = dask_batch(_plan(tmp, stop, "noop-dask"), 1, runner=noop_runner)
            noise["noop"] = m.stop()
            n = len(nplan.runs)
            res["noop"] = {
                "runs": n,
                "plain_loop_s": round(loop_s, 3),
                "in_process_s": round(inproc_s, 3),
                "dask_1_worker": d,
                "per_run_s": {
                    "plain_loop": round(loop_s / n, 4),
                    "in_process": round(inproc_s / n, 4),
                    "dask_1_worker": round(d["runs_s"] / n, 4),
                },
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    import dask

    report = {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info({"dask": dask.__version__, "distributed": distributed.__version__}),
        "results": res,
        "noise": noise,
        "sweep": WORKLOAD["sweep"].format(base="configs/corridor-kaz01.yaml", p=p_values),
    }
    text = render(report)
    print(text)
    if (args.quick or args.only) and args.out is None:
        return 0
    out = args.out or HERE / "results"
    write_atomic(out / "batch.json", json.dumps(report, indent=1))
    write_atomic(out / "batch.md", text)
    return 0


def _derive(block: dict) -> None:
    """Speed-ups against the plain loop and the Dask overhead per run (1 worker vs loop)."""
    loop_s, n = block["plain_loop"]["total_s"], block["runs"]
    for d in block["dask"]:
        d["speedup_runs"] = round(loop_s / d["runs_s"], 2)
        d["speedup_total"] = round(loop_s / d["total_s"], 2)
    one = block["dask"][0]
    block["overhead_per_run_s"] = {
        "dask_1_worker_runs_only": round((one["runs_s"] - loop_s) / n, 3),
        "dask_1_worker_incl_cluster": round((one["total_s"] - loop_s) / n, 3),
    }
    if "batch_in_process" in block:
        block["overhead_per_run_s"]["batch_in_process"] = round(
            (block["batch_in_process"]["total_s"] - loop_s) / n, 3
        )


def _table(block: dict, title: str) -> list[str]:
    loop = block["plain_loop"]

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f}" if xs else "-"

    lines = [
        f"### {title} ({block['runs']} runs)",
        "",
        "| method | workers | cluster start + imports (s) | runs (s) | cluster stop (s) | speed-up (runs) "
        "| speed-up (incl. start/stop) | median run (s) |",
        "|---|---|---|---|---|---|---|---|",
        f"| plain loop | - | - | {loop['total_s']:.1f} | - | 1.00 | 1.00 | {med(loop.get('run_s', []))} |",
    ]
    ip = block.get("batch_in_process")
    if ip:
        sp = loop["total_s"] / ip["total_s"]
        lines.append(
            f"| run_batch in-process (`--workers 0`) | - | - | {ip['total_s']:.1f} | - | {sp:.2f} | {sp:.2f} "
            f"| {med(ip.get('run_s', []))} |"
        )
    for d in block["dask"]:
        lines.append(
            f"| run_batch on LocalCluster | {d['workers']} | {d['startup_s']:.1f} | {d['runs_s']:.1f} "
            f"| {d['shutdown_s']:.1f} | {d['speedup_runs']:.2f} | {d['speedup_total']:.2f} "
            f"| {med(d.get('run_s', []))} |"
        )
    o = block["overhead_per_run_s"]
    lines += [
        "",
        f"Dask overhead per run, 1 worker vs plain loop: {o['dask_1_worker_runs_only']:+.3f} s "
        f"(runs only), {o['dask_1_worker_incl_cluster']:+.3f} s (incl. cluster start/stop)"
        + (
            f"; batch in-process vs plain loop: {o['batch_in_process']:+.3f} s"
            if "batch_in_process" in o
            else ""
        )
        + ".",
        "",
    ]
    return lines


def render(r: dict) -> str:
    res, m = r["results"], r["machine"]
    lines = [
        f"# Batch benchmark ({r['date']})",
        "",
        f"{m['cpu_count']} CPUs ({m['cpu_model']}), {m['mem_total_gb']} GB, Python {m['python']}, "
        f"dask {m['dask']}, commit {m.get('git_commit', '')}.",
        "",
    ]
    if "real" in res:
        what = {
            "study": "Real KAZ01 corridor studies (evplan run)",
            "simulate": "Real KAZ01 corridor simulations (evplan simulate: network, demand, SimPy, tables)",
        }
        lines += _table(res["real"], what[res["real"].get("workload", "study")] + ", sweep below")
    if "cpu" in res:
        lines += _table(
            res["cpu"], "Synthetic runs of fixed pure-CPU work (~1 s each): the scaling ceiling"
        )
    if "noop" in res:
        n = res["noop"]
        pr = n["per_run_s"]
        lines += [
            f"### Fixed cost per run ({n['runs']} no-op runs: write a folder, return a row)",
            "",
            f"plain loop {pr['plain_loop'] * 1000:.1f} ms, run_batch in-process {pr['in_process'] * 1000:.1f} ms, "
            f"run_batch on 1 Dask worker {pr['dask_1_worker'] * 1000:.1f} ms per run (cluster start "
            f"{n['dask_1_worker']['startup_s']:.1f} s and stop {n['dask_1_worker']['shutdown_s']:.1f} s "
            "excluded; summary/chart writing included).",
            "",
        ]
    nz = r["noise"]
    lines += [
        "CPU share used by other processes during each section: "
        + ", ".join(
            f"{k} {v['other_procs_cpu_share']:.2f}"
            for k, v in nz.items()
            if "other_procs_cpu_share" in v
        ),
        "",
        "Sweep of the real studies:",
        "",
        "```yaml",
        r["sweep"].rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
