"""Entitlement shapes: Lago's subscription entitlements, plus customer overrides, grace periods and the check."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainValidator, StrictBool

from invora.web.fields import Code, Description
from invora.web.inputs import InputModel, StrictInt, check_text
from invora.web.pagination import PaginationMeta
from subscriptions.access.schemas import Reason

MAX_FEATURES = 100
MAX_PRIVILEGE_TEXT = 255


def _privilege_value(value: Any) -> int | bool | str:
    """An integer (5.0 is 5), a boolean or a short string; its type is checked against the privilege's later."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError("invalid_type")
    if len(value) > MAX_PRIVILEGE_TEXT:
        raise ValueError("value_is_too_long")
    return check_text(value)


PrivilegeValue = Annotated[int | bool | str, PlainValidator(
    _privilege_value,
    json_schema_input_type=StrictInt | StrictBool | Annotated[Description, Field(max_length=MAX_PRIVILEGE_TEXT)])]
# codes as keys: {"feature_code": …}, at most MAX_FEATURES of them
CodeMap = Field(max_length=MAX_FEATURES)


class EntitlementsUpdateBody(BaseModel):
    """Lago's `EntitlementUpdateInput`: {"entitlements": {"feature_code": {"privilege_code": value}}}."""

    entitlements: Annotated[dict[Code, Annotated[dict[Code, PrivilegeValue], CodeMap]], CodeMap]


class EntitlementPrivilegeObject(BaseModel):
    code: str
    name: str | None = None
    value_type: str
    config: dict[str, Any] = Field(default_factory=dict)
    value: Any = None
    plan_value: Any = None
    override_value: Any = None


class SubscriptionEntitlementObject(BaseModel):
    code: str
    name: str | None = None
    description: str | None = None
    privileges: list[EntitlementPrivilegeObject]
    overrides: dict[str, Any] = Field(default_factory=dict)


class SubscriptionEntitlementsResponse(BaseModel):
    entitlements: list[SubscriptionEntitlementObject]


class SubscriptionEntitlementResponse(BaseModel):
    entitlement: SubscriptionEntitlementObject


# -- customer overrides (operations brief) ----------------------------------------------------------------

Quota = Annotated[StrictInt, Field(ge=0, le=2**53)]


class EntitlementOverridesInput(InputModel):
    quotas: Annotated[dict[Code, Quota], CodeMap] = Field(
        default_factory=dict, description='Numeric overrides by feature code or "feature.privilege".')
    features: Annotated[dict[Code, StrictBool], CodeMap] = Field(
        default_factory=dict, description='Feature flags, e.g. {"offline_bundles": true}.')
    reason: Reason | None = None


class EntitlementOverridesBody(BaseModel):
    entitlement_overrides: EntitlementOverridesInput


class EntitlementOverridesObject(BaseModel):
    lago_customer_id: uuid.UUID
    external_customer_id: str
    quotas: dict[str, int]
    features: dict[str, bool]
    reason: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None


class EntitlementOverridesResponse(BaseModel):
    entitlement_overrides: EntitlementOverridesObject


# -- grace periods ---------------------------------------------------------------------------------------

class GracePeriodInput(InputModel):
    metric: Code = Field(description="The feature (metric) code the extra allowance applies to.")
    extra_allowance: Annotated[StrictInt, Field(ge=1, le=2**53)]
    duration_hours: Annotated[StrictInt, Field(ge=1, le=24 * 366)]
    reason: Reason | None = None


class GracePeriodBody(BaseModel):
    grace_period: GracePeriodInput


class GracePeriodObject(BaseModel):
    lago_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    metric: str
    extra_allowance: int
    starts_at: datetime
    expires_at: datetime
    active: bool
    reason: str | None = None
    created_by: str
    revoked_at: datetime | None = None


class GracePeriodResponse(BaseModel):
    grace_period: GracePeriodObject


class GracePeriodsResponse(BaseModel):
    grace_periods: list[GracePeriodObject]
    meta: PaginationMeta


# -- the check -------------------------------------------------------------------------------------------

class EntitlementCheck(BaseModel):
    feature_code: str
    allowed: bool
    reason: str | None = Field(None, description="Why not: customer_suspended, feature_disabled, not_entitled, "
                                                 "quota_exhausted.")
    value: Any = None
    quota_privilege: str | None = None
    limit: int | None = Field(None, description="The quota with every override and active grace period applied.")
    grace_allowance: int = 0
    grace_expires_at: datetime | None = None
    used: int | None = None
    remaining: int | None = None
    privileges: dict[str, Any] = Field(default_factory=dict)
    billing_state: str


class EntitlementCheckResponse(BaseModel):
    entitlement: EntitlementCheck
