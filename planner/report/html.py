"""Self-contained HTML report of one study run, plus its PNG figures.

``report.html`` embeds everything it needs (CSS, the map script from
:mod:`planner.report.assets`, map data as JSON, charts as base64 PNG), so it opens from a
USB stick on a machine with no internet access: there is no tile server, CDN or web font.
The map is a small canvas map of our own (no Leaflet): roads are the base layer, drawn
from the study's road network, simplified and quantised to 1e-5 degrees to keep national
networks at a few megabytes.
"""

from __future__ import annotations

import base64
import html
import importlib.resources
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.report.atomic import write_bytes_atomic, write_text_atomic
from planner.report.charts import Chart, make_charts, static_map
from planner.report.export import as_wgs84, json_safe, kpi_table
from planner.report.map_data import ATTRIBUTION, MAX_POINTS, map_payload, road_lines
from planner.report.numbers import format_kpi, format_kpi_range, format_value, unit_label
from planner.report.sections import (
    banner,
    rollout_section,
    stage_loop_caption,
    stations_table,
    vehicle_matrix_caption,
    vehicle_models_section,
)
from planner.report.trucks import truck_section
from planner.study.result import StudyResult, plugs_added_at_existing

logger = logging.getLogger(__name__)

__all__ = ["map_payload", "render_html", "write_report"]

# --------------------------------------------------------------------------- HTML pieces

_e = html.escape


def _fmt(v: Any, unit: str = "", *, delta: bool = False, kpi: str | None = None) -> str:
    """One formatter for the whole report (:mod:`planner.report.numbers`), HTML-escaped."""
    text = format_kpi(kpi, v, delta=delta) if kpi else format_value(v, unit=unit, delta=delta)
    return _e(text)


def _kpi_section(result: StudyResult) -> str:
    kt = kpi_table(result)
    if kt.empty:
        return '<p class="na">No KPIs were computed for this study.</p>'
    ci = [s for s in ("before", "after") if f"{s}_ci_low" in kt.columns]
    head = "".join(f'<th class="num">{s} 95% interval</th>' for s in ci)
    limit = _give_up_limit_min(result)
    rows = []
    for r in kt.to_dict("records"):
        d = r["delta"]
        cls = ""
        if d is not None and not pd.isna(d) and d != 0 and r["better"]:
            cls = "good" if (d > 0) == (r["better"] == "higher") else "bad"
        cells = [
            f"<td>{_e(str(r['label']))}</td>",
            f"<td>{_e(unit_label(r['unit']))}</td>",
            f'<td class="num">{_fmt(r["before"], kpi=r["kpi"])}{_floor(r, "before", limit)}</td>',
            f'<td class="num">{_fmt(r["after"], kpi=r["kpi"])}{_floor(r, "after", limit)}</td>',
            f'<td class="num {cls}">{_fmt(None if pd.isna(d) else d, delta=True, kpi=r["kpi"])}</td>',
        ]
        for s in ci:
            lo, hi, n = r.get(f"{s}_ci_low"), r.get(f"{s}_ci_high"), r.get(f"{s}_n")
            txt = (
                "—"
                if lo is None or pd.isna(lo)
                else " – ".join(_e(b) for b in format_kpi_range(r["kpi"], lo, hi))
            )
            if n is not None and not pd.isna(n) and txt != "—":
                txt += f" (n={int(n)})"
            cells.append(f'<td class="num">{txt}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="table-wrap"><table id="kpi-table"><thead><tr><th>KPI</th><th>unit</th>'
        '<th class="num">before</th><th class="num">after</th><th class="num">change</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="meta">Before: existing stations only. After: existing plus the proposed stations. '
        "Green/red: change in the better/worse direction; pp = percentage points.</p>"
    )


def _give_up_limit_min(result: StudyResult) -> float | None:
    """The study's ``simulation.balk_after_min`` (from the manifest's resolved config)."""
    resolved = (getattr(result, "manifest", None) or {}).get("config_resolved") or {}
    limit = (resolved.get("simulation") or {}).get("balk_after_min")
    return float(limit) if limit is not None else None


def _floor(r: dict, side: str, limit: float | None) -> str:
    """A mark on a 95th-percentile wait at the give-up limit: drivers leave a queue there
    and the wait recorded is the limit, so the value (and its zero-width interval) is a
    floor, not a measurement (a review read "30.0 (30.0 - 30.0)" as exact)."""
    v = r.get(side)
    if limit is None or r["kpi"] != "wait_p95_min" or v is None or pd.isna(v):
        return ""
    if float(v) < limit - 1.0 / 60.0:  # the verdict's own test (planner.study.verdict)
        return ""
    return ' <span class="meta">(the give-up limit: at least)</span>'


