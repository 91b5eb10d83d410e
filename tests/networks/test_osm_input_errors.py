"""Malformed OSM inputs end in a clear InputFileError (exit 2 in the CLI) naming the file,
the element and the field: hand-made Overpass JSON answers and non-UTF-8/binary files."""

from __future__ import annotations

import json
import sys

import pytest

from networks import InputFileError
from networks.osm_read import read_osm
from tests.networks.test_networks_synthetic import _osm_xml

_NODE = {"type": "node", "id": 1, "lat": 43.2, "lon": 76.9}
_NODE2 = {"type": "node", "id": 2, "lat": 43.21, "lon": 76.91}
_WAY = {"type": "way", "id": 10, "nodes": [1, 2], "tags": {"highway": "primary"}}


def _json_file(tmp_path, doc, *, name="synthetic.json"):
    path = tmp_path / name
    text = doc if isinstance(doc, str) else json.dumps(doc, allow_nan=True)
    path.write_text(text, encoding="utf-8")
    return path


def _with(index, **change):
    elements = [dict(_NODE), dict(_NODE2), dict(_WAY)]
    for k, v in change.items():
        if v is _DROP:
            del elements[index][k]
        else:
            elements[index][k] = v
    return {"elements": elements}


_DROP = object()


def test_valid_overpass_json_reads(tmp_path):
    data = read_osm(_json_file(tmp_path, _with(0)))
    assert data.node_ids.tolist() == [1, 2] and len(data.highways) == 1


@pytest.mark.parametrize(
    "doc, needles",
    [
        ({"elements": {"a": 1}}, ["'elements' is dict"]),
        ({"elements": "nodes"}, ["'elements' is str"]),
        ([1, 2], ["no 'elements' key", "list"]),
        ({"version": 0.6}, ["no 'elements' key"]),
        ({"elements": [_NODE, 7]}, ["element 1 is int 7", "not an object"]),
        ({"elements": [_NODE, None]}, ["element 1 is NoneType"]),
        (_with(0, lat=_DROP), ["element 0 (node 1)", "'lat' is missing"]),
        (_with(1, lon=_DROP), ["element 1 (node 2)", "'lon' is missing"]),
        (_with(0, lat="43.2"), ["element 0 (node 1)", "'lat' is '43.2', not a number"]),
        (_with(0, lon=None), ["'lon' is None, not a number"]),
        (_with(0, lat=True), ["'lat' is True, not a number"]),
        (_with(0, lat=95.0), ["element 0 (node 1)", "'lat' = 95.0 is outside [-90, 90]"]),
        (_with(1, lon=-180.5), ["element 1 (node 2)", "'lon' = -180.5 is outside [-180, 180]"]),
        (_with(0, lat=float("nan")), ["'lat' = nan is not a finite number"]),
        (_with(0, lon=float("inf")), ["'lon' = inf is not a finite number"]),
        (_with(0, id="1"), ["element 0 (node)", "'id' is '1'"]),
        (_with(2, id=_DROP), ["element 2 (way)", "'id' is None"]),
        (_with(2, nodes="1,2"), ["element 2 (way 10)", "'nodes' is '1,2'"]),
        (_with(2, nodes=[1, 2.5]), ["element 2 (way 10)", "'nodes'"]),
        (_with(2, nodes=[1, 2**70]), ["element 2 (way 10)", "'nodes'"]),
        (_with(2, tags=["highway"]), ["element 2 (way 10)", "'tags'"]),
        (_with(2, tags={"highway": 1}), ["element 2 (way 10)", "'tags'"]),
        ("{not json", ["cannot read Overpass JSON", "'elements' list"]),
    ],
)
def test_malformed_overpass_json_is_a_clear_input_error(tmp_path, doc, needles):
    path = _json_file(tmp_path, doc)
    with pytest.raises(InputFileError) as exc:
        read_osm(path)
    msg = str(exc.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg


def test_coordinate_limits_are_inclusive(tmp_path):
    data = read_osm(_json_file(tmp_path, _with(0, lat=-90, lon=180)))
    assert data.lat[0] == -90.0 and data.lon[0] == 180.0


def test_relations_and_unknown_types_are_still_ignored(tmp_path):
    doc = _with(0)
    doc["elements"] += [{"type": "relation", "id": "x"}, {"type": "count"}]
    assert len(read_osm(_json_file(tmp_path, doc)).highways) == 1


@pytest.mark.parametrize(
    "name, payload, needles",
    [
        ("latin1.json", '{"elements": [], "x": "Caf\xe9"}'.encode("latin-1"), ["not UTF-8"]),
        ("binary.json", bytes(range(256)) * 8, ["not UTF-8", "binary"]),
        ("utf16.json", '{"elements": []}'.encode("utf-16"), ["not UTF-8", "offset 0"]),
        (
            "latin1.osm",
            _osm_xml().replace("Two-way St", "Caf\xe9 St").encode("latin-1"),
            ["not UTF-8", "byte 0xe9", "must be UTF-8"],
        ),
        ("binary.osm", b"\x00\x01\x02\xff\xfe" * 500, ["not UTF-8", "binary", "*.osm.pbf"]),
    ],
)
def test_non_utf8_and_binary_inputs(tmp_path, name, payload, needles):
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(InputFileError) as exc:
        read_osm(path)
    msg = str(exc.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg


def test_latin1_xml_declared_as_such_still_reads(tmp_path):
    text = _osm_xml().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    path = tmp_path / "declared-latin1.osm"
    path.write_bytes(text.replace("Two-way St", "Caf\xe9 St").encode("latin-1"))
    data = read_osm(path)
    assert any(w.tags.get("name") == "Caf\xe9 St" for w in data.highways)


def test_cli_exit_code_2_for_bad_overpass_json(monkeypatch, capsys, tmp_path):
    from planner import cli

    path = _json_file(tmp_path, _with(1, lat=123.0))
    monkeypatch.setattr(
        sys, "argv", ["evplan", "network", "info", str(path), "--cache-dir", str(tmp_path / "c")]
    )
    with pytest.raises(SystemExit) as exc:
        cli.main()
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code == 2
    assert "element 1 (node 2)" in err and "'lat' = 123.0" in err and "Traceback" not in err
