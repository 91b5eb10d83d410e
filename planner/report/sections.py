"""The report's answer first: the verdict banner and the table of proposed stations.

Both are plain HTML strings; the station table is sortable (click a header) and each row
shows its station on the map (``data-station`` links the row to the map's feature, see
``assets/table.js`` and ``assets/map.js``).
"""

from __future__ import annotations

import html
import numbers
from typing import Any

import numpy as np
import pandas as pd

from planner.report.export import as_wgs84
from planner.report.numbers import config_section, format_kpi, format_kpi_range, format_value
from planner.study.result import StudyResult

__all__ = [
    "STATION_COLUMNS",
    "banner",
    "rollout_section",
    "stage_loop_caption",
    "stations_table",
    "vehicle_matrix_caption",
    "vehicle_models_section",
]

_e = html.escape

#: Columns of the proposed-stations table: (column in ``selected``, header, kind).
STATION_COLUMNS: list[tuple[str, str, str]] = [
    ("opened_round", "order", "int"),
    ("opening_year", "opens (year)", "year"),
    ("name", "station", "text"),
    ("station_id", "OSM id / site", "text"),
    ("lonlat", "lon, lat", "text"),
    ("plugs", "plugs", "int"),
    ("power_kw", "kW per plug", "int"),
    ("connectors", "connectors", "text"),
    ("sessions_per_day", "sessions / day", "num"),
    ("utilisation", "utilisation", "share"),
    ("wait_p95_min", "p95 wait (min)", "num"),
    ("capex", "capex", "int"),
    ("renewable", "renewable", "bool"),
    ("approximate", "location approx.", "bool"),
    ("plant", "renewable plant", "text"),
    ("renewable_share", "renewable share", "share"),
    ("co2_kg", "CO2 (kg)", "int"),
    ("upgrade_kw", "grid upgrade (kW)", "int"),
]


def banner(result: StudyResult) -> str:
    """Targets met or missed, and why, in one box above everything else."""
    v = result.verdict or {}
    status = v.get("status", "not evaluated")
    targets = v.get("targets", [])
    if status == "not evaluated" or not targets:
        return (
            '<div class="verdict verdict-none" id="verdict" data-verdict="not evaluated">'
            "<strong>No service targets were evaluated</strong> for this run."
            f"{_sample_warning(result)}</div>"
        )

    def ci(t: dict[str, Any]) -> str:
        if t.get("ci_low") is None:
            return ""
        low, high = format_kpi_range(t["kpi"], t["ci_low"], t["ci_high"])
        return f", 95 % CI {low}–{high}"

    def outcome(t: dict[str, Any]) -> str:
        # within its bound but with no interval or on a sample: not met, and not missed
        if t["met"]:
            return "met"
        if t.get("unconfirmed"):
            return "unconfirmed"
        # within the target on the mean, not on the bound: the run count, not the plan
        return "missed (too few runs to confirm it)" if t.get("bound_only") else "missed"

    def required(t: dict[str, Any]) -> str:
        if t.get("fewer_than_one"):  # the verdict's reading of a zero stranded target
            return "fewer than 1 required: a target of 0"
        sign = "≤" if t["sense"] == "max" else "≥"
        return f"{sign} {format_kpi(t['kpi'], t['bound'])} required"

    items = "".join(
        f'<li class="{"ok" if t["met"] else "miss"}">{_e(t["label"])}: '
        f"{format_kpi(t['kpi'], t['value'])}{ci(t)} "
        f"({required(t)}, judged on the {_e(t.get('judged_on', 'mean'))}) — {outcome(t)}</li>"
        for t in targets
    )
    if status == "met":
        head = "Service targets met"
        why = "Every service target holds for the proposal, on its 95 % confidence bound."
        why += _season_caveat(result)
    else:
        head = "Service targets missed"
        why = "Why: " + "; ".join(_e(r) for r in v.get("reasons", [])) + "."
    return (
        f'<div class="verdict verdict-{status}" id="verdict" data-verdict="{status}">'
        f"<strong>{head}</strong><p>{why}</p><ul>{items}</ul>{_sample_warning(result)}</div>"
    )


