"""Webhook deliveries (Lago calls them webhooks) and their attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from invora.web.pagination import PaginationMeta

DeliveryStatus = Literal["pending", "retrying", "succeeded", "failed"]
ErrorClass = Literal["dns", "connect", "tls", "timeout", "http", "ssrf_blocked"]


class WebhookAttemptObject(BaseModel):
    lago_id: uuid.UUID
    attempt_number: int
    attempted_at: datetime
    webhook_url: str
    status_code: int | None
    duration_ms: int
    response_body: str | None = Field(description="The start of the response body (at most 20 kB by default).")
    error_class: ErrorClass | None
    error_message: str | None
    next_attempt_at: datetime | None


class WebhookObject(BaseModel):
    lago_id: uuid.UUID = Field(description="The delivery id, sent as X-Lago-Unique-Key.")
    lago_organization_id: uuid.UUID
    lago_webhook_endpoint_id: uuid.UUID
    webhook_url: str
    webhook_type: str
    object_type: str
    event_id: uuid.UUID = Field(description="The event id, sent as webhook-id.")
    status: DeliveryStatus
    attempts_count: int
    retries: int = Field(description="Attempts after the first (Lago's `retries`).")
    http_status: int | None = Field(description="Status code of the last attempt.")
    last_error_class: ErrorClass | None
    last_retried_at: datetime | None = Field(description="Time of the last attempt.")
    next_attempt_at: datetime | None
    succeeded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDetailObject(WebhookObject):
    payload: Any = Field(description="The body sent, as JSON.")
    attempts: list[WebhookAttemptObject]


class WebhookResponse(BaseModel):
    webhook: WebhookObject


class WebhookDetailResponse(BaseModel):
    webhook: WebhookDetailObject


class WebhookList(BaseModel):
    webhooks: list[WebhookObject]
    meta: PaginationMeta
