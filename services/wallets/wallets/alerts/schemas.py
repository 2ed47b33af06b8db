"""Wallet alerts in Lago's shapes: `{"alert": {...}}` or `{"alerts": [...]}` in, the same out (lists with `meta`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, TypeAdapter

from invora.web.decimals import DecimalInput, negative_out_of_range
from invora.web.fields import Code, Name
from invora.web.inputs import InputModel
from invora.web.pagination import PaginationMeta
from invora.web.schema_rules import given

AlertType = Literal["wallet_balance_amount", "wallet_credits_balance", "wallet_ongoing_balance_amount",
                    "wallet_credits_ongoing_balance"]
MAX_THRESHOLDS = 20
MAX_BATCH = 20
MAX_THRESHOLD = 10**15


# Lago: an integer or a BigDecimal string; cents for the `*_amount` types, credits for the others
ThresholdValue = Annotated[Decimal, DecimalInput(le=MAX_THRESHOLD, places=5), BeforeValidator(negative_out_of_range)]


# checked in the service: a recurring threshold repeats every `value`, so it must be above zero
_POSITIVE_VALUE = TypeAdapter(Annotated[Decimal, DecimalInput(le=MAX_THRESHOLD, places=5, positive=True)]).json_schema()
_RECURRING_RULE = {"anyOf": [{"properties": {"recurring": {"const": False}}},
                             {"properties": {"value": _POSITIVE_VALUE}}]}


class ThresholdInput(InputModel):
    model_config = ConfigDict(json_schema_extra=_RECURRING_RULE)

    code: Code | None = None
    value: ThresholdValue
    recurring: StrictBool = False


Thresholds = Annotated[list[ThresholdInput], Field(min_length=1, max_length=MAX_THRESHOLDS)]


class AlertInput(InputModel):
    """At most one threshold is recurring, and it is above zero (it repeats every `value`)."""

    alert_type: AlertType
    code: Code
    name: Name | None = None
    thresholds: Thresholds


class AlertUpdateInput(InputModel):
    """Partial: absent fields keep their value; `thresholds` replaces them all."""

    code: Code | None = None
    name: Name | None = None
    thresholds: Thresholds | None = None


class AlertCreateBody(BaseModel):
    """One alert (`alert`), or several at once (`alerts`, all or nothing; it wins when both are given)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [given("alert"), given("alerts")]})

    alert: AlertInput | None = None
    alerts: Annotated[list[AlertInput], Field(min_length=1, max_length=MAX_BATCH)] | None = None


class AlertUpdateBody(BaseModel):
    alert: AlertUpdateInput


class AlertThresholdObject(BaseModel):
    code: str | None
    value: str
    recurring: bool


class WalletAlertObject(BaseModel):
    """Lago's `WalletAlertObject`. `previous_value`: the value last evaluated (cents or credits), a decimal string."""

    lago_id: str
    lago_organization_id: str
    external_subscription_id: None = None
    lago_wallet_id: str
    wallet_code: str
    billable_metric: None = None
    alert_type: AlertType
    code: str
    name: str | None
    direction: Literal["decreasing"] = "decreasing"
    previous_value: str
    last_processed_at: str | None
    thresholds: list[AlertThresholdObject]
    created_at: str


class AlertResponse(BaseModel):
    alert: WalletAlertObject


class AlertsResponse(BaseModel):
    alerts: list[WalletAlertObject]
    meta: PaginationMeta | None = None
