"""Events the subscriptions service publishes, and the objects they carry (the API's own shapes).

- `customer.created|updated|deleted`: `{"customer": Customer}`;
- `customer.billing_state_changed`: `CustomerBillingStateChanged`;
- `subscription.created|started|updated|terminated|canceled|trial_ended`: `SubscriptionEvent`;
- `subscription.plan_changed`: `PlanChange` (upgrade now, downgrade at the period's end), keyed by the
  previous subscription, so it follows that subscription's own events (its last period's close);
- `subscription.billing_period_ended`: `BillingPeriodEnded` (exactly once per period);
- `subscription.billing_period_usage_revised`: `BillingPeriodUsageRevised` (events reached a closed
  period: its usage again, once per revision);
- `alert.triggered`: `AlertTriggered` (a usage alert crossed thresholds; keyed by the subscription);
- `subscription.pay_in_advance_usage`: `PayInAdvanceUsage` (internal, for invoicing: an event reached a
  charge paid in advance; one per (event, charge), published in the transaction that stores the event);
- `subscription.usage_threshold_reached`: `UsageThresholdReached` (Lago's webhook, also what invoicing
  issues a progressive-billing invoice on: lifetime usage crossed a usage threshold).

Topics are `invora.customer` / `invora.subscription`; the message key is the object's `lago_id`,
so one object's events stay in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- customers -----------------------------------------------------------------------------------------

class CustomerBillingConfiguration(_Object):
    invoice_grace_period: int | None = None
    payment_provider: str | None = None
    payment_provider_code: str | None = None
    provider_customer_id: str | None = None
    sync: bool | None = None
    sync_with_provider: bool | None = None
    document_locale: str | None = None
    provider_payment_methods: list[str] | None = None
    subscription_invoice_issuing_date_anchor: str | None = None
    subscription_invoice_issuing_date_adjustment: str | None = None


class Address(_Object):
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    country: str | None = None


class CustomerMetadata(_Object):
    lago_id: uuid.UUID
    key: str
    value: str
    display_in_invoice: bool
    created_at: datetime


BillingStateName = Literal["active", "past_due", "unpaid", "suspended"]
ContractMode = Literal["standard", "enterprise", "government"]


class CustomerBillingState(_Object):
    """Where the customer stands in the payment-failure lifecycle, and how dunning treats it."""

    state: BillingStateName = "active"
    contract_mode: ContractMode = "standard"
    grace_extension_days: int = 0
    changed_at: datetime | None = None


class Customer(_Object):
    lago_id: uuid.UUID
    sequential_id: int
    slug: str
    external_id: str
    billing_entity_code: str | None = None
    name: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    email: str | None = None
    billing_email: str | None = None
    phone: str | None = None
    url: str | None = None
    logo_url: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    zipcode: str | None = None
    country: str | None = None
    currency: str | None = None
    timezone: str | None = None
    applicable_timezone: str
    tax_identification_number: str | None = None
    tax_codes: list[str] = Field(default_factory=list)
    account_type: str
    customer_type: str | None = None
    net_payment_term: int | None = None
    invoice_grace_period: int | None = None
    finalize_zero_amount_invoice: str
    skip_invoice_custom_sections: bool
    purchase_order_number: str | None = None
    billing_configuration: CustomerBillingConfiguration
    shipping_address: Address
    metadata: list[CustomerMetadata] = Field(default_factory=list)
    taxes: list[dict[str, Any]] = Field(default_factory=list)
    integration_customers: list[dict[str, Any]] = Field(default_factory=list)
    applicable_invoice_custom_sections: list[dict[str, Any]] = Field(default_factory=list)
    error_details: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    billing_state: CustomerBillingState = Field(default_factory=CustomerBillingState)


# -- subscriptions -------------------------------------------------------------------------------------

SubscriptionStatus = Literal["pending", "active", "terminated", "canceled"]


class Subscription(_Object):
    """Lago's `SubscriptionObject`, plus the pinned plan version and the overrides sold with it."""

    lago_id: uuid.UUID
    external_id: str
    lago_customer_id: uuid.UUID
    external_customer_id: str
    name: str | None = None
    plan_code: str
    lago_plan_id: uuid.UUID
    lago_plan_version_id: uuid.UUID = Field(description="The immutable catalog version this subscription pins.")
    plan_amount_cents: int
    plan_amount_currency: str
    plan_interval: str
    pay_in_advance: bool
    status: SubscriptionStatus
    billing_time: Literal["calendar", "anniversary"]
    subscription_at: datetime
    started_at: datetime | None = None
    ending_at: datetime | None = None
    terminated_at: datetime | None = None
    canceled_at: datetime | None = None
    trial_ended_at: datetime | None = None
    trial_ends_at: datetime | None = Field(None, description="When the trial ends (or ended); null without trial.")
    previous_plan_code: str | None = None
    next_plan_code: str | None = None
    downgrade_plan_date: str | None = None
    current_billing_period_started_at: datetime | None = None
    current_billing_period_ending_at: datetime | None = None
    on_termination_invoice: Literal["generate", "skip"] = "generate"
    on_termination_credit_note: Literal["credit", "refund", "offset", "skip"] | None = None
    purchase_order_number: str | None = None
    plan_overrides: dict[str, Any] = Field(default_factory=dict)
    consolidate_invoice: bool = True
    created_at: datetime
    timezone: str = Field(description="The customer's timezone the periods are computed in.")


