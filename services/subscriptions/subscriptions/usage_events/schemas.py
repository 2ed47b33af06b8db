"""Request and response bodies of `/api/v1/events` (Lago's shapes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer

from invora.web.error_docs import ApiError
from invora.web.fields import Code
from invora.web.inputs import InputModel, check_json, check_text
from invora.web.pagination import PaginationMeta

MAX_BATCH = 1000
# the batch route's body limit (every other route: the `max_body_bytes` setting, 1 MiB): 1,000 events
# of about 5 KB each; a larger batch is split by the client
MAX_BATCH_BODY_BYTES = 5 * 1024 * 1024
MAX_TIMESTAMP_TEXT = 64

MAX_FLAT_VALUE = 2000


def check_properties(value: dict[str, Any]) -> dict[str, Any]:
    """Event properties are usually flat (Lago: strings and numbers): check those cheaply, the rest fully."""
    if len(value) > 100:
        raise ValueError("too_many_items")
    for key, item in value.items():
        if type(item) is str:
            if len(item) > MAX_FLAT_VALUE:
                raise ValueError("value_is_too_long")
            check_text(item)
        elif type(item) is int:
            if abs(item) > 2**63:
                raise ValueError("value_is_out_of_range")
        elif type(item) is not float or item != item or item in (float("inf"), float("-inf")):
            return check_json(value)
        if len(key) > 255:
            raise ValueError("value_is_too_long")
        check_text(key)
    return value


Properties = Annotated[dict[str, Any], AfterValidator(check_properties)]

DecimalText = Annotated[Decimal, PlainSerializer(lambda value: str(value), return_type=str, when_used="json")]


class EventInput(InputModel):
    transaction_id: Code
    external_subscription_id: Code
    code: Code
    timestamp: int | float | Annotated[str, Field(max_length=MAX_TIMESTAMP_TEXT)] | None = Field(
        None, description="Unix seconds (integer, decimal or numeric string) or ISO 8601; absent: reception time.")
    properties: Properties | None = None
    precise_total_amount_cents: Annotated[str, Field(max_length=64)] | int | float | None = None


class EventBody(BaseModel):
    event: EventInput


class EventBatchBody(BaseModel):
    events: list[EventInput] = Field(min_length=1, max_length=MAX_BATCH)


class EventObject(BaseModel):
    lago_id: uuid.UUID | None
    transaction_id: str
    lago_customer_id: uuid.UUID | None
    code: str
    timestamp: datetime
    precise_total_amount_cents: DecimalText | None = None
    properties: dict
    lago_subscription_id: uuid.UUID | None
    external_subscription_id: str
    created_at: datetime | None
    duplicate: bool = Field(False, description="Invora: the transaction id was already stored for this "
                                               "subscription; the stored event is returned and nothing is counted.")
    late: bool = Field(False, description="Invora: the event belongs to a billing period already closed; it is "
                                          "stored and reported, and does not change the open period's usage.")


class EventResponse(BaseModel):
    event: EventObject


class EventsResponse(BaseModel):
    events: list[EventObject]


class EventsPage(BaseModel):
    events: list[EventObject]
    meta: PaginationMeta


FieldErrors = dict[str, list[str]]


class BatchValidationErrorBody(ApiError):
    """Lago's 422 for a list in the body: the errors of one item are keyed by its index."""

    error_details: dict[str, FieldErrors | list[str]] = Field(
        description='Item index → field → error codes, e.g. {"0": {"code": ["billable_metric_not_found"]}}; '
                    'an error of the whole request is field → codes, e.g. {"events": ["too_many_items"]}.')
