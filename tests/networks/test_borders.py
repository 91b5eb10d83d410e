"""Border posts at the ends of the national routes (networks.borders)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from networks.borders import BORDER_POSTS, border_posts
from networks.errors import InputFileError


def test_posts_sit_at_the_route_ends_the_file_names(data_dir):
    roads = data_dir / "kz" / "kz-republic-roads.geojson"
    b = border_posts(roads).set_index("name")
    assert list(b.index) == [p.name for p in BORDER_POSTS]
    assert set(b.loc[b["country"] == "China"].index) == {"Nur Zholy (Khorgos)", "Maikapshagai"}
    # Nur Zholy lies just beyond Khorgos (44.2 N, 80.4 E); Maikapshagai at the far east of
    # KAZ07 (47.5 N, 85.6 E); Zhaisan at the west end of KAZ06, south of Orenburg
    assert b.loc["Nur Zholy (Khorgos)", ["lon", "lat"]].to_numpy(float) == pytest.approx(
        [80.40, 44.23], abs=0.05
    )
    assert b.loc["Maikapshagai", "lon"] > 85.5
    assert b.loc["Zhaisan", "lon"] == pytest.approx(56.17, abs=0.05)
    # the Russian posts of KAZ02 / KAZ04 / KAZ07 are the routes' northern ends
    north = b.loc[["Zhana Zhol", "Kosak", "Urlyutobe"], "lat"].to_numpy(float)
    assert np.all(north > 53.5)
    only = border_posts(roads, countries=("China",))
    assert set(only["country"]) == {"China"}


def test_a_file_that_no_longer_names_the_post_fails(data_dir, tmp_path):
    data = json.loads((data_dir / "kz" / "kz-republic-roads.geojson").read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["properties"]["ref"] == "KAZ06":
            f["properties"]["name"] = "Алматы - Хоргос"
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputFileError, match="Нур Жолы"):
        border_posts(path)
    data["features"] = [f for f in data["features"] if f["properties"]["ref"] != "KAZ06"]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputFileError, match="KAZ06"):
        border_posts(path)
