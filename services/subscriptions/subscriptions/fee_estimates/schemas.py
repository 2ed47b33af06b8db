"""Bodies of the fee estimates (`/api/v1/events/estimate_fees`, `…/estimate_instant_fees`,
`…/batch_estimate_instant_fees`), Lago's shapes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PlainSerializer, model_validator

from invora.web.fields import Code
from invora.web.inputs import InputModel
from subscriptions.usage_events.schemas import Properties

MAX_ESTIMATES = 100

DecimalText = Annotated[Decimal, PlainSerializer(lambda value: format(value.normalize(), "f") if value else "0",
                                                 return_type=str, when_used="json")]
JsonNumber = Annotated[Decimal, PlainSerializer(lambda value: float(value), return_type=float, when_used="json")]


class EstimateEventInput(InputModel):
    code: Code
    external_subscription_id: Code
    properties: Properties | None = None
    transaction_id: Code | None = None


class EstimateBody(BaseModel):
    event: EstimateEventInput


class BatchEstimateBody(BaseModel):
    events: Annotated[list[EstimateEventInput], Field(min_length=1, max_length=MAX_ESTIMATES)]

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # Lago's document wraps each item as `{"event": {...}}`; its clients send the event itself: take both
        if isinstance(value, dict) and isinstance(value.get("events"), list):
            return {**value, "events": [item["event"] if isinstance(item, dict) and isinstance(item.get("event"), dict)
                                        else item for item in value["events"]]}
        return value


class EstimateItem(BaseModel):
    type: Literal["charge"] = "charge"
    code: str
    name: str
    description: str | None = None
    invoice_display_name: str | None = None
    filter_invoice_display_name: str | None = None
    filters: dict[str, list[str]] | None = None
    lago_item_id: uuid.UUID
    item_type: Literal["BillableMetric"] = "BillableMetric"
    grouped_by: dict[str, str | None] = Field(default_factory=dict)


class FeeEstimate(BaseModel):
    """Lago's `FeeEstimateObject`: a fee that would be created (never stored: no id, no dates)."""

    lago_id: None = None
    lago_charge_id: uuid.UUID
    lago_charge_filter_id: uuid.UUID | None = None
    lago_invoice_id: None = None
    lago_true_up_fee_id: None = None
    lago_true_up_parent_fee_id: None = None
    lago_subscription_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    external_subscription_id: str
    amount_cents: int
    precise_amount: JsonNumber
    precise_total_amount: JsonNumber
    amount_currency: str
    taxes_amount_cents: int
    taxes_precise_amount: JsonNumber
    taxes_rate: JsonNumber
    units: DecimalText
    description: None = None
    precise_unit_amount: JsonNumber
    precise_coupons_amount_cents: str = "0.0"
    total_amount_cents: int
    total_amount_currency: str
    events_count: int = 1
    pay_in_advance: bool = True
    invoiceable: bool
    payment_status: Literal["pending"] = "pending"
    created_at: None = None
    succeeded_at: None = None
    failed_at: None = None
    refunded_at: None = None
    event_transaction_id: str | None = None
    amount_details: None = None
    item: EstimateItem


class FeesEstimate(BaseModel):
    fees: list[FeeEstimate]
