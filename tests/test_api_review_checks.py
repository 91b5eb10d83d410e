"""``evplan.run_study`` / ``simulate_study`` / ``optimize_study`` check a config as the
command line does (review of the notebook API, 2026-12-08: they skipped the checks, so a
season ``evplan run`` refuses gave a vehicle table at -55 C in a notebook)."""

from __future__ import annotations

import pytest

import evplan
from networks.errors import ConfigError
from tests.e2e.test_pipeline import CONFIGS, SMALL_CORRIDOR

QUICK = {**SMALL_CORRIDOR, "targets.max_iterations": 1, "simulation.replications": 1}


@pytest.mark.parametrize("entry", ["run_study", "simulate_study", "optimize_study"])
def test_a_season_the_cli_refuses_is_refused_before_anything_runs(data_env, tmp_path, entry):
    cfg = evplan.load_config(
        CONFIGS / "corridor-kaz01.yaml",
        overrides={**QUICK, "simulation.seasons": {"winter": -55}},
    )
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"simulation\.seasons\.winter: -55\.0 C"):
        getattr(evplan, entry)(cfg, out_dir=out)
    assert not out.exists()  # nothing written, not even a claimed folder


def test_an_unknown_compared_model_is_named_as_the_config_key(data_env):
    cfg = evplan.load_config(
        CONFIGS / "corridor-kaz01.yaml", overrides={**QUICK, "vehicles.compare": ["nope"]}
    )
    with pytest.raises(ConfigError, match=r"vehicle_models_known.*unknown vehicle model 'nope'"):
        evplan.run_study(cfg, write=False)


def test_the_checked_entry_points_keep_the_study_signature():
    import inspect

    from planner.study import run

    for name in ("run_study", "simulate_study", "optimize_study"):
        mine = inspect.signature(getattr(evplan, name))
        assert mine == inspect.signature(getattr(run, name)), name
        assert all(p.kind is p.KEYWORD_ONLY for p in list(mine.parameters.values())[1:]), name
