"""Batch sweeps: sweep files, resumability, failure isolation, Dask local and external clusters.

Most tests use :func:`fake_runner`, a small named runner whose behaviour is set by the study
title (``"sleep=0.3 fail=3 bug=4 kill_once=5 kill_always=6"``: sleep, raise a user error,
raise a bug, kill its own worker process on the first attempt, kill it every time, for runs
whose ``model.p`` is the given number). It lives in this module, which the workers import
(LocalCluster workers inherit ``sys.path``; external workers get ``PYTHONPATH``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from networks.errors import EvplanError
from planner.batch.execute import (
    BatchError,
    SchedulerError,
    batch_lock,
    finished_runs,
    run_batch,
)
from planner.batch.plan import plan_configs, plan_sweep
from planner.config.sweep import SweepError, check_parameter
from planner.report.atomic import MARKER, atomic_dir

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parents[1]

BASE = """\
name: tiny
title: "{title}"
network: {{source: nowhere.osm}}
demand: {{kind: city, population: 1000}}
model: {{kind: mclp, p: 1}}
"""


def _behaviour(cfg) -> dict[str, float]:
    return {k: float(v) for k, _, v in (t.partition("=") for t in cfg.title.split()) if v}


def fake_runner(cfg, *, out_dir: Path) -> dict:
    """Test runner: writes ``result.json`` atomically; behaviour from ``cfg.title``."""
    import logging

    b, p = _behaviour(cfg), cfg.model.p
    logging.getLogger("planner.fake").info("fake study p=%s", p)
    with atomic_dir(out_dir) as tmp:  # like the pipeline: a hidden .partial folder while it runs
        (tmp / "started.txt").write_text("half-written")
        time.sleep(b.get("sleep", 0.0))
        if b.get("fail") == p:
            raise EvplanError(f"p={p}: no feasible siting (test)")
        if b.get("bug") == p:
            raise ZeroDivisionError("division by zero (test)")
        marker = out_dir.parent.parent / f"killed-{out_dir.name}"
        if b.get("kill_always") == p or (b.get("kill_once") == p and not marker.exists()):
            marker.touch()
            os._exit(3)
        (tmp / "result.json").write_text(json.dumps({"p": p}))
    return {"coverage_share_after": 1 - 1 / (p + 1), "n_stations_after": p, "capex": 1000.0 * p}


def _sweep(tmp_path: Path, params: str, *, title: str = "", extra: str = "") -> Path:
    if not (tmp_path / "nowhere.osm").exists():  # the input file the config checks look for
        (tmp_path / "nowhere.osm").write_text("")
    (tmp_path / "base.yaml").write_text(BASE.format(title=title))
    path = tmp_path / "sweep.yaml"
    path.write_text(f"base: base.yaml\noutput: out\n{extra}parameters:\n{params}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- sweep files


def test_grid_expansion_ranges_and_labels(tmp_path):
    path = _sweep(
        tmp_path,
        "  model.p: {start: 2, stop: 10, step: 4}\n  simulation.temperature_c: [25, -20]\n"
        "  model.coverage_target: {start: 0.5, stop: 0.7, step: 0.1}\n",
        extra="fixed: {model.solver.threads: 1}\n",
    )
    plan = plan_sweep(path)
    assert len(plan.runs) == 3 * 2 * 3
    assert plan.output == (tmp_path / "out").resolve()
    assert plan.parameters == ["model.p", "simulation.temperature_c", "model.coverage_target"]
    assert sorted({r.params["model.p"] for r in plan.runs}) == [2, 6, 10]  # stop is inclusive
    assert sorted({r.params["model.coverage_target"] for r in plan.runs}) == [0.5, 0.6, 0.7]
    assert plan.runs[0].label == "p=2 temperature_c=25 coverage_target=0.5"
    assert all(r.config.model.solver.threads == 1 for r in plan.runs)
    assert len({r.key for r in plan.runs}) == len(plan.runs)


def test_zip_mode_and_duplicates(tmp_path):
    path = _sweep(
        tmp_path,
        "  model.p: [1, 2, 2]\n  simulation.temperature_c: [25, -20, -20]\n",
        extra="mode: zip\n",
    )
    plan = plan_sweep(path)
    assert [r.label for r in plan.runs] == [
        "p=1 temperature_c=25",
        "p=2 temperature_c=-20",
    ]  # duplicate once
    path.write_text(path.read_text().replace("[1, 2, 2]", "[1, 2]"))
    with pytest.raises(
        SweepError, match=r"mode 'zip' needs .*model.p: 2, simulation.temperature_c: 3"
    ):
        plan_sweep(path)


def test_unknown_parameter_and_empty_range_name_file_and_parameter(tmp_path):
    path = _sweep(
        tmp_path,
        "  model.rnage_km: [100]\n  model.p: {start: 5, stop: 1}\n  model.threshold_min: []\n",
    )
    with pytest.raises(SweepError) as err:
        plan_sweep(path)
    msg = str(err.value)
    assert str(path) in msg
    assert (
        "parameters.model.rnage_km: unknown field 'rnage_km' in section 'model' (did you mean 'range_km'?)"
        in msg
    )
    assert f"{path}:5: parameters.model.p: empty range (range start 5 > stop 1)" in msg
    assert "parameters.model.threshold_min: empty range (empty list)" in msg
    assert not (tmp_path / "out").exists()


def test_sweep_file_schema_errors(tmp_path):
    path = _sweep(tmp_path, "  model.p: {start: 1, stop: 3, stpe: 1}\n", extra="colour: red\n")
    with pytest.raises(SweepError) as err:
        plan_sweep(path)
    assert "colour: Extra inputs are not permitted" in str(err.value)
    assert "parameters.model.p.stpe: Extra inputs are not permitted" in str(err.value)
    assert check_parameter("simulation.seasons.winter") is None
    assert check_parameter("vehicles.fleet.hyundai_ioniq_5") is None
    assert "is a list" in check_parameter("existing_stations.0.plugs")
    assert "single value" in check_parameter("model.kind.x")


def test_one_invalid_run_fails_the_whole_sweep_up_front(tmp_path):
    path = _sweep(tmp_path, "  model.p: [2, 0, 3]\n  simulation.temperature_c: [20, 90]\n")
    with pytest.raises(SweepError) as err:
        plan_sweep(path)
    msg = str(err.value)
    assert "4 of 6 runs are invalid; nothing was run" in msg
    assert (
        "run p=0 temperature_c=20" in msg
        and "model.p: Input should be greater than or equal to 1" in msg
    )
    assert "simulation.temperature_c: Input should be less than or equal to 50" in msg
    # each swept value the study rejects is named at its line of the sweep file (line 4:
    # model.p, line 5: temperature_c), not at the base study's line of that key
    assert f"{path}:4: model.p: Input should be greater than or equal to 1" in msg
    assert f"{path}:5: simulation.temperature_c: Input should be" in msg
    assert "base.yaml" not in msg.split("invalid; nothing was run", 1)[1]
    assert not (tmp_path / "out").exists()


def test_plan_from_study_files(tmp_path):
    for i in (1, 2):
        (tmp_path / f"s{i}.yaml").write_text(BASE.format(title="").replace("p: 1", f"p: {i}"))
    plan = plan_configs([tmp_path / "s1.yaml", tmp_path / "s2.yaml"], output=tmp_path / "b")
    assert [r.label for r in plan.runs] == ["s1", "s2"]
    (tmp_path / "s2.yaml").write_text("name: bad\n")
    with pytest.raises(SweepError, match="1 of 2 study files are invalid"):
        plan_configs([tmp_path / "s1.yaml", tmp_path / "s2.yaml"], output=tmp_path / "b")


# --------------------------------------------------------------------------- in-process runs


def test_failure_isolation_summary_and_resume_in_process(tmp_path):
    path = _sweep(
        tmp_path,
        "  model.p: {start: 1, stop: 5}\n  simulation.temperature_c: [25, -20]\n",
        title="fail=3 bug=4",
    )
    plan = plan_sweep(path)
    seen = []
    result = run_batch(plan, workers=0, runner=fake_runner, progress=seen.append)
    assert result.count("done") == 6 and len(result.failed) == 4
    out = plan.output
    fails = pd.read_csv(out / "failures.csv")
    assert sorted(fails["model.p"]) == [3, 3, 4, 4]
    assert set(fails["error"]) == {
        "p=3: no feasible siting (test)",
        "ZeroDivisionError: division by zero (test)",
    }
    for log in fails["log"]:
        assert "Traceback" in (out / log).read_text()
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 10 and set(summary["status"]) == {"done", "failed"}
    assert (out / "coverage_vs_budget.png").stat().st_size > 1000
    done = summary[summary["status"] == "done"]
    for folder in done["folder"]:
        run = out / folder
        assert (
            json.loads((run / "result.json").read_text())["p"]
            == json.loads((run / "done.json").read_text())["params"]["model.p"]
        )
        assert "fake study p=" in (run / "run.log").read_text()
    assert seen[-1].done == 6 and seen[-1].failed == 4 and seen[-1].queued == 0

    # Resume: finished runs are skipped, failed ones are tried again (and now succeed).
    again = run_batch(
        plan,
        workers=0,
        runner=lambda cfg, *, out_dir: fake_runner(
            cfg.model_copy(update={"title": ""}), out_dir=out_dir
        ),
    )
    assert again.count("skipped") == 6 and again.count("done") == 4 and not again.failed
    assert not (out / "failed").exists() or not list((out / "failed").iterdir())
    assert pd.read_csv(out / "failures.csv").empty


def test_a_study_never_replaces_a_batch_folder(tmp_path):
    """`evplan run -o <batch folder>` deleted the whole batch (runs, summaries and the user's
    own files): the batch marker lists no files, so everything looked like evplan's."""
    from planner.report.atomic import OutputFolderError, batch_run_output, check_output_target

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    run_batch(plan, workers=0, runner=fake_runner)
    out = plan.output
    (out / "notes.txt").write_text("mine")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    for overwrite in (False, True):
        with pytest.raises(OutputFolderError, match="is a batch folder"):
            check_output_target(out, overwrite=overwrite)
    with pytest.raises(OutputFolderError, match="is a batch folder"), atomic_dir(out) as tmp:
        (tmp / "x.txt").write_text("new")
    # nor its runs/ or failed/ (replacing runs/ lost every finished run)
    for sub in ("runs", "failed"):
        (out / sub).mkdir(exist_ok=True)
        with pytest.raises(OutputFolderError, match="is inside the batch folder"):
            check_output_target(out / sub, overwrite=True)
        with pytest.raises(OutputFolderError), atomic_dir(out / sub, foreign_ok=True):
            pass
    (out / "failed").rmdir()
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert (out / "notes.txt").read_text() == "mine"
    check_output_target(out, kind="batch")  # the batch itself may go on in it
    with batch_run_output(out / "runs" / "abc"):  # and write its runs (a study each)
        check_output_target(out / "runs" / "abc")


