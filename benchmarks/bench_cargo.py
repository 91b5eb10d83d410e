"""Cargo-study benchmark: wall time and peak memory of ``configs/cargo-china.yaml``.

The study runs end to end as a user runs it (``evplan run CONFIG -o <tmp>``, a fresh
process, the network cache warm); the script records the wall time, the peak resident
memory of the process, the CPU other processes took meanwhile, and the answer (sites, bays
per class, flows completed per truck model and season). Target (issue 18): well under 10
minutes on 2 cores.

Run from the repository root::

    python benchmarks/bench_cargo.py            # writes results/cargo.json and .md
    python benchmarks/bench_cargo.py --quick    # prints only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import REPO, CpuMeter, fmt_s, machine_info, write_atomic

HERE = Path(__file__).resolve().parent
TARGET_S = 600.0


def run(out: Path) -> dict:
    """The cargo study in a fresh ``evplan`` process."""
    meter = CpuMeter()
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "planner.cli", "run", str(REPO / "configs" / "cargo-china.yaml")]
    proc = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    record: dict = {
        "wall_s": round(wall, 1),
        "exit_code": proc.returncode,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "noise": meter.stop(),
    }
    if proc.returncode != 0:
        record["error"] = proc.stderr[-2000:]
        return record
    sel = pd.read_csv(out / "selected.csv")
    bays = sel.groupby("plug_class").agg(sites=("node", "nunique"), bays=("plugs", "sum"))
    vm = pd.read_csv(out / "tables" / "vehicle_matrix.csv")
    record["bays"] = bays.reset_index().to_dict("records")
    record["flows"] = vm[["vehicle_model", "season", "share_before", "share_after"]].to_dict(
        "records"
    )
    return record


def render(r: dict, info: dict) -> str:
    ok = "✔" if r["wall_s"] <= TARGET_S and r["exit_code"] == 0 else "✘"
    lines = [
        "# Cargo-study benchmark",
        "",
        f"Run {info['date']} on {info['cpu_count']} CPUs (commit {info['git_commit']}); "
        "`evplan run configs/cargo-china.yaml` in a fresh process, network cache warm.",
        "",
        "| wall | target | peak RSS | other processes' CPU |",
        "|---:|---|---:|---:|",
        f"| {fmt_s(r['wall_s'])} | < 10 min {ok} | {r['peak_rss_mb']:,} MB | "
        f"{r['noise']['other_procs_cpu_share']:.0%} |",
        "",
    ]
    for b in r.get("bays", []):
        lines.append(f"* `{b['plug_class']}`: {b['bays']} bays at {b['sites']} sites")
    for f in r.get("flows", []):
        lines.append(
            f"* {f['vehicle_model']} {f['season']}: flows completed "
            f"{f['share_before']:.1%} -> {f['share_after']:.1%}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="print only; write nothing")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default: results/)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp) / "cargo-china")
    info = machine_info({})
    text = render(r, info)
    print(text)
    if not args.quick or args.out is not None:
        out = args.out or HERE / "results"
        write_atomic(out / "cargo.json", json.dumps({"machine": info, "result": r}, indent=1))
        write_atomic(out / "cargo.md", text)
    return 0 if r["exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
