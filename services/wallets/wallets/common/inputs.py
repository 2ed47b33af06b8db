"""Input types of the wallets service's request bodies (shared checks: `invora.web.inputs`).

Every length, enum and number is bounded, so bad input is a field-level 422 and never a 500.
Credits are decimals with at most 5 places (Lago keeps 5); money is integer minor units.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from invora.money import CURRENCIES
from invora.web.decimals import DecimalInput
from invora.web.inputs import MAX_CODE, Choice, StorableText
from invora.web.inputs import InputModel as InputModel
from invora.web.inputs import StrictInt as StrictInt
from invora.web.inputs import storable_key as storable_key
from invora.web.timestamps import TimestampInput

MAX_NAME = 255
MAX_TEXT = 2000
MAX_CENTS = 10**15
MAX_CREDITS = 10**12
LATEST_DATE = datetime(2999, 12, 31, tzinfo=UTC)


def _reason(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("value_is_mandatory")
    return stripped


Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), StorableText()]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME), StorableText()]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), StorableText(), AfterValidator(_reason)]
Currency = Annotated[str, Choice(CURRENCIES, "currency_code_invalid")]
Credits = Annotated[Decimal, DecimalInput(le=MAX_CREDITS, places=5)]
Rate = Annotated[Decimal, DecimalInput(le=MAX_CREDITS, places=12, positive=True)]
AmountCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
PositiveCents = Annotated[StrictInt, Field(ge=1, le=MAX_CENTS)]
Priority = Annotated[StrictInt, Field(ge=1, le=50)]
Timestamp = Annotated[datetime, TimestampInput(1970, LATEST_DATE.year)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=100), StorableText()]
MetadataValue = Annotated[str, StringConstraints(max_length=255), StorableText()]
Metadata = Annotated[dict[MetadataKey, MetadataValue | None], Field(max_length=50)]


class KeyValue(InputModel):
    key: Annotated[str, StringConstraints(max_length=255), StorableText()]
    value: Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText()]


TransactionMetadata = Annotated[list[KeyValue], Field(max_length=50)]
