"""The base of every section of a study or sweep file: unknown keys rejected, no NaN or
infinity, and no YAML ``true``/``false`` where a number is expected."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["StrictSection", "unknown_key_hint"]


def _numeric_without_bool(annotation: Any) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return bool({int, float} & set(args)) and bool not in args


class StrictSection(BaseModel):
    """Every section: unknown keys rejected, no NaN or infinity, no ``true`` for a number."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads YAML's true/false as 1/0 for numeric fields; a study never means that.
        field = cls.model_fields.get(info.field_name or "")
        if (
            isinstance(value, bool)
            and field is not None
            and _numeric_without_bool(field.annotation)
        ):
            raise ValueError(f"expected a number, got {str(value).lower()}")
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
