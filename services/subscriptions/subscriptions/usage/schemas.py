"""Response bodies of the usage reads (Lago's `CustomerUsage`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from invora.web.pagination import PaginationMeta


class ChargeRef(BaseModel):
    lago_id: uuid.UUID
    charge_model: str
    invoice_display_name: str | None = None


class MetricRef(BaseModel):
    lago_id: uuid.UUID
    name: str
    code: str
    aggregation_type: str


class FilterUsage(BaseModel):
    units: str
    total_aggregated_units: str
    amount_cents: int
    events_count: int
    invoice_display_name: str | None = None
    values: dict[str, list[str]] | None = None


class GroupedUsage(BaseModel):
    """One pricing group of a charge (`pricing_group_keys`): its usage, and per charge filter."""

    units: str
    total_aggregated_units: str
    amount_cents: int
    events_count: int
    grouped_by: dict[str, str | None]
    filters: list[FilterUsage]


class PresentationBreakdown(BaseModel):
    presentation_by: dict[str, str | None]
    units: str


class ChargeUsage(BaseModel):
    units: str
    total_aggregated_units: str
    events_count: int
    amount_cents: int
    amount_currency: str
    charge: ChargeRef
    billable_metric: MetricRef
    filters: list[FilterUsage]
    grouped_usage: list[GroupedUsage] = []
    # only for a charge with `presentation_group_keys` (display-only sub-items; see docs/metering.md)
    presentation_breakdowns: list[PresentationBreakdown] | None = Field(None, exclude_if=lambda v: v is None)


class CustomerUsage(BaseModel):
    from_datetime: datetime
    to_datetime: datetime
    issuing_date: str
    lago_invoice_id: uuid.UUID | None = None
    currency: str
    amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int
    charges_usage: list[ChargeUsage]


class CustomerUsageResponse(BaseModel):
    customer_usage: CustomerUsage


class CustomerPastUsageResponse(BaseModel):
    usage_periods: list[CustomerUsage]
    meta: PaginationMeta