class SubscriptionEvent(_Object):
    """`subscription.created|started|updated|terminated|canceled|trial_ended`."""

    subscription: Subscription
    reason: str | None = Field(None, description="Why it ended: `api`, `customer_deleted`, `ending_at`, `upgrade`, "
                                                  "`downgrade`, `superseded`; on `subscription.started`, `upgrade` "
                                                  "or `downgrade` when a plan change started it (null otherwise).")
    customer: Customer | None = Field(None, description="The subscription's customer (Lago's webhooks carry it: "
                                                        "`SubscriptionWithCustomerObject`).")
    plan: dict[str, Any] | None = Field(None, description="The pinned plan version in Lago's `PlanObject` shape "
                                                          "(`lago_id` the plan's, `name`, `code`, prices, charges).")


class PlanChange(_Object):
    """`subscription.plan_changed`: an upgrade (immediate) or downgrade (at the end of the period).

    Keyed by the previous subscription (it comes after that subscription's last period closed). On an
    upgrade, invoicing credits the unused part of the old plan's fee paid in advance for
    [effective_at, previous_period_end) and bills the new plan's first period, prorated over the
    schedule's full period [next_full_period_start, next_full_period_end).
    """

    direction: Literal["upgrade", "downgrade"]
    effective_at: datetime
    previous_subscription: Subscription
    next_subscription: Subscription
    previous_period_start: datetime | None = Field(
        None, description="Upgrade: the old plan's last period runs [previous_period_start, effective_at).")
    previous_period_end: datetime | None = Field(
        None, description="Upgrade: where the old plan's last period would have ended (exclusive); the days "
                          "[effective_at, previous_period_end) of a fee paid in advance are credited.")
    next_period_end: datetime | None = Field(
        None, description="The end of the new plan's first period, [effective_at, next_period_end).")
    next_full_period_start: datetime | None = Field(
        None, description="Upgrade: the schedule's full period holding effective_at (the new plan's fee is "
                          "prorated over it).")
    next_full_period_end: datetime | None = None


# -- usage snapshot ------------------------------------------------------------------------------------

class UsageChargeRef(_Object):
    lago_id: uuid.UUID
    charge_model: str
    invoice_display_name: str | None = None


class UsageMetricRef(_Object):
    lago_id: uuid.UUID
    name: str
    code: str
    aggregation_type: str