def _season_caveat(result: StudyResult) -> str:
    """For a plan whose targets are met: the colder seasons of the vehicle comparison in
    which a compared model completes under 95 % of trips. The verdict is judged at the design
    temperature only; a "met" study had a model completing 54.5 % of trips at -20 C with no
    word of it at the top (planner review, 2026-12-07)."""
    vm = getattr(result, "vehicle_matrix", None)
    design = config_section(result, "simulation").get("temperature_c")
    col = "share_after" if vm is not None and "share_after" in vm else "trips_feasible_share"
    if vm is None or vm.empty or design is None or not {col, "temperature_c"} <= set(vm):
        return ""
    cold = vm[(vm["temperature_c"].astype(float) < float(design)) & (vm[col] < 0.95)]
    if cold.empty:
        return ""
    worst = cold.loc[cold[col].astype(float).idxmin()]
    return (
        f" Judged at the design temperature, {float(design):+.0f} °C: in the vehicle "
        f"comparison below, {len(cold)} model–season cell(s) colder than that complete under "
        f"95 % of trips (lowest: {worst['vehicle_model']}, "
        f"{format_value(worst[col], unit='share', marks=False)} at "
        f"{float(worst['temperature_c']):+.0f} °C, "
        + (
            "its probe vehicles among the study's fleet)."
            if "probe_vehicles" in vm
            else "a fleet of it alone)."
        )
    )


def _sample_warning(result: StudyResult) -> str:
    """A paragraph under the verdict when the fleet was sampled (``demand.max_trips``):
    the scaled totals were never charged through the plan's plugs. A review found a 2035
    rollout stage showing 337,667 kWh a day of public charging from 30 plugs of 50 kW,
    which can deliver at most 36,000 kWh in a day, with no word of it at the top."""
    k = getattr(result, "kpis_after", None) or {}
    factor = float(k.get("demand_expansion_factor") or 1.0)
    if not factor > 1.0:
        return _sampled_stages(result)
    text = (
        f"Sampled fleet (demand.max_trips): 1 in {format_value(factor, decimals=0)} of the "
        "trips was simulated. Totals (trips, energy, sessions, CO2) are the sample's, scaled "
        "to the fleet, but only the sample charged at the plan's plugs, so the plan was not "
        "tested against those totals; queue figures (waits, utilisation, give-ups) are the "
        "sample's."
    )
    st = (getattr(result, "tables", None) or {}).get("stations_after")
    days = config_section(result, "simulation").get("days")
    energy = k.get("energy_public_kwh")
    if st is not None and {"plugs", "power_kw"} <= set(st.columns) and days and energy:
        plugs = int(st["plugs"].sum())
        most = float((st["plugs"] * st["power_kw"]).sum()) * 24.0 * float(days)
        if float(energy) > most:
            text += (
                f" The scaled public charging, {format_value(energy, decimals=0)} kWh, is more "
                f"than the plan's {plugs} plugs could deliver running non-stop "
                f"({format_value(most, decimals=0)} kWh in {days} day(s)): simulate the "
                "whole fleet (leave out demand.max_trips) to size the plan."
            )
    return f'<p class="sample-warning">{_e(text)}</p>'


def _sampled_stages(result: StudyResult) -> str:
    """For a staged rollout whose last stage was simulated whole: the earlier stages that
    were samples (their queue figures in the timeline are the samples')."""
    tl = (getattr(result, "tables", None) or {}).get("rollout_timeline")
    if tl is None or not {"year", "trips", "trips_simulated"} <= set(tl.columns):
        return ""
    sampled = tl[pd.to_numeric(tl["trips_simulated"]) < pd.to_numeric(tl["trips"])]
    years = sorted({int(y) for y in sampled["year"]})
    if not years:
        return ""
    text = (
        f"Stage(s) {', '.join(map(str, years))} simulated a sample of the fleet "
        "(demand.max_trips): their totals in the rollout timeline are scaled from it and "
        "their queue figures (waits, give-ups) are the sample's, not the fleet's."
    )
    return f'<p class="sample-warning">{_e(text)}</p>'


