"""Batch safety: a batch replaces only what it wrote for a run of its plan, and keeps
everything else (a user's files in a run folder, a study folder under ``runs/``); a run's
own trouble (a full disk, a recomputed Dask task, a planted ``done.json``) stays that run's.

The sweeps are tiny synthetic studies run by :func:`tests.planner.test_batch.fake_runner`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from networks.errors import EvplanError
from planner.batch.execute import run_batch
from planner.batch.plan import plan_sweep
from planner.config.study import config_hash
from planner.report.atomic import MARKER
from tests.planner.test_batch import _sweep, fake_runner


def _failing_runner(cfg, *, out_dir: Path) -> dict:
    raise EvplanError("the input is corrupt (test)")


def test_a_rerun_keeps_the_users_files_in_a_run_folder(tmp_path):
    """A run that finished, then failed on a changed input, lost the user's notes.txt in
    its folder at the next start ("removing runs/<key>"): the whole unfinished run folder
    was taken for a leftover. The run now replaces only what it wrote."""
    (tmp_path / "nowhere.osm").write_bytes(b"version 1")
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    assert run_batch(plan, workers=0, runner=fake_runner).count("done") == 1
    run = plan.output / "runs" / plan.runs[0].key
    (run / "notes.txt").write_text("mine")
    (tmp_path / "nowhere.osm").write_bytes(b"corrupt")
    assert len(run_batch(plan, workers=0, runner=_failing_runner).failed) == 1
    assert (run / "notes.txt").read_text() == "mine"
    (tmp_path / "nowhere.osm").write_bytes(b"version 1")
    assert run_batch(plan, workers=0, runner=fake_runner).count("done") == 1
    assert (run / "notes.txt").read_text() == "mine"
    assert json.loads((run / "result.json").read_text()) == {"p": 1}
    assert json.loads((run / "done.json").read_text())["key"] == plan.runs[0].key


def test_a_study_folder_under_runs_is_not_the_batchs(tmp_path):
    """A marked folder under runs/ that is no run of the plan (a study written there with
    `evplan run -o <batch>/runs/mystudy` by an older evplan) was deleted whole."""
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    run_batch(plan, workers=0, runner=fake_runner)
    mine = plan.output / "runs" / "mystudy"
    mine.mkdir()
    (mine / MARKER).write_text(json.dumps({"tool": "evplan", "kind": "study"}))
    (mine / "kpis.json").write_text("{}")
    assert run_batch(plan, workers=0, runner=fake_runner).count("skipped") == 1
    assert sorted(p.name for p in mine.iterdir()) == [MARKER, "kpis.json"]


def test_a_run_folder_moved_aside_by_a_killed_swap_is_put_back(tmp_path):
    """A run killed between moving its previous folder aside (``.<key>.old-<pid>``) and
    moving the new one in: the start deleted the only copy (and the user's files in it)."""
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    run_batch(plan, workers=0, runner=fake_runner)
    run = plan.output / "runs" / plan.runs[0].key
    (run / "notes.txt").write_text("mine")
    run.rename(run.with_name(f".{run.name}.old-999"))
    again = run_batch(plan, workers=0, runner=_failing_runner)
    assert again.count("skipped") == 1 and not again.failed
    assert (run / "notes.txt").read_text() == "mine"


def test_a_study_never_writes_inside_a_batch_folder(tmp_path):
    """`evplan run -o <batch>/runs/<finished key>` (exit 0) replaced a finished run: its
    done.json still described the old run and the next batch summarised stale values. A
    study is now refused anywhere inside a batch folder; only the batch's own run writes
    its run folder."""
    from planner.report.atomic import OutputFolderError, atomic_dir, check_output_target

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    run_batch(plan, workers=0, runner=fake_runner)
    run = plan.output / "runs" / plan.runs[0].key
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for target in (run, run / "sub", plan.output / "runs" / "mystudy", plan.output / "mine"):
        for overwrite in (False, True):
            with pytest.raises(OutputFolderError, match=f"inside the batch folder {plan.output}"):
                check_output_target(target, overwrite=overwrite, what="--out")
        with pytest.raises(OutputFolderError, match="choose another -o/--out"), atomic_dir(target):
            pass
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert not (plan.output / "runs" / "mystudy").exists() and not (plan.output / "mine").exists()
    from planner.report.atomic import batch_run_output

    with batch_run_output(run):  # the batch's own run of that key may
        check_output_target(run)
    again = run_batch(plan, workers=0, runner=fake_runner)
    assert again.count("skipped") == 1


@pytest.mark.parametrize("trouble", ["full disk", "read-only runs"])
def test_a_run_log_that_cannot_be_written_fails_that_run_only(tmp_path, monkeypatch, trouble):
    """The run log was opened and closed outside the run's error handling: a full disk
    (ENOSPC when the log is flushed at its close) or a read-only runs/ (the log cannot be
    opened) ended a serial batch after its first run as an internal OSError (exit 70), and
    printed worker tracebacks under Dask. Each run is now a failure record; the batch goes
    on and writes its summary (exit 1)."""
    import errno

    import planner.batch.worker as worker

    class Full(worker._RunLogHandler):
        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    class ReadOnly(worker._RunLogHandler):
        def __init__(self, path, *args, **kwargs) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(worker, "_RunLogHandler", Full if trouble == "full disk" else ReadOnly)
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    result = run_batch(plan, workers=0, runner=fake_runner)
    assert len(result.failed) == 2 and result.count("done") == 0
    reason = "No space left on device" if trouble == "full disk" else "Permission denied"
    for outcome in result.failed:
        assert f"could not write the run's files in {plan.output / 'runs'}" in outcome.error
        assert reason in outcome.error
    fails = pd.read_csv(plan.output / "failures.csv")
    assert sorted(fails["model.p"]) == [1, 2]
    assert not list((plan.output / "runs").glob("*/done.json"))
    monkeypatch.undo()  # the disk has room again: the runs are redone
    assert run_batch(plan, workers=0, runner=fake_runner).count("done") == 2


def _once_runner(cfg, *, out_dir: Path) -> dict:
    """Fails a test if it runs a second time for the same folder."""
    flag = out_dir.parent.parent / f"ran-{out_dir.name}"
    if flag.exists():
        raise AssertionError(f"run {out_dir.name} computed again")
    flag.touch()
    return fake_runner(cfg, out_dir=out_dir)


def test_a_finished_run_executed_again_is_returned_untouched(tmp_path):
    """When a worker died, Dask recomputed runs that had finished ("lose already computed
    tasks ... recomputed"): each deleted its done.json and ran again, and an interrupt then
    left a finished run without done.json that summary.csv listed as done. A run task is
    now idempotent: a valid done.json for its key and inputs is returned as it is."""
    from planner.batch.worker import execute_run

    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    (spec,) = plan.runs
    first = execute_run(spec, plan.output, _once_runner)
    assert first.status == "done", first.error
    run = plan.output / "runs" / spec.key
    before = {p.name: (p.stat().st_ino, p.read_bytes()) for p in run.iterdir()}
    again = execute_run(spec, plan.output, _once_runner)  # as Dask's recomputation would
    assert again.status == "done", again.error
    assert again.summary == first.summary and again.folder == run
    assert {p.name: (p.stat().st_ino, p.read_bytes()) for p in run.iterdir()} == before


@pytest.mark.parametrize(
    "planted",
    [
        [],  # valid JSON, not an object: AttributeError, exit 70
        {"key": "KEY", "summary": {"coverage_share_after": 99.0}},  # no inputs: trusted
        {"key": "0000", "inputs": "INPUTS", "summary": {"coverage_share_after": 99.0}},
        {
            "key": "KEY",
            "inputs": "INPUTS",
            "summary": {"coverage_share_after": 99.0},
            "elapsed_s": "x",
        },
    ],
    ids=["list", "no-inputs", "other-key", "bad-elapsed"],
)
def test_a_done_json_the_batch_did_not_write_means_not_done(tmp_path, planted):
    """A done.json that is not exactly what the batch writes (an object with the run's key
    and its input digests) is not trusted: the run is done again, its user files kept."""
    (tmp_path / "nowhere.osm").write_bytes(b"version 1")
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1]\n"))
    run_batch(plan, workers=0, runner=fake_runner)
    run = plan.output / "runs" / plan.runs[0].key
    inputs = json.loads((run / "done.json").read_text())["inputs"]
    text = json.dumps(planted).replace('"KEY"', json.dumps(plan.runs[0].key))
    (run / "done.json").write_text(text.replace('"INPUTS"', json.dumps(inputs)))
    (run / "notes.txt").write_text("mine")
    again = run_batch(plan, workers=0, runner=fake_runner)
    assert again.count("done") == 1 and again.count("skipped") == 0
    assert again.summary["coverage_share_after"].tolist() == [0.5]
    assert (run / "notes.txt").read_text() == "mine"
    assert json.loads((run / "done.json").read_text())["key"] == plan.runs[0].key


