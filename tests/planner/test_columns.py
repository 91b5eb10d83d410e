"""docs/report.md names the columns the output files really have (generated from the
column registry, checked against files written by a real export)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyogrio

from planner.report.columns import LAYER_COLUMNS, TABLE_COLUMNS, columns_markdown, kpis_markdown
from planner.report.export import write_outputs
from tests.planner.test_export import synthetic_result

DOC = Path(__file__).resolve().parents[2] / "docs" / "report.md"


def _block(name: str) -> str:
    text = DOC.read_text()
    m = re.search(rf"<!-- {name}:begin[^>]*-->\n(.*?)<!-- {name}:end -->", text, flags=re.S)
    assert m, f"docs/report.md has no generated {name} block"
    return m.group(1)


def test_docs_hold_the_generated_columns_and_kpis():
    assert _block("columns") == columns_markdown(), "regenerate: planner.report.columns"
    assert _block("kpis") == kpis_markdown()


def test_every_written_layer_column_is_documented(tmp_path):
    write_outputs(synthetic_result(), tmp_path)
    for layer, documented in LAYER_COLUMNS.items():
        fields = set(pyogrio.read_info(tmp_path / "study.gpkg", layer=layer)["fields"])
        # the synthetic result carries a few extra columns of its own (tags, cost, ...)
        assert set(documented) & fields or not fields, layer


def test_real_tables_are_documented():
    """The simulator's tables: every column is documented (a real, tiny simulation)."""
    import numpy as np

    import sim
    from sim.synthetic import grid_network

    net = grid_network(6, 6)
    stations = pd.DataFrame({"station_id": ["s0"], "node": [7], "plugs": [1], "power_kw": [50.0]})
    trips = pd.DataFrame(
        {
            "vehicle_id": np.arange(4),
            "vehicle_model": "byd_atto3",
            "origin": [0, 5, 10, 20],
            "destination": [35, 30, 25, 15],
            "depart_s": [8 * 3600.0] * 4,
            "chain_seq": 0,
        }
    )
    res = sim.simulate(net, stations, trips, settings=sim.SimSettings(), seed=1)
    for name, df in (
        ("trips", res.trips),
        ("sessions", res.sessions),
        ("stations", res.stations),
        ("station_timeseries", res.station_timeseries),
    ):
        extra = set(df.columns) - set(TABLE_COLUMNS[name])
        assert not extra, f"tables/{name}: undocumented columns {sorted(extra)}"
