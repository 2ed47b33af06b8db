"""Field types that request bodies of several services share (built on `invora.web.inputs`).

Every length and number is bounded, so bad input is a field-level 422 and never a 500; money is
integer minor units; codes, names and reasons refuse what PostgreSQL cannot store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from invora.money import CURRENCIES
from invora.web.inputs import MAX_CODE, Choice, InputModel, SchemaExtra, StorableText, StrictInt
from invora.web.timestamps import TimestampInput

MAX_NAME = 255
MAX_TEXT = 2000
MAX_CENTS = 10**15  # ten trillion in major units: any real price, far from BIGINT overflow
MAX_ITEMS = 100  # a plan's charges, a charge's filters, tax codes…
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(2999, 12, 31, tzinfo=UTC)


def _not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("value_is_mandatory")
    return stripped


Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), StorableText()]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME), StorableText()]
RequiredName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), StorableText()]
Description = Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText()]
Text = Annotated[str, StorableText()]  # bounded where it is used
# an invoice footer (an organization's or a billing entity's): Lago's 600 characters
InvoiceFooter = Annotated[str, StringConstraints(max_length=600), StorableText()]
# a reason an operator must give (an audit row, a void): not blank, stored stripped
Reason = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), StorableText(),
                   AfterValidator(_not_blank)]
Currency = Annotated[str, Choice(CURRENCIES, "currency_code_invalid")]
# a currency refused with the generic `value_is_invalid`, as the catalog answers for a plan's, an add-on's,
# an organization's or a billing entity's currency
CurrencyChoice = Annotated[str, Choice(CURRENCIES)]
AmountCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
PositiveCents = Annotated[StrictInt, Field(ge=1, le=MAX_CENTS)]
TaxCodes = Annotated[list[Code], Field(max_length=MAX_ITEMS), SchemaExtra.of(uniqueItems=True)]  # else 422
Timestamp = Annotated[datetime, TimestampInput(EARLIEST_DATE.year, LATEST_DATE.year)]

# Lago's `metadata` object: string keys to string (or null) values
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=100), StorableText()]
MetadataValue = Annotated[str, StringConstraints(max_length=255), StorableText()]
Metadata = Annotated[dict[MetadataKey, MetadataValue | None], Field(max_length=50)]


class KeyValue(InputModel):
    """One entry of Lago's list-shaped metadata (`[{"key": ..., "value": ...}]`)."""

    key: Annotated[str, StringConstraints(max_length=255), StorableText()]
    value: Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText()]


KeyValueList = Annotated[list[KeyValue], Field(max_length=50)]
