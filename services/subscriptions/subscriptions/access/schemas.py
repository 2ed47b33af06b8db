"""Billing-state overrides and their audit log (operations brief: dunning overrides)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from invora.events.contracts.subscriptions import CustomerBillingState
from invora.web.fields import MAX_TEXT
from invora.web.inputs import InputModel, StorableText, StrictInt
from invora.web.pagination import PaginationMeta
from invora.web.schema_rules import any_given

# what `str.strip()` removes; an operator's reason must hold something else (the pattern documents it)
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_SPACE_CLASS = "".join(f"\\u{ord(c):04x}" for c in _SPACES)
REASON_PATTERN = rf"^[^\x00]*[^\x00{_SPACE_CLASS}][^\x00]*$"


def _reason(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("value_is_too_short")
    return stripped


# the reason of an override (billing state, entitlements): not blank, stored stripped
Reason = Annotated[str, StringConstraints(max_length=MAX_TEXT), StorableText(REASON_PATTERN),
                   AfterValidator(_reason)]

MAX_GRACE_EXTENSION_DAYS = 3650


class BillingStateOverrideInput(InputModel):
    # at least one change (else 422 `base: no_changes_requested`)
    model_config = ConfigDict(json_schema_extra=any_given("contract_mode", "force_state", "grace_extension_days"))

    contract_mode: Literal["standard", "enterprise", "government"] | None = None
    force_state: Literal["active", "past_due", "unpaid", "suspended"] | None = Field(
        None, description="Set the state now, whatever the payment status; absent or null: no change.")
    grace_extension_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = Field(
        None, description="Days added to the grace period before the next dunning stage.")
    reason: Reason = Field(description="Required: a ticket number, a dispute reference…")


class BillingStateOverrideBody(BaseModel):
    billing_state_override: BillingStateOverrideInput


class BillingStateObject(CustomerBillingState):
    lago_customer_id: uuid.UUID
    external_customer_id: str


class BillingStateResponse(BaseModel):
    billing_state: BillingStateObject


class BillingStateAuditObject(BaseModel):
    lago_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    action: str
    actor: str
    actor_roles: list[str]
    reason: str
    changes: dict[str, Any] = Field(description='{"field": {"from": …, "to": …}} for every field that changed.')
    created_at: datetime


class BillingStateAuditsResponse(BaseModel):
    billing_state_audits: list[BillingStateAuditObject]
    meta: PaginationMeta