# --------------------------------------------------------------------------- bad sweep input


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``evplan ARGS`` in this process: (exit code, what it printed)."""
    import sys

    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    return exc.value.code if isinstance(exc.value.code, int) else 1, cap.out + cap.err


def test_a_yaml_tag_is_a_clear_input_error(tmp_path, monkeypatch, capsys):
    """`seed: !custom 2014` in a study, or a Python tag in a sweep, ended validate, run and
    batch with "internal error: ConstructorError" (exit 70)."""
    sweep = _sweep(tmp_path, "  model.p: !!python/object/apply:os.getpid []\n")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--dry-run")
    assert code == 2, text
    assert f"{sweep}:4: parameters.model.p: YAML tags are not supported" in " ".join(text.split())
    study = tmp_path / "base.yaml"
    study.write_text(study.read_text() + "seed: !custom 2014\n")
    code, text = _cli(monkeypatch, capsys, "validate", str(study))
    assert code == 2, text
    assert f"{study}:6: seed: YAML tags are not supported (got '!custom')" in " ".join(text.split())
    # a tag the safe loader knows but cannot apply, on a key (review of 2026-12-07: the
    # duplicate-key check ended in a ValueError, exit 70)
    keyed = tmp_path / "keyed.yaml"
    keyed.write_text("name: x\n!!int abc: 1\n")
    code, text = _cli(monkeypatch, capsys, "validate", str(keyed))
    assert code == 2 and "internal error" not in text, text


def test_a_range_too_large_to_count_names_the_field_and_the_limit(tmp_path, monkeypatch, capsys):
    """{start: 0, stop: 1.0e308, step: 1.0e-10} ended in an OverflowError (exit 70) while
    its values were counted."""
    sweep = _sweep(tmp_path, "  model.p: {start: 0, stop: 1.0e308, step: 1.0e-10}\n")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--dry-run")
    assert code == 2, text
    assert (
        f"{sweep}:4: parameters.model.p: range 0..1e+308 step 1e-10 has more than 10,000 "
        "values (limit 10,000 runs per batch); use a larger step"
    ) in " ".join(text.split())


def test_the_summary_holds_the_validated_values_of_the_swept_parameters(tmp_path):
    """`model.budget: [3e5, 1e6, 600000]` (YAML reads 3e5 as text) or `model.p: [2, "10",
    4]` gave text columns in the summary, and the chart sorted them as text."""
    plan = plan_sweep(
        _sweep(tmp_path, '  model.budget: [3e5, 1e6, 600000]\n  model.p: [2, "10"]\n')
    )
    assert [r.params["model.budget"] for r in plan.runs[::2]] == [3e5, 1e6, 6e5]
    result = run_batch(plan, workers=0, runner=fake_runner)
    df = pd.read_parquet(plan.output / "summary.parquet")
    assert str(df["model.budget"].dtype) == "float64" and str(df["model.p"].dtype) == "int64"
    assert sorted(df["model.p"].unique()) == [2, 10] and not result.failed
    assert (
        sorted(pd.read_csv(plan.output / "summary.csv")["model.budget"])
        == [3e5] * 2 + [6e5] * 2 + [1e6] * 2
    )


def test_overlapping_sweep_keys_are_named(tmp_path, monkeypatch, capsys):
    """`fixed: {model.p: 7}` with `parameters: {model.p: [2, 3]}` silently dropped the 7,
    and a swept whole section with a swept field inside it was accepted."""
    sweep = _sweep(tmp_path, "  model.p: [2, 3]\n", extra="fixed: {model.p: 7}\n")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--dry-run")
    assert code == 2, text
    assert (
        f"{sweep}:5: parameters.model.p and fixed.model.p (at {sweep}:3) set the same field"
    ) in " ".join(text.split())
    sweep = _sweep(
        tmp_path,
        "  simulation: [{days: 1}, {days: 2}]\n  simulation.temperature_c: [25, -20]\n",
    )
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--dry-run")
    assert code == 2, text
    assert "parameters.simulation.temperature_c and parameters.simulation" in " ".join(text.split())
    # a swept field inside a fixed section refines it in every run: allowed
    sweep = _sweep(tmp_path, "  model.p: [2, 3]\n", extra="fixed: {model: {kind: mclp}}\n")
    assert [r.config.model.p for r in plan_sweep(sweep).runs] == [2, 3]


def test_a_batch_never_writes_into_a_study_folder(tmp_path, monkeypatch, capsys):
    """`evplan batch -o <a study output folder>` was accepted (the marker stayed `kind:
    study`), and a later `evplan simulate -o` there replaced the whole batch."""
    from planner.report.atomic import OutputFolderError

    study = tmp_path / "study-out"
    study.mkdir()
    (study / MARKER).write_text(json.dumps({"tool": "evplan", "kind": "study"}) + "\n")
    (study / "kpis.json").write_text("{}")
    (study / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in study.iterdir()}
    sweep = _sweep(tmp_path, "  model.p: [1]\n")
    for overwrite in (False, True):
        with pytest.raises(OutputFolderError, match="is the output folder of a study"):
            run_batch(
                plan_sweep(sweep, output=study), workers=0, runner=fake_runner, overwrite=overwrite
            )
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "-o", str(study))
    assert code == 2 and "choose a new or empty folder" in " ".join(text.split()), text
    assert {p.name: p.read_bytes() for p in study.iterdir()} == before
    # nor into a folder inside a batch folder
    plan = plan_sweep(sweep)
    run_batch(plan, workers=0, runner=fake_runner)
    with pytest.raises(OutputFolderError, match="is inside the batch folder"):
        run_batch(
            plan_sweep(sweep, output=plan.output / "runs" / "inner"), workers=0, runner=fake_runner
        )
    assert not (plan.output / "runs" / "inner").exists()


def test_a_batch_runs_the_config_checks_of_run_before_writing(tmp_path, monkeypatch, capsys):
    """`batch --dry-run` (and a real batch) checked only the schema of each run: a base
    study whose data file is missing passed, then every run failed at run time. The checks
    of `evplan run` now refuse it (exit 2) before anything is written."""
    sweep = _sweep(tmp_path, "  model.p: [1, 2]\n")
    (tmp_path / "nowhere.osm").unlink()
    for extra in (["--dry-run"], ["--workers", "0"]):
        code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), *extra)
        said = " ".join(text.split())
        assert code == 2, said
        assert "2 of 2 runs fail the config checks of 'evplan run'; nothing was run" in said
        assert f"every run: [input_files_exist] network.source: file not found: {tmp_path}" in said
        assert "Traceback" not in said and "to run" not in said
        assert not (tmp_path / "out").exists()  # nothing written
    # a swept value a check rejects names its run alone
    (tmp_path / "nowhere.osm").write_text("")
    sweep = _sweep(tmp_path, "  model.budget: [1, 1000000]\n")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "--dry-run")
    said = " ".join(text.split())
    assert code == 2 and "1 of 2 runs fail the config checks" in said, said
    assert "run budget=1: [budget_covers_something] model.budget 1 is below" in said
    # a batch of study files names the file of the run at fault
    (tmp_path / "s1.yaml").write_text((tmp_path / "base.yaml").read_text())
    (tmp_path / "s2.yaml").write_text(
        (tmp_path / "base.yaml").read_text().replace("nowhere.osm", "missing.osm")
    )
    args = (
        "batch",
        str(tmp_path / "s1.yaml"),
        str(tmp_path / "s2.yaml"),
        "-o",
        str(tmp_path / "b"),
    )
    code, text = _cli(monkeypatch, capsys, *args, "--workers", "0")
    said = " ".join(text.split())
    assert code == 2 and "the study files: 1 of 2 runs fail the config checks" in said, said
    assert f"run s2 ({tmp_path / 's2.yaml'}): [input_files_exist]" in said
    assert "missing.osm" in said and not (tmp_path / "b").exists()


def test_a_batch_without_a_chart_removes_the_previous_batchs_chart(tmp_path):
    """A reused batch folder kept the previous sweep's coverage_vs_budget.png when the new
    sweep made none (all its runs failed): the old chart passed for the new sweep's."""
    first = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2]\n"))
    assert run_batch(first, workers=0, runner=fake_runner).chart is not None
    chart = first.output / "coverage_vs_budget.png"
    assert chart.is_file()
    (first.output / "notes.png").write_bytes(b"mine")
    failing = plan_sweep(_sweep(tmp_path, "  model.p: [3]\n", title="fail=3"))
    assert failing.output == first.output
    result = run_batch(failing, workers=0, runner=fake_runner)
    assert len(result.failed) == 1 and result.chart is None
    assert not chart.exists()
    assert (first.output / "notes.png").read_bytes() == b"mine"  # only the batch's own file


