"""Static charts of a study run (PNG bytes), drawn with matplotlib's object API.

Figures are built with :class:`matplotlib.figure.Figure` directly instead of ``pyplot`` so
the library never switches the global backend or leaks figures; rendering is Agg. Each
function returns ``None`` when its data are missing, and the report says so instead.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from planner.report.numbers import format_kpi, format_value
from planner.study.result import StudyResult

logger = logging.getLogger(__name__)

__all__ = ["Chart", "make_charts"]

_SCENARIO_COLOURS = {"before": "#7f7f7f", "after": "#e6550d"}
_DPI = 110


@dataclass
class Chart:
    """One chart of the report: file stem, title, caption and PNG bytes (``None`` if no data)."""

    key: str
    title: str
    caption: str
    png: bytes | None


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No "Software" tag: keeps the PNG free of the matplotlib URL and byte-stable across runs.
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _has(df: pd.DataFrame | None, cols: set[str]) -> bool:
    return df is not None and not df.empty and cols <= set(df.columns)


def _new(width: float = 7.0, height: float = 3.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _colour(name: str, k: int) -> str:
    return _SCENARIO_COLOURS.get(str(name).lower(), f"C{k % 10}")


def coverage_chart(df: pd.DataFrame, plan: dict[str, Any] | None = None) -> bytes | None:
    """Siting coverage against the number of stations, one line per series, and the
    proposed plan as a star when ``plan`` (its KPIs) gives ``n_stations`` and
    ``coverage_share`` (the plan adds sites for waits and strandings, so it can sit below
    the curve; a planner could not tell where it was; review, 2026-12-07)."""
    if not _has(df, {"n_stations", "coverage_share"}):
        return None
    fig, ax = _new()
    n_plan, cov_plan, sites = (
        (plan or {}).get(k) for k in ("n_stations", "coverage_share", "n_sites")
    )
    # truck-bay plans count a station row per bay class of a site: not the curve's x axis
    bays = sites is not None and n_plan is not None and sites != n_plan
    if (
        n_plan is not None
        and cov_plan is not None
        and not bays
        and np.isfinite([n_plan, cov_plan]).all()
    ):
        ax.plot(
            [n_plan],
            [cov_plan * 100],
            marker="*",
            markersize=11,
            linestyle="none",
            color="#d62728",
            label=f"proposed plan ({int(n_plan)} stations)",
        )
    groups = df.groupby("series", sort=False) if "series" in df.columns else [("", df)]
    for k, (name, part) in enumerate(groups):
        part = part.sort_values("n_stations")
        ax.plot(
            part["n_stations"],
            part["coverage_share"] * 100,
            marker="o",
            markersize=3.5,
            color=f"C{k % 10}",
            label=str(name) or None,
        )
    ax.set_xlabel("number of stations")
    ax.set_ylabel("siting coverage (%)")
    ax.set_ylim(0, 102)
    if "series" in df.columns or ax.get_legend_handles_labels()[1]:
        ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def waits_chart(df: pd.DataFrame, kpis: dict[str, dict[str, Any]] | None = None) -> bytes | None:
    """Distribution of waiting time per charging session (every replication), before
    against after; the legend quotes the KPI table's mean and p95 (means over the
    replications) so chart and table agree."""
    if not _has(df, {"wait_min"}):
        return None
    df = df.assign(scenario=df["scenario"] if "scenario" in df.columns else "after")
    w = pd.to_numeric(df["wait_min"], errors="coerce")
    df = df[np.isfinite(w)].assign(wait_min=w)
    if df.empty:
        return None
    top = max(float(df["wait_min"].quantile(0.995)), 1.0)
    bins = np.linspace(0, top, 31).tolist()
    fig, ax = _new()
    for k, (name, part) in enumerate(df.groupby("scenario", sort=False)):
        x = part["wait_min"].clip(upper=top).to_numpy()
        weights = np.full(len(x), 100.0 / len(x))
        kp = (kpis or {}).get(str(name), {})
        mean = kp.get("wait_mean_min", float(np.mean(x)))
        p95 = kp.get("wait_p95_min", float(np.percentile(x, 95)))
        label = (
            f"{name}: mean {format_kpi('wait_mean_min', mean)}, p95 "
            f"{format_kpi('wait_p95_min', p95)} min ({len(x):,} stops)"
        )
        ax.hist(
            x, bins=bins, weights=weights, histtype="stepfilled", alpha=0.35, color=_colour(name, k)
        )
        ax.hist(
            x,
            bins=bins,
            weights=weights,
            histtype="step",
            linewidth=1.5,
            color=_colour(name, k),
            label=label,
        )
    ax.set_xlabel("wait before charging (min; last bin includes longer waits)")
    ax.set_ylabel("sessions (%)")
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def utilisation_chart(df: pd.DataFrame) -> bytes | None:
    """Plug utilisation by hour of day, before against after: the mean over the
    replications, shaded from the lowest to the highest replication."""
    if not _has(df, {"hour", "utilisation"}):
        return None
    df = df.assign(scenario=df["scenario"] if "scenario" in df.columns else "after")
    fig, ax = _new()
    spread = {"utilisation_min", "utilisation_max"} <= set(df.columns)
    for k, (name, part) in enumerate(df.groupby("scenario", sort=False)):
        cols = ["utilisation", *(["utilisation_min", "utilisation_max"] if spread else [])]
        part = part.groupby("hour", as_index=False)[cols].mean().sort_values("hour")
        ax.plot(
            part["hour"],
            part["utilisation"] * 100,
            marker="o",
            markersize=3,
            color=_colour(name, k),
            label=f"{name} (mean over replications)" if spread else str(name),
        )
        if spread:  # lowest to highest replication
            ax.fill_between(
                part["hour"],
                part["utilisation_min"] * 100,
                part["utilisation_max"] * 100,
                color=_colour(name, k),
                alpha=0.15,
                linewidth=0,
            )
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlim(-0.5, 23.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("plug utilisation (%)")
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def soc_chart(df: pd.DataFrame) -> bytes | None:
    """State of charge along a corridor trip; charging stops marked."""
    if not _has(df, {"km", "soc"}):
        return None
    fig, ax = _new(7.0, 3.8)
    groups = df.groupby("series", sort=False) if "series" in df.columns else [("", df)]
    for k, (name, part) in enumerate(groups):
        # Keep the recorded order: at a charging stop km stays put while soc jumps up.
        ax.plot(
            part["km"],
            part["soc"] * 100,
            color=f"C{k % 10}",
            linewidth=1.6,
            label=str(name) or None,
        )
        if "event" in part.columns:
            ch = part[part["event"].astype(str) == "charge"]
            ax.scatter(ch["km"], ch["soc"] * 100, s=18, color=f"C{k % 10}", marker="^", zorder=3)
    ax.set_ylim(0, 102)
    ax.set_xlabel("distance along the trip (km); ▲ charging")
    ax.set_ylabel("state of charge (%)")
    if "series" in df.columns:
        ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def vehicle_heatmap(df: pd.DataFrame) -> bytes | None:
    """Share of trips completed per vehicle model and season (after the proposal)."""
    col = "share_after" if _has(df, {"share_after"}) else "trips_feasible_share"
    if not _has(df, {"vehicle_model", "season", col}):
        return None
    seasons = list(dict.fromkeys(df["season"].astype(str)))
    models = list(dict.fromkeys(df["vehicle_model"].astype(str)))
    grid = (
        df.assign(season=df["season"].astype(str), vehicle_model=df["vehicle_model"].astype(str))
        .pivot_table(index="vehicle_model", columns="season", values=col, aggfunc="mean")
        .reindex(index=models, columns=seasons)
    )
    fig = Figure(figsize=(1.6 + 1.3 * len(seasons), 0.9 + 0.42 * len(models)), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(grid.to_numpy(dtype=float) * 100, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(seasons)), seasons)
    ax.set_yticks(range(len(models)), models)
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            # the report's formatter: 99.6 % reads "> 99 %", not "100%" (a model that
            # strands one trip in 250 did not complete them all)
            text = format_value(v, unit="share", decimals=0)
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="trips completed (%)", shrink=0.9)
    return _png(fig)


_ROAD_STYLE = {
    "minor": ("#c6c6c6", 0.4),
    "road": ("#a8a8a8", 0.6),
    "mid": ("#a8a8a8", 0.8),
    "major": ("#d08c3a", 1.4),
}


def static_map(
    result: StudyResult, *, roads_xy: dict[str, list[np.ndarray]] | None = None
) -> bytes | None:
    """A static overview map (roads, demand, stations) for slides; ``roads_xy`` maps a road
    class to lon/lat polylines already simplified for the interactive map."""
    from planner.report.export import as_wgs84

    layers = {k: as_wgs84(getattr(result, k)) for k in ("roads", "demand", "existing", "selected")}
    if all(g.empty for g in layers.values()):
        return None
    fig = Figure(figsize=(7.5, 7.0), layout="constrained")
    ax = fig.add_subplot()
    ax.set_facecolor("#f4f3ee")
    for cls, lines in (roads_xy or {}).items():
        colour, width = _ROAD_STYLE.get(cls, _ROAD_STYLE["road"])
        ax.add_collection(LineCollection(lines, colors=colour, linewidths=width))
    demand = layers["demand"]
    if not demand.empty:
        poly = demand[demand.geom_type.isin(["Polygon", "MultiPolygon"])]
        pts = demand[demand.geom_type == "Point"]
        if not poly.empty:
            poly.plot(ax=ax, facecolor="#5b8def", alpha=0.15, edgecolor="#5b8def", linewidth=0.6)
        if not pts.empty:
            w = pd.to_numeric(
                pts.get("weight", pd.Series(1.0, index=pts.index)), errors="coerce"
            ).fillna(0.0)
            size = 4 + 40 * np.sqrt(w / w.max()) if w.max() > 0 else 6
            ax.scatter(
                pts.geometry.x, pts.geometry.y, s=size, color="#5b8def", alpha=0.35, linewidths=0
            )
    for key, colour, label in (
        ("existing", "#3182bd", "existing"),
        ("selected", "#e6550d", "selected"),
    ):
        g = layers[key]
        g = g[g.geom_type == "Point"]
        if not g.empty:
            ax.scatter(
                g.geometry.x,
                g.geometry.y,
                s=46,
                color=colour,
                edgecolors="white",
                linewidths=0.8,
                zorder=3,
                label=f"{label} stations ({len(g)})",
            )
    ax.autoscale()
    lat0 = float(np.mean(ax.get_ylim()))
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 0.1))  # local equal-distance look
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
    fig.text(
        0.995,
        0.002,
        "© OpenStreetMap contributors",
        ha="right",
        va="bottom",
        fontsize=7,
        color="#555",
    )
    return _png(fig)


def rollout_chart(df: pd.DataFrame | None) -> bytes | None:
    """A staged plan by year: cumulative capex (left) and the p95 wait and stranded vehicles
    (right), one line per planning method."""
    if df is None or not _has(df, {"year", "cumulative_capex", "method"}):
        return None
    # one panel per quantity: minutes of wait and hundreds of stranded vehicles on one
    # unlabelled axis flattened the waits (the corridor rollout's 17-60 min under 1,000)
    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    panels = fig.subplots(1, 3)
    what = (
        ("cumulative_capex", "cumulative capex", "o", "-"),
        ("wait_p95_min", "p95 wait (min)", "o", "-"),
        ("stranded_vehicles", "stranded vehicles", "s", "--"),
    )
    for k, (method, part) in enumerate(df.groupby("method", sort=False)):
        part = part.sort_values("year")
        colour = _colour(str(method), k)
        for ax, (col, _, marker, style) in zip(panels, what, strict=True):
            if col in part:
                ax.plot(
                    part["year"],
                    part[col],
                    marker=marker,
                    linestyle=style,
                    color=colour,
                    label=str(method),
                )
    years = sorted({int(y) for y in df["year"]})
    for ax, (_, label, _, _) in zip(panels, what, strict=True):
        ax.set_xlabel("year")
        ax.set_ylabel(label)
        ax.set_xticks(years, [str(y) for y in years])  # 2025, not 2025.0 or 2,025
        ax.grid(True, color="#e5e5e5", linewidth=0.8)
        ax.legend(frameon=False, fontsize=7)
    return _png(fig)


_CHARTS: list[tuple[str, str, str, Callable[[StudyResult], bytes | None]]] = [
    (
        "coverage",
        "Coverage vs number of stations",
        "Siting coverage (what it counts: the card above) with each number of new stations "
        "placed at best for it alone (one MCLP solve per point; corridors: the FRLM), the "
        "existing stations kept; the star is the proposed plan, whose later rounds add sites "
        "for waits and strandings, not for coverage.",
        lambda r: coverage_chart(r.coverage_curve, r.kpis_after),
    ),
    (
        "waits",
        "Waiting time at chargers",
        "Distribution of waits per charging session, before (existing stations) and after the proposal.",
        lambda r: waits_chart(r.waits, {"before": r.kpis_before, "after": r.kpis_after}),
    ),
    (
        "utilisation_by_hour",
        "Plug utilisation by hour",
        "Mean share of plugs in use per hour of day.",
        lambda r: utilisation_chart(r.utilisation_by_hour),
    ),
    (
        "soc_trace",
        "State of charge along a corridor trip",
        "Battery state of charge against distance; jumps are charging stops.",
        lambda r: soc_chart(r.soc_trace),
    ),
    (
        "rollout",
        "Staged rollout by year",
        "Cumulative capex, p95 wait and stranded vehicles in each stage, per planning method.",
        lambda r: rollout_chart(r.tables.get("rollout_timeline")),
    ),
    (
        "vehicle_matrix",
        "Trips completed per vehicle model and season",
        "Share of trips each model completes in each season with the proposed network, the "
        "study's trips all driven by that model (a fleet of it alone; one run).",
        lambda r: vehicle_heatmap(r.vehicle_matrix),
    ),
]


def make_charts(result: StudyResult) -> list[Chart]:
    """All report charts, in report order; a chart whose data fail to draw is logged and
    reported as not available rather than failing the run."""
    charts = []
    for key, title, caption, fn in _CHARTS:
        try:
            png = fn(result)
        except Exception:  # noqa: BLE001 - a bad chart must not lose the whole report
            logger.exception("chart %r could not be drawn", key)
            png = None
        charts.append(Chart(key, title, caption, png))
    return charts
