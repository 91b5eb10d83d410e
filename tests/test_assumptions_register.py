"""docs/assumptions.md, the register of inputs with no published figure, names each default
by its import path: the values it states must be the code's (a default changed in one place
and not the other is the drift the sources audit of 2026-12-07 found in the docs)."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

REGISTER = Path(__file__).resolve().parents[1] / "docs" / "assumptions.md"
ROW = re.compile(r"^\| `([a-z_.]+\.[A-Za-z_]+(?:\.[a-z_]+)?)` \| ([0-9.]+) \|", re.M)


def _rows() -> list[tuple[str, str]]:
    return ROW.findall(REGISTER.read_text(encoding="utf-8"))


def _default(path: str) -> object:
    """The default at ``path``: a module constant (``pkg.mod.NAME``) or a field of a
    dataclass or pydantic model (``pkg.mod.Class.field``)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        rest = parts[cut:]
        break
    else:
        raise AssertionError(f"{path}: no module")
    for i, name in enumerate(rest):
        if i == len(rest) - 1 and isinstance(obj, type):
            fields = getattr(obj, "model_fields", None)
            if fields is not None:
                return fields[name].default
            if dataclasses.is_dataclass(obj):
                return {f.name: f.default for f in dataclasses.fields(obj)}[name]
        obj = getattr(obj, name)
    return obj


def test_register_lists_defaults():
    assert len(_rows()) >= 10


@pytest.mark.parametrize("path, stated", _rows())
def test_register_states_the_code_default(path, stated):
    assert float(_default(path)) == pytest.approx(float(stated)), (
        f"docs/assumptions.md says {path} = {stated}; the code has {_default(path)!r}"
    )
