"""What the fan-out needs of an event before it stores and sends it: the webhook message's contract.

The fan-out forwards every event of the suite as it is, so its contract is not a payload shape
but what its tables and the tenants' JSON parsers accept: the type, object type, aggregate id
and correlation id fit their columns and hold text PostgreSQL can store (no NUL, no lone
surrogate), the sequence fits a bigint, and the body is strict JSON in valid UTF-8. An event
that breaks it can never be stored, however often it is retried. Checking it up front turns
that into pydantic's `ValidationError`, which the platform consumer records as `rejected`
(handled, logged, never retried) instead of a transaction that fails forever and blocks the
event's partition (every later event of those aggregates, for every tenant).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from invora.events.envelope import EventEnvelope
from notifications.fanout.payload import build_body

BIGINT_MAX = 2**63 - 1


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text_contains_nul")
    value.encode()  # UnicodeEncodeError (a ValueError) for a lone surrogate
    return value


StorableText = Annotated[str, AfterValidator(_storable)]
Text100 = Annotated[str, StringConstraints(max_length=100), AfterValidator(_storable)]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_storable)]


class WebhookMessageContent(BaseModel):
    """One event's webhook message as stored in `webhook_messages` (limits from migration 0002)."""

    model_config = ConfigDict(frozen=True)

    event_type: Text200
    object_type: Text100
    aggregate_id: Text200
    correlation_id: Text200 | None
    sequence: int = Field(ge=1, le=BIGINT_MAX)
    body: StorableText

    @classmethod
    def of(cls, event: EventEnvelope) -> WebhookMessageContent:
        """The message for `event`; pydantic's ValidationError when the event breaks the contract."""
        return cls.model_validate(event)

    @model_validator(mode="before")
    @classmethod
    def _from_event(cls, value: Any) -> Any:
        if not isinstance(value, EventEnvelope):
            return value
        object_type, body = build_body(value)  # ValueError (NaN, Infinity) becomes a ValidationError
        return {
            "event_type": value.type, "object_type": object_type, "aggregate_id": value.aggregate_id,
            "correlation_id": value.correlation_id, "sequence": value.sequence, "body": body,
        }