def test_batch_of_study_files_refuses_their_own_folder(tmp_path):
    (tmp_path / "s1.yaml").write_text(BASE.format(title=""))
    plan = plan_configs([tmp_path / "s1.yaml"], output=tmp_path)
    from planner.report.atomic import OutputFolderError

    with pytest.raises(OutputFolderError, match="study file's own folder"):
        run_batch(plan, workers=0, runner=fake_runner, overwrite=True)
    assert not (tmp_path / MARKER).exists() and not (tmp_path / "runs").exists()


def test_a_full_disk_fails_the_batch_cleanly(tmp_path, monkeypatch):
    """ENOSPC while recording runs: each run is a failed outcome (not an escaped OSError,
    which ended the batch as an internal error with no summary), and the summary that cannot
    be written either is an OutputWriteError naming the folder."""
    import errno

    import planner.batch.summary as summary
    import planner.batch.worker as worker
    from planner.report.atomic import OutputWriteError

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker, "write_text_atomic", full)
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n", title="fail=2"))
    outcomes = [worker.execute_run(spec, plan.output, fake_runner) for spec in plan.runs]
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "could not record the finished run" in outcomes[0].error
    assert "No space left on device" in outcomes[0].error
    assert "failure record could not be written" in outcomes[1].error

    # only done.json cannot be written: the run's log stays with its failure record
    def done_full(path, text):
        if Path(path).name == "done.json":
            full()
        return real(path, text)

    real = summary.write_text_atomic
    monkeypatch.setattr(worker, "write_text_atomic", done_full)
    (tmp_path / "one").mkdir()
    plan1 = plan_sweep(_sweep(tmp_path / "one", "  model.p: [1]\n"))
    (o,) = [worker.execute_run(spec, plan1.output, fake_runner) for spec in plan1.runs]
    assert o.status == "failed" and o.log is not None and o.log.is_file()
    assert "fake study p=1" in o.log.read_text()
    monkeypatch.setattr(summary, "write_text_atomic", full)
    with pytest.raises(OutputWriteError, match="could not write the batch summary in .*No space"):
        run_batch(plan, workers=0, runner=fake_runner, overwrite=True)