def _coverage_label(result: StudyResult) -> str:
    """The coverage card's label: what the siting model counts (a planner read "demand
    covered" 62 % -> 97 % as served demand, while trips needing a public charger completed
    0.8 % before; review of 2026-12-07)."""
    measure = (getattr(result, "manifest", None) or {}).get("coverage_measure")
    return f"siting coverage: {measure}" if measure else "siting coverage"


def _cards(result: StudyResult) -> str:
    b, a = result.kpis_before, result.kpis_after
    sel = as_wgs84(result.selected)
    if "plug_class" in sel.columns and sel["plug_class"].notna().any():
        # truck bays: one station row per bay class of a site
        cards = [(f"{sel['node'].nunique()}", f"new sites proposed ({len(sel)} bay groups)")]
    else:
        cards = [(f"{len(sel)}", "new stations proposed")]
    if "plugs" in sel.columns and len(sel):
        new = int(pd.to_numeric(sel["plugs"], errors="coerce").fillna(0).sum())
        added = plugs_added_at_existing(result.existing)
        # the plan's plugs: those of the new sites and those added at existing stations
        label = f"new plugs ({added} of them at existing stations)" if added else "new plugs"
        cards.append((f"{new + added}", label))
    for k, label in (
        ("coverage_share", _coverage_label(result)),
        ("share_trips_completed", "trips completed"),
        ("wait_p95_min", "95th percentile wait (min)"),
        ("stranded_vehicles", "stranded vehicles"),
    ):
        if k in a:
            before = f"{_fmt(b.get(k), kpi=k)} → " if k in b else ""
            cards.append((f"{before}{_fmt(a[k], kpi=k)}", label))
    return (
        '<div class="cards" id="cards">'
        + "".join(
            f'<div class="card"><div class="v">{v}</div><div class="l">{_e(lbl)}</div></div>'
            for v, lbl in cards
        )
        + "</div>"
    )


def _vehicle_section(result: StudyResult) -> str:
    vm = result.vehicle_matrix
    val = "trips_feasible_share"
    if (
        vm is None
        or vm.empty
        or not {"vehicle_model", "season"} <= set(vm.columns)
        or not ({val, "share_after"} & set(vm.columns))
    ):
        return (
            '<p class="na">Vehicle comparison not available for this study.</p>'
            + vehicle_models_section(result)
        )
    vm = vm.assign(vehicle_model=vm["vehicle_model"].astype(str), season=vm["season"].astype(str))
    seasons = list(dict.fromkeys(vm["season"]))
    temps = (
        vm.groupby("season")["temperature_c"].first()
        if "temperature_c" in vm.columns
        else pd.Series(dtype=float)
    )
    head = "".join(
        f'<th class="num">{_e(s)}'
        + (f"<br><small>{temps[s]:+.0f} °C</small>" if s in temps and pd.notna(temps[s]) else "")
        + "</th>"
        for s in seasons
    )
    rows = []
    for model, part in vm.groupby("vehicle_model", sort=False):
        cells = []
        for s in seasons:
            r = part[part["season"] == s]
            if r.empty:
                cells.append('<td class="num">—</td>')
                continue
            r = r.iloc[0]
            after = r.get("share_after", r.get(val))
            after = r.get(val) if after is None or pd.isna(after) else after
            txt = _fmt(after, "share")
            if "share_before" in r.index and pd.notna(r["share_before"]):
                txt = f"{_fmt(r['share_before'], 'share')} → {txt}"
            pub = r.get("share_public_after")
            if pub is not None and pd.notna(pub):
                # the share of the trips that relied on public charging: the table's caption
                # names these columns, which the cells did not show (planner review)
                pub_before = r.get("share_public_before")
                pub_txt = _fmt(pub, "share")
                if pub_before is not None and pd.notna(pub_before):
                    pub_txt = f"{_fmt(pub_before, 'share')} → {pub_txt}"
                txt += f"<br><small>public charging: {pub_txt}</small>"
            hue = 120 * min(max(float(after), 0.0), 1.0) if pd.notna(after) else 0
            cells.append(f'<td class="num" style="background:hsl({hue:.0f},60%,86%)">{txt}</td>')
        rows.append(f"<tr><th>{_e(model)}</th>{''.join(cells)}</tr>")
    note = (
        "before → after: share of trips completed with existing stations only, then with the "
        "proposal. "
        if "share_before" in vm.columns
        else "Share of trips completed with the proposed network. "
    ) + vehicle_matrix_caption(result)
    return (
        f'<div class="table-wrap"><table id="vehicle-table"><thead><tr><th>vehicle model</th>{head}</tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table></div><p class="meta">{_e(note)}</p>'
        + vehicle_models_section(result)
    )


