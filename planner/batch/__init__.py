"""Batch sweeps: a plan of validated runs (:mod:`.plan`), their execution on Dask or in
process (:mod:`.execute`) and the batch summary (:mod:`.summary`). The command line is
``evplan batch`` (:mod:`planner.cli`)."""