def _cell(col: str, kind: str, row: dict[str, Any]) -> tuple[str, str]:
    """(shown text, sort key) of one cell."""
    if col == "lonlat":
        lon, lat = row.get("lon"), row.get("lat")
        if lon is None or pd.isna(lon):
            return "—", ""
        return f"{lon:.5f}, {lat:.5f}", f"{lon:.6f}"
    v = row.get(col)
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—", ""
    if kind == "share":
        return format_value(v, unit="share"), f"{float(v):.6f}"
    if kind == "year":  # 2025, not 2,025
        return str(int(float(v))), f"{float(v):.6f}"
    if kind in ("int", "num"):
        return format_value(v, decimals=0 if kind == "int" else 1), f"{float(v):.6f}"
    if kind == "bool":
        return ("yes" if bool(v) else "no"), ("1" if bool(v) else "0")
    if isinstance(v, list | tuple):
        v = ", ".join(map(str, v))
    return str(v), str(v).lower()


def stations_table(result: StudyResult) -> str:
    """The proposed stations, one row each, sortable, linked to the map."""
    sel = as_wgs84(result.selected)
    if sel.empty:
        return '<p class="na" id="stations-none">No new station is proposed.</p>'
    frame = pd.DataFrame(sel.drop(columns="geometry"))
    if "lon" not in frame or frame["lon"].isna().all():
        frame["lon"], frame["lat"] = sel.geometry.x.to_numpy(), sel.geometry.y.to_numpy()
    cols = [c for c in STATION_COLUMNS if c[0] in frame.columns or c[0] == "lonlat"]
    head = "".join(
        f'<th data-sort="{kind}" class="{"num" if kind in _NUMERIC else ""}">{_e(label)}</th>'
        for _, label, kind in cols
    )
    # a staged study's stations by the year they open (which to build first), then by the
    # design-loop round that opened them (a rollout's stations have none), then by use
    by = [
        (c, asc)
        for c, asc in (("opening_year", True), ("opened_round", True), ("sessions_per_day", False))
        if c in frame
    ]
    order = (
        frame.sort_values([c for c, _ in by], ascending=[a for _, a in by], kind="stable")
        if by
        else frame
    )
    rows = []
    for row in order.to_dict("records"):
        cells = []
        for col, _, kind in cols:
            text, key = _cell(col, kind, row)
            cls = ' class="num"' if kind in _NUMERIC else ""
            cells.append(f'<td{cls} data-key="{_e(key)}">{_e(text)}</td>')
        rows.append(
            f'<tr data-station="{_e(str(row.get("station_id", "")))}" tabindex="0">'
            + "".join(cells)
            + "</tr>"
        )
    total = float(pd.to_numeric(frame.get("capex", pd.Series(dtype=float))).sum())
    return (
        _plan_heading(result)
        + '<div class="table-wrap"><table id="stations-table" class="sortable"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="meta">{len(rows)} proposed stations, capex {format_value(total)} in total '
        "(the study's capex also counts plugs added at existing stations). "
        f"{_order_note(frame)} Each row's sessions, "
        "utilisation, waits, renewable share and CO2 are one run's, the proposal's seed run; "
        "the KPIs are the mean over the replications, so a station with no session here may "
        "be busy in the other runs. Click a header to sort, a row to show the station on "
        "the map.</p>"
    )


#: Kinds of the stations table's columns shown right-aligned and sorted as numbers
_NUMERIC = ("int", "num", "share", "year")


def _order_note(frame: pd.DataFrame) -> str:
    """How the stations table is ordered: by the year each station opens (staged studies:
    the table once said "Order = the design-loop round" with neither a round nor a year
    column shown), else by the design-loop round that opened it."""
    parts = []
    if "opening_year" in frame and frame["opening_year"].notna().any():
        parts.append("the year the station opens")
    if "opened_round" in frame and frame["opened_round"].notna().any():
        parts.append("the design-loop round that opened the station")
    if not parts:
        return "Order = sessions per day."
    return "Order = " + ", then ".join(parts) + "."


#: What each staged plan is, as the stations table names the one it shows
_PLANS = {
    "robust": "the robust plan: the robust first stage the notes name, then the later stages "
    "that do best after it in the study's own demand",
    "lookahead": "the look-ahead plan (one multi-period model over every stage)",
    "myopic": "the myopic plan (the design loop stage by stage)",
}