def _cell(v: Any, key: str = "") -> str:
    if isinstance(v, dict):
        v = ", ".join(f"{k}: {_cell(x, str(k))}" for k, x in v.items())
    elif isinstance(v, (list, tuple, set, np.ndarray)):
        # a record that words itself (the loop's capped stations) shows its sentence
        v = ", ".join(x.sentence if hasattr(x, "sentence") else str(json_safe(x)) for x in v)
    elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        v = format_kpi(key, v)  # registry precision for KPIs, the same rules for the rest
    v = str(json_safe(v) if not isinstance(v, str) else v)
    return v if len(v) <= 300 else v[:297] + "…"


#: Capped stations listed in one cell of the iterations table (most-needed first)
ITERATION_CAPPED_SHOWN = 5


def _iteration_cell(v: Any, key: str) -> str:
    """One escaped cell of the iterations table. A list of records that word themselves
    (the loop's capped stations) is a list, one station per line, the first
    :data:`ITERATION_CAPPED_SHOWN` shown and the rest counted: joined with ", " and cut at
    300 characters, the sentences (which hold commas and semicolons themselves) ran into
    each other and the third station was cut mid-word."""
    if isinstance(v, (list, tuple)) and v and all(hasattr(x, "sentence") for x in v):
        items = "".join(f"<li>{_e(x.sentence)}</li>" for x in v[:ITERATION_CAPPED_SHOWN])
        more = len(v) - ITERATION_CAPPED_SHOWN
        if more > 0:
            items += f"<li>and {more} more station(s)</li>"
        return f'<ul class="cell-list">{items}</ul>'
    return _e(_cell(v, key))


def _iterations_section(its: list[dict[str, Any]]) -> str:
    if not its:
        return '<p class="na">Closed-loop iterations not recorded for this study.</p>'
    cols = list(dict.fromkeys(k for it in its for k in it))
    head = "".join(f"<th>{_e(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_iteration_cell(it.get(c, ''), c)}</td>" for c in cols) + "</tr>"
        for it in its
    )
    return f'<div class="table-wrap"><table id="iterations-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _chart_html(ch: Chart) -> str:
    if ch.png is None:
        return f'<p class="na" data-chart-missing="{ch.key}">{_e(ch.title)}: not available for this study.</p>'
    b64 = base64.b64encode(ch.png).decode("ascii")
    return (
        f'<figure><h3>{_e(ch.title)}</h3><img class="chart" id="chart-{ch.key}" alt="{_e(ch.title)}" '
        f'src="data:image/png;base64,{b64}"><figcaption>{_e(ch.caption)}</figcaption></figure>'
    )


def _map_section(payload: dict[str, Any]) -> str:
    totals = payload["totals"]
    n_lines = sum(len(c["lines"]) for c in payload["roads"])
    toggles = [
        (
            "roads",
            "Road network",
            '<span class="sw line" style="background:#a8a8a8"></span>',
            n_lines,
        ),
        (
            "demand",
            "Demand",
            '<span class="sw" style="background:rgba(91,141,239,.5)"></span>',
            totals["demand"],
        ),
        (
            "candidates",
            "Candidate sites",
            '<span class="sw" style="background:#fff"></span>',
            totals["candidates"],
        ),
        (
            "existing",
            "Existing stations",
            '<span class="sw" style="background:#3182bd"></span>',
            totals["existing"],
        ),
        (
            "selected",
            "New stations",
            '<span class="sw" style="background:#e6550d"></span>',
            totals["selected"],
        ),
    ]
    boxes = "".join(
        f'<label><input type="checkbox" data-map-layer="{k}"{"" if k == "candidates" else " checked"}>'
        f'{sw}{_e(lbl)} <span class="meta">({n:,})</span></label>'
        for k, lbl, sw, n in toggles
    )
    capped = [k for k, n in totals.items() if n > MAX_POINTS]
    cap = (
        f'<p class="map-help">Showing the {MAX_POINTS:,} heaviest features of: {", ".join(capped)}.</p>'
        if capped
        else ""
    )
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return (
        '<div class="map-box"><div id="map" role="img" aria-label="Map of roads, demand and stations">'
        f'<div class="map-attrib">{_e(ATTRIBUTION)}</div></div><div class="map-panel">{boxes}'
        '<div class="map-buttons"><button type="button" data-map-zoom="in">+</button>'
        '<button type="button" data-map-zoom="out">−</button><button type="button" data-map-zoom="home">reset</button></div>'
        '<p class="map-help">Scroll or double-click to zoom, drag to pan, hover a station for details, click to pin. '
        "Green ring: renewable site (new station or candidate; hover for the plant and whether its "
        "location is approximate). Roads are simplified for display.</p>"
        f"{cap}</div></div>"
        f'<script type="application/json" id="map-data">{data}</script>'
    )


