"""Renewable plant profiles and hour-by-hour matching (sim/renewables.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.renewables import (
    clear_sky_ghi,
    hourly_energy,
    match_hourly,
    solar_profile_kw,
    wind_profile_kw,
)

SARAN = (49.8093123, 72.8719067)  # Saran solar plant point (data README)


def test_clear_sky_against_hand_computed_ineichen_at_solar_noon():
    """GHI at Saran at solar noon of 2024-06-21, sea level, Linke turbidity 3, by hand:

    * declination 23.44 deg (June solstice): zenith = 49.8093 - 23.44 = 26.37 deg;
    * solar noon: 12:00 UTC - 72.8719 / 15 h - equation of time (-1.8 min) = 07:10 UTC;
    * Kasten & Young (1989) air mass: 1 / (cos z + 0.50572 (96.07995 - z)^-1.6364) = 1.1155;
    * extraterrestrial 1366.1 (1 + 0.033 cos(2 pi 173 / 365)) = 1321.6 W/m2 (Duffie & Beckman);
    * Ineichen & Perez (2002) at altitude 0: cg1 = 0.868, cg2 = 0.0387, fh1 = fh2 = 1:
      GHI = cg1 I0 cos z exp(-cg2 AM (fh1 + fh2 (TL - 1))) = 903 W/m2.
    """
    z = math.radians(SARAN[0] - 23.44)
    am = 1.0 / (math.cos(z) + 0.50572 * (96.07995 - math.degrees(z)) ** -1.6364)
    i0 = 1366.1 * (1 + 0.033 * math.cos(2 * math.pi * 173 / 365))
    hand = 0.868 * i0 * math.cos(z) * math.exp(-0.0387 * am * (1 + (3.0 - 1)))
    assert hand == pytest.approx(903.0, abs=1.0)
    times = pd.DatetimeIndex([pd.Timestamp("2024-06-21 07:10", tz="UTC")])
    got = clear_sky_ghi(*SARAN, times, altitude_m=0.0, linke_turbidity=3.0)
    assert float(got["ghi"].iloc[0]) == pytest.approx(hand, rel=0.005)


def test_clear_sky_climatology_works_offline_and_is_plausible():
    # pvlib's shipped Linke turbidity table (no download): a June day at Saran
    times = pd.date_range("2024-06-21 00:30", periods=24, freq="1h", tz="Asia/Almaty")
    cs = clear_sky_ghi(*SARAN, times)
    daily_kwh_m2 = float(cs["ghi"].sum()) / 1000.0
    # clear-sky June insolation at 50 N is about 8 kWh/m2/day (upper bound of real days)
    assert 7.0 < daily_kwh_m2 < 9.5
    assert (cs["ghi"].iloc[:3] == 0).all()  # night in local time


def test_solar_profile_shape_and_bounds():
    kw = solar_profile_kw(*SARAN, 100_000.0, day="2024-06-21", hours=48)
    assert kw.shape == (48,) and (kw >= 0).all() and (kw <= 100_000.0).all()
    assert np.allclose(kw[:24], kw[24:], atol=1000.0)  # two near-identical clear days
    assert kw[:4].sum() == 0 and kw[12] > 0.5 * 100_000 * 0.8  # dark at night, high at noon
    # daily yield of a latitude-tilted plant with PR 0.8: 5-7.5 kWh per kWp on a clear June day
    assert 5.0 < kw[:24].sum() / 100_000 < 7.5
    winter = solar_profile_kw(*SARAN, 100_000.0, day="2024-12-21")
    # shorter, lower December sun (a latitude tilt favours it, so the gap is moderate)
    assert winter.sum() < 0.8 * kw[:24].sum() and (winter > 0).sum() < (kw[:24] > 0).sum()
    half = solar_profile_kw(*SARAN, 100_000.0, day="2024-06-21", clearness=0.5)
    assert np.allclose(half, 0.5 * kw[:24])


def test_wind_profile_mean_is_the_capacity_factor():
    kw = wind_profile_kw(60_000.0, hours=72, capacity_factor=0.35, diurnal_amplitude=0.15)
    assert kw.mean() == pytest.approx(60_000 * 0.35)
    assert np.argmax(kw[:24]) == 14  # the 14:30 hour is closest to the 15 h peak
    with pytest.raises(ValueError, match="exceeds 1"):
        wind_profile_kw(1.0, capacity_factor=0.95, diurnal_amplitude=0.2)


def test_hourly_energy_splits_sessions_at_hour_boundaries():
    # 10 kWh from 00:30 to 01:30 -> 5 + 5; 6 kWh from 02:00 to 02:20 -> 6 in hour 2
    e = hourly_energy(
        np.array([0, 1]),
        np.array([1800.0, 7200.0]),
        np.array([5400.0, 8400.0]),
        np.array([10.0, 6.0]),
        n_stations=2,
        n_hours=4,
    )
    assert e.tolist() == [[5.0, 5.0, 0.0, 0.0], [0.0, 0.0, 6.0, 0.0]]


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.floats(0, 47 * 3600),
            st.floats(0, 5 * 3600),
            st.floats(0, 200),
        ),
        min_size=0,
        max_size=40,
    ),
    plants=st.lists(st.floats(0, 300), min_size=48 * 2, max_size=48 * 2),
    owner=st.lists(st.integers(-1, 1), min_size=4, max_size=4),
)
def test_matching_conserves_energy(data, plants, owner):
    """Every kWh of every session lands in one hour; renewable + grid = total per station and
    hour; renewable <= plant output per plant and hour; CO2 only on grid energy."""
    if data:
        s, a, d, e = (np.array(x) for x in zip(*data, strict=True))
    else:
        s, a, d, e = (np.empty(0) for _ in range(4))
    b = np.minimum(a + d, 48 * 3600.0)
    demand = hourly_energy(s, a, b, e, n_stations=4, n_hours=48)
    assert demand.sum() == pytest.approx(float(np.sum(e)), rel=1e-9, abs=1e-9)
    pk = np.array(plants).reshape(2, 48)
    m = match_hourly(demand, np.array(owner), pk, grid_kg_per_kwh=0.64, grid_loss_share=0.07)
    assert np.allclose(m.renewable_kwh + m.grid_kwh, demand)
    assert (m.renewable_kwh >= -1e-12).all() and (m.grid_kwh >= -1e-12).all()
    for p in range(2):
        used = m.renewable_kwh[np.array(owner) == p].sum(axis=0)
        assert (used <= pk[p] + 1e-9).all()
    assert m.renewable_kwh[np.array(owner) < 0].sum() == 0
    assert np.allclose(m.co2_kg, m.grid_kwh * 0.64 / 0.93)
    per = m.per_station()
    assert np.allclose(per["renewable_kwh"] + per["grid_kwh"], per["energy_kwh"])


def test_hourly_grid_profile_and_shared_plant():
    demand = np.array([[10.0, 10.0], [30.0, 0.0]])
    m = match_hourly(
        demand,
        np.array([0, 0]),
        np.array([[20.0, 5.0]]),
        grid_kg_per_kwh=np.resize([0.5, 1.0], 24),
    )
    # hour 0: 40 kWh wanted, 20 available -> half each; hour 1: 5 of 10
    assert m.renewable_kwh.tolist() == [[5.0, 5.0], [15.0, 0.0]]
    assert m.co2_kg.tolist() == [[2.5, 5.0], [7.5, 0.0]]
    with pytest.raises(ValueError, match="24 hourly"):
        match_hourly(demand, np.array([0, 0]), np.zeros((1, 2)), grid_kg_per_kwh=[1.0] * 5)