def _plan_heading(result: StudyResult) -> str:
    """For a staged rollout, which of its plans the stations table shows (a rollout
    simulates several; its notes recommend one); empty for other studies."""
    method = ((getattr(result, "manifest", None) or {}).get("rollout") or {}).get("method")
    if not method:
        return ""
    what = _PLANS.get(str(method), f"the {method} plan")
    return (
        f'<p class="meta" id="stations-plan" data-plan="{_e(str(method))}">Staged rollout: '
        f"the stations of {_e(what)}, with the year each opens (opening_year).</p>"
    )


def _plain_cell(column: str, value: Any) -> str:
    """One cell of a plain table: a year as written, a true/false as yes/no, a KPI with the
    registry's unit (a share in percent), other numbers grouped."""
    if isinstance(value, bool | np.bool_):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, numbers.Real):
        if column == "year" or column.endswith("_year"):
            text = "—" if pd.isna(value) else str(int(float(value)))  # 2025, not 2,025
        else:
            text = format_kpi(column, value)
        return f'<td class="num">{_e(text)}</td>'
    return f"<td>{_e(str(value))}</td>"


def _plain_table(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{_e(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(_plain_cell(str(c), v) for c, v in zip(frame.columns, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="table-wrap"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def vehicle_matrix_caption(result: StudyResult) -> str:
    """What a cell of the vehicle comparison is (carmaker review, 2026-12-07: read as what the
    car can do, it is a fleet made of that model alone): how it was simulated, which demand
    and year, whether it was a sample, and the cold-charging and design assumptions."""
    sim_cfg = config_section(result, "simulation")
    veh_cfg = config_section(result, "vehicles")
    vm = getattr(result, "vehicle_matrix", None)
    if veh_cfg.get("compare_as") == "probe":
        n = (
            vm["probe_vehicles"].max()
            if vm is not None and "probe_vehicles" in getattr(vm, "columns", ())
            else None
        )
        count = f" ({format_value(n, decimals=0)} vehicles)" if n is not None else ""
        text = (
            "Each cell is one simulation run (no interval) in which a seeded "
            f"{format_value(float(veh_cfg.get('probe_share', 0.1)), unit='share', marks=False)} "
            f"of the study's vehicles of the model's category{count}, the same ones in every "
            "cell, drive that model among the study's own fleet (vehicles.compare_as: probe); "
            "the shares count their trips only: what a buyer of it meets in these queues."
        )
    else:
        text = (
            "Each cell is one simulation run (no interval) in which every trip of the study "
            "is driven by that model, a fleet of it alone, so its own queues count "
            "(vehicles.compare_as: probe puts a share of buyers among today's fleet instead)."
        )
    text += (
        " The share counts "
        'every trip, also those that needed no public charger (the smaller "public charging" '
        "line, share_public_* in tables/vehicle_matrix, counts only the trips that relied on "
        "public charging); the legs a stranded "
        "car could not drive that day count as not completed."
    )
    tables = getattr(result, "tables", None) or {}
    timeline = tables.get("rollout_timeline")
    if timeline is not None and len(timeline) and "year" in timeline.columns:
        text += f" Demand and stations of the last stage, {int(timeline['year'].max())}."
    k = getattr(result, "kpis_after", None) or {}
    factor = float(k.get("demand_expansion_factor") or 1.0)
    if factor > 1.0:
        text += (
            f" Simulated on a sample of 1 in {format_value(factor, decimals=0)} trips "
            "(demand.max_trips): the queues are the sample's, far shorter than the fleet's, "
            "most of all in the before column."
        )
    if sim_cfg.get("precondition") is False:
        text += (
            " DC charging in the cold without battery preconditioning "
            "(simulation.precondition: false)."
        )
    design = sim_cfg.get("temperature_c")
    seasons = sim_cfg.get("seasons") or {}
    if design is not None and any(float(t) != float(design) for t in seasons.values()):
        text += f" The plan was designed at {float(design):+.0f} °C."
    return text


#: The staged study's tables shown under its timeline: (table, heading, caption); the HTML id
#: is the table's name with dashes
_ROLLOUT_TABLES = (
    (
        "rollout_robust",
        "First stage under each scenario (min-max regret)",
        "Objective: trips covered (cities) or refuelled (corridors) summed over the stages "
        "when the later stages adapt to the scenario; regret: the scenario's best minus that. "
        "The notes name the chosen first stage; the proposed stations are the plan that "
        "opens it.",
    ),
    (
        "rollout_vehicles",
        "Trips completed per vehicle model, season and year",
        "Each row: one simulation run (no interval) of the stage's trips, all driven by that "
        "model (a fleet of it alone; with vehicles.compare_as: probe, only a seeded share of "
        "the stage's vehicles drive it among its fleet, probe_vehicles of them, and only "
        "their trips count), with that year's stations; sampled_1_in above 1: a "
        "sample of 1 in that many trips (demand.max_trips), whose queues are the sample's, "
        "not the fleet's. The notes name, per model, the first year from which it completes "
        "95 % of trips in every season, that year and every later one.",
    ),
)


def vehicle_models_section(result: StudyResult) -> str:
    """The vehicle models the study used, with their figures and sources (the
    ``vehicle_models`` table); empty when the study has none."""
    models = (getattr(result, "tables", None) or {}).get("vehicle_models")
    if models is None or models.empty:
        return ""
    shown = models.assign(
        # figures as the catalogue gives them (the KPI formatter would round 0.168 to 0.2)
        **{
            col: [f"{float(x):g}" for x in models[col]]
            for col in ("battery_kwh", "consumption_kwh_per_km", "max_ac_kw", "max_dc_kw")
            if col in models
        }
    )
    return (
        "<h3>Vehicle models used</h3>"
        + _plain_table(shown, "vehicle-models")
        + '<p class="meta">Figures of the models as simulated (battery usable at 20 °C, '
        "consumption at the reference speed in mild weather); user_defined: not evplan's "
        "built-in model of that key. Sources and derivations: sim/catalogue.yaml.</p>"
    )


def rollout_section(result: StudyResult) -> str:
    """Staged studies: the plan year by year, with scenarios how every candidate first stage
    does in each scenario (objective and regret), and the carmaker's table by year; empty
    for other studies."""
    timeline = result.tables.get("rollout_timeline")
    if timeline is None or timeline.empty:
        return ""
    parts = [
        '<section id="rollout"><h2>Staged rollout</h2>',
        "<h3>Timeline</h3>",
        _plain_table(timeline, "rollout-timeline"),
    ]
    for name, heading, caption in _ROLLOUT_TABLES:
        table = result.tables.get(name)
        if table is not None and len(table):
            parts += [
                f"<h3>{_e(heading)}</h3>",
                _plain_table(table, name.replace("_", "-")),
                f'<p class="meta">{_e(caption)}</p>',
            ]
    return "".join(parts) + "</section>"


def stage_loop_caption(result: StudyResult) -> str:
    """For a staged rollout, what its closed-loop iterations table holds: only the last
    stage's loop of the reported plan. A look-ahead or robust plan's sites are fixed before
    that loop, so its rounds' ``new_sites`` and ``capex`` count only the plugs they add: the
    corridor rollout's table read "new_sites 0, capex 0" for a 2030 stage that opened 8 sites
    for 800,000 (black-box review, 2026-12-07). Empty for other studies."""
    method = ((getattr(result, "manifest", None) or {}).get("rollout") or {}).get("method")
    timeline = (getattr(result, "tables", None) or {}).get("rollout_timeline")
    if not method or timeline is None or not {"method", "year"} <= set(timeline.columns):
        return ""
    mine = timeline[timeline["method"] == method]
    if mine.empty:
        return ""
    last = mine.loc[mine["year"].idxmax()]
    year = int(float(last["year"]))
    text = f"Staged rollout: the design loop of the last stage, {year}, of the {method} plan only"
    if method == "myopic":
        text += "; the earlier stages' outcomes are in the rollout timeline."
    else:
        sites = last.get("new_sites")
        capex = last.get("capex")
        opened = (
            f"its {format_value(sites, decimals=0)} new site(s)"
            if sites is not None and pd.notna(sites)
            else "its new sites"
        )
        text += (
            f". The staged plan fixed {opened} before these rounds, so their new_sites and "
            "capex count only what the rounds added (plugs); the stage's capex, new sites "
            + (
                f"included, is {format_value(capex)} (rollout timeline)."
                if capex is not None and pd.notna(capex)
                else "included, is in the rollout timeline."
            )
        )
    return f'<p class="meta" id="iterations-stage">{_e(text)}</p>'
