"""The report's truck section (freight studies, docs/cargo.md): per truck model and season,
before and after the proposal, the share of truck flows completed, charging stops per trip,
driving-rule pauses, added transit time versus diesel and well-to-wheel CO2 versus diesel;
and the proposal's truck bays per plug class."""

from __future__ import annotations

import html

import pandas as pd

from planner.report.numbers import format_value

__all__ = ["TRUCK_COLUMNS", "bay_summary", "truck_section", "truck_table"]

#: Truck figures of the vehicle matrix (``<name>_before`` / ``<name>_after``) and their labels.
TRUCK_COLUMNS = {
    "share": ("flows completed", "share"),
    "stops_per_trip": ("charging stops per trip", ""),
    "break_h_per_trip": ("rule breaks per trip (h)", ""),
    "rest_h_per_trip": ("daily rests per trip (h)", ""),
    "added_h_vs_diesel": ("added transit time vs diesel (h)", ""),
    "co2_ev_kg_per_100km": ("CO2 e-truck (kg/100 km, WTW)", ""),
    "co2_diesel_kg_per_100km": ("CO2 diesel (kg/100 km, WTW)", ""),
}

#: Decimals of the truck figures compared across rows: CO2 of an e-truck against a diesel
#: truck per 100 km (109.4 against 109.2 read "109" and "109" with the size-based default,
#: which drops decimals from 100 up) and the hours
_DECIMALS = {
    "co2_ev_kg_per_100km": 1,
    "co2_diesel_kg_per_100km": 1,
    "added_h_vs_diesel": 1,
    "rest_h_per_trip": 1,
}


def truck_table(vm: pd.DataFrame) -> pd.DataFrame:
    """Long table ``vehicle_model, season, temperature_c, scenario`` + the truck figures
    (rows of truck models only; empty when the matrix has none)."""
    if vm is None or vm.empty or "stops_per_trip_after" not in vm.columns:
        return pd.DataFrame()
    vm = vm[vm["stops_per_trip_after"].notna() | vm["stops_per_trip_before"].notna()]
    rows = []
    for r in vm.to_dict("records"):
        for scen in ("before", "after"):
            rows.append(
                {
                    "vehicle_model": r["vehicle_model"],
                    "season": r["season"],
                    "temperature_c": r.get("temperature_c"),
                    "scenario": scen,
                    **{k: r.get(f"{k}_{scen}") for k in TRUCK_COLUMNS},
                }
            )
    return pd.DataFrame(rows)


def bay_summary(selected: pd.DataFrame) -> pd.DataFrame:
    """Proposed truck bays per plug class: sites, bays, kW per bay, grid kW, capex."""
    if selected is None or selected.empty or "plug_class" not in selected.columns:
        return pd.DataFrame()
    s = selected[selected["plug_class"].notna()]
    return (
        s.groupby("plug_class", sort=False)
        .agg(
            sites=("node", "nunique"),
            bays=("plugs", "sum"),
            power_kw=("power_kw", "first"),
            draw_kw=("draw_kw", "sum"),
            capex=("capex", "sum"),
        )
        .reset_index()
    )


def truck_section(vm: pd.DataFrame, selected: pd.DataFrame) -> str:
    """HTML of the truck figures and the bay summary ("" when the study has no trucks)."""
    tt = truck_table(vm)
    if tt.empty:
        return ""
    head = "".join(
        "<th>vehicle model</th><th>season</th><th>scenario</th>"
        + "".join(f'<th class="num">{html.escape(lab)}</th>' for lab, _ in TRUCK_COLUMNS.values())
    )
    body = []
    for r in tt.to_dict("records"):
        cells = "".join(
            f'<td class="num">{html.escape(format_value(r[k], unit=unit, decimals=_DECIMALS.get(k)))}</td>'
            for k, (_, unit) in TRUCK_COLUMNS.items()
        )
        body.append(
            f"<tr><td>{html.escape(str(r['vehicle_model']))}</td><td>{html.escape(str(r['season']))}"
            f"</td><td>{r['scenario']}</td>{cells}</tr>"
        )
    out = (
        "<h3>Trucks</h3>"
        f'<div class="table-wrap"><table id="truck-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
        '<p class="meta">Completed truck trips of one replication per scenario. Added time: '
        "door to door minus a diesel truck on the same route and speed under the same driving "
        "rules without charging stops. CO2 well-to-wheel on the same route km (docs/cargo.md)."
        "</p>"
    )
    bays = bay_summary(selected)
    if not bays.empty:
        rows = "".join(
            f"<tr><td>{html.escape(str(b['plug_class']))}</td>"
            + "".join(
                f'<td class="num">{html.escape(format_value(b[c]))}</td>'
                for c in ("sites", "bays", "power_kw", "draw_kw", "capex")
            )
            + "</tr>"
            for b in bays.to_dict("records")
        )
        out += (
            '<div class="table-wrap"><table id="bay-table"><thead><tr><th>plug class</th>'
            '<th class="num">sites</th><th class="num">bays</th><th class="num">kW per bay</th>'
            '<th class="num">grid kW</th><th class="num">capex</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    return out
