"""The one envelope every domain event travels in (DESIGN.md, principle 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from invora.ids import uuid7


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid7, description="UUIDv7, unique per event")
    type: str = Field(description="e.g. invoice.finalized")
    source: str = Field(description="the producing service")
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    organization_id: uuid.UUID
    aggregate_type: str
    aggregate_id: str
    sequence: int = Field(ge=1, description="per aggregate, gap-free, in commit order")
    correlation_id: str | None = None
    version: int = Field(1, ge=1, description="payload contract version")
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def topic(self) -> str:
        return topic_for(self.aggregate_type)


def topic_for(aggregate_type: str) -> str:
    return f"invora.{aggregate_type}"