def test_a_refused_batch_prints_its_error_without_a_progress_bar(tmp_path):
    """The bar was drawn before the checks: a refused batch printed "0/1 ... starting
    workers" above its error. It now appears with the batch's first progress report."""
    import io

    from rich.console import Console

    from planner.report.console import BatchBar

    refused = Console(file=io.StringIO(), force_terminal=False, width=100)
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    with (
        batch_lock(plan.output),
        pytest.raises(BatchError),
        BatchBar(refused, "sweep", total=1, finished=0) as on_progress,
    ):
        run_batch(plan, workers=0, runner=fake_runner, progress=on_progress)
    assert refused.file.getvalue() == ""
    shown = Console(file=io.StringIO(), force_terminal=False, width=100)
    with BatchBar(shown, "sweep", total=1, finished=0) as on_progress:
        run_batch(plan, workers=0, runner=fake_runner, progress=on_progress)
    assert "sweep" in shown.file.getvalue() and "1/1" in shown.file.getvalue()


def test_a_second_batch_on_the_same_folder_is_refused(tmp_path):
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    with batch_lock(plan.output), pytest.raises(BatchError, match="another batch is running"):
        run_batch(plan, workers=0, runner=fake_runner)


# --------------------------------------------------------------------------- Dask


def test_unreachable_scheduler_fails_fast_with_a_clear_message(tmp_path):
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.perf_counter()
    with pytest.raises(
        SchedulerError, match=f"cannot connect to a Dask scheduler at {address} within 2 s"
    ):
        run_batch(plan, scheduler=address, runner=fake_runner, connect_timeout=2)
    assert time.perf_counter() - t0 < 10
    # nothing ran: the batch folder this call created is not left behind (it held only the
    # marker and lock, which a later `run -o` took for an evplan folder), nor its parents
    assert not plan.output.exists()
    deep = plan.output
    plan.output = tmp_path / "new" / "deep" / "b"
    with pytest.raises(SchedulerError):
        run_batch(plan, scheduler=address, runner=fake_runner, connect_timeout=1)
    assert not (tmp_path / "new").exists()
    plan.output = deep
    # a folder that existed before stays, with what was in it
    plan.output.mkdir()
    (plan.output / "notes.txt").write_text("mine")
    with pytest.raises(SchedulerError):
        run_batch(plan, scheduler=address, runner=fake_runner, connect_timeout=1, overwrite=True)
    assert (plan.output / "notes.txt").read_text() == "mine"
    assert not (plan.output / "summary.csv").exists()


