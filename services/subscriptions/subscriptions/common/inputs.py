"""Input types of the subscriptions service's request bodies (shared checks: `invora.web.inputs`).

Every length, enum and number is bounded, so bad input is a field-level 422 and never a 500; and
every check is in the OpenAPI document (enums, patterns, bounds), which admits what is accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from invora.money import CURRENCIES
from invora.web.inputs import EMAILS_PATTERN as EMAILS_PATTERN
from invora.web.inputs import MAX_CODE, Choice, StorableText, iana_timezones
from invora.web.inputs import Country as Country
from invora.web.inputs import Emails as Emails

# re-exported: the service's bodies and routes build on them
from invora.web.inputs import InputModel as InputModel
from invora.web.inputs import JsonObject as JsonObject
from invora.web.inputs import StrictInt as StrictInt
from invora.web.inputs import Timezone as Timezone
from invora.web.inputs import check_json as check_json
from invora.web.inputs import check_text as check_text
from invora.web.inputs import storable_key as storable_key
from invora.web.timestamps import TimestampInput

MAX_NAME = 255
MAX_TEXT = 2000
MAX_ITEMS = 100
# far enough for any real contract, far from datetime's year 9999 limit in the period maths
LATEST_DATE = datetime(2999, 12, 31, tzinfo=UTC)
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)

# what `str.strip()` removes; a reason must hold something else
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_SPACE_CLASS = "".join(f"\\u{ord(c):04x}" for c in _SPACES)
REASON_PATTERN = rf"^[^\x00]*[^\x00{_SPACE_CLASS}][^\x00]*$"


def is_timezone(value: str) -> bool:
    return value in iana_timezones()


def _reason(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("value_is_too_short")
    return stripped


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText()]
Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), StorableText()]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME), StorableText()]
Currency = Annotated[str, Choice(CURRENCIES, "currency_code_invalid")]
Timestamp = Annotated[datetime, TimestampInput(EARLIEST_DATE.year, LATEST_DATE.year)]
Reason = Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText(REASON_PATTERN),
                   AfterValidator(_reason)]

ItemList = Field(max_length=MAX_ITEMS)
