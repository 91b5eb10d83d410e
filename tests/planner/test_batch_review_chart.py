"""Batch review (2026-12-07): the coverage-vs-budget chart of a ``zip`` sweep.

A zip sweep varies its parameters together (``model.p: [1, 2, 3]`` with ``model.range_km:
[150, 200, 250]`` is three runs). The chart drew one line per combination of the
parameters other than the budget, i.e. one line per run: three unconnected dots in three
colours and a legend of three "series", with no coverage-vs-budget curve at all.
"""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from planner.batch.execute import run_batch
from planner.batch.plan import plan_sweep
from tests.planner.test_batch import _sweep, fake_runner


@pytest.fixture
def figures(monkeypatch):
    """The figures the batch saves (its chart), kept for inspection."""
    saved: list[Figure] = []
    save = Figure.savefig

    def keep(self, *args, **kwargs):
        saved.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return saved


def _lines(fig: Figure) -> list[tuple[list[float], list[float]]]:
    ax = fig.axes[0]
    return [(list(map(float, ln.get_xdata())), list(map(float, ln.get_ydata()))) for ln in ax.lines]


def test_a_zip_sweep_is_charted_as_one_line_through_its_runs(tmp_path, figures):
    params = "  model.p: [3, 1, 2]\n  model.range_km: [250, 150, 200]\n"
    plan = plan_sweep(_sweep(tmp_path, params, extra="mode: zip\n"))
    result = run_batch(plan, workers=0, runner=fake_runner)
    assert result.chart is not None and len(figures) == 1
    lines = _lines(figures[-1])
    assert len(lines) == 1, lines  # one curve, not a dot per run
    xs, ys = lines[0]
    assert xs == [1.0, 2.0, 3.0]  # in budget order
    assert ys == pytest.approx([1 - 1 / (p + 1) for p in (1, 2, 3)])
    # each point says which run it is (the legend of one series would say nothing)
    notes = sorted(t.get_text() for t in figures[-1].axes[0].texts)
    assert notes == ["range_km=150", "range_km=200", "range_km=250"]
    assert figures[-1].axes[0].get_legend() is None


def test_a_grid_sweep_keeps_a_line_per_combination(tmp_path, figures):
    params = "  model.p: [1, 2]\n  model.range_km: [150, 200]\n"
    plan = plan_sweep(_sweep(tmp_path, params))
    run_batch(plan, workers=0, runner=fake_runner)
    lines = _lines(figures[-1])
    assert len(lines) == 2 and all(xs == [1.0, 2.0] for xs, _ in lines)
    legend = figures[-1].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["range_km=150", "range_km=200"]


def test_a_failed_run_is_a_gap_in_its_line_not_skipped(tmp_path, figures):
    """p=2 failed: the line went straight from p=1 to p=3, as if every run had finished."""
    plan = plan_sweep(_sweep(tmp_path, "  model.p: [1, 2, 3]\n", title="fail=2"))
    result = run_batch(plan, workers=0, runner=fake_runner)
    assert result.count("failed") == 1
    ((xs, ys),) = _lines(figures[-1])
    assert xs == [1.0, 2.0, 3.0]
    assert ys[0] == pytest.approx(0.5) and ys[1] != ys[1] and ys[2] == pytest.approx(0.75)
    assert "1 failed or not run: gaps in the lines" in figures[-1].get_suptitle()