def test_a_service_that_is_not_a_scheduler_fails_in_bounded_time(tmp_path):
    """A peer that accepts TCP connections but never speaks the Dask protocol (here a raw
    socket that reads and never answers) used to hang the connect forever."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    address = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    t0 = time.perf_counter()
    try:
        with pytest.raises(SchedulerError, match=f"at {address}"):
            run_batch(plan, scheduler=address, runner=fake_runner, connect_timeout=2)
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        srv.close()
    assert time.perf_counter() - t0 < 20


def _garbage_server():
    """A TCP server on localhost that answers every connection with bytes that are not
    the Dask protocol (an HTTP error, repeated); returns ``(address, stop)``."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()
    conns = []

    def serve():
        while not stop.is_set():
            try:
                conn = srv.accept()[0]
            except OSError:
                continue
            conns.append(conn)
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 50)

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def close():
        stop.set()
        t.join()
        for c in conns:
            c.close()
        srv.close()

    return f"tcp://127.0.0.1:{srv.getsockname()[1]}", close


def test_a_service_answering_garbage_fails_quietly_within_the_timeout(tmp_path):
    """A peer answering non-Dask bytes: the half-built client was left to its finaliser,
    which waited twice the connect timeout at exit and printed "Exception ignored in
    Client.__del__ ... TimeoutError" (23 s with the default 10 s)."""
    path = _sweep(tmp_path, "  model.p: [1]\n")
    timeout = 6
    # Yardstick, measured in the same test so that a loaded machine slows both alike: the
    # same sweep as a dry run in a fresh interpreter that imports Dask distributed (start,
    # imports, planning; no connection). The failed connection itself is immediate; the
    # finaliser's wait added 2 x timeout on top of it.
    dry, base = _batch_at(["--sweep", str(path), "--dry-run"], tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    address, close = _garbage_server()
    try:
        args = ["--sweep", str(path), "--scheduler", address, "--connect-timeout", str(timeout)]
        proc, elapsed = _batch_at(args, tmp_path)
    finally:
        close()
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, said
    assert f"cannot connect to a Dask scheduler at {address}" in said
    assert "Exception ignored" not in said and "Traceback" not in said, said
    assert elapsed < base + timeout, (elapsed, base, said)
    assert not (tmp_path / "out").exists()


def _batch_at(args, cwd):
    """``evplan batch *args`` in a fresh interpreter that imports Dask distributed first:
    ``(completed process, wall seconds)``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "import distributed, planner.cli as c; c.main()", "batch", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, time.perf_counter() - t0


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory):
    """A scheduler and two workers started as separate processes on localhost (shared by the
    tests below). ``allowed-failures=1``: a run whose worker dies is retried once; worker
    saturation 1.0: a worker holds only the run it executes, so a crash blames no other run.

    The scheduler picks its own port and writes it to a scheduler file, which the fixture
    waits for: a port chosen here and bound later by the scheduler could be taken in
    between by another process (tests run in parallel), and the tests' connect timeout
    was spent on the scheduler's start."""
    folder = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = folder / "scheduler.json"
    log = (folder / "scheduler.log").open("w")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",  # as docs/batch.md advises:
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }  # no run queued behind a crashing one
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(scheduler_file),
                "--no-dashboard",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        deadline = time.monotonic() + 120
        address = None
        while address is None:
            if procs[0].poll() is not None:
                raise RuntimeError(
                    f"the test's Dask scheduler exited ({procs[0].returncode}): "
                    + (folder / "scheduler.log").read_text()
                )
            if time.monotonic() > deadline:
                raise RuntimeError("the test's Dask scheduler did not start within 120 s")
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):  # being written
                address = json.loads(scheduler_file.read_text())["address"]
            time.sleep(0.1)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    env=env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield address
    finally:
        for p in procs:  # the nannies' worker processes exit with their parent
            p.kill()
            p.wait(timeout=10)
        log.close()


