"""Input types shared by the subscriptions service's request bodies.

Every string is checked for what PostgreSQL cannot store (NUL, lone surrogates), every length,
enum and number is bounded, so bad input is a field-level 422 and never a 500. Unknown fields
are ignored, as Lago does.
"""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from invora.money import CURRENCIES
from subscriptions.common.countries import COUNTRIES

MAX_CODE = 255
MAX_NAME = 255
MAX_TEXT = 2000
MAX_ITEMS = 100
MAX_JSON_DEPTH = 10
MAX_JSON_SIZE = 50_000
# far enough for any real contract, far from datetime's year 9999 limit in the period maths
LATEST_DATE = datetime(2999, 12, 31, tzinfo=UTC)
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def check_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("invalid_characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("invalid_characters") from exc
    return value


def check_json(value: Any) -> Any:
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
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > 2**63:
            raise ValueError("value_is_out_of_range")
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


def _country(value: str) -> str:
    upper = value.upper()
    if upper not in COUNTRIES:
        raise ValueError("country_code_invalid")
    return upper


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError("currency_code_invalid")
    return value


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(value: str) -> bool:
    return value in _timezones()


def _timezone(value: str) -> str:
    if not is_timezone(value):
        raise ValueError("invalid_timezone")
    return value


def _emails(value: str) -> str:
    """Lago accepts several addresses separated by commas."""
    for address in value.split(","):
        if not _EMAIL.match(address.strip()):
            raise ValueError("invalid_email_format")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not (EARLIEST_DATE <= value <= LATEST_DATE):
        raise ValueError("value_is_out_of_range")
    return value


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(check_text)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), AfterValidator(check_text)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(check_text)]
Country = Annotated[str, StringConstraints(max_length=8), AfterValidator(check_text), AfterValidator(_country)]
Currency = Annotated[str, StringConstraints(max_length=8), AfterValidator(check_text), AfterValidator(_currency)]
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(check_text), AfterValidator(_timezone)]
Emails = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(check_text), AfterValidator(_emails)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
Timestamp = Annotated[datetime, AfterValidator(_aware)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, strip_whitespace=True),
                   AfterValidator(check_text)]


class InputModel(BaseModel):
    """Base of every request body object: unknown fields are ignored (Lago's behaviour)."""

    model_config = ConfigDict(extra="ignore")

    def given(self, field: str) -> bool:
        """Whether the client sent `field` (updates are partial: absent fields keep their value)."""
        return field in self.model_fields_set


def storable_key(value: str) -> bool:
    """Whether an id from a URL could name a stored row (else: not found, without asking the database)."""
    if not value or len(value) > MAX_CODE:
        return False
    try:
        check_text(value)
    except ValueError:
        return False
    return True


ItemList = Field(max_length=MAX_ITEMS)
