"""What the command line writes besides its tables: the two consoles (``console``, on
stderr, for messages, progress and logging; ``out``, on stdout, for results), the ``--json``
summary of a study command and the one-line verdict. :mod:`planner.cli` holds the commands.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from planner.report.console import escape

console = Console(stderr=True)
out = Console()


def json_summary(result: Any, *, folder: object) -> dict[str, Any]:
    """The machine-readable summary ``--json`` prints."""
    from planner.report.export import json_safe
    from planner.study.verdict import targets_met

    return json_safe(
        {
            "study": result.name,
            "output_folder": folder,
            "kpis_before": result.kpis_before,
            "kpis_after": result.kpis_after,
            # a script reading stdout learns whether the targets were met, and why not
            "targets_met": targets_met(result.verdict),
            "verdict": result.verdict or None,
            "new_stations": [
                {k: r.get(k) for k in ("station_id", "name", "plugs", "power_kw", "lon", "lat")}
                for r in result.selected.to_dict("records")
            ]
            if result.selected is not None and len(result.selected)
            else [],
            # plugs the plan adds at existing stations (part of its cost and capacity)
            "plugs_added_at_existing": [
                {k: r.get(k) for k in ("station_id", "name", "added_plugs")}
                for r in result.existing.to_dict("records")
                if (r.get("added_plugs") or 0) > 0
            ]
            if result.existing is not None and "added_plugs" in result.existing
            else [],
        }
    )


def verdict_line(verdict: dict[str, Any]) -> str:
    """One line: "targets met" or "targets missed: why"."""
    status = verdict.get("status", "not evaluated")
    if status == "met":
        return "[bold green]targets met[/]"
    if status == "missed":
        return "[bold red]targets missed:[/] " + escape("; ".join(verdict.get("reasons", [])))
    return "no service targets evaluated"
