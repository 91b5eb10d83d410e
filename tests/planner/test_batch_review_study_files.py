"""Batch review (2026-12-07): a batch of study files that share a file name.

Scenario folders often hold a study each under one name (``low/study.yaml``,
``high/study.yaml``). A batch of them labelled both runs ``study`` and gave both
``config`` = ``study.yaml``: the summary rows and the printed table could not be told
apart (only by the config hash), and the chart, one line per ``config``, joined the two
studies into one line as if they were one study at two budgets.
"""

from __future__ import annotations

import pandas as pd

from planner.batch.execute import run_batch
from planner.batch.plan import plan_configs
from tests.planner.test_batch import BASE, fake_runner


def _study(path, p: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "nowhere.osm").write_text("")
    path.write_text(BASE.format(title="").replace("p: 1", f"p: {p}"))


def test_study_files_with_one_name_are_told_apart(tmp_path):
    low, high = tmp_path / "sc" / "low" / "study.yaml", tmp_path / "sc" / "high" / "study.yaml"
    other = tmp_path / "other.yaml"
    _study(low, 1)
    _study(high, 2)
    _study(other, 3)
    plan = plan_configs([low, high, other], output=tmp_path / "b")
    # a name of its own for each: the path from the folder the same-named files share
    assert [r.label for r in plan.runs] == ["low/study", "high/study", "other"]
    assert [r.params["config"] for r in plan.runs] == [
        "low/study.yaml",
        "high/study.yaml",
        "other.yaml",
    ]

    result = run_batch(plan, workers=0, runner=fake_runner)
    summary = pd.read_csv(result.summary_csv)
    assert summary["label"].is_unique and summary["config"].is_unique


def test_unique_file_names_keep_their_labels(tmp_path):
    a, b = tmp_path / "x" / "a.yaml", tmp_path / "y" / "b.yaml"
    _study(a, 1)
    _study(b, 2)
    plan = plan_configs([a, b], output=tmp_path / "b")
    assert [r.label for r in plan.runs] == ["a", "b"]
    assert [r.params["config"] for r in plan.runs] == ["a.yaml", "b.yaml"]
