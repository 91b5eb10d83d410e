"""The report's PNG figures write their numbers with the report's one formatter
(planner.report.numbers): a share that is not whole never reads as 100 % or 0 %."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.axes import Axes

from planner.report.charts import vehicle_heatmap


@pytest.fixture
def drawn_text(monkeypatch) -> list[str]:
    """Every text a chart writes on its axes."""
    texts: list[str] = []
    original = Axes.text

    def record(self, x, y, s, *args, **kwargs):
        texts.append(str(s))
        return original(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", record)
    return texts


def test_vehicle_heatmap_cells_do_not_round_a_miss_to_100_percent(drawn_text):
    """figures/vehicle_matrix.png (for slides) printed f"{v*100:.0f}%": a model completing
    99.6 % of its trips (one in 250 stranded) read "100%" in the figure while the report's
    table read "99.6 %", and 0.3 % read "0%"."""
    vm = pd.DataFrame(
        {
            "vehicle_model": ["a", "a", "b", "b"],
            "season": ["summer", "winter", "summer", "winter"],
            "temperature_c": [25, -20, 25, -20],
            "share_after": [0.996, 1.0, 0.003, 0.5],
        }
    )
    assert vehicle_heatmap(vm) is not None
    assert "100%" not in drawn_text and "0%" not in drawn_text
    assert "> 99 %" in drawn_text  # the report's mark for a share just under 100 %
    assert "100 %" in drawn_text  # every trip completed
    assert "< 1 %" in drawn_text and "50 %" in drawn_text


def test_truck_table_tells_an_e_truck_above_diesel_from_one_below():
    """The Trucks table wrote values of 100 and more without decimals: an e-truck at 109.6
    kg CO2 per 100 km against a diesel truck's 109.2 read "110" against "109", and one at
    109.4 read "109" like the diesel, hiding that it emits more (the cargo study's winter
    eActros is 3 % above diesel); hours of 100 and more lost their decimals the same way."""
    from planner.report.trucks import truck_section

    vm = pd.DataFrame(
        {
            "vehicle_model": ["mercedes_eactros_600"],
            "season": ["winter"],
            "temperature_c": [-20.0],
            **{
                f"{k}_{s}": [v]
                for s in ("before", "after")
                for k, v in (
                    ("share", 1.0),
                    ("stops_per_trip", 4.8),
                    ("break_h_per_trip", 0.5),
                    ("rest_h_per_trip", 17.05),
                    ("added_h_vs_diesel", 11.9),
                    ("co2_ev_kg_per_100km", 109.4),
                    ("co2_diesel_kg_per_100km", 109.2),
                )
            },
        }
    )
    page = truck_section(vm, pd.DataFrame())
    assert ">109.4<" in page and ">109.2<" in page


def test_rollout_chart_gives_each_quantity_its_own_labelled_axis(monkeypatch):
    """figures/rollout.png drew the p95 wait (min) and the stranded vehicles on one
    unlabelled axis: the corridor rollout's waits of 17-60 min lay flat under its 200-1,000
    stranded vehicles, with nothing on the axis to say which unit it was."""
    from planner.report.charts import rollout_chart

    labels: list[str] = []
    original = Axes.set_ylabel

    def record(self, label, *args, **kwargs):
        labels.append(str(label))
        return original(self, label, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_ylabel", record)
    tl = pd.DataFrame(
        {
            "method": ["robust"] * 3,
            "year": [2025, 2027, 2030],
            "cumulative_capex": [1.64e6, 3.0e6, 4.76e6],
            "wait_p95_min": [16.8, 56.5, 60.0],
            "stranded_vehicles": [274.0, 444.0, 925.0],
        }
    )
    assert rollout_chart(tl) is not None
    assert {"p95 wait (min)", "stranded vehicles", "cumulative capex"} <= set(labels)