class FilterUsageSnapshot(_Object):
    """One charge filter's usage (or the default's: `values` null, `lago_charge_filter_id` null)."""

    units: str = Field(description="Aggregated units, a decimal string.")
    total_aggregated_units: str
    amount_cents: int = Field(description="As the producer priced it at the close (informative).")
    events_count: int
    invoice_display_name: str | None = None
    values: dict[str, list[str]] | None = None
    lago_charge_filter_id: uuid.UUID | None = None
    event_values: list[str] | None = Field(
        None, description="Per-event values (`percentage`: transaction amounts; `dynamic`: amounts in precise "
                          "minor units), in event order; null for models that price units.")


class GroupedUsageSnapshot(_Object):
    """One pricing group (`pricing_group_keys`) of a charge: its usage, and per charge filter."""

    units: str
    total_aggregated_units: str
    amount_cents: int
    events_count: int
    grouped_by: dict[str, str | None]
    filters: list[FilterUsageSnapshot] = Field(default_factory=list)
    event_values: list[str] | None = None


class ChargeUsageSnapshot(_Object):
    units: str
    total_aggregated_units: str
    events_count: int
    amount_cents: int
    amount_currency: str
    charge: UsageChargeRef
    billable_metric: UsageMetricRef
    filters: list[FilterUsageSnapshot] = Field(
        default_factory=list, description="Per charge filter in the charge's order, then the default (values null); "
                                          "empty when the charge has no filters.")
    grouped_usage: list[GroupedUsageSnapshot] = Field(default_factory=list)
    event_values: list[str] | None = None


class UsageSnapshot(_Object):
    """A closed period's usage: what `subscription.billing_period_ended` and `..._usage_revised` carry.

    Built by the subscriptions service from its rollups in the closing transaction; the invoicing
    service prices it again with `invora.pricing` and the plan version it keeps. Units are decimal
    strings, amounts integer minor units of `currency`.
    """

    from_datetime: datetime
    to_datetime: datetime
    issuing_date: str
    currency: str
    amount_cents: int
    taxes_amount_cents: int = 0
    total_amount_cents: int
    charges_usage: list[ChargeUsageSnapshot] = Field(default_factory=list)


class BillingPeriodEnded(_Object):
    """`subscription.billing_period_ended`: one subscription period closed, exactly once.

    `period_start`/`period_end` are the subscription's own bounds (cut by its start or its
    termination); `full_period_*` the schedule's, for proration. `usage` is the period's usage
    snapshot (units, events count, amount and per-event values per charge and filter); null only
    when the plan version was never cached locally.
    """

    lago_billing_period_id: uuid.UUID
    subscription: Subscription
    lago_plan_version_id: uuid.UUID
    plan_overrides: dict[str, Any] = Field(default_factory=dict)
    period_start: datetime
    period_end: datetime
    full_period_start: datetime
    full_period_end: datetime
    reason: Literal["period_end", "termination", "plan_change"]
    timezone: str
    in_trial_until: datetime | None = Field(None, description="Trial end when the trial overlaps this period.")
    next_period_start: datetime | None = None
    next_period_end: datetime | None = None
    usage: UsageSnapshot | None = None


class BillingPeriodUsageRevised(_Object):
    """`subscription.billing_period_usage_revised`: events reached a period after it closed.

    `usage` is the period's complete usage snapshot as it is now (the shape `BillingPeriodEnded`
    carries); `previous_*` what was published before (at the close, or the previous revision), so
    the difference is billed once. `revision` counts from 1 per period.
    """

    lago_billing_period_id: uuid.UUID
    revision: int
    subscription: Subscription
    period_start: datetime
    period_end: datetime
    previous_events_count: int | None = None
    events_count: int
    previous_usage_amount_cents: int | None = None
    usage_amount_cents: int
    usage: UsageSnapshot