def _asset(name: str) -> str:
    return (
        importlib.resources.files("planner.report.assets")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def _manifest_section(manifest: dict[str, Any]) -> str:
    if not manifest:
        return '<p class="na">No run manifest.</p>'
    text = json.dumps(json_safe(manifest), indent=2, ensure_ascii=False)
    return f"<details><summary>Run manifest (config, seed, versions, input hashes, timings)</summary><pre>{_e(text)}</pre></details>"


def render_html(result: StudyResult, charts: list[Chart], payload: dict[str, Any]) -> str:
    """The report as one HTML string (everything inlined)."""
    title = result.title or result.name
    m = result.manifest
    meta = [f"study <code>{_e(result.name)}</code>"]
    if m.get("seed") is not None:
        meta.append(f"seed {_e(str(m['seed']))}")
    for key in ("finished_at", "started_at", "created_at"):
        if m.get(key):
            meta.append(_e(str(json_safe(m[key]))))
            break
    pkgs = m.get("packages") or {}
    if isinstance(pkgs, dict) and pkgs.get("evplan"):
        src = m.get("evplan_source") or {}
        rev = ""
        if isinstance(src, dict) and src.get("commit"):
            rev = f" (commit {_e(str(src['commit'])[:12])}"
            rev += ", with uncommitted changes)" if src.get("modified") else ")"
        meta.append(f"evplan {_e(str(pkgs['evplan']))}{rev}")
    by_key = {c.key: c for c in charts}
    main_charts = "".join(
        _chart_html(by_key[k])
        for k in ("coverage", "waits", "utilisation_by_hour", "soc_trace", "rollout")
        if k in by_key and (k != "rollout" or by_key[k].png is not None)
    )
    notes = "".join(f"<li>{_e(str(n))}</li>" for n in result.notes) or "<li>None recorded.</li>"
    heat = by_key["vehicle_matrix"]
    heat_html = _chart_html(heat) if heat.png is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="evplan">
<title>{_e(title)} — evplan study report</title>
<script>window.addEventListener("error", function (e) {{
  document.documentElement.setAttribute("data-js-error", String(e.message)); }});</script>
<style>{_asset("report.css")}</style>
</head><body><main>
<header><h1>{_e(title)}</h1>
{f'<p class="question">{_e(result.question)}</p>' if result.question else ""}
<p class="meta">{" · ".join(meta)}</p>
{banner(result)}</header>
<section id="stations"><h2>Proposed stations</h2>{stations_table(result)}</section>
{_cards(result)}
<section id="map-section"><h2>Map</h2>{_map_section(payload)}</section>
<section id="kpis"><h2>Before and after</h2>{_kpi_section(result)}</section>
<section id="charts"><h2>Charts</h2><div class="charts">{main_charts}</div></section>
{rollout_section(result)}
<section id="vehicles"><h2>Trips completed per vehicle model and season</h2>
{_vehicle_section(result)}{heat_html}{truck_section(result.vehicle_matrix, result.selected)}</section>
<section id="iterations"><h2>Closed-loop iterations</h2>{stage_loop_caption(result)}{_iterations_section(result.iterations)}</section>
<section id="notes"><h2>Notes and assumptions</h2><ul>{notes}</ul></section>
<section id="manifest"><h2>Reproducibility</h2>{_manifest_section(m)}</section>
<footer>Map data {_e(ATTRIBUTION)}. Generated by evplan; this file is self-contained and needs no internet access.</footer>
</main>
<script>{_asset("map.js")}</script>
<script>{_asset("table.js")}</script>
</body></html>
"""


def write_report(result: StudyResult, folder: Path) -> Path:
    """Write ``report.html`` and ``figures/*.png`` for ``result`` into ``folder``.

    Parameters
    ----------
    result : StudyResult
        What the study run produced.
    folder : Path
        Output folder (created if missing; normally the pipeline's temporary run folder).

    Returns
    -------
    Path
        The written ``report.html``. Figures go to ``folder/figures/<chart>.png`` (only the
        charts whose data exist) plus ``figures/map.png``, a static overview map.
    """
    folder = Path(folder)
    lines = road_lines(result.roads)
    payload = map_payload(result, lines)
    charts = make_charts(result)
    for ch in charts:
        if ch.png is not None:
            write_bytes_atomic(folder / "figures" / f"{ch.key}.png", ch.png)
    try:
        png = static_map(result, roads_xy=lines)
    except Exception:  # noqa: BLE001 - the static map is an extra; the HTML map is the product
        logger.exception("static map figure could not be drawn")
        png = None
    if png is not None:
        write_bytes_atomic(folder / "figures" / "map.png", png)
    text = render_html(result, charts, payload)
    path = write_text_atomic(folder / "report.html", text)
    logger.info(
        "wrote %s (%.1f MB, %d charts)",
        path,
        len(text.encode()) / 1e6,
        sum(c.png is not None for c in charts),
    )
    return path
