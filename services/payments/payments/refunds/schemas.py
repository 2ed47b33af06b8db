"""Refunds in the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invora.events.contracts.payments import Refund
from invora.web.inputs import StrictInt


class RefundInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_cents: StrictInt | None = Field(None, gt=0, le=2**62, description="Omitted: what is left to refund.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True,
                                             pattern=r"^[^\x00]+$")]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refund: RefundInput


class AuditEntryObject(BaseModel):
    action: str
    actor: str | None
    detail: dict
    created_at: str


class RefundObject(Refund):
    audit: list[AuditEntryObject] = Field(default_factory=list)


class RefundResponse(BaseModel):
    refund: RefundObject


RefundId = uuid.UUID
