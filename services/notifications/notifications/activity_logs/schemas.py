"""Lago's `ActivityLogObject`, its single and list roots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from invora.web.pagination import PaginationMeta

ActivitySource = Literal["api", "front", "system"]


class ActivityLogObject(BaseModel):
    activity_id: uuid.UUID
    user_email: str | None = Field(description="Always null: API keys have no user (see the API log's principal).")
    activity_type: str = Field(examples=["billable_metric.created"])
    activity_source: ActivitySource
    activity_object: Any = Field(description="The object after the change (the event's object).")
    activity_object_changes: dict[str, Any] | None = Field(
        description="`{field: [before, after]}` against the resource's previous activity; null for the first.")
    external_customer_id: str | None
    external_subscription_id: str | None
    resource_id: str
    resource_type: str = Field(examples=["BillableMetric"])
    organization_id: uuid.UUID
    logged_at: datetime
    created_at: datetime


class ActivityLogResponse(BaseModel):
    activity_log: ActivityLogObject


class ActivityLogList(BaseModel):
    activity_logs: list[ActivityLogObject]
    meta: PaginationMeta
