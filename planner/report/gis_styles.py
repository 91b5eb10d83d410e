"""Styles written into the study's GeoPackage so QGIS opens it styled.

QGIS reads a ``layer_styles`` table in a GeoPackage and applies the row marked
``useAsDefault`` when a layer is added (the same table QGIS writes with "Save style ->
in database"). Each row holds a QML style (QGIS) and an SLD style (other clients).

The styles: proposed stations orange, sized by plugs; existing stations blue; candidate
sites small and faint; demand light blue, sized by weight; roads grey with major roads
(motorway/trunk/primary, or any national route with a ``ref``) wider and darker.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["LAYER_STYLES", "write_layer_styles"]


@dataclass(frozen=True)
class PointStyle:
    fill: str  # "r,g,b,a"
    stroke: str
    size_mm: float
    size_expression: str = ""  # data-defined size (QGIS expression), optional


@dataclass(frozen=True)
class LineStyle:
    rules: tuple[tuple[str, str, str, float], ...]  # (label, QGIS filter, colour, width mm)


LAYER_STYLES: dict[str, PointStyle | LineStyle] = {
    "selected": PointStyle(
        "230,85,13,255", "255,255,255,255", 3.0, '2 + 1.1 * sqrt(coalesce("plugs", 1))'
    ),
    "existing": PointStyle(
        "49,130,189,255", "255,255,255,255", 3.0, '2 + 1.1 * sqrt(coalesce("plugs", 1))'
    ),
    "candidates": PointStyle("255,255,255,150", "120,120,120,140", 1.2),
    "demand": PointStyle(
        "91,141,239,90", "61,111,209,160", 1.5, '1 + 0.4 * sqrt(coalesce("weight", 1))'
    ),
    "roads": LineStyle(
        (
            (
                "major",
                "regexp_match(\"highway\", '^(motorway|trunk|primary)') "
                'OR ("highway" IS NULL AND "ref" IS NOT NULL)',
                "208,140,58,255",
                0.7,
            ),
            ("mid", "regexp_match(\"highway\", '^(secondary|tertiary)')", "150,150,150,255", 0.4),
            ("minor", "ELSE", "200,200,200,255", 0.2),
        )
    ),
}


def _opt(name: str, value: str) -> str:
    return f'<Option type="QString" name="{name}" value="{escape(value, {chr(34): "&quot;"})}"/>'


def _marker(style: PointStyle) -> str:
    ddp = ""
    if style.size_expression:
        ddp = (
            '<data_defined_properties><Option type="Map"><Option type="QString" name="name" '
            'value=""/><Option name="properties" type="Map"><Option name="size" type="Map">'
            '<Option type="bool" name="active" value="true"/>'
            f"{_opt('expression', style.size_expression)}"
            '<Option type="int" name="type" value="3"/></Option></Option>'
            '<Option type="QString" name="type" value="collection"/></Option>'
            "</data_defined_properties>"
        )
    return (
        '<symbol type="marker" name="0" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleMarker" enabled="1" pass="0" locked="0"><Option type="Map">'
        f"{_opt('color', style.fill)}{_opt('name', 'circle')}"
        f"{_opt('outline_color', style.stroke)}{_opt('outline_width', '0.3')}"
        f"{_opt('size', str(style.size_mm))}{_opt('size_unit', 'MM')}"
        f"</Option>{ddp}</layer></symbol>"
    )


def _line(name: str, colour: str, width: float) -> str:
    return (
        f'<symbol type="line" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleLine" enabled="1" pass="0" locked="0"><Option type="Map">'
        f"{_opt('line_color', colour)}{_opt('line_width', str(width))}"
        f"{_opt('line_width_unit', 'MM')}{_opt('capstyle', 'round')}{_opt('joinstyle', 'round')}"
        "</Option></layer></symbol>"
    )


def qml(style: PointStyle | LineStyle) -> str:
    """The QGIS style document of one layer."""
    head = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
    if isinstance(style, PointStyle):
        renderer = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><symbols>{_marker(style)}</symbols></renderer-v2>'
        )
    else:
        rules = "".join(
            f'<rule key="{label}" label="{label}" symbol="{k}" '
            f'filter="{escape(flt, {chr(34): "&quot;"})}"/>'
            for k, (label, flt, _, _) in enumerate(style.rules)
        )
        symbols = "".join(
            _line(str(k), colour, width) for k, (_, _, colour, width) in enumerate(style.rules)
        )
        renderer = (
            '<renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" forceraster="0">'
            f'<rules key="root">{rules}</rules><symbols>{symbols}</symbols></renderer-v2>'
        )
    return f'{head}<qgis version="3.22.0" styleCategories="Symbology">{renderer}</qgis>'


def sld(layer: str, style: PointStyle | LineStyle) -> str:
    """A minimal SLD 1.1 document of one layer (colours and sizes, no data-defined sizes)."""

    def rgb(c: str) -> tuple[str, float]:
        r, g, b, a = (int(v) for v in c.split(","))
        return f"#{r:02x}{g:02x}{b:02x}", round(a / 255, 3)

    if isinstance(style, PointStyle):
        fill, fo = rgb(style.fill)
        stroke, _ = rgb(style.stroke)
        px = round(style.size_mm * 3.78, 1)
        symbolizer = (
            "<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>"
            f'<se:Fill><se:SvgParameter name="fill">{fill}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">{fo}</se:SvgParameter></se:Fill>'
            f'<se:Stroke><se:SvgParameter name="stroke">{stroke}</se:SvgParameter></se:Stroke>'
            f"</se:Mark><se:Size>{px}</se:Size></se:Graphic></se:PointSymbolizer>"
        )
    else:
        colour, _ = rgb(style.rules[-1][2])
        symbolizer = (
            f'<se:LineSymbolizer><se:Stroke><se:SvgParameter name="stroke">{colour}'
            '</se:SvgParameter><se:SvgParameter name="stroke-width">1</se:SvgParameter>'
            "</se:Stroke></se:LineSymbolizer>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><StyledLayerDescriptor version="1.1.0" '
        'xmlns="http://www.opengis.net/sld" xmlns:se="http://www.opengis.net/se">'
        f"<NamedLayer><se:Name>{layer}</se:Name><UserStyle><se:Name>{layer}</se:Name>"
        f"<se:FeatureTypeStyle><se:Rule>{symbolizer}</se:Rule></se:FeatureTypeStyle>"
        "</UserStyle></NamedLayer></StyledLayerDescriptor>"
    )


_DDL = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT,
  styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),
  update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""


def write_layer_styles(
    path: str | Path, layers: list[str], *, geometry_column: str = "geom"
) -> int:
    """Add a default style for each of ``layers`` to the GeoPackage at ``path`` (the
    ``layer_styles`` table, registered in ``gpkg_contents`` as an attributes table).
    Returns the number of styles written."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    rows = [
        (
            layer,
            geometry_column,
            f"evplan {layer}",
            qml(LAYER_STYLES[layer]),
            sld(layer, LAYER_STYLES[layer]),
            f"evplan default style for {layer}",
        )
        for layer in layers
        if layer in LAYER_STYLES
    ]
    con = sqlite3.connect(path)
    try:
        with con:
            con.execute(_DDL)
            con.execute(
                "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, "
                "description, last_change) VALUES ('layer_styles', 'attributes', "
                "'layer_styles', 'QGIS layer styles', ?)",
                (now,),
            )
            con.executemany(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'evplan', '')",
                rows,
            )
    finally:
        con.close()
    return len(rows)
