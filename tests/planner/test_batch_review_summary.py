"""Batch review (2026-12-07): what the batch folder's summary says after a batch is killed.

A batch killed with SIGKILL (or a lost machine) runs no cleanup, so the summary files it
leaves are those an earlier batch wrote. When that earlier summary lists as ``done`` a run
this batch is doing again (its input file changed, so its ``done.json`` was removed), the
killed batch left a ``summary.csv`` (and chart) presenting an unfinished run as finished,
while ``evplan batch --dry-run`` listed it "to run".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from planner.batch.execute import finished_runs, run_batch
from planner.batch.plan import plan_sweep
from planner.batch.summary import CHART
from tests.planner.test_batch import ROOT, TESTS, _sweep, fake_runner

#: A batch (in this process, no Dask) whose first run kills the batch process: no
#: ``finally``, no signal handler, as with SIGKILL.
_KILLED = """
import os, signal, sys
from planner.batch.execute import run_batch
from planner.batch.plan import plan_sweep

def runner(cfg, *, out_dir):
    os.kill(os.getpid(), signal.SIGKILL)

run_batch(plan_sweep(sys.argv[1]), workers=0, runner=runner)
"""


def _killed_batch(sweep: Path) -> int:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED, str(sweep)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


def test_a_killed_batch_leaves_no_summary_saying_an_unfinished_run_is_done(tmp_path):
    (tmp_path / "nowhere.osm").write_bytes(b"synthetic bytes, version 1")
    sweep = _sweep(tmp_path, "  model.p: [1, 2]\n")
    plan = plan_sweep(sweep)
    first = run_batch(plan, workers=0, runner=fake_runner)
    assert first.count("done") == 2 and (plan.output / CHART).is_file()

    # the input changed: both runs are to be done again; the batch doing them is killed
    (tmp_path / "nowhere.osm").write_bytes(b"synthetic bytes, version 2")
    assert _killed_batch(sweep) == -9
    assert finished_runs(plan) == set()  # what --dry-run lists: both "to run"

    summary = pd.read_csv(plan.output / "summary.csv")
    assert summary["status"].tolist() == ["not_run", "not_run"]
    assert summary["error"].str.startswith("not run: the batch stopped").all()
    left = pd.read_csv(plan.output / "failures.csv")
    assert left["model.p"].tolist() == [1, 2]
    # the chart plotted the stale runs as this sweep's results; none is finished now
    assert not (plan.output / CHART).exists()

    # the rerun completes the sweep and writes the summary of an uninterrupted batch
    again = run_batch(plan, workers=0, runner=fake_runner)
    assert again.count("done") == 2
    assert pd.read_csv(plan.output / "summary.csv")["status"].tolist() == ["done", "done"]
    assert (plan.output / CHART).is_file()


def test_a_killed_batch_keeps_its_finished_runs_in_the_summary(tmp_path):
    """A run finished by an earlier batch stays ``done`` (resumed) in the summary a killed
    batch leaves; the runs it had to do are ``not_run``."""
    (tmp_path / "nowhere.osm").write_bytes(b"synthetic bytes")
    first_plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    assert run_batch(first_plan, workers=0, runner=fake_runner).count("done") == 1

    sweep = _sweep(tmp_path, "  model.p: [1, 2]\n")  # the sweep grew a run
    assert _killed_batch(sweep) == -9
    summary = pd.read_csv(plan_sweep(sweep).output / "summary.csv")
    assert summary["model.p"].tolist() == [1, 2]
    assert summary["status"].tolist() == ["done", "not_run"]
    assert summary["resumed"].tolist() == [True, False]
