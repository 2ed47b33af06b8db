"""Timestamp inputs: an RFC 3339 date-time, or the same without its offset (read as UTC, as Lago does).

`Annotated[datetime, TimestampInput(1970, 2999)]` validates and documents the same values: a
string only (no Unix times, no bare dates), with its year, as written, in the range. The value
is returned in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from invora.web.patterns import padded_range

_SHAPE = re.compile(r"(?P<year>[0-9]{4})-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?")
# without an offset a JSON schema `format` cannot help: the calendar is spelled out (29 February
# is left out, for it exists in some years only)
_MONTH_DAY = ("(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
              "|02-(?:0[1-9]|1[0-9]|2[0-8]))")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_PARSE = TypeAdapter(datetime)
# "2024-05-01T00:00:00.123456789+05:30" is 35 characters; fractions longer than a nanosecond mean nothing
MAX_TIMESTAMP_LENGTH = 40


@dataclass(frozen=True, slots=True)
class TimestampInput:
    first_year: int
    last_year: int
    out_of_range: str = "value_is_out_of_range"  # the error code of a year outside the range

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        years = padded_range(self.first_year, self.last_year, 4)
        return {
            "anyOf": [
                {"type": "string", "format": "date-time", "pattern": f"^{years}-", "maxLength": MAX_TIMESTAMP_LENGTH},
                {"type": "string", "pattern": f"^{years}-{_MONTH_DAY}[Tt]{_TIME}$", "maxLength": MAX_TIMESTAMP_LENGTH},
            ],
            "description": "An RFC 3339 date-time, e.g. 2024-05-01T00:00:00Z; without an offset: UTC.",
        }

    def parse(self, value: Any) -> datetime:
        if isinstance(value, str) and len(value) > MAX_TIMESTAMP_LENGTH:
            raise ValueError("value_is_too_long")
        shape = _SHAPE.fullmatch(value) if isinstance(value, str) else None
        if shape is None:
            raise ValueError("invalid_date")
        try:
            parsed = _PARSE.validate_python(value)
        except ValidationError as exc:  # 30 February, 25:00, +24:00…
            raise ValueError("invalid_date") from exc
        if not self.first_year <= int(shape["year"]) <= self.last_year:
            raise ValueError(self.out_of_range)
        return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).astimezone(UTC)
