"""Staged-rollout benchmark: wall time and peak memory of the shipped rollout studies.

Each study runs end to end as a user runs it (``evplan run CONFIG -o <tmp>``, a fresh
process, the network cache warm), and the script records the wall time, the peak resident
memory of the process, the CPU other processes took meanwhile, and the plan's timeline.
Target (from the staged-rollout issue): each under about 10 minutes on 2 cores.

Run from the repository root::

    python benchmarks/bench_rollout.py            # both studies, writes results/rollout.*
    python benchmarks/bench_rollout.py --quick    # the corridor study only, writes nothing
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, CpuMeter, fmt_s, machine_info, write_atomic

HERE = Path(__file__).resolve().parent
STUDIES = ["almaty-rollout", "corridor-kaz01-rollout"]
TARGET_S = 600.0


def run_study(name: str, out: Path) -> dict:
    """One study in a fresh ``evplan`` process: wall time, peak RSS, timeline, verdict."""
    meter = CpuMeter()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner.cli",
            "run",
            str(REPO / "configs" / f"{name}.yaml"),
            "-o",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    record: dict = {
        "study": name,
        "wall_s": round(wall, 1),
        "exit_code": proc.returncode,
        "peak_rss_mb_children_max": round(rss_mb),
        "noise": meter.stop(),
    }
    if proc.returncode != 0:
        record["error"] = proc.stderr[-2000:]
        return record
    kpis = json.loads((out / "kpis.json").read_text())
    record["stages"] = kpis.get("stages", [])
    record["targets_met"] = kpis.get("targets_met")
    record["rollout"] = kpis.get("rollout", {})  # regret, robust first stage, solve gaps
    record["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    return record


def render(results: list[dict], info: dict) -> str:
    lines = [
        "# Staged-rollout benchmark",
        "",
        f"Run {info['date']} on {info['cpu_count']} CPUs (commit {info['git_commit']}); "
        "each study in a fresh `evplan run` process, network cache warm.",
        "",
        "| study | wall | target | peak RSS | other processes' CPU | load (1 min, end) "
        "| stages | final-year targets | myopic regret | robust first stage |",
        "|---|---:|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        ok = "✔" if r["wall_s"] <= TARGET_S and r["exit_code"] == 0 else "✘"
        roll = r.get("rollout", {})
        regret = (
            f"{roll['regret']:,.0f} ({roll['regret_share']:.1%}; look-ahead "
            f"{roll.get('lookahead_status', '?').lower()}, gap {roll.get('lookahead_gap', 0):.2%})"
            if "regret" in roll
            else "-"
        )
        rob = roll.get("robust", {})
        robust = (
            f"{len(rob.get('first_stage', []))} sites, max regret {rob['max_regret']:,.0f} "
            f"over {', '.join(rob.get('scenarios', {}))}"
            if rob
            else "-"
        )
        lines.append(
            f"| `{r['study']}` | {fmt_s(r['wall_s'])} | < 10 min {ok} | "
            f"{r['peak_rss_mb_children_max']:,} MB | {r['noise']['other_procs_cpu_share']:.0%} | "
            f"{r.get('load_avg_1min_end', float('nan')):.1f} | "
            f"{len({s['year'] for s in r.get('stages', [])})} | "
            f"{'met' if r.get('targets_met') else 'missed'} | {regret} | {robust} |"
        )
    lines += [
        "",
        "Peak RSS is the largest of the study processes run so far (getrusage of the children).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the corridor study only; write nothing")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default: results/)")
    args = ap.parse_args()
    studies = STUDIES[1:] if args.quick else STUDIES
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in studies:
            r = run_study(name, Path(tmp) / name)
            print(f"{name}: {fmt_s(r['wall_s'])}, exit {r['exit_code']}", flush=True)
            results.append(r)
    info = machine_info({})
    text = render(results, info)
    print(text)
    if args.quick and args.out is None:
        return 0 if all(r["exit_code"] == 0 for r in results) else 1
    out = args.out or HERE / "results"
    write_atomic(out / "rollout.json", json.dumps({"machine": info, "results": results}, indent=1))
    write_atomic(out / "rollout.md", text)
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
