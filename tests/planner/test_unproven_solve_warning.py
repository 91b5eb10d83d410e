"""A siting solve stopped at its time limit is said once a study (review of 2026-12-07:
two runs of one config gave different plans when the solve stopped unproven, with no
word of it). Synthetic solve records."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from planner.siting._base import FEASIBLE, OPTIMAL, SitingResult
from planner.study.optimize import StudyOptimizer


def _result(status: str, gap: float) -> SitingResult:
    return SitingResult(
        model="frlm",
        status=status,
        sense="max",
        selected=np.array([0, 2]),
        fixed_open=np.array([], dtype=int),
        objective=90.0,
        best_bound=100.0 if status == FEASIBLE else 90.0,
        gap=gap,
        solver="cp-sat",
        solve_time_s=0.2,
        time_limit_s=0.2,
        message="synthetic",
    )


def test_an_unproven_solve_is_warned_once_and_recorded(caplog: pytest.LogCaptureFixture) -> None:
    opt = SimpleNamespace(solves=[], _warned_unproven=False)
    with caplog.at_level(logging.INFO, logger="planner.study.optimize"):
        StudyOptimizer.record(opt, _result(OPTIMAL, 0.0))  # type: ignore[arg-type]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        StudyOptimizer.record(opt, _result(FEASIBLE, 0.1))  # type: ignore[arg-type]
        StudyOptimizer.record(opt, _result(FEASIBLE, 0.05))  # type: ignore[arg-type]
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1
    assert "stopped at its time limit" in warned[0] and "model.solver.time_limit_s" in warned[0]
    assert "10% from its bound" in warned[0] and "repeatable" in warned[0]
    assert [s["status"] for s in opt.solves] == [OPTIMAL, FEASIBLE, FEASIBLE]
