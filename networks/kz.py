"""Reference sites for the Kazakhstan KAZ01 case, as data with their sources.

* The first public EV chargers in Kazakhstan (news reports 2013-2014, listed in the shared
  data README): Hotel Kazzhol Astana, Hotel Kazzhol Almaty, Hotel Cosmonaut Karaganda.
* Planned renewable plants in Karaganda region by 2020 (same README): solar 40 MW at
  Gulshat (Aktogay district), 100 MW at Saran, 50 MW at Agadyr (Shet district); wind 10 MW at
  Osakarovka, 60 MW at Karkaralinsk; a biogas plant at Kurminskoye (Abay district).

Only the Almaty hotel has a surveyed location (OSM way 50655465). Everything else is
**approximate**: the GeoNames coordinate of the named town (``kz-places-geonames.csv``),
flagged ``approximate=True`` with the reason in ``location_source``. Gulshat and Kurminskoye
are villages below the file's 5,000-population cut, so their coordinates are unknown
(``None``) rather than guessed; locate them before using them as sites.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

_NEWS = "news reports 2013-2014 (shared data README, 'Known facts from the project's brief')"
_PLANS = (
    "Karaganda region plans by 2020 (shared data README, 'Known facts from the project's brief')"
)
_SOLAR_BUILT = (
    "Kazinform 2020-01-09: solar plants installed at Saran, Gulshat and Agadyr "
    "(https://www.inform.kz/en/new-solar-power-plant-commissioned-in-karaganda-region_a3602244)"
)
_GEONAMES = (
    "APPROXIMATE: GeoNames town location (kz-places-geonames.csv, geonameid {gid}); the {what} is "
    "somewhere in or near the town"
)


@dataclass(frozen=True)
class KnownSite:
    """A reference site: existing charger or planned plant.

    ``lon``/``lat`` are None when no sourced coordinate exists. ``approximate`` is True
    unless the coordinate is the surveyed object itself.
    """

    key: str
    name: str
    kind: str  # 'charger', 'solar', 'wind', 'biogas'
    settlement: str
    lon: float | None
    lat: float | None
    approximate: bool
    location_source: str
    fact_source: str
    capacity_mw: float | None = None
    geonameid: int | None = None
    osm_id: str | None = None


HOTEL_CHARGERS: tuple[KnownSite, ...] = (
    KnownSite(
        "kazzhol_astana",
        "Hotel Kazzhol Astana",
        "charger",
        "Astana",
        71.44598,
        51.1801,
        True,
        _GEONAMES.format(gid=1526273, what="hotel") + " (city centre; hotel address not sourced)",
        _NEWS,
        geonameid=1526273,
    ),
    KnownSite(
        "kazzhol_almaty",
        "Hotel Kazzhol Almaty",
        "charger",
        "Almaty",
        76.933623,
        43.260147,
        False,
        "OSM way 50655465 ('KazZhol Hotel', Gogol St 127/1): centroid of its building outline in "
        "osm/almaty-2012.osm.pbf, (c) OpenStreetMap contributors",
        _NEWS,
        osm_id="way/50655465",
    ),
    KnownSite(
        "cosmonaut_karaganda",
        "Hotel Cosmonaut Karaganda",
        "charger",
        "Karagandy",
        73.10211,
        49.80187,
        True,
        _GEONAMES.format(gid=609655, what="hotel") + " (city centre; hotel address not sourced)",
        _NEWS,
        geonameid=609655,
    ),
)

PLANNED_RENEWABLES: tuple[KnownSite, ...] = (
    KnownSite(
        "solar_gulshat",
        "Gulshat solar 40 MW (Aktogay district)",
        "solar",
        "Gulshat",
        None,
        None,
        True,
        "NOT LOCATED: Gulshat is not in kz-places-geonames.csv (population < 5,000)",
        f"{_PLANS}; {_SOLAR_BUILT}",
        capacity_mw=40.0,
    ),
    KnownSite(
        "solar_saran",
        "Saran solar 100 MW",
        "solar",
        "Saran",
        72.83186,
        49.80245,
        True,
        _GEONAMES.format(gid=1519725, what="plant"),
        f"{_PLANS}; {_SOLAR_BUILT}",
        capacity_mw=100.0,
        geonameid=1519725,
    ),
    KnownSite(
        "solar_agadyr",
        "Agadyr solar 50 MW (Shet district)",
        "solar",
        "Aqadyr",
        72.85851,
        48.26014,
        True,
        _GEONAMES.format(gid=1526274, what="plant"),
        f"{_PLANS}; {_SOLAR_BUILT}",
        capacity_mw=50.0,
        geonameid=1526274,
    ),
    KnownSite(
        "wind_osakarovka",
        "Osakarovka wind 10 MW",
        "wind",
        "Osakarovka",
        72.57278,
        50.56315,
        True,
        _GEONAMES.format(gid=1520327, what="plant"),
        _PLANS,
        capacity_mw=10.0,
        geonameid=1520327,
    ),
    KnownSite(
        "wind_karkaralinsk",
        "Karkaralinsk wind 60 MW",
        "wind",
        "Qarqaraly",
        75.47228,
        49.41244,
        True,
        _GEONAMES.format(gid=1519934, what="plant"),
        _PLANS,
        capacity_mw=60.0,
        geonameid=1519934,
    ),
    KnownSite(
        "biogas_kurminskoye",
        "Kurminskoye biogas (Abay district)",
        "biogas",
        "Kurminskoye",
        None,
        None,
        True,
        "NOT LOCATED: Kurminskoye is not in kz-places-geonames.csv (population < 5,000)",
        _PLANS,
    ),
)


def known_sites(*, include_unlocated: bool = False) -> pd.DataFrame:
    """Hotel chargers and planned plants as a table (one row per :class:`KnownSite`).

    Parameters
    ----------
    include_unlocated : bool
        Also return sites without coordinates (Gulshat, Kurminskoye).
    """
    df = pd.DataFrame([asdict(s) for s in HOTEL_CHARGERS + PLANNED_RENEWABLES])
    return df if include_unlocated else df[df["lon"].notna()].reset_index(drop=True)
