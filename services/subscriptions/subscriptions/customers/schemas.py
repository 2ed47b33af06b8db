"""Customers in Lago's shapes: `CustomerCreateInput` in, `CustomerObjectExtended` out.

Beyond Lago: `billing_email`, `purchase_order_number` and a top-level `invoice_grace_period`
(Lago keeps it under `billing_configuration`, which is accepted too).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool

from invora.events.contracts.subscriptions import Customer as CustomerObject
from invora.web.fields import MAX_ITEMS, Code, Currency, Description, Name
from invora.web.inputs import Country, Emails, InputModel, StrictInt, Timezone
from invora.web.pagination import PaginationMeta

GracePeriod = Annotated[StrictInt, Field(ge=0, le=365)]
MAX_METADATA = 50


class BillingConfigurationInput(InputModel):
    invoice_grace_period: GracePeriod | None = None
    # Lago's providers, plus Paystack and Tap (payments has adapters for them; Lago has none)
    payment_provider: Literal["stripe", "adyen", "gocardless", "cashfree", "flutterwave", "moneyhash",
                              "paystack", "tap"] | None = None
    payment_provider_code: Name | None = None
    provider_customer_id: Name | None = None
    sync: StrictBool | None = None
    sync_with_provider: StrictBool | None = None
    document_locale: Annotated[Name, Field(max_length=10)] | None = None
    provider_payment_methods: Annotated[list[Name], Field(max_length=20)] | None = None
    subscription_invoice_issuing_date_anchor: Literal["current_period_end", "next_period_start"] | None = None
    subscription_invoice_issuing_date_adjustment: Literal["align_with_finalization_date", "keep_anchor"] | None = None


class AddressInput(InputModel):
    address_line1: Name | None = None
    address_line2: Name | None = None
    city: Name | None = None
    state: Name | None = None
    zipcode: Name | None = None
    country: Country | None = None


class MetadataInput(InputModel):
    id: uuid.UUID | None = None
    key: Annotated[Name, Field(min_length=1, max_length=100)]
    value: Description
    display_in_invoice: StrictBool = False


class CustomerInput(InputModel):
    external_id: Code
    name: Name | None = None
    firstname: Name | None = None
    lastname: Name | None = None
    legal_name: Name | None = None
    legal_number: Name | None = None
    email: Emails | None = None
    billing_email: Emails | None = None
    phone: Name | None = None
    url: Description | None = None
    logo_url: Description | None = None
    address_line1: Name | None = None
    address_line2: Name | None = None
    city: Name | None = None
    state: Name | None = None
    zipcode: Name | None = None
    country: Country | None = None
    currency: Currency | None = None
    timezone: Timezone | None = None
    tax_identification_number: Name | None = None
    tax_codes: Annotated[list[Code], Field(max_length=MAX_ITEMS)] | None = None
    account_type: Literal["customer", "partner"] | None = None
    customer_type: Literal["company", "individual"] | None = None
    net_payment_term: Annotated[StrictInt, Field(ge=0, le=365)] | None = None
    invoice_grace_period: GracePeriod | None = None
    finalize_zero_amount_invoice: Literal["inherit", "skip", "finalize"] | None = None
    skip_invoice_custom_sections: StrictBool | None = None
    purchase_order_number: Name | None = None
    billing_entity_code: Name | None = None
    billing_configuration: BillingConfigurationInput | None = None
    shipping_address: AddressInput | None = None
    metadata: Annotated[list[MetadataInput], Field(max_length=MAX_METADATA)] | None = None


class CustomerCreateBody(BaseModel):
    customer: CustomerInput


# -- output ----------------------------------------------------------------------------------------------

class CustomerResponse(BaseModel):
    customer: CustomerObject


class CustomersResponse(BaseModel):
    customers: list[CustomerObject]
    meta: PaginationMeta