def test_the_refusal_of_a_foreign_folder_says_what_batch_overwrite_does(
    tmp_path, monkeypatch, capsys
):
    """A batch refused a foreign folder with "pass --overwrite to replace it and everything
    in it": wrong for a batch, whose --overwrite keeps the folder's other files."""
    sweep = _sweep(tmp_path, "  model.p: [1]\n")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, text = _cli(monkeypatch, capsys, "batch", "--sweep", str(sweep), "-o", str(foreign))
    said = " ".join(text.split())
    assert code == 2 and "is a non-empty folder evplan did not write" in said, said
    assert "everything in it" not in said
    assert (
        "pass --overwrite to write the batch there: it keeps your files, except any named like "
        "its own (runs/, failed/, summary.csv, summary.parquet, failures.csv, "
        "coverage_vs_budget.png), which it replaces" in said
    )
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    # a study's --overwrite does replace the folder whole, and says so
    code, text = _cli(monkeypatch, capsys, "run", str(tmp_path / "base.yaml"), "-o", str(foreign))
    assert code == 2 and "replace it and everything in it" in " ".join(text.split())


def test_whole_swept_values_are_labelled_as_integers_and_keep_their_run_folders(tmp_path):
    """A range with a fractional step gave labels like `temperature_c=-20.0`; labels now
    show whole values as integers. The run folders (config hashes) are those of before."""
    from planner.batch.summary import coverage_chart

    path = _sweep(
        tmp_path,
        "  simulation.temperature_c: {start: -20, stop: 25, step: 22.5}\n"
        "  model.range_km: [150.0, 250.5]\n",
    )
    plan = plan_sweep(path)
    labels = [r.label for r in plan.runs]
    assert labels[:3] == [
        "temperature_c=-20 range_km=150",
        "temperature_c=-20 range_km=250.5",
        "temperature_c=2.5 range_km=150",
    ]
    assert [r.params["simulation.temperature_c"] for r in plan.runs[::2]] == [-20.0, 2.5, 25.0]
    # the keys hash the configs, which labels do not enter: a run's key is that of the
    # study file with its values, however the label writes them
    from planner.config.study import load_config

    direct = load_config(
        tmp_path / "base.yaml",
        overrides={"simulation.temperature_c": -20.0, "model.range_km": 150.0},
    )
    assert plan.runs[0].key == config_hash(direct)
    result = run_batch(plan, workers=0, runner=fake_runner)
    assert coverage_chart(plan, result.summary) is not None  # legend from the same values


