"""Time-of-day departure profiles (24 hourly weights; minutes uniform within the hour).

The default shapes are assumptions, documented in docs/simulation.md: weekday urban trip
starts with a morning peak (7-9 h) and a broader evening peak (16-19 h), as in household
travel surveys such as the US NHTS 2017 trip-start distribution; intercity car trips leave
mostly between 6 and 18 h; heavy trucks run around the clock with a daytime bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim._checks import RngLike, as_generator
from sim._errors import DemandError


@dataclass(frozen=True)
class DepartureProfile:
    """Relative departure intensity for each hour 0..23 of the day."""

    weights: tuple[float, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        w = tuple(float(x) for x in self.weights)
        object.__setattr__(self, "weights", w)
        if len(w) != 24 or any(not np.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
            raise DemandError(
                f"departure profile {self.name!r} needs 24 non-negative hourly weights "
                f"with a positive sum, got {len(w)} values: {list(w)[:24]}"
            )

    @property
    def probabilities(self) -> np.ndarray:
        w = np.asarray(self.weights)
        return w / w.sum()

    def sample(self, rng: RngLike, n: int) -> np.ndarray:
        """``n`` departure times in seconds after midnight.

        Parameters
        ----------
        rng : numpy Generator, SeedSequence or int
            Source of the draws (a seed is turned into a generator).
        n : int
            Number of departures.

        Returns
        -------
        ndarray
            Seconds after midnight, in [0, 86400).
        """
        rng = as_generator(rng, where=f"DepartureProfile({self.name!r}).sample", error=DemandError)
        hours = rng.choice(24, size=n, p=self.probabilities)
        return (hours + rng.random(n)) * 3600.0


#: Home -> work departures (assumption: 6-10 h, peak 7-8 h).
WORK_PROFILE = DepartureProfile(
    (0, 0, 0, 0, 0, 0.5, 4, 9, 7, 3, 1, 0.5, 0.5, 0.3, 0.2, 0.2, 0.2, 0.2, 0.1, 0, 0, 0, 0, 0),
    name="work",
)
#: First departure of non-work chains (assumption: daytime, peak around noon and 17 h).
OTHER_PROFILE = DepartureProfile(
    (
        0.1,
        0,
        0,
        0,
        0,
        0.2,
        0.8,
        2,
        3,
        4.5,
        5.5,
        6,
        6,
        5.5,
        5,
        5.5,
        6,
        6,
        5,
        3.5,
        2.5,
        1.5,
        0.8,
        0.3,
    ),
    name="other",
)
#: Weekday trip starts of all purposes (assumption; NHTS-like shape), for single trips.
WEEKDAY_PROFILE = DepartureProfile(
    (
        0.3,
        0.2,
        0.15,
        0.15,
        0.3,
        0.9,
        2.8,
        6.5,
        7.5,
        5.0,
        4.6,
        5.0,
        5.6,
        5.6,
        5.7,
        6.6,
        7.6,
        8.2,
        7.0,
        5.0,
        3.7,
        2.8,
        1.9,
        1.0,
    ),
    name="weekday",
)
#: Intercity passenger departures (assumption: most between 6 and 18 h).
CORRIDOR_PROFILE = DepartureProfile(
    (
        0.2,
        0.1,
        0.1,
        0.1,
        0.3,
        1.5,
        4,
        6,
        7,
        7,
        6.5,
        6,
        5.5,
        5.5,
        5.5,
        5.5,
        5,
        4,
        3,
        2,
        1.5,
        1,
        0.6,
        0.3,
    ),
    name="corridor",
)
#: Heavy trucks (assumption: around the clock, daytime bias).
TRUCK_PROFILE = DepartureProfile(
    (2, 2, 2, 2, 2.5, 3, 4, 5, 5.5, 5.5, 5.5, 5.5, 5, 5, 5, 5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 2),
    name="truck",
)
