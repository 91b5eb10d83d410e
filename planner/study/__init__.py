"""The study pipeline, one module per step in the order the data flows (written once in
:data:`planner.study.steps.STEPS`): inputs -> demand -> simulate -> optimize -> loop ->
compare -> result; :mod:`.run` holds the three entry points (run, simulate, optimize)."""