def test_external_scheduler_and_workers_in_separate_processes(tmp_path, external_cluster):
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2, 3, 4]\n", title="sleep=1.0 fail=3"))
    seen = []
    result = run_batch(
        plan,
        scheduler=external_cluster,
        runner=fake_runner,
        progress=seen.append,
        connect_timeout=30,
    )
    assert result.count("done") == 3 and [o.params["model.p"] for o in result.failed] == [3]
    workers = {o.worker for o in result.outcomes}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)  # ran in the worker processes
    assert any(p.running >= 1 for p in seen) and max(p.running for p in seen) <= 2
    assert (seen[-1].done, seen[-1].failed, seen[-1].running, seen[-1].queued) == (3, 1, 0, 0)


def test_killed_workers_are_retried_or_reported(tmp_path, external_cluster):
    """A run whose worker process dies once is retried and finishes; one that kills it every
    time is reported as failed (after allowed-failures), never lost."""
    plan = plan_sweep(
        _sweep(tmp_path, "  model.p: [1, 5, 6]\n", title="sleep=0.2 kill_once=5 kill_always=6")
    )
    result = run_batch(plan, scheduler=external_cluster, runner=fake_runner, connect_timeout=30)
    by_p = {o.params["model.p"]: o for o in result.outcomes}
    assert [by_p[p].status for p in (1, 5, 6)] == ["done", "done", "failed"]
    assert "worker process died" in by_p[6].error
    assert by_p[6].log.parent == plan.output / "failed" / by_p[6].key
    assert pd.read_csv(plan.output / "failures.csv")["model.p"].tolist() == [6]
    assert json.loads((by_p[5].folder / "result.json").read_text()) == {"p": 5}


def test_resume_after_killing_the_batch_process(tmp_path):
    path = _sweep(tmp_path, "  model.p: {start: 1, stop: 4}\n", title="sleep=1.0")
    plan = plan_sweep(path)
    runs = plan.output / "runs"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from planner.batch.execute import run_batch; "
            "from planner.batch.plan import plan_sweep; "
            "from tests.planner.test_batch import fake_runner; "
            "run_batch(plan_sweep(sys.argv[1]), workers=2, runner=fake_runner)",
            str(path),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not list(runs.glob("*/done.json"))
            and time.monotonic() < deadline
            and proc.poll() is None
        ):
            time.sleep(0.05)
        time.sleep(0.3)  # let the other worker get mid-run
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)  # the killed batch's worker processes exit when their parent dies
    finished = {p.parent.name for p in runs.glob("*/done.json")}
    assert 1 <= len(finished) < 4, proc.stderr.read().decode()[-2000:]
    assert any(
        p.name.startswith(".") for p in runs.iterdir()
    )  # the unfinished runs' hidden leftovers
    for folder in (p for p in runs.iterdir() if not p.name.startswith(".")):
        assert (folder / "result.json").is_file()  # nothing half-written looks like a run
    result = run_batch(plan, workers=0, runner=fake_runner)
    assert result.count("skipped") == len(finished)
    assert result.count("done") == 4 - len(finished) and not result.failed
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]
    assert len(pd.read_csv(plan.output / "summary.csv")) == 4


def test_a_cancelled_runs_output_lock_is_removed_unless_a_run_still_holds_it(tmp_path, caplog):
    # a Dask run cancelled by a stop can leave runs/.evplan-lock.<key>: it was read as the
    # key "evplan-lock", not ours, and warned about on every later start. A held lock is a
    # run still going (a cancelled Dask task runs on): none of that run's files is touched
    from planner.batch.folder import clean_stale_runs
    from planner.report.atomic import pid_lock

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / ".evplan-lock.aaaa").write_text("12345")  # left by a cancelled run
    (runs / ".aaaa.123-ab.run.log").write_text("log")
    (runs / ".evplan-lock.zzzz").write_text("12345")  # not a run of this plan
    (runs / ".bbbb.456-cd.run.log").write_text("log of the run still going")
    partial = runs / ".bbbb.x1.partial"
    partial.mkdir()
    (partial / MARKER).write_text("{}")
    with (
        pid_lock(runs / ".evplan-lock.bbbb", lambda pid: RuntimeError(pid)),
        caplog.at_level("WARNING"),
    ):  # the run still going (another process sharing the folder)
        removed = clean_stale_runs(runs, {"aaaa", "bbbb"})
        assert (runs / ".evplan-lock.bbbb").is_file()
    assert removed == 2
    assert sorted(p.name for p in runs.iterdir()) == [
        ".bbbb.456-cd.run.log",
        ".bbbb.x1.partial",
        ".evplan-lock.bbbb",
        ".evplan-lock.zzzz",
    ]
    assert sorted(r.getMessage() for r in caplog.records) == [
        f"leaving {runs / '.evplan-lock.zzzz'} alone: not a temporary of this batch's runs",
        f"leaving run bbbb's files alone: a run still holds {runs / '.evplan-lock.bbbb'}",
    ]