def test_the_batch_replaces_its_own_run_folder_of_an_older_evplan(tmp_path):
    """An older evplan's run folder (marker without a file list) under runs/: the batch's
    own run replaces it as before; a study folder like it needs --overwrite (code review of
    2026-12-07: reruns of stale batch runs failed with advice they could not follow)."""
    from planner.report.atomic import OutputFolderError, atomic_dir, claim_output
    from planner.report.ownership import batch_run_output

    run = tmp_path / "batch" / "runs" / "0123abcd"
    run.mkdir(parents=True)
    (run / MARKER).write_text(json.dumps({"tool": "evplan", "kind": "study"}))
    (run / "kpis.json").write_text("{}")
    with batch_run_output(run), claim_output(run) as target, atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text('{"new": 1}')
    assert json.loads((run / "kpis.json").read_text()) == {"new": 1}
    (run / MARKER).write_text(json.dumps({"tool": "evplan", "kind": "study"}))  # older again
    with pytest.raises(OutputFolderError, match="older evplan"), claim_output(run):
        pass


def test_validate_reports_an_empty_outputs_folder_as_run_does(tmp_path, monkeypatch, capsys):
    """`outputs.folder: ''` (a synthetic study) passed `evplan validate` and was refused by
    `run` (exit 2). Both now refuse it the same way, naming the field; and validate checks
    the output folder `run` would refuse ('.': the study file's own folder)."""
    _sweep(tmp_path, "  model.p: [1]\n")
    study = tmp_path / "base.yaml"
    study.write_text(study.read_text() + "outputs: {folder: ''}\n")
    for command in ("validate", "run"):
        code, text = _cli(monkeypatch, capsys, command, str(study))
        said = " ".join(text.split())
        assert code == 2, said
        assert "outputs.folder: is empty (an unset shell variable?)" in said, said
    study.write_text(study.read_text().replace("folder: ''", "folder: ."))
    code, text = _cli(monkeypatch, capsys, "validate", str(study), "--json")
    assert code == 2
    checks = json.JSONDecoder().raw_decode(text)[0]["checks"]  # (the error line follows)
    assert "is the study file's own folder" in " ".join(checks["output_folder"])


