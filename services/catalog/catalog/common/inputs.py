"""Input types shared by the catalog's request bodies.

Every string is checked for what PostgreSQL cannot store (NUL, lone surrogates) so that bad
input is a 422, never a 500. Lengths, enums and numeric ranges are bounded here once.
Unknown fields are ignored, as Lago does.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StringConstraints

from invora.money import CURRENCIES

MAX_CODE = 255
MAX_NAME = 255
MAX_DESCRIPTION = 2000
MAX_CENTS = 10**15  # ten trillion in major units: any real price, far from BIGINT overflow
MAX_ITEMS = 100  # charges per plan, filters per charge, tax codes…
MAX_JSON_DEPTH = 10
MAX_JSON_SIZE = 50_000  # characters of a free-form JSON value (properties, config…)


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("invalid_characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("invalid_characters") from exc
    return value


def check_json(value: Any) -> Any:
    """Free-form JSON (charge properties, privilege config, metadata): storable and bounded."""
    size = 0

    def walk(node: Any, depth: int) -> None:
        nonlocal size
        if depth > MAX_JSON_DEPTH:
            raise ValueError("value_is_too_deep")
        if isinstance(node, str):
            check_text(node)
            size += len(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError("value_is_invalid")
        elif isinstance(node, dict):
            for key, item in node.items():
                check_text(str(key))
                size += len(str(key))
                walk(item, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
        size += 1
        if size > MAX_JSON_SIZE:
            raise ValueError("value_is_too_long")

    walk(value, 0)
    return value


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError("value_is_invalid")
    return value


_DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{0,12})?$")


def decimal_number(value: Any) -> Decimal:
    """A non-negative decimal given as a string, an integer or a float (Lago's clients send floats for rates)."""
    if isinstance(value, bool):
        raise ValueError("value_is_invalid")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("value_is_invalid")
        value = repr(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _DECIMAL.match(value.strip()):
        raise ValueError("value_is_invalid")
    try:
        return Decimal(value.strip())
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees a number
        raise ValueError("value_is_invalid") from exc


Text = Annotated[str, AfterValidator(check_text)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), AfterValidator(check_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), AfterValidator(check_text)]
OptionalName = Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(check_text)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION), AfterValidator(check_text)]
Currency = Annotated[str, AfterValidator(_currency)]
AmountCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
DecimalNumber = Annotated[Decimal, BeforeValidator(decimal_number)]
TaxCodes = Annotated[list[Code], Field(max_length=MAX_ITEMS)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]


class InputModel(BaseModel):
    """Base of every request body object: unknown fields are ignored (Lago's behaviour)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    def given(self, field: str) -> bool:
        """Whether the client sent `field` (PUT is partial: absent fields keep their value)."""
        return field in self.model_fields_set


def storable_code(value: str) -> bool:
    """Whether a code from a URL could name a stored object (else: not found, without asking the database)."""
    if not value or len(value) > MAX_CODE:
        return False
    try:
        check_text(value)
    except ValueError:
        return False
    return True
