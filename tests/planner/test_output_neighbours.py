"""Output folders beside each other, and runs killed outright (review of 2026-12-07).

* A run into ``v`` cleans only its own leftovers: not the temporaries of a run into
  ``v.v2`` (the old glob ``.v.*`` took them while that run was writing), nor anything a
  glob character in the name would match.
* A run whose temporary folder another process removed fails; it never commits what was
  written after.
* A run killed with SIGKILL does not leave its lock held by its forked workers, and those
  workers end with it.

All folders are synthetic (made in ``tmp_path``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from planner.report.atomic import atomic_dir, claim_output
from planner.report.ownership import MARKER, OutputFolderError, OutputWriteError, marker_text


def _evplan_leftover(path: Path, files: dict[str, str]) -> Path:
    """A hidden folder as a run of evplan leaves it (it carries the marker)."""
    path.mkdir()
    (path / MARKER).write_text(marker_text("study"), encoding="utf-8")
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


def test_a_run_leaves_the_temporaries_of_a_target_whose_name_extends_its_own(
    tmp_path: Path,
) -> None:
    partial = _evplan_leftover(tmp_path / ".v.v2.k3j4m5n6.partial", {"kpis.json": "{}"})
    old = _evplan_leftover(tmp_path / ".x.v2.old-99999", {"my_notes.txt": "notes"})
    with claim_output(tmp_path / "v"), atomic_dir(tmp_path / "v") as tmp:
        (tmp / "kpis.json").write_text("1")
    with claim_output(tmp_path / "x"), atomic_dir(tmp_path / "x") as tmp:
        (tmp / "kpis.json").write_text("1")
    assert (partial / "kpis.json").read_text() == "{}"
    assert (old / "my_notes.txt").read_text() == "notes"
    assert not (tmp_path / "x" / "my_notes.txt").exists()


def test_glob_characters_in_a_target_name_match_only_themselves(tmp_path: Path) -> None:
    other_old = _evplan_leftover(tmp_path / ".other.old-4242", {"a.txt": "a"})
    other_partial = _evplan_leftover(tmp_path / ".zzz.k3j4.partial", {"b.txt": "b"})
    star = tmp_path / "*"
    with claim_output(star):
        pass
    assert other_old.is_dir() and other_partial.is_dir()
    assert not star.exists()  # nothing was restored into the new target


def test_a_run_still_cleans_and_restores_its_own_leftovers(tmp_path: Path) -> None:
    mine = _evplan_leftover(tmp_path / ".run.abcdefgh.partial", {"kpis.json": "{}"})
    moved = _evplan_leftover(tmp_path / ".run.old-99999", {"notes.txt": "mine"})
    not_ours = tmp_path / ".run.q1w2e3r4.partial"
    not_ours.mkdir()  # no marker: not evplan's
    with claim_output(tmp_path / "run"):
        pass
    assert not mine.exists() and not moved.exists()
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert not_ours.is_dir()


def test_a_temporary_folder_removed_meanwhile_fails_the_run(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "kpis.json").write_text("1")
    with pytest.raises(OutputWriteError, match="removed by another process"):
        with atomic_dir(target) as tmp:
            (tmp / "kpis.json").write_text("2")
            shutil.rmtree(tmp)  # another process cleans it ...
            (tmp / "figures").mkdir(parents=True)  # ... and a later writer makes it anew
            (tmp / "figures" / "map.png").write_text("late")
    assert (target / "kpis.json").read_text() == "1"
    assert not (target / "figures").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


_KILLED_RUN = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from networks._dijkstra_pool import _get_pool
    from planner.report.atomic import claim_output

    target, info = Path(sys.argv[1]), Path(sys.argv[2])
    with claim_output(target):
        pool = _get_pool(2)  # the Dijkstra workers, forked while the lock is held
        assert pool is not None
        pool.submit(time.sleep, 0).result()  # (the workers exist once one task ran)
        pids = [p.pid for p in pool._processes.values()]
        info.write_text(json.dumps(pids))
        time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="fork and /proc: Linux")
def test_a_killed_run_frees_its_folder_and_its_workers_end(tmp_path: Path) -> None:
    target, info = tmp_path / "out", tmp_path / "pids.json"
    run = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(target), str(info)])
    try:
        deadline = time.monotonic() + 120
        while not info.exists():
            assert run.poll() is None, "the run ended before its workers started"
            assert time.monotonic() < deadline, "the run's workers did not start in 120 s"
            time.sleep(0.1)
        workers = json.loads(info.read_text())
        assert len(workers) == 2
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    # the lock was the killed run's: the next run takes the folder at once, even while a
    # worker may still be alive (before, the workers held it for as long as they lived)
    with claim_output(target):
        pass
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in workers if _alive(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert not alive, f"workers {alive} of the killed run were still alive 20 s later"


def test_the_lock_still_refuses_a_second_run_while_the_first_lives(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with claim_output(target):
        with pytest.raises(OutputFolderError, match="being written by another evplan run"):
            with claim_output(target):
                pass
