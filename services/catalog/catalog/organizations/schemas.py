"""The organization in Lago's shapes: `OrganizationUpdateInput` in, `{"organization": OrganizationObject}` out.

Beyond Lago's input: `name` (Lago sets it in its UI) and `billing_configuration.invoice_footer`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StringConstraints

from invora.events.contracts.catalog import Organization
from invora.web.fields import CurrencyChoice, InvoiceFooter, RequiredName
from invora.web.inputs import Country, Emails, InputModel, StorableText, StrictInt, Timezone


def _matching(pattern: str) -> AfterValidator:
    """Refuse what the documented `pattern` does not admit (`StorableText` only documents it)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError("value_is_invalid")
        return value

    return AfterValidator(check)


PREFIX_PATTERN = r"^[A-Za-z0-9_-]+$"
LOCALE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$"
URL_PATTERN = r"^https?://[^\s\x00]+$"

Days = Annotated[StrictInt, Field(ge=0, le=365)]
# Lago: 1-10 characters, capitalised; letters, digits, `-` and `_` so the number stays one token
DocumentNumberPrefix = Annotated[str, StringConstraints(min_length=1, max_length=10),
                                 StorableText(PREFIX_PATTERN), _matching(PREFIX_PATTERN)]
Locale = Annotated[str, StringConstraints(min_length=2, max_length=10),
                   StorableText(LOCALE_PATTERN), _matching(LOCALE_PATTERN)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000), StorableText(URL_PATTERN),
                _matching(URL_PATTERN)]
EmailSettings = Annotated[list[Literal["invoice.finalized", "credit_note.created"]], Field(max_length=2)]


class BillingConfigurationInput(InputModel):
    invoice_footer: InvoiceFooter | None = None
    invoice_grace_period: Days | None = None
    document_locale: Locale | None = None


class LegalDetailsInput(InputModel):
    """Fields an organization and a billing entity share; `null` clears a field."""

    legal_name: RequiredName | None = None
    legal_number: RequiredName | None = None
    tax_identification_number: RequiredName | None = None
    email: Emails | None = None
    address_line1: RequiredName | None = None
    address_line2: RequiredName | None = None
    city: RequiredName | None = None
    state: RequiredName | None = None
    zipcode: RequiredName | None = None
    country: Country | None = None


class OrganizationUpdateInput(LegalDetailsInput):
    name: RequiredName | None = None
    webhook_url: Url | None = None
    default_currency: CurrencyChoice | None = None
    document_numbering: Literal["per_customer", "per_organization"] | None = None
    document_number_prefix: DocumentNumberPrefix | None = None
    net_payment_term: Days | None = None
    timezone: Timezone | None = None
    email_settings: EmailSettings | None = None
    billing_configuration: BillingConfigurationInput | None = None
    finalize_zero_amount_invoice: StrictBool | None = None


class OrganizationUpdateBody(BaseModel):
    organization: OrganizationUpdateInput


class OrganizationResponse(BaseModel):
    organization: Organization