@pytest.mark.parametrize("where", ["sweep folder", "current folder"])
def test_dry_run_refuses_the_batch_folders_the_batch_refuses(tmp_path, monkeypatch, capsys, where):
    """`batch --dry-run` returned 0 and listed a batch folder the real batch refused
    (`output: .`, the sweep's own folder; `-o .`, the current folder). Synthetic sweep."""
    if where == "sweep folder":
        sweep = _sweep(tmp_path, "  model.p: [1]\n")
        sweep.write_text(sweep.read_text().replace("output: out", "output: ."))
        args = ["batch", "--sweep", str(sweep)]
    else:
        (tmp_path / "cfg").mkdir()
        sweep = _sweep(tmp_path / "cfg", "  model.p: [1]\n")
        monkeypatch.chdir(tmp_path)
        args = ["batch", "--sweep", str(sweep), "-o", "."]
    for extra in (["--dry-run"], ["--workers", "0"]):
        code, text = _cli(monkeypatch, capsys, *args, *extra)
        said = " ".join(text.split())
        assert code == 2, said
        assert "batch folder" in said and "give a new folder" in said, said
        assert "to run" not in said
    if where == "sweep folder":  # validate checks the sweep's batch folder too
        code, text = _cli(monkeypatch, capsys, "validate", str(sweep))
        assert code == 2 and "batch folder" in " ".join(text.split())