class AlertTriggered(_Object):
    """`alert.triggered`: one evaluation of a usage alert crossed one or more thresholds.

    `alert` is the alert in the API's shape (Lago's `alert` object); values are decimal strings
    (cents for amount alerts, units for unit alerts). A recurring threshold crossed several times
    appears once per multiple, its `value` the multiple crossed.
    """

    alert: dict[str, Any]
    external_subscription_id: str
    previous_value: str
    current_value: str
    crossed_thresholds: list[dict[str, Any]]
    triggered_at: datetime


class PayInAdvanceUsage(_Object):
    """`subscription.pay_in_advance_usage`: one stored usage event reached one charge paid in advance.

    The subscriptions service fixes the units (what it owns: aggregation), the invoicing service prices
    them (what it owns: money) with the pinned plan version and the subscription's overrides:
    the fee is price(`units_after`) − price(`units_before`) of the charge's slot (its charge filter,
    or the default, and its pricing group) in the open period. Successive events of a slot chain
    (`units_before` of one is `units_after` of the previous), taken under a per-subscription lock,
    so their fees add up to the price of the period's units. Internal: not a tenant webhook.
    Idempotency key for the receiver: (subscription, charge, `transaction_id`).
    """

    lago_event_id: uuid.UUID
    transaction_id: str
    code: str
    timestamp: datetime
    subscription: Subscription
    lago_plan_version_id: uuid.UUID
    lago_charge_id: uuid.UUID
    lago_charge_filter_id: uuid.UUID | None = None
    grouped_by: dict[str, str | None] = Field(default_factory=dict)
    units_before: str = Field(description="The slot's units in the open period before this event (decimal string).")
    units_after: str = Field(description="The slot's units once this event is counted (decimal string).")
    period_start: datetime
    period_end: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class UsageThresholdReached(_Object):
    """`subscription.usage_threshold_reached`: the subscription's lifetime usage crossed a usage threshold.

    Lago's webhook (`subscription` + `usage_threshold`), with what invoicing needs to issue the
    progressive-billing invoice: the open period's usage so far (`usage`, the snapshot's shape)
    and its bounds. `crossed_amount_cents` is the threshold amount crossed (a recurring threshold's
    multiple); the invoice's idempotency key is (subscription, `crossed_amount_cents`). When one
    evaluation crosses several amounts, one event names the highest and lists them all.
    """

    subscription: Subscription
    usage_threshold: dict[str, Any]
    crossed_amount_cents: int
    crossed_amounts_cents: list[int] = Field(default_factory=list)
    lifetime_usage_amount_cents: int
    lago_plan_version_id: uuid.UUID
    period_start: datetime
    period_end: datetime
    reached_at: datetime
    usage: UsageSnapshot


class CustomerEvent(_Object):
    customer: Customer


class CustomerBillingStateChanged(_Object):
    """`customer.billing_state_changed`: an admin override (or, later, dunning) changed the billing state."""

    lago_customer_id: uuid.UUID
    external_customer_id: str
    previous: CustomerBillingState
    current: CustomerBillingState
    reason: str
    actor: str = Field(description="The key's subject that made the change.")
    lago_audit_id: uuid.UUID | None = None


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    **{f"customer.{verb}": CustomerEvent for verb in ("created", "updated", "deleted")},
    "customer.billing_state_changed": CustomerBillingStateChanged,
    **{f"subscription.{verb}": SubscriptionEvent
       for verb in ("created", "started", "updated", "terminated", "canceled", "trial_ended")},
    "subscription.plan_changed": PlanChange,
    "subscription.billing_period_ended": BillingPeriodEnded,
    "subscription.billing_period_usage_revised": BillingPeriodUsageRevised,
    "alert.triggered": AlertTriggered,
    "subscription.pay_in_advance_usage": PayInAdvanceUsage,
    "subscription.usage_threshold_reached": UsageThresholdReached,
}


def parse_event_data(event_type: str, data: dict[str, Any]) -> BaseModel:
    """The typed payload of a subscriptions event (KeyError for a type this service does not publish)."""
    return EVENT_PAYLOADS[event_type].model_validate(data)
