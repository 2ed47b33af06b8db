"""Wallets in Lago's shapes: `{"wallet": {...}}` in and out, `{"wallets": [...], "meta": {...}}` for lists."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, model_validator

from invora.errors import ValidationFailed
from invora.events.contracts.wallets import Wallet
from invora.web.pagination import PaginationMeta
from wallets.common.inputs import (
    AmountCents,
    Code,
    Credits,
    Currency,
    InputModel,
    Metadata,
    Name,
    Priority,
    Rate,
    Timestamp,
    TransactionMetadata,
)

FeeType = Literal["charge", "subscription", "commitment", "fixed_charge", "add_on"]


class AppliesToInput(InputModel):
    fee_types: Annotated[list[FeeType], Field(max_length=10)] | None = None
    billable_metric_codes: Annotated[list[Code], Field(max_length=100)] | None = None


class RecurringRuleInput(InputModel):
    """Stored and returned; the top-ups they describe are not run yet (docs/wallets.md, "partial")."""

    lago_id: str | None = None
    trigger: Literal["interval", "threshold"]
    method: Literal["fixed", "target"] = "fixed"
    interval: Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"] | None = None
    threshold_credits: Credits | None = None
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

    @model_validator(mode="after")
    def _complete(self) -> RecurringRuleInput:
        if self.trigger == "interval" and self.interval is None:
            raise ValueError("interval is required for an interval rule")
        if self.trigger == "threshold" and self.threshold_credits is None:
            raise ValueError("threshold_credits is required for a threshold rule")
        if self.method == "target" and self.target_ongoing_balance is None:
            raise ValueError("target_ongoing_balance is required for a target rule")
        return self


class WalletCreateInput(InputModel):
    external_customer_id: Code | None = Field(None, description="Required on `POST /wallets`; the path names it "
                                                                "on `POST /customers/{external_customer_id}/wallets`.")
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
