"""Decimal inputs (rates, units, days) as Lago takes them: a string ("12.5"), an integer or a float.

`Annotated[Decimal, DecimalInput(le=100)]` validates and documents the same set of values: a
number within the bounds, or a string of digits within the bounds (no sign, no exponent, no
leading zeros, at most `places` decimals). A float is read from its shortest repr and rounded to
`places` decimals (a positive value never rounds to zero).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from invora.web.patterns import integer_range


@dataclass(frozen=True, slots=True)
class DecimalInput:
    """A decimal in [0, le] (in ]0, le] when `positive`), `le` a whole number of at least 2."""

    le: int
    places: int = 12
    positive: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        number: dict[str, Any] = {"type": "number", "maximum": self.le}
        number["exclusiveMinimum" if self.positive else "minimum"] = 0
        return {"anyOf": [number, {"type": "string", "pattern": self.pattern()}]}

    def pattern(self) -> str:
        decimals = rf"(?:\.[0-9]{{0,{self.places}}})?"
        alternatives = [f"{integer_range(1 if self.positive else 0, self.le - 1)}{decimals}",
                        rf"{self.le}(?:\.0{{0,{self.places}}})?"]
        if self.positive:  # 0.x with a digit other than zero among its decimals
            fractions = "|".join(f"{'0' * zeros}[1-9][0-9]{{0,{self.places - 1 - zeros}}}"
                                 for zeros in range(self.places))
            alternatives.append(rf"0\.(?:{fractions})")
        return f"^(?:{'|'.join(alternatives)})$"

    def parse(self, value: Any) -> Decimal:
        number = _number(value)
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)  # finite by construction
        if number < 0 or (isinstance(value, str) and exponent < -self.places):
            raise ValueError("value_is_invalid")
        if number > self.le or (self.positive and number == 0):
            raise ValueError("value_is_out_of_range")
        if exponent < -self.places:  # a float with more decimals than are kept
            step = Decimal(1).scaleb(-self.places)
            rounded = number.quantize(step, rounding=ROUND_HALF_EVEN)
            number = step if self.positive and not rounded else rounded
        return number


def negative_out_of_range(value: Any) -> Any:
    """A `BeforeValidator` for a `DecimalInput`: a negative number, or a string of one, is out of range (422
    `value_is_out_of_range`) rather than malformed (`value_is_invalid`), as Lago answers for thresholds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ValueError("value_is_out_of_range")
    if isinstance(value, str) and value.startswith("-") and value[1:2].isdigit():
        raise ValueError("value_is_out_of_range")
    return value


_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]*)?")


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("value_is_invalid")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("value_is_invalid")
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and len(value) <= 64 and _DIGITS.fullmatch(value):
        return Decimal(value)
    raise ValueError("value_is_invalid")
