"""A bad ``EVPLAN_THREADS`` / ``EVPLAN_SIM_WORKERS`` is a usage error before any work.

``EVPLAN_THREADS=abc evplan run ...`` ended "internal error: ValueError: invalid literal
for int()" with exit code 70 once routing had started. The study file here is synthetic
and never read: loading it would be the start of the work the check must come before.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def _run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from planner import cli

    monkeypatch.setattr(sys, "argv", ["evplan", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    cap = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), " ".join((cap.out + cap.err).split())


def _no_work(*args, **kwargs):
    raise AssertionError("the command started its work before checking the environment")


@pytest.mark.parametrize(
    ("var", "value"),
    [("EVPLAN_THREADS", "abc"), ("EVPLAN_THREADS", "-3"), ("EVPLAN_SIM_WORKERS", "x")],
)
@pytest.mark.parametrize("command", ["run", "simulate", "batch"])
def test_bad_worker_env_var_exits_2_before_work(
    monkeypatch, capsys, tmp_path: Path, var, value, command
):
    import planner.batch.plan
    import planner.config.study

    monkeypatch.setattr(planner.config.study, "load_config", _no_work)
    monkeypatch.setattr(planner.batch.plan, "plan_configs", _no_work)
    monkeypatch.setenv(var, value)
    study = tmp_path / "study.yaml"
    study.write_text("name: synthetic\n")  # never read
    out = tmp_path / "out"
    code, text = _run_cli(monkeypatch, capsys, command, str(study), "-o", str(out))
    assert code == 2, text
    assert f"{var}={value!r}" in text and "whole number >= 1" in text, text
    assert "Traceback" not in text and "internal error" not in text
    assert not out.exists()
