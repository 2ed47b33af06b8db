"""Input types of the catalog's request bodies (the shared checks are in `invora.web.inputs`).

Lengths, enums and numeric ranges are bounded here once, so bad input is a 422, never a 500.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StringConstraints

from invora.money import CURRENCIES
from invora.web.inputs import MAX_CODE, check_json, check_text

# re-exported: the catalog's bodies and routes build on them
from invora.web.inputs import InputModel as InputModel
from invora.web.inputs import storable_key as storable_key

MAX_NAME = 255
MAX_DESCRIPTION = 2000
MAX_CENTS = 10**15  # ten trillion in major units: any real price, far from BIGINT overflow
MAX_ITEMS = 100  # charges per plan, filters per charge, tax codes…


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


