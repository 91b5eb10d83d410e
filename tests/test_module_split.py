"""Modules split by concept keep their public import paths (re-exports, same objects)."""

from __future__ import annotations


def test_road_network_reexports_snapping():
    import networks
    from networks import road_network, snapping

    assert road_network.SnapResult is snapping.SnapResult is networks.SnapResult
    assert road_network.utm_crs_for is snapping.utm_crs_for
    assert road_network.utm_crs_for(76.9, 43.2) == "EPSG:32643"
    assert road_network.utm_crs_for(-70.0, -33.0) == "EPSG:32719"


def test_multiperiod_keeps_its_names_and_delegates_the_mip():
    from planner.siting import multiperiod, multiperiod_mip

    assert set(multiperiod.__all__) == {"StagedCover", "StagedMCLP", "StagedResult"}
    assert multiperiod.solve_lookahead_mip is multiperiod_mip.solve_lookahead_mip


def test_atomic_reexports_the_ownership_names():
    from planner.report import atomic, ownership

    for name in (
        "MARKER",
        "OutputFolderError",
        "OutputWriteError",
        "batch_run_output",
        "is_batch_folder",
        "is_evplan_output",
        "unlisted_files",
    ):
        assert getattr(atomic, name) is getattr(ownership, name)
        assert name in atomic.__all__


def test_cli_helpers_are_the_objects_the_cli_uses():
    from planner import cli, cli_checks, cli_exits, cli_output

    assert cli.COMMAND_STATE is cli_exits.COMMAND_STATE
    assert cli.console is cli_output.console and cli.out is cli_output.out
    assert cli_exits.console is cli_output.console and cli_checks.out is cli_output.out
    assert (cli.EXIT_INTERNAL, cli.EXIT_INTERRUPTED, cli.EXIT_TARGETS_MISSED) == (70, 130, 3)
    assert cli.interrupted_exit is cli_exits.interrupted_exit
    assert cli.load_checked is cli_checks.load_checked


def test_execute_keeps_local_cluster():
    from planner.batch import cluster, execute

    assert execute.local_cluster is cluster.local_cluster
    assert "local_cluster" in execute.__all__


def test_run_reexports_the_skeleton():
    from planner.study import run, skeleton

    for name in ("StepTimer", "Prepared", "prepare", "make_optimizer", "default_folder"):
        assert getattr(run, name) is getattr(skeleton, name)
    assert run.write_study is skeleton.write_study and "write_study" in run.__all__
    # the steps log under the entry points' module, as before the split (batch run logs)
    assert skeleton.logger is run.logger


def test_study_config_reexports_its_sections():
    from planner.config import inputs, siting, study

    for module in (inputs, siting):
        for name in module.__all__:
            assert getattr(study, name) is getattr(module, name)
    assert study.StudyConfig.model_fields["model"].annotation is siting.ModelConfig
    assert study.StudyConfig.model_fields["network"].annotation is inputs.NetworkConfig


def test_results_reexports_the_station_tables():
    from sim import measures, results, station_tables

    assert results.station_timeseries is station_tables.station_timeseries
    assert results.step_peak is measures.step_peak
