"""The base of every section of a study or sweep file: unknown keys rejected, no NaN or
infinity, and no YAML ``true``/``false`` where a number is expected.

A scalar number field (``days: 1``, ``p: 8 | None``) refuses ``true`` through
:class:`StrictSection`'s own validator. A number inside a mapping or a list
(``seasons: {summer: 25}``, ``fleet: {byd_atto3: 0.3}``) is typed :data:`Number`, which
refuses it the same way, at its key: the section's validator sees only the whole mapping,
and pydantic read ``{summer: true}`` as 1 C. A field that is one of several shapes
(``congestion: auto | [24 numbers] | {class: [24 numbers]}``) is checked for ``true``
inside it by the section's validator too, before pydantic tries each shape (whose errors,
one per shape, buried the point).
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

__all__ = ["Number", "StrictSection", "not_bool", "unknown_key_hint"]


def not_bool(value: Any) -> Any:
    """``value`` unchanged, or ``ValueError`` for YAML's ``true``/``false`` (pydantic reads
    them as 1/0 for a number; a study never means that)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


#: A number inside a mapping or list of a section (``dict[str, Number]``, ``list[Number]``):
#: ``true``/``false`` refused as for a scalar number field, with the key in the error.
Number = Annotated[float, BeforeValidator(not_bool)]


def _numeric_without_bool(annotation: Any) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return bool({int, float} & set(args)) and bool not in args


def _types_in(annotation: Any) -> list[Any]:
    """Every type an annotation names, through unions, containers and ``Annotated`` (with
    its metadata, which may not be hashable: a list)."""
    found = [annotation]
    for arg in typing.get_args(annotation):
        found += _types_in(arg)
    return found


def _shapes_of_numbers(annotation: Any) -> bool:
    """Whether ``annotation`` is a union of shapes (``Literal | list[Number] | dict``) with
    numbers inside a mapping or list of it, and no ``bool`` or section anywhere."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    inside = [
        t for a in members if typing.get_origin(a) in (dict, list, tuple) for t in _types_in(a)
    ]
    everything = _types_in(annotation)
    return (
        len(members) > 1
        and any(t is int or t is float for t in inside)
        and not any(t is bool for t in everything)
        and not any(isinstance(t, type) and issubclass(t, BaseModel) for t in everything)
    )


def _bool_at(value: Any, where: str = "") -> tuple[str, bool] | None:
    """Where the first ``true``/``false`` inside a mapping or list is (``[3]``,
    ``motorway[0]``) and which it is, or None."""
    if isinstance(value, bool):
        return where, value
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list | tuple)
        else ()
    )
    for key, item in items:
        inner = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip(".")
        found = _bool_at(item, inner)
        if found is not None:
            return found
    return None


class StrictSection(BaseModel):
    """Every section: unknown keys rejected, no NaN or infinity, no ``true`` for a number."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads YAML's true/false as 1/0 for numeric fields; a study never means that.
        # (Numbers inside mappings and lists are typed Number, which refuses them itself.)
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        if _numeric_without_bool(field.annotation):
            not_bool(value)
        if isinstance(value, dict | list | tuple) and _shapes_of_numbers(field.annotation):
            found = _bool_at(value)
            if found is not None:
                at, got = found
                raise ValueError(f"expected a number at {at}, got {str(got).lower()}")
        return value


def _section_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The section class a field holds (through ``X | None``, ``list[X]``, ``dict[str, X]``)
    and whether it holds them under keys of the user's own (a ``dict``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    keyed = typing.get_origin(annotation) is dict
    for arg in typing.get_args(annotation):
        found, inner_keyed = _section_of(arg)
        if found is not None:
            return found, keyed or inner_keyed
    return None, False


def unknown_key_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What to say of the unknown key at ``loc`` (pydantic's error location) in ``model``:
    the known key it most likely means, else to remove it or check its spelling."""
    section: type[BaseModel] | None = model
    skip_key = False
    for part in loc[:-1]:
        if section is None:
            break
        if isinstance(part, int):  # a list item
            continue
        if skip_key:  # the user's own key of a mapping of sections
            skip_key = False
            continue
        field = section.model_fields.get(str(part))
        section, skip_key = _section_of(field.annotation) if field is not None else (None, False)
    if section is not None and loc:
        close = difflib.get_close_matches(
            str(loc[-1]), list(section.model_fields), n=1, cutoff=0.75
        )
        if close:
            return f" (did you mean {close[0]!r}?)"
    return " (remove it or check its spelling)"
