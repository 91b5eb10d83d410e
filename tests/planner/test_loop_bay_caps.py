"""A truck bay class's ``max_bays`` is a hard cap on its rows everywhere the design loop adds
bays: the wait sizing, the one-more-plug remedy and the connector remedy. A review of
``evplan run configs/cargo-china.yaml`` (mcs.max_bays 4, ccs_truck.max_bays 1, max_plugs 6)
found a site with 5 MCS bays and one with 2 CCS bays: the loop capped its plugs at
``candidates.max_plugs`` only, and no sentence of the verdict said so. A row held by its
class's cap is named in ``capped`` with that field, and the verdict tells the user to raise
it, not ``candidates.max_plugs``. All data here are synthetic."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from planner.study import loop_remedies
from planner.study.loop import ScenarioOutcome, Targets, closed_loop
from planner.study.loop_remedies import add_connectors, add_plugs, size_plugs
from planner.study.verdict import verdict
from tests.planner.test_closed_loop import _at_cap, _verdict_cfg

MCS, CCS = 500_000.0, 150_000.0  # synthetic bay costs of two truck classes
CAPS = {"mcs": 4, "ccs": 1}  # synthetic classes' max_bays (max_plugs is 6)


def _synthetic_truck_site(mcs: int = 4, ccs: int = 1) -> pd.DataFrame:
    """A synthetic truck site ``T`` (rows ``T:mcs`` and ``T:ccs``) and a synthetic car
    station ``H`` with no bay class."""
    return pd.DataFrame(
        {"station_id": ["T:mcs", "T:ccs", "H"], "node": [1, 1, 2], "plugs": [mcs, ccs, 2],
         "added_plugs": [0, 0, 0], "power_kw": [1000.0, 400.0, 50.0],
         "existing": [False, False, True], "name": ["T", "T", "Hotel"],
         "connectors": ["MCS", "CCS2", "CCS2"], "plug_class": ["mcs", "ccs", None],
         "bay_cost": [MCS, CCS, float("nan")]}
    )  # fmt: skip


def _synthetic_busy_load(ids: list[str]) -> pd.DataFrame:
    """Every station in ``ids`` missing a 15-min wait target under a load that needs about
    ten plugs (synthetic)."""
    n = len(ids)
    return pd.DataFrame(
        {"station_id": ids, "peak_arrivals_per_h": [8.0] * n, "service_h": [1.0] * n,
         "cs2": [1.0] * n, "misses": [True] * n, "arrivals_at_once": [10.0] * n,
         "wait_p95_min": [40.0] * n}
    )  # fmt: skip


def test_each_row_is_capped_at_its_class_max_bays_or_max_plugs():
    from planner.study.capped import cap_text

    def plug_caps(stations, max_plugs, bay_caps):
        # each row's cap and how a capped station's sentence names it
        caps, fields = loop_remedies.cap_fields(stations, max_plugs, bay_caps)
        assert caps.tolist() == loop_remedies.plug_caps(stations, max_plugs, bay_caps).tolist()
        return caps, pd.Series([cap_text(f, c) for f, c in zip(fields, caps, strict=True)])

    caps, named = plug_caps(_synthetic_truck_site(), 6, CAPS)
    assert caps.tolist() == [4, 1, 6]
    assert named.tolist() == [
        "truck_bays.mcs.max_bays is 4",
        "truck_bays.ccs.max_bays is 1",
        "max_plugs is 6",
    ]
    # a class cap above max_plugs: max_plugs binds; equal: both are named
    caps, named = plug_caps(_synthetic_truck_site(), 4, {"mcs": 8, "ccs": 4})
    assert caps.tolist() == [4, 4, 4]
    assert named.tolist()[:2] == ["max_plugs is 4", "max_plugs and truck_bays.ccs.max_bays are 4"]
    # no truck bay classes: the plug cap alone
    assert plug_caps(_synthetic_truck_site(), 6, None)[0].tolist() == [6, 6, 6]


def test_the_sizing_stops_a_bay_row_at_its_class_cap_and_names_it():
    st = _synthetic_truck_site(mcs=3, ccs=1)
    load = _synthetic_busy_load(["T:mcs", "T:ccs", "H"])
    out, spent, added, capped, bound, full = size_plugs(
        st, load, 15.0, plug_cost=25_000.0, max_plugs=6, budget_left=None, bay_caps=CAPS
    )
    plugs = out.set_index("station_id")["plugs"]
    assert plugs["T:mcs"] == 4 and plugs["T:ccs"] == 1  # (the old code: 6 and 6)
    assert plugs["H"] == 6  # a car station keeps max_plugs
    assert added == 1 + 4 and spent == pytest.approx(MCS + 4 * 25_000.0)
    by_id = {c.label: c.sentence for c in capped}
    assert by_id["T (T:mcs)"].endswith("; truck_bays.mcs.max_bays is 4")
    assert by_id["T (T:ccs)"].endswith("; truck_bays.ccs.max_bays is 1")
    assert by_id["Hotel (H)"].endswith("; max_plugs is 6")
    # at the cap: full (the next round sites new stations for the load), not grid-bound
    assert set(full) == {"T:mcs", "T:ccs", "H"} and bound == []
    kinds = {c.station_id: (c.limit, c.cap, c.cap_fields) for c in capped}
    assert kinds == {
        "T:mcs": ("bay_cap", 4, ("truck_bays.mcs.max_bays",)),
        "T:ccs": ("bay_cap", 1, ("truck_bays.ccs.max_bays",)),
        "H": ("plug_cap", 6, ("max_plugs",)),
    }


def test_the_one_more_plug_remedy_keeps_a_bay_row_within_its_class_cap():
    st = _synthetic_truck_site(mcs=4, ccs=1)
    per = pd.DataFrame({"station_id": ["T:mcs", "T:ccs", "H"], "wait_p95_min": [40.0] * 3})
    out, spent, added = add_plugs(
        st, per, 15.0, plug_cost=25_000.0, max_plugs=6, budget_left=None, bay_caps=CAPS
    )
    assert out["plugs"].tolist() == [4, 1, 3]  # only the car station gets one
    assert added == 1 and spent == pytest.approx(25_000.0)


def test_the_connector_remedy_adds_no_bay_beyond_the_class_cap():
    st = _synthetic_truck_site(mcs=3, ccs=1)
    gaps = pd.DataFrame(
        {"station_id": ["T:ccs", "T:mcs"], "connector": ["GB/T", "CCS2"], "trips": [5.0, 3.0]}
    )
    out, spent, added = add_connectors(
        st, gaps, plug_cost=25_000.0, max_plugs=6, budget_left=None, bay_caps=CAPS
    )
    # the CCS row is at its class's 1 bay: no GB/T bay; the MCS row has room for one more
    assert out["plugs"].tolist() == [4, 1, 2]
    assert out["connectors"].tolist()[:2] == ["MCS;CCS2", "CCS2"]
    assert added == 1 and spent == pytest.approx(MCS)


def _sessions(per_station: dict[str, int]) -> SimpleNamespace:
    """A synthetic simulation result: ``n`` one-hour sessions at each station in hour 8,
    each after a 40-min wait."""
    frames = []
    for k, (sid, n) in enumerate(per_station.items()):
        t = 8 * 3600.0 + np.arange(n) * (3600.0 / max(n, 1))
        frames.append(
            pd.DataFrame(
                {
                    "station": k,
                    "station_id": sid,
                    "arrive_s": t,
                    "start_s": t + 2400.0,
                    "end_s": t + 2400.0 + 3600.0,
                    "status": "charged",
                    "wait_s": 2400.0,
                }
            )
        )
    return SimpleNamespace(sessions=pd.concat(frames, ignore_index=True))


def _synthetic_existing() -> pd.DataFrame:
    return _synthetic_truck_site().iloc[2:].drop(columns="added_plugs").reset_index(drop=True)


def _synthetic_truck_site_opened(unserved, fixed, n_sites, budget_left):
    """The synthetic optimiser: opens the truck site T (3 MCS bays, 1 CCS bay) in the first
    round, nothing after."""
    if fixed["station_id"].eq("T:mcs").any():
        return _synthetic_truck_site().iloc[0:0].drop(columns="added_plugs").assign(capex=[])
    new = _synthetic_truck_site(mcs=3, ccs=1).iloc[:2].drop(columns="added_plugs")
    return new.assign(capex=[400_000.0 + 3 * MCS, CCS])


def _synthetic_loop(caps: dict[str, int], plans: list[pd.DataFrame]):
    """A design loop whose truck site stays overloaded (about ten trucks at once at each
    class) and whose CCS row lacks GB/T for some trucks; ``plans`` collects every plan it
    simulates."""

    def scripted(stations: pd.DataFrame) -> ScenarioOutcome:
        plans.append(stations.copy())
        kpis = {"wait_p95_min": 40.0, "stranded_vehicles": 2.0, "stranded_queue": 2.0,
                "trips_abandoned": 2.0}  # fmt: skip
        per = pd.DataFrame({"station_id": stations["station_id"], "wait_p95_min": 40.0})
        unserved = pd.DataFrame({"node": [5], "destination": [6], "weight": [2.0]})
        busy = {sid: 10 for sid in stations["station_id"] if str(sid).startswith("T:")}
        gaps = pd.DataFrame({"station_id": ["T:ccs"], "connector": ["GB/T"], "trips": [4.0]})
        detail = {"result": _sessions(busy or {"H": 0}), "connector_gaps": gaps}
        return ScenarioOutcome(kpis, per, unserved, detail=detail)

    return closed_loop(
        _synthetic_existing(),
        simulate=scripted,
        optimize=_synthetic_truck_site_opened,
        targets=Targets(wait_p95_min=15, stranded=0, max_iterations=3),
        first_round_sites=1,
        budget=None,
        plug_cost=25_000.0,
        max_plugs=6,
        bay_caps=caps,
    )


def test_the_design_loop_never_exceeds_a_class_max_bays(tmp_path):
    plans: list[pd.DataFrame] = []
    loop = _synthetic_loop(CAPS, plans)
    assert len(plans) >= 3  # baseline and the rounds that sized the bays
    for plan in [*plans, loop.stations]:
        bays = plan.set_index("station_id")["plugs"]
        if "T:mcs" in bays:
            assert bays["T:mcs"] <= 4 and bays["T:ccs"] <= 1
    final = loop.stations.set_index("station_id")
    assert final.loc["T:mcs", "plugs"] == 4 and final.loc["T:ccs", "plugs"] == 1
    assert final.loc["T:ccs", "connectors"] == "CCS2"  # no GB/T bay beyond the cap
    # the final plan's diagnosis names the class caps, and the verdict says to raise them
    last = loop.iterations[-1]
    assert last["sized"]
    assert any(c.sentence.endswith("truck_bays.mcs.max_bays is 4") for c in last["capped"])
    assert any(c.sentence.endswith("truck_bays.ccs.max_bays is 1") for c in last["capped"])
    cfg = _verdict_cfg(tmp_path, {"wait_p95_min": 15, "stranded": 0})
    out = verdict(cfg, {"wait_p95_min": 40.0, "stranded_vehicles": 2.0}, loop)
    cap = next(r for r in out["reasons"] if r.startswith("the plug cap binds"))
    assert "candidates.truck_bays.mcs.max_bays" in cap
    assert "candidates.truck_bays.ccs.max_bays" in cap
    assert "candidates.max_plugs" not in cap


def test_the_class_cap_is_lifted_only_by_its_own_field(tmp_path):
    """Raised to max_plugs (6), the MCS class's cap lets the loop add bays up to 6; both
    fields are then named, as both must rise for more."""
    plans: list[pd.DataFrame] = []
    loop = _synthetic_loop({"mcs": 6, "ccs": 1}, plans)
    final = loop.stations.set_index("station_id")
    assert final.loc["T:mcs", "plugs"] == 6 and final.loc["T:ccs", "plugs"] == 1
    cfg = _verdict_cfg(tmp_path, {"wait_p95_min": 15, "stranded": 0})
    out = verdict(cfg, {"wait_p95_min": 40.0, "stranded_vehicles": 2.0}, loop)
    cap = next(r for r in out["reasons"] if r.startswith("the plug cap binds"))
    assert "max_plugs and truck_bays.mcs.max_bays are 6" in cap
    assert "candidates.max_plugs" in cap and "candidates.truck_bays.mcs.max_bays" in cap
    assert "candidates.truck_bays.ccs.max_bays" in cap


def test_a_capped_sentence_of_a_car_station_still_advises_max_plugs(tmp_path):
    loop = SimpleNamespace(
        iterations=[{"iteration": 1, "capped": [_at_cap("S", 9, has=4, cap=4)]}],
        max_rounds=1,
        stations=pd.DataFrame(),
        capex=0.0,
    )
    cfg = _verdict_cfg(tmp_path, {"wait_p95_min": 15})
    out = verdict(cfg, {"wait_p95_min": 40.0}, loop)
    cap = next(r for r in out["reasons"] if r.startswith("the plug cap binds"))
    assert "raise candidates.max_plugs or allow more sites" in cap


def test_the_study_passes_its_classes_max_bays():
    """The cargo config's classes give the loop's caps (mcs 4, ccs_truck 1)."""
    from pathlib import Path

    from planner.config.study import load_config

    cargo = Path(__file__).resolve().parents[2] / "configs" / "cargo-china.yaml"
    caps = loop_remedies.truck_bay_caps
    assert caps(load_config(cargo).candidates) == {"mcs": 4, "ccs_truck": 1}
    city = _verdict_cfg(Path("/nonexistent"), {"wait_p95_min": 15})
    assert caps(city.candidates) == {}


def _quiet_truck_loop(floors: dict[str, int] | None, plans: list[pd.DataFrame]):
    """A design loop whose synthetic truck site T (3 MCS bays, 1 CCS bay) serves one truck
    at each class with no wait, while trucks out of any charger's reach strand: trimming
    takes the bays no run used off."""

    def scripted(stations: pd.DataFrame) -> ScenarioOutcome:
        plans.append(stations.copy())
        opened = stations["station_id"].eq("T:mcs").any()
        # the stranded target is missed out of any charger's reach (no queue): the loop
        # goes on siting, and trims the truck site's bays no run used between rounds
        kpis = {"wait_p95_min": 2.0, "stranded_vehicles": 5.0, "stranded_no_charger": 5.0}
        per = pd.DataFrame({"station_id": stations["station_id"], "wait_p95_min": 2.0})
        unserved = pd.DataFrame({"node": [5], "destination": [6], "weight": [2.0]})
        quiet = {"T:mcs": 1, "T:ccs": 1} if opened else {"H": 1}
        ses = _sessions(quiet).sessions.assign(wait_s=0.0, start_s=lambda d: d["arrive_s"])
        ses["end_s"] = ses["start_s"] + 3600.0
        detail = {"result": SimpleNamespace(sessions=ses)}
        return ScenarioOutcome(kpis, per, unserved, detail=detail)

    return closed_loop(
        _synthetic_existing(),
        simulate=scripted,
        optimize=_synthetic_truck_site_opened,
        targets=Targets(wait_p95_min=15, stranded=0, max_iterations=3),
        first_round_sites=1,
        budget=None,
        plug_cost=25_000.0,
        max_plugs=6,
        bay_caps=CAPS,
        bay_floors=floors,
    )


def test_trimming_keeps_a_class_min_bays():
    """With ``mcs.min_bays: 3`` the cargo study still ended with 14 sites of 1 MCS bay
    (review of 2026-12-07): the loop trimmed the bays no run used down to those in use."""
    plans: list[pd.DataFrame] = []
    loop = _quiet_truck_loop(None, plans)
    assert loop.stations.set_index("station_id").loc["T:mcs", "plugs"] == 1  # the defect's trim
    plans = []
    loop = _quiet_truck_loop({"mcs": 3, "ccs": 1}, plans)
    final = loop.stations.set_index("station_id")
    assert final.loc["T:mcs", "plugs"] == 3 and final.loc["T:ccs", "plugs"] == 1
    assert all(
        p.set_index("station_id").loc["T:mcs", "plugs"] >= 3
        for p in plans
        if p["station_id"].eq("T:mcs").any()
    )


def test_the_study_passes_its_classes_min_bays():
    cand = SimpleNamespace(
        truck_bays={"mcs": SimpleNamespace(min_bays=2, max_bays=4),
                    "ccs_truck": SimpleNamespace(min_bays=1, max_bays=1)}
    )  # fmt: skip
    assert loop_remedies.truck_bay_floors(cand) == {"mcs": 2, "ccs_truck": 1}
    assert loop_remedies.truck_bay_floors(SimpleNamespace(truck_bays=None)) == {}
