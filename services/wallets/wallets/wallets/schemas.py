"""Wallets in Lago's shapes: `{"wallet": {...}}` in and out, `{"wallets": [...], "meta": {...}}` for lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool

from invora.errors import ValidationFailed
from invora.events.contracts.wallets import Wallet
from invora.web.decimals import DecimalInput
from invora.web.fields import AmountCents, Code, Currency, Metadata, Name, Timestamp
from invora.web.fields import KeyValueList as TransactionMetadata
from invora.web.inputs import InputModel, StrictInt
from invora.web.pagination import PaginationMeta

MAX_CREDITS = 10**12
# credits are decimals with at most 5 places (Lago keeps 5); a rate converts them to money
Credits = Annotated[Decimal, DecimalInput(le=MAX_CREDITS, places=5)]
Rate = Annotated[Decimal, DecimalInput(le=MAX_CREDITS, places=12, positive=True)]
Priority = Annotated[StrictInt, Field(ge=1, le=50)]

FeeType = Literal["charge", "subscription", "commitment", "fixed_charge", "add_on"]


class AppliesToInput(InputModel):
    fee_types: Annotated[list[FeeType], Field(max_length=10)] | None = None
    billable_metric_codes: Annotated[list[Code], Field(max_length=100)] | None = None


class _RuleInput(InputModel):
    """Stored and returned; the top-ups they describe are not run yet (docs/wallets.md, "partial")."""

    lago_id: str | None = Field(None, max_length=64)
    method: Literal["fixed", "target"] = "fixed"
    paid_credits: Credits | None = None
    granted_credits: Credits | None = None
    grants_target_top_up: StrictBool | None = None
    started_at: Timestamp | None = None
    expiration_at: Timestamp | None = None
    target_ongoing_balance: Credits | None = None
    invoice_requires_successful_payment: StrictBool | None = None
    transaction_metadata: TransactionMetadata | None = None
    transaction_name: Name | None = None
    ignore_paid_top_up_limits: StrictBool | None = None


class IntervalRuleInput(_RuleInput):
    trigger: Literal["interval"]
    interval: Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"]
    threshold_credits: Credits | None = None


class ThresholdRuleInput(_RuleInput):
    trigger: Literal["threshold"]
    threshold_credits: Credits
    interval: Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"] | None = None


RecurringRuleInput = Annotated[IntervalRuleInput | ThresholdRuleInput, Field(discriminator="trigger")]


class CustomerWalletCreateInput(InputModel):
    """`POST /customers/{external_customer_id}/wallets`: the path names the customer."""

    external_customer_id: Code | None = Field(None, description="Ignored: the path names the customer.")
    currency: Currency
    rate_amount: Rate
    name: Name | None = None
    code: Code | None = None
    priority: Priority | None = None
    paid_credits: Credits | None = None
    granted_credits: Credits | None = None
    expiration_at: Timestamp | None = None
    invoice_requires_successful_payment: StrictBool | None = None
    transaction_metadata: TransactionMetadata | None = None
    transaction_name: Name | None = None
    applies_to: AppliesToInput | None = None
    paid_top_up_min_amount_cents: AmountCents | None = None
    paid_top_up_max_amount_cents: AmountCents | None = None
    ignore_paid_top_up_limits_on_creation: StrictBool | None = None
    recurring_transaction_rules: Annotated[list[RecurringRuleInput], Field(max_length=1)] | None = None
    metadata: Metadata | None = None
    purchase_order_number: Name | None = None


class WalletCreateInput(CustomerWalletCreateInput):
    external_customer_id: Code


class WalletUpdateInput(InputModel):
    name: Name | None = None
    code: Code | None = None
    priority: Priority | None = None
    expiration_at: Timestamp | None = None
    invoice_requires_successful_payment: StrictBool | None = None
    applies_to: AppliesToInput | None = None
    paid_top_up_min_amount_cents: AmountCents | None = None
    paid_top_up_max_amount_cents: AmountCents | None = None
    recurring_transaction_rules: Annotated[list[RecurringRuleInput], Field(max_length=1)] | None = None
    metadata: Metadata | None = None
    purchase_order_number: Name | None = None


def check_top_up_bounds(minimum: int | None, maximum: int | None) -> None:
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ValidationFailed(paid_top_up_min_amount_cents=["must_be_less_than_or_equal_to_max"])


class WalletCreateBody(BaseModel):
    wallet: WalletCreateInput


class CustomerWalletCreateBody(BaseModel):
    wallet: CustomerWalletCreateInput


class WalletUpdateBody(BaseModel):
    wallet: WalletUpdateInput


class MetadataBody(BaseModel):
    metadata: Metadata | None = None


class WalletResponse(BaseModel):
    wallet: Wallet


class WalletsResponse(BaseModel):
    wallets: list[Wallet]
    meta: PaginationMeta


class MetadataResponse(BaseModel):
    metadata: dict[str, str | None] | None
