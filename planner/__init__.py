"""evplan.planner: OR-Tools charger siting, scenario config, pipeline, reports and CLI."""
