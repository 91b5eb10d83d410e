"""The manifest ties a run to the code that made it: the commit of the checkout evplan runs
from, and whether tracked files had uncommitted changes (a review found runs that could not
be tied to code: the package version stays 0.1.0 across commits)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from planner.study.provenance import CHECKOUT, source_revision

GIT = shutil.which("git")


def _git(root: Path, *args: str) -> str:
    assert GIT is not None
    return subprocess.run(
        [GIT, "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(GIT is None, reason="needs the git executable")
def test_a_checkout_gives_its_commit_and_whether_it_was_modified(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "a.txt").write_text("one\n")
    _git(root, "add", "a.txt")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = _git(root, "rev-parse", "HEAD")
    assert source_revision(root) == {"commit": head, "modified": False}
    (root / "b.txt").write_text("untracked files are not the run's code\n")
    assert source_revision(root) == {"commit": head, "modified": False}
    (root / "a.txt").write_text("two\n")
    assert source_revision(root) == {"commit": head, "modified": True}


def test_no_checkout_gives_none(tmp_path):
    assert source_revision(tmp_path) is None


def test_this_checkout_is_the_default(tmp_path):
    assert (CHECKOUT / "planner" / "study" / "provenance.py").is_file()
    if GIT is not None and (CHECKOUT / ".git").exists():
        rev = source_revision()
        assert rev is not None and rev["commit"] == _git(CHECKOUT, "rev-parse", "HEAD")


@pytest.mark.skipif(GIT is None, reason="needs the git executable")
def test_the_callers_git_variables_do_not_redirect_it(tmp_path, monkeypatch):
    """In a git hook GIT_DIR names the hook's repository: the run's commit is still the
    checkout's own."""
    repos = {}
    for name in ("mine", "other"):
        root = tmp_path / name
        root.mkdir()
        _git(root, "init", "-q")
        (root / "f").write_text(name)
        _git(root, "add", "f")
        _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)
        repos[name] = root
    monkeypatch.setenv("GIT_DIR", str(repos["other"] / ".git"))
    rev = source_revision(repos["mine"])
    monkeypatch.delenv("GIT_DIR")
    assert rev is not None and rev["commit"] == _git(repos["mine"], "rev-parse", "HEAD")