@pytest.mark.parametrize("name", [".", "..", ".hidden"])
def test_a_sweep_name_is_never_dot_or_dot_dot(tmp_path, name):
    """A sweep `name: ".."` made the default batch folder <outputs.folder's parent>/.., a
    parent folder. The name is now file-name safe like a study's (synthetic sweep)."""
    sweep = _sweep(tmp_path, "  model.p: [1]\n", extra=f'name: "{name}"\n')
    with pytest.raises(EvplanError, match=f"name: '{re.escape(name)}' is not a file-name-safe id"):
        plan_sweep(sweep)
    sweep.write_text(sweep.read_text().replace(f'"{name}"', "sweep.v2"))
    assert plan_sweep(sweep).name == "sweep.v2"


def test_workers_0_with_a_scheduler_is_refused_before_connecting(tmp_path, monkeypatch, capsys):
    """`--workers 0` (this process, no Dask) with `--scheduler` went on to connect to the
    scheduler, whose cluster then ran the batch: the options conflict (synthetic sweep)."""
    import planner.batch.execute

    def no_batch(*args, **kwargs):
        raise AssertionError("the batch started")

    monkeypatch.setattr(planner.batch.execute, "run_batch", no_batch)
    sweep = _sweep(tmp_path, "  model.p: [1]\n")
    code, text = _cli(
        monkeypatch,
        capsys,
        "batch",
        "--sweep",
        str(sweep),
        "--workers",
        "0",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    said = " ".join(text.split())
    assert code == 2, said
    assert "--workers 0" in said and "--scheduler tcp://127.0.0.1:9" in said and "conflict" in said
    assert not (tmp_path / "out").exists()
