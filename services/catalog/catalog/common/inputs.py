"""Input types of the catalog's request bodies (the shared checks are in `invora.web.inputs`).

Lengths, enums and numeric ranges are bounded here once, so bad input is a 422, never a 500;
each bound is also in the OpenAPI document, which admits exactly what is accepted.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from invora.money import CURRENCIES

# re-exported: the catalog's bodies and routes build on them
from invora.web.decimals import DecimalInput as DecimalInput
from invora.web.inputs import MAX_CODE, Choice, SchemaExtra, StorableText
from invora.web.inputs import InputModel as InputModel
from invora.web.inputs import JsonObject as JsonObject
from invora.web.inputs import StrictInt as StrictInt
from invora.web.inputs import check_json as check_json
from invora.web.inputs import check_text as check_text
from invora.web.inputs import storable_key as storable_key

MAX_NAME = 255
MAX_DESCRIPTION = 2000
MAX_CENTS = 10**15  # ten trillion in major units: any real price, far from BIGINT overflow
MAX_ITEMS = 100  # charges per plan, filters per charge, tax codes…

Text = Annotated[str, StorableText()]
Code = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CODE), StorableText()]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME), StorableText()]
OptionalName = Annotated[str, StringConstraints(max_length=MAX_NAME), StorableText()]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION), StorableText()]
# an invoice footer (an organization's or a billing entity's): Lago's 600 characters
InvoiceFooter = Annotated[str, StringConstraints(max_length=600), StorableText()]
Currency = Annotated[str, Choice(CURRENCIES)]
AmountCents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
TaxCodes = Annotated[list[Code], Field(max_length=MAX_ITEMS), SchemaExtra.of(uniqueItems=True)]  # else 422