def test_an_output_lock_removed_between_open_and_flock_is_taken_again(tmp_path, monkeypatch):
    # the cleanup removes a free lock file: a run that opened it just before must not end
    # up holding a lock on a file no one else sees (two runs in one output folder)
    import fcntl

    from planner.report.atomic import pid_lock

    path = tmp_path / ".evplan-lock.out"
    real_flock, vanished = fcntl.flock, []

    def flock_then_cleanup(fh, op):
        real_flock(fh, op)
        if op & fcntl.LOCK_EX and not vanished:
            vanished.append(True)
            path.unlink()  # as clear_stale_lock would have, between our open and flock

    monkeypatch.setattr(fcntl, "flock", flock_then_cleanup)
    with pid_lock(path, lambda pid: RuntimeError(f"busy {pid}")):
        assert vanished and path.read_text() == str(os.getpid())
        with pytest.raises(RuntimeError, match=f"^{os.getpid()}$"), pid_lock(path, RuntimeError):
            pass  # a second run sees the lock, and who holds it


# --------------------------------------------------------------------------- the real pipeline

TINY = """\
base: {base}
output: out
fixed:                       # a tiny corridor study: few trips, one replication, short solve
  model.kind: mclp           # the shipped study's FRLM needs more solver time than a test has
  demand.trips_per_day: 40
  simulation.days: 1
  simulation.replications: 1
  vehicles.compare: []
  targets.max_iterations: 1
  model.solver.threads: 1
  model.solver.time_limit_s: 5
  outputs.html: false
  outputs.gpkg: false
parameters:
  model.p: [1, 3]
  simulation.temperature_c: [25, -20]
"""


def test_shipped_sweep_example_is_valid():
    plan = plan_sweep(ROOT / "configs" / "sweep-kaz01.yaml")
    assert len(plan.runs) == 30 and plan.parameters == [
        "model.p",
        "model.range_km",
        "simulation.temperature_c",
    ]


def test_real_pipeline_sweep_on_the_kaz01_corridor(tmp_path, data_dir, external_cluster):
    path = tmp_path / "sweep.yaml"
    path.write_text(TINY.format(base=ROOT / "configs" / "corridor-kaz01.yaml"))
    plan = plan_sweep(path)
    result = run_batch(plan, scheduler=external_cluster, connect_timeout=30)
    assert not result.failed, [o.error for o in result.failed]
    df = result.summary
    cov = next(c for c in df.columns if "coverage" in c and "after" in c)
    assert df[cov].between(0, 1).all() and len(df) == 4
    assert result.chart is not None and result.chart.stat().st_size > 1000
    for o in result.outcomes:
        assert "step: network" in (o.folder / "run.log").read_text()
        assert (
            len(list(o.folder.iterdir())) > 3
        )  # the pipeline's outputs beside run.log and done.json
    again = run_batch(plan, workers=0)  # resume: nothing left to do
    assert (
        again.count("skipped") == 4
        and pd.read_csv(plan.output / "summary.csv")[cov].tolist() == df[cov].tolist()
    )


def test_resume_reruns_a_run_whose_input_file_changed(tmp_path):
    """The run key hashes the config; a changed input file (same path) must not be skipped."""
    (tmp_path / "nowhere.osm").write_bytes(b"synthetic bytes, version 1")
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    first = run_batch(plan, workers=0, runner=fake_runner)
    assert first.count("done") == 2
    marker = json.loads((plan.output / "runs" / plan.runs[0].key / "done.json").read_text())
    assert list(marker["inputs"]) == [str((tmp_path / "nowhere.osm").resolve())]
    again = run_batch(plan, workers=0, runner=fake_runner)
    assert again.count("skipped") == 2  # nothing changed: resumed
    (tmp_path / "nowhere.osm").write_bytes(b"synthetic bytes, version 2")
    assert finished_runs(plan) == set()
    third = run_batch(plan, workers=0, runner=fake_runner)
    assert third.count("done") == 2 and third.count("skipped") == 0


ROLLOUT_SWEEP = """\
base: {base}
output: out
fixed:                       # the shipped corridor rollout, small: few trips, short solves
  demand.trips_per_day: 40
  simulation.days: 1
  simulation.replications: 1
  simulation.max_replications: 1
  simulation.warmup_days: 0
  simulation.seasons: {{}}
  targets.max_iterations: 1
  model.solver.threads: 1
  model.solver.time_limit_s: 5
  rollout.time_limit_s: 5
  vehicles.compare: []
  outputs.html: false
  outputs.gpkg: false
  outputs.coverage_curve: false
parameters:
  rollout.scenarios.severe_winter.temperature_c: [-25, -35]
"""


