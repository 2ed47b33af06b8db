"""Webhook endpoint bodies: Lago's `{"webhook_endpoint": {...}}` plus our fields."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from invora.web.pagination import PaginationMeta
from notifications.ssrf.policy import MAX_URL_LENGTH, URL_PATTERN

SignatureAlgo = Literal["jwt", "hmac"]
MAX_EVENT_TYPE = 200  # the `event_types` column holds varchar(200) elements
EventType = Annotated[str, Field(max_length=MAX_EVENT_TYPE)]


class WebhookEndpointFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    signature_algo: SignatureAlgo | None = Field(
        None, description="`jwt` (default, as Lago) or `hmac`: how `X-Lago-Signature` is made."
    )
    name: str | None = Field(None, max_length=255)
    event_types: list[EventType] | None = Field(
        None, max_length=200,
        description="Event types to receive; null or `[\"*\"]` = all, `[]` = none, `invoice.*` = a prefix.",
    )
    description: str | None = Field(None, max_length=2000, description="Invora extension.")
    enabled: bool | None = Field(None, description="Invora extension: false pauses deliveries.")
    rate_limit_per_second: int | None = Field(
        None, ge=1, le=10_000, description="Invora extension: at most this many requests per second."
    )


# `parse_target` checks it (refusing with `url_is_invalid`); the pattern documents the same shape
_URL = {"max_length": MAX_URL_LENGTH, "json_schema_extra": {"pattern": URL_PATTERN},
        "description": "An absolute http(s) URL (https unless allowed), printable ASCII, reaching a public address."}


class WebhookEndpointCreateFields(WebhookEndpointFields):
    webhook_url: str = Field(**_URL)


class WebhookEndpointUpdateFields(WebhookEndpointFields):
    webhook_url: str | None = Field(None, **_URL)


class WebhookEndpointCreate(BaseModel):
    webhook_endpoint: WebhookEndpointCreateFields


class WebhookEndpointUpdate(BaseModel):
    webhook_endpoint: WebhookEndpointUpdateFields


class WebhookEndpointObject(BaseModel):
    lago_id: uuid.UUID
    lago_organization_id: uuid.UUID
    webhook_url: str
    signature_algo: SignatureAlgo
    name: str | None
    event_types: list[str] | None
    created_at: datetime
    # Invora extensions
    description: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    rate_limit_per_second: int | None
    previous_secret_expires_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_model(cls, endpoint) -> WebhookEndpointObject:
        return cls(
            lago_id=endpoint.id,
            lago_organization_id=endpoint.organization_id,
            webhook_url=endpoint.webhook_url,
            signature_algo=endpoint.signature_algo,
            name=endpoint.name,
            event_types=endpoint.event_types,
            created_at=endpoint.created_at,
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason,
            rate_limit_per_second=endpoint.rate_limit_per_second,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            updated_at=endpoint.updated_at,
        )


class WebhookEndpointWithSecret(WebhookEndpointObject):
    secret: str = Field(description="The signing secret; shown only when created or rotated.")

    @classmethod
    def from_model(cls, endpoint) -> WebhookEndpointWithSecret:
        return cls(**WebhookEndpointObject.from_model(endpoint).model_dump(), secret=endpoint.secret)


class WebhookEndpointResponse(BaseModel):
    webhook_endpoint: WebhookEndpointObject


class WebhookEndpointSecretResponse(BaseModel):
    webhook_endpoint: WebhookEndpointWithSecret


class WebhookEndpointList(BaseModel):
    webhook_endpoints: list[WebhookEndpointObject]
    meta: PaginationMeta


class RecoveryObject(BaseModel):
    lago_webhook_endpoint_id: uuid.UUID
    since: datetime
    requeued_count: int


class RecoveryResponse(BaseModel):
    recovery: RecoveryObject


class WebhookTestObject(BaseModel):
    lago_webhook_endpoint_id: uuid.UUID
    event_id: uuid.UUID
    webhook_type: Literal["webhook.test"] = "webhook.test"


class WebhookTestResponse(BaseModel):
    webhook_test: WebhookTestObject
