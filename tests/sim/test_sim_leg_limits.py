"""The per-leg limits do what their names say, in both engines (found by an independent
property review): ``max_balks_per_leg = N`` allowed N + 1 balks, and
``max_stops_per_leg = 0`` still allowed one charging stop. SYNTHETIC line networks."""

from __future__ import annotations

import pandas as pd
import pytest

from sim import ChargingPolicy, SimSettings, SocThreshold, TargetSoc, simulate
from sim._errors import SimSettingsError
from sim.synthetic import line_network


def _balks(engine: str, max_balks: int) -> list[str]:
    """Vehicle 9 drives past five 1-plug stations, each taken by a car that left a minute
    earlier; with a 60 s patience it balks at each one it tries."""
    net = line_network([1000.0] * 6, speed_kph=36.0)
    stations = pd.DataFrame(
        {"station_id": list("ABCDE"), "node": [1, 2, 3, 4, 5], "plugs": 1, "power_kw": 50.0}
    )
    trips = pd.DataFrame(
        {
            "vehicle_id": [0, 1, 2, 3, 4, 9],
            "vehicle_model": "byd_atto3",
            "origin": [1, 2, 3, 4, 5, 0],
            "destination": [0, 1, 2, 3, 4, 6],
            "depart_s": [0.0] * 5 + [60.0],
            "chain_seq": 0,
            "initial_soc": 0.1,
        }
    )
    policy = ChargingPolicy(
        when=SocThreshold(threshold_soc=0.5, reserve_soc=0.0), how_much=TargetSoc(0.9)
    )
    settings = SimSettings(
        policy=policy, max_wait_s=60.0, engine=engine, max_balks_per_leg=max_balks
    )
    ses = simulate(net, stations, trips, settings=settings, seed=0).sessions
    mine = ses[(ses["vehicle_id"] == 9) & (ses["kind"] == "public")]
    return mine["status"].tolist()


@pytest.mark.parametrize("engine", ["full", "fast"])
@pytest.mark.parametrize("max_balks", [1, 2, 3])
def test_a_driver_balks_at_most_max_balks_per_leg_times(engine, max_balks):
    statuses = _balks(engine, max_balks)
    # every station is taken: she balks exactly as often as the limit allows
    assert statuses == ["balked"] * max_balks


@pytest.mark.parametrize("engine", ["full", "fast"])
def test_no_public_stop_when_max_stops_per_leg_is_zero(engine):
    # the charger 3 km out, the destination 30 km beyond: 2 % of the battery reaches the
    # charger, not the destination
    net = line_network([3_000.0, 30_000.0], speed_kph=36.0)
    stations = pd.DataFrame({"station_id": ["S"], "node": [1], "plugs": [1], "power_kw": [50.0]})
    trips = pd.DataFrame(
        {
            "vehicle_id": [0],
            "vehicle_model": ["byd_atto3"],
            "origin": [0],
            "destination": [2],
            "depart_s": [0.0],
            "chain_seq": [0],
            "initial_soc": [0.02],
        }
    )
    runs = {
        n: simulate(
            net,
            stations,
            trips,
            settings=SimSettings(max_stops_per_leg=n, engine=engine),
            seed=0,
        ).trips
        for n in (0, 1)
    }
    stops = {n: t["charging_stops"].tolist() for n, t in runs.items()}
    assert stops == {0: [0], 1: [1]}  # the control: with one stop allowed she charges
    # stranded with public charging switched off: no charger in range, not a car that
    # started below the reach of any charger (which the stranded target leaves out)
    assert runs[0]["status"].tolist() == ["stranded"]
    assert runs[0]["strand_cause"].tolist() == ["no_charger_in_range"]


def test_max_balks_per_leg_below_one_is_refused():
    with pytest.raises(SimSettingsError, match="max_balks_per_leg.*>= 1"):
        SimSettings(max_balks_per_leg=0)