def test_rollout_scenario_sweep_runs_on_dask(tmp_path, data_dir, external_cluster, monkeypatch):
    """Stages and scenarios run as one study per sweep point; a sweep over one field of a
    scenario (the severe winter's temperature) runs on Dask like any other sweep."""
    monkeypatch.setenv("EVPLAN_DATA_DIR", str(data_dir))
    import yaml

    base = ROOT / "configs" / "corridor-kaz01-rollout.yaml"
    two_stages = yaml.safe_load(base.read_text())["stages"][:2]
    path = tmp_path / "sweep.yaml"
    path.write_text(
        ROLLOUT_SWEEP.format(base=base).replace(
            "fixed:", "fixed:\n  stages: " + json.dumps(two_stages), 1
        )
    )
    plan = plan_sweep(path)
    assert len(plan.runs[0].config.stages) == 2
    temps = [r.config.rollout.scenario_specs()["severe_winter"].temperature_c for r in plan.runs]
    assert temps == [-25.0, -35.0]
    result = run_batch(plan, scheduler=external_cluster, connect_timeout=30)
    assert not result.failed, [o.error for o in result.failed]
    for o in result.outcomes:
        kpis = json.loads((o.folder / "kpis.json").read_text())
        assert {s["year"] for s in kpis["stages"]} == {st.year for st in plan.runs[0].config.stages}
    assert len(result.summary) == 2


def test_a_sweep_given_as_a_study_and_the_reverse_say_so(tmp_path):
    from planner.config.study import ConfigFileError, load_config

    sweep = _sweep(tmp_path, "  model.p: [1]\n")
    with pytest.raises(ConfigFileError, match="looks like a sweep file .*evplan batch --sweep"):
        load_config(sweep)
    with pytest.raises(SweepError, match="looks like a study config .*evplan run"):
        plan_sweep(tmp_path / "base.yaml")
    with pytest.raises(ConfigFileError, match="is a folder, not a file"):
        load_config(tmp_path)


def test_empty_output_and_utf16_config_messages(tmp_path):
    from planner.config.study import ConfigFileError, load_config
    from planner.report.atomic import OutputFolderError, check_output_target

    with pytest.raises(OutputFolderError, match="is empty \\(an unset shell variable\\?\\)"):
        check_output_target("", what="--out")
    p = tmp_path / "s.yaml"
    p.write_bytes(BASE.format(title="").encode("utf-16"))
    with pytest.raises(ConfigFileError, match="saved as UTF-16; save it as UTF-8"):
        load_config(p)


def test_sweep_lines_for_nested_keys_and_checks_across_fields(tmp_path):
    """The longest swept key names the line (``fixed: model`` and ``model.p``), and an
    error on a whole section names the swept values inside it."""
    path = _sweep(tmp_path, "  model.p: [0]\n", extra="fixed:\n  model: {kind: mclp, p: 1}\n")
    with pytest.raises(SweepError) as err:
        plan_sweep(path)
    assert f"{path}:6: model.p: Input should be greater than or equal to 1" in str(err.value)
    path = _sweep(tmp_path, "  model.kind: [frlm]\n")
    with pytest.raises(SweepError) as err:
        plan_sweep(path)
    assert f"set from outside: model.kind at {path}:4" in str(err.value)


