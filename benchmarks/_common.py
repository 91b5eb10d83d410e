"""Helpers shared by the benchmark scripts: CPU noise meter, machine description, output.

Scripts run as ``python benchmarks/<name>.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _live_children_cpu() -> float:
    """CPU seconds used so far by this process' live children (not yet in RUSAGE_CHILDREN,
    which counts a child once it is reaped, then with its whole lifetime)."""
    me, tick, total = os.getpid(), os.sysconf("SC_CLK_TCK"), 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == me:  # fields after the name: state, ppid, ..., utime, stime
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class CpuMeter:
    """Share of the machine's CPU used by *other* processes while a section ran.

    Busy jiffies of the whole machine (``/proc/stat``, steal included) minus this process'
    own CPU time and its children's: reaped ones (e.g. CBC, a finished replication pool)
    and live ones (the Dijkstra worker processes of ``networks``, alive until exit), over
    ``elapsed x n_cpus``.
    """

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0 = self._busy()
        self.own0 = self._own()
        self.load0 = os.getloadavg()[0]

    @staticmethod
    def _busy() -> float:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal
        busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)
        return busy / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        s = resource.getrusage(resource.RUSAGE_SELF)
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + _live_children_cpu()

    def stop(self) -> dict:
        el = max(time.perf_counter() - self.t0, 1e-9)
        ncpu = os.cpu_count() or 1
        other = (self._busy() - self.busy0) - (self._own() - self.own0)
        return {
            "elapsed_s": round(el, 2),
            "loadavg_1m_start": round(self.load0, 2),
            "loadavg_1m_end": round(os.getloadavg()[0], 2),
            "other_procs_cpu_share": round(max(0.0, other) / (el * ncpu), 3),
        }


def wait_idle(max_wait_s: float, threshold: float = 0.25, probe_s: float = 3.0) -> dict:
    """Wait (at most ``max_wait_s``) until other processes use < ``threshold`` of the CPU."""
    t0 = time.perf_counter()
    share = 1.0
    while True:
        m = CpuMeter()
        time.sleep(probe_s)
        share = m.stop()["other_procs_cpu_share"]
        if share < threshold or time.perf_counter() - t0 >= max_wait_s:
            break
    return {"waited_s": round(time.perf_counter() - t0, 1), "other_share_at_start": share}


def git(*args: str) -> str:
    """Output of a git command in the repository ('' when git is unavailable)."""
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return ""


def machine_info(versions: dict, **extra) -> dict:
    """CPU, memory, platform, package versions, commit and date; ``extra`` keys go before the commit."""
    cpu_model = ""
    try:
        for ln in open("/proc/cpuinfo"):
            if ln.startswith("model name"):
                cpu_model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "executable": sys.executable,
        **versions,
        "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        **extra,
        "git_commit": git("rev-parse", "--short", "HEAD"),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def fmt_s(s: float | None) -> str:
    """A duration for a table: h, s or ms with 2-3 significant digits; '-' when missing."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 10:
        return f"{s:.1f} s"
    if s >= 0.1:
        return f"{s:.2f} s"
    return f"{s * 1e3:.1f} ms"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (evplan's one atomic writer)."""
    from planner.report.atomic import write_text_atomic

    write_text_atomic(path, text)
