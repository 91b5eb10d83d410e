"""The base of every section of a study or sweep file: unknown keys rejected, no NaN or
infinity, and no YAML ``true``/``false`` where a number is expected."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["StrictSection"]


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