def test_run_log_drops_only_records_it_cannot_write(tmp_path, capsys, monkeypatch):
    """A full disk drops run-log records quietly (a traceback per record filled the
    console); a bad record (a format error, a bug) is still reported."""
    import errno
    import logging

    from planner.batch.worker import _RunLogHandler

    handler = _RunLogHandler(tmp_path / "run.log", encoding="utf-8")
    bad = logging.LogRecord("planner", logging.INFO, __file__, 1, "%d", ("many",), None)
    handler.handle(bad)
    assert "Logging error" in capsys.readouterr().err

    def full(_text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(handler.stream, "write", full)
    ok = logging.LogRecord("planner", logging.INFO, __file__, 1, "fine", None, None)
    handler.handle(ok)
    assert capsys.readouterr().err == ""
    handler.close()


def test_a_summary_done_json_cannot_hold_fails_that_run_only(tmp_path):
    """A runner's summary that JSON cannot hold (a tuple key) escaped execute_run as a
    ValueError/TypeError and ended the batch with no summary; numpy arrays are now lists."""
    import numpy as np

    from planner.batch.worker import execute_run

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    arrays, tuples = plan.runs
    ok = execute_run(arrays, plan.output, _array_summary)
    assert ok.status == "done", ok.error
    done = json.loads((plan.output / "runs" / arrays.key / "done.json").read_text())
    assert done["summary"]["per_day"] == [1.0, 2.0]
    bad = execute_run(tuples, plan.output, _tuple_key_summary)
    assert bad.status == "failed" and "keys must be" in bad.error and bad.log.is_file()
    assert np  # (arrays come from numpy)


def test_done_json_is_strict_json_with_undefined_kpis(tmp_path):
    """An undefined KPI (a wait with no session, grid upgrades not assessed) is NaN in the
    summary: done.json wrote the token NaN, which strict JSON readers refuse; it is null."""
    from planner.batch.folder import finished_outcome
    from planner.batch.worker import execute_run

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    (spec,) = plan.runs
    ok = execute_run(spec, plan.output, _nan_summary)
    assert ok.status == "done", ok.error
    text = (plan.output / "runs" / spec.key / "done.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    done = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    assert done["summary"] == {"grid_upgrade_kw": None, "wait_p95_min": 3.0, "peak": None}
    resumed = finished_outcome(spec, plan.output / "runs")
    assert resumed is not None and resumed.summary["grid_upgrade_kw"] is None
    # a fresh run and its resumed record give the same summary row: a no-op resume
    # changed summary.csv (inf, then empty) and a column's type (float, then object)
    from planner.batch.summary import summary_table

    assert ok.summary == resumed.summary
    fresh, again = summary_table(plan, [ok]), summary_table(plan, [resumed])
    pd.testing.assert_frame_equal(fresh.drop(columns="resumed"), again.drop(columns="resumed"))
    assert fresh["grid_upgrade_kw"].dtype == "float64" and fresh["peak"].dtype == "float64"


def _nan_summary(cfg, *, out_dir):
    out_dir.mkdir(parents=True)
    return {"grid_upgrade_kw": float("nan"), "wait_p95_min": 3.0, "peak": float("inf")}


def _array_summary(cfg, *, out_dir):
    import numpy as np

    out_dir.mkdir(parents=True)
    return {"per_day": np.array([1.0, 2.0])}


def _tuple_key_summary(cfg, *, out_dir):
    return {("a", "b"): 1}


def test_a_lock_whose_folder_was_removed_meanwhile_is_taken_in_a_new_one(tmp_path, monkeypatch):
    """A failed run's cleanup can remove the lock's folder between another run's open and
    flock: the other run makes it again (it raised FileNotFoundError, exit 70)."""
    import fcntl
    import shutil

    from planner.report.atomic import pid_lock

    lock = tmp_path / "r" / "s" / ".lock"
    real, calls = fcntl.flock, []

    def flock(fh, op):
        if not calls and op & fcntl.LOCK_EX:
            shutil.rmtree(tmp_path / "r")  # the other run's cleanup, right here
        calls.append(op)
        return real(fh, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    with pid_lock(lock, lambda pid: RuntimeError(pid)):
        assert lock.read_text() == str(os.getpid())


def test_an_invalid_override_is_named_as_the_override(tmp_path):
    """load_config(overrides=...) cited the study file's line of that key for a value the
    file does not hold."""
    from planner.config.study import ConfigFileError, load_config

    (tmp_path / "base.yaml").write_text(BASE.format(title=""))
    with pytest.raises(ConfigFileError, match=r"with overrides\['model.p'\]: model.p: Input"):
        load_config(tmp_path / "base.yaml", overrides={"model.p": 0})


def test_the_summary_columns_do_not_depend_on_which_run_comes_first(tmp_path):
    """A stopped batch whose first planned run never ran (no KPIs) put its columns first:
    verdict_reason before the KPIs, the KPIs after ``error`` (review, 2026-12-07)."""
    from planner.batch.plan import RunOutcome
    from planner.batch.summary import summary_table

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    first, second = plan.runs
    kpis = {"n_stations_after": 2, "targets_met": False, "coverage_share_after": 0.5}
    done = RunOutcome(second.key, second.label, second.params, "done", summary=kpis)
    never = RunOutcome(first.key, first.label, first.params, "not_run", error="not run")
    stopped = summary_table(plan, [never, done])
    whole = summary_table(plan, [done, never])
    expected = ["run", "label", "status", "resumed", "model.p", "n_stations_after",
                "targets_met", "verdict_reason", "coverage_share_after", "elapsed_s",
                "worker", "folder", "error"]  # fmt: skip
    assert list(stopped.columns) == expected == list(whole.columns)
    assert stopped.loc[0, "status"] == "not_run" and stopped.loc[1, "n_stations_after"] == 2


def test_a_runner_summary_with_frame_names_and_no_targets_keeps_one_column_each(tmp_path):
    """A custom runner may report ``elapsed_s`` (a frame column) and no ``targets_met``:
    one column each, ``verdict_reason`` after every KPI (review, 2026-12-07)."""
    from planner.batch.plan import RunOutcome
    from planner.batch.summary import summary_table

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    a, b = plan.runs
    first = RunOutcome(a.key, a.label, a.params, "done", summary={"x": 1, "elapsed_s": 5})
    second = RunOutcome(b.key, b.label, b.params, "done", summary={"x": 2, "y": 3})
    table = summary_table(plan, [first, second])
    assert list(table.columns) == ["run", "label", "status", "resumed", "model.p", "x", "y",
                                   "verdict_reason", "elapsed_s", "worker", "folder",
                                   "error"]  # fmt: skip
