"""Input types of the subscriptions service's request bodies (shared checks: `invora.web.inputs`).

Every length, enum and number is bounded, so bad input is a field-level 422 and never a 500.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from invora.money import CURRENCIES
from invora.web.inputs import MAX_CODE, check_json, check_text

# re-exported: the service's bodies and routes build on them
from invora.web.inputs import InputModel as InputModel
from invora.web.inputs import storable_key as storable_key
from subscriptions.common.countries import COUNTRIES

MAX_NAME = 255
MAX_TEXT = 2000
MAX_ITEMS = 100
# far enough for any real contract, far from datetime's year 9999 limit in the period maths
LATEST_DATE = datetime(2999, 12, 31, tzinfo=UTC)
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


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


ItemList = Field(max_length=MAX_ITEMS)
