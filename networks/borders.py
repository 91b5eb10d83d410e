"""Border crossings at the ends of national routes (for freight corridors).

The national roads file (``kz-republic-roads.geojson``, OSM via Overpass) names its routes
from end to end, border posts included, e.g. KAZ06 "Гр. РФ (п/п Жайсан) - ... - Хоргос -
гр. КНР (п/п Нур Жолы)". A border post is placed at the route's extreme vertex in the
direction of the border (:data:`BORDER_POSTS`): the route ends there, at the post the name
describes. :func:`border_posts` checks that the route's name still names the post, so a
different or re-drawn file fails loudly instead of placing a border in the wrong town.

Posts (route name in the file; direction of the route end):

* Nur Zholy (China): KAZ06 "гр. КНР (п/п Нур Жолы)", east end beyond Khorgos (Western
  Europe - Western China route, 2,687 km declared in the file).
* Maikapshagai (China): KAZ07 "Гр. КНР - Майкапшагай", east end.
* Zhaisan (Russia): KAZ06 "Гр. РФ (п/п Жайсан)", west end.
* Zhana Zhol (Russia): KAZ02 "гр. РФ (п/п Жана жол)", north end beyond Petropavl.
* Kosak (Russia): KAZ04 "гр. РФ (п/п Косак)", north end beyond Pavlodar.
* Urlyutobe (Russia): KAZ07 "гр. РФ (п/п Урлютобе)", north end beyond Pavlodar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from networks.corridor import read_national_roads
from networks.errors import InputFileError

__all__ = ["BORDER_POSTS", "BorderPost", "border_posts"]


@dataclass(frozen=True)
class BorderPost:
    """A border crossing at the end of a national route."""

    name: str
    country: str  # the neighbour: "China" or "Russia"
    ref: str  # route id in the roads file
    end: str  # "east", "west", "north" or "south": the route end at the border
    label: str  # how the route's name in the file names the post (checked)


BORDER_POSTS: tuple[BorderPost, ...] = (
    BorderPost("Nur Zholy (Khorgos)", "China", "KAZ06", "east", "Нур Жолы"),
    BorderPost("Maikapshagai", "China", "KAZ07", "east", "Майкапшагай"),
    BorderPost("Zhaisan", "Russia", "KAZ06", "west", "Жайсан"),
    BorderPost("Zhana Zhol", "Russia", "KAZ02", "north", "Жана жол"),
    BorderPost("Kosak", "Russia", "KAZ04", "north", "Косак"),
    BorderPost("Urlyutobe", "Russia", "KAZ07", "north", "Урлютобе"),
)

_AXIS = {"east": (0, 1.0), "west": (0, -1.0), "north": (1, 1.0), "south": (1, -1.0)}


def border_posts(
    roads_path: str | Path,
    *,
    posts: tuple[BorderPost, ...] = BORDER_POSTS,
    countries: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """The border posts as points at their routes' ends.

    Parameters
    ----------
    roads_path : path
        National roads file (:func:`networks.corridor.read_national_roads`).
    posts : tuple of BorderPost
        Which posts (default :data:`BORDER_POSTS`).
    countries : tuple of str, optional
        Keep only posts to these neighbours.

    Returns
    -------
    DataFrame
        ``name, country, ref, lon, lat, source`` (one row per post).

    Raises
    ------
    InputFileError
        A post's route is missing from the file or its name no longer names the post.
    """
    roads = read_national_roads(roads_path)
    rows = []
    for p in posts:
        if countries is not None and p.country not in countries:
            continue
        feat = roads[roads["ref"] == p.ref]
        if feat.empty:
            raise InputFileError(
                f"{roads_path}: route {p.ref} (border post {p.name}) is not in the file; "
                "pass a national roads file with it or drop the post"
            )
        names = " ".join(str(n) for n in feat.get("name", pd.Series(dtype=str)).tolist())
        if p.label.lower() not in names.lower():
            raise InputFileError(
                f"{roads_path}: route {p.ref} is named {names!r}, which does not name the border "
                f"post {p.label!r} ({p.name}); check the file or give the post's coordinates"
            )
        xy = np.vstack([shapely.get_coordinates(g) for g in feat.geometry])
        axis, sign = _AXIS[p.end]
        i = int(np.argmax(sign * xy[:, axis]))
        rows.append(
            {
                "name": p.name,
                "country": p.country,
                "ref": p.ref,
                "lon": float(xy[i, 0]),
                "lat": float(xy[i, 1]),
                "source": f"{p.end} end of {p.ref} in {Path(roads_path).name} ({p.label})",
            }
        )
    return pd.DataFrame(rows, columns=["name", "country", "ref", "lon", "lat", "source"])
