"""Events the catalog publishes, and the full objects they carry (the catalog API's own shapes).

Every create, update and delete publishes `<aggregate>.<created|updated|deleted>` whose `data`
holds the whole object under its Lago root key (`{"plan": {...}}`), so a consumer can keep a
projection from events alone. Topics are `invora.<aggregate>`; the message key is the object's
`lago_id`, so one object's events stay in order.

Decimal values that Lago's API shows as JSON numbers (tax rates, trial periods, fixed charge
units) are `Decimal` here and serialised as numbers; prices inside charge `properties` stay the
decimal strings they were given (`"0.0006"`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

JsonNumber = Annotated[Decimal, PlainSerializer(lambda value: float(value), return_type=float, when_used="json")]

AggregationType = Literal["count_agg", "sum_agg", "max_agg", "unique_count_agg", "latest_agg", "weighted_sum_agg"]
ChargeModel = Literal["standard", "graduated", "volume", "package", "percentage", "graduated_percentage", "dynamic"]
FixedChargeModel = Literal["standard", "graduated", "volume"]
PlanInterval = Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"]
PrivilegeValueType = Literal["integer", "boolean", "string", "select"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- taxes ---------------------------------------------------------------------------------------------

class Tax(_Object):
    lago_id: uuid.UUID
    name: str
    code: str
    description: str | None = None
    rate: JsonNumber = Field(description="Percentage rate, e.g. 20 for 20 %.")
    applied_to_organization: bool = False
    created_at: datetime


# -- billable metrics ----------------------------------------------------------------------------------

class BillableMetricFilter(_Object):
    key: str
    values: list[str]


class BillableMetric(_Object):
    lago_id: uuid.UUID
    name: str
    code: str
    description: str | None = None
    aggregation_type: AggregationType
    field_name: str | None = None
    recurring: bool = False
    rounding_function: Literal["round", "ceil", "floor"] | None = None
    rounding_precision: int | None = None
    weighted_interval: Literal["seconds"] | None = None
    expression: str | None = None
    filters: list[BillableMetricFilter] = Field(default_factory=list)
    created_at: datetime
    deleted_at: datetime | None = Field(None, description="Set once the metric is deleted (kept for plans sold).")


# -- add-ons -------------------------------------------------------------------------------------------

class AddOn(_Object):
    lago_id: uuid.UUID
    name: str
    invoice_display_name: str | None = None
    code: str
    amount_cents: int
    amount_currency: str
    description: str | None = None
    created_at: datetime
    taxes: list[Tax] = Field(default_factory=list)


# -- features ------------------------------------------------------------------------------------------

class FeaturePrivilege(_Object):
    code: str
    name: str | None = None
    value_type: PrivilegeValueType = "string"
    config: dict[str, Any] = Field(default_factory=dict, description='{"select_options": [...]} for `select`.')


class Feature(_Object):
    lago_id: uuid.UUID
    code: str
    name: str | None = None
    description: str | None = None
    privileges: list[FeaturePrivilege] = Field(default_factory=list)
    created_at: datetime


# -- coupons -------------------------------------------------------------------------------------------

class Coupon(_Object):
    lago_id: uuid.UUID
    name: str
    code: str
    description: str | None = None
    coupon_type: Literal["fixed_amount", "percentage"]
    amount_cents: int | None = None
    amount_currency: str | None = None
    percentage_rate: str | None = None
    reusable: bool = True
    limited_plans: bool = False
    plan_codes: list[str] = Field(default_factory=list)
    limited_billable_metrics: bool = False
    billable_metric_codes: list[str] = Field(default_factory=list)
    frequency: Literal["once", "recurring", "forever"]
    frequency_duration: int | None = None
    expiration: Literal["no_expiration", "time_limit"]
    expiration_at: datetime | None = None
    created_at: datetime
    terminated_at: datetime | None = None


# -- plans ---------------------------------------------------------------------------------------------

class ChargeFilter(_Object):
    lago_id: uuid.UUID
    invoice_display_name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, list[str]] = Field(default_factory=dict)


class Charge(_Object):
    lago_id: uuid.UUID = Field(description="Stable while the charge is unchanged; a changed price is a new charge.")
    lago_billable_metric_id: uuid.UUID
    billable_metric_code: str
    code: str
    invoice_display_name: str | None = None
    created_at: datetime
    charge_model: ChargeModel
    pay_in_advance: bool = False
    invoiceable: bool = True
    regroup_paid_fees: Literal["invoice"] | None = None
    prorated: bool = False
    min_amount_cents: int = 0
    properties: dict[str, Any] = Field(default_factory=dict)
    filters: list[ChargeFilter] = Field(default_factory=list)
    taxes: list[Tax] = Field(default_factory=list)
    applied_pricing_unit: dict[str, Any] | None = None
    accepts_target_wallet: bool | None = False
    lago_parent_id: uuid.UUID | None = None


class FixedCharge(_Object):
    lago_id: uuid.UUID
    lago_add_on_id: uuid.UUID
    add_on_code: str
    code: str
    invoice_display_name: str | None = None
    created_at: datetime
    charge_model: FixedChargeModel
    pay_in_advance: bool = False
    prorated: bool = False
    properties: dict[str, Any] = Field(default_factory=dict)
    units: JsonNumber = Decimal(0)
    lago_parent_id: uuid.UUID | None = None
    taxes: list[Tax] = Field(default_factory=list)


class MinimumCommitment(_Object):
    lago_id: uuid.UUID
    plan_code: str
    amount_cents: int
    invoice_display_name: str | None = None
    interval: PlanInterval
    created_at: datetime
    updated_at: datetime
    taxes: list[Tax] = Field(default_factory=list)


class UsageThreshold(_Object):
    lago_id: uuid.UUID
    threshold_display_name: str | None = None
    amount_cents: int
    recurring: bool = False
    created_at: datetime
    updated_at: datetime


class EntitlementPrivilege(FeaturePrivilege):
    value: int | bool | str


class PlanEntitlement(_Object):
    code: str
    name: str | None = None
    description: str | None = None
    privileges: list[EntitlementPrivilege] = Field(default_factory=list)


class PlanPrices(_Object):
    """What a plan version fixes once and for all: the prices sold."""

    interval: PlanInterval
    amount_cents: int
    amount_currency: str
    trial_period: JsonNumber | None = None
    pay_in_advance: bool
    bill_charges_monthly: bool | None = None
    bill_fixed_charges_monthly: bool | None = None
    minimum_commitment: MinimumCommitment | None = None
    charges: list[Charge] = Field(default_factory=list)
    fixed_charges: list[FixedCharge] = Field(default_factory=list)
    taxes: list[Tax] = Field(default_factory=list)
    usage_thresholds: list[UsageThreshold] = Field(default_factory=list)


class Plan(PlanPrices):
    """A plan as Lago shows it: its identity and names, with the prices of its current version."""

    lago_id: uuid.UUID
    name: str
    invoice_display_name: str | None = None
    code: str
    description: str | None = None
    created_at: datetime
    entitlements: list[PlanEntitlement] = Field(default_factory=list)
    metadata: dict[str, str | None] | None = None
    lago_plan_version_id: uuid.UUID = Field(description="The current version: the one new subscriptions get.")
    version: int = Field(description="Number of the current version, from 1.")
    deleted_at: datetime | None = Field(None, description="Set when the plan is archived (DELETE).")


class PlanVersion(PlanPrices):
    """One immutable version of a plan: exactly the prices sold to the subscriptions on it."""

    lago_id: uuid.UUID
    lago_plan_id: uuid.UUID
    plan_code: str
    plan_name: str | None = Field(None, description="The plan's name (not versioned: as it is now).")
    plan_invoice_display_name: str | None = None
    plan_description: str | None = None
    version: int
    is_current: bool
    created_at: datetime



# -- the organization and its billing entities ---------------------------------------------------------

DocumentNumbering = Literal["per_customer", "per_organization"]
EntityDocumentNumbering = Literal["per_customer", "per_billing_entity"]
EmailSetting = Literal["invoice.finalized", "credit_note.created", "payment_receipt.created"]


class OrganizationBillingConfiguration(_Object):
    invoice_footer: str | None = None
    invoice_grace_period: int = 0
    document_locale: str = "en"


class Organization(_Object):
    """The organization's settings (Lago's organization object); the catalog owns them.

    `lago_id` is the organization id every key carries. Services read what they need from
    `organization.updated` (invoicing: numbering, grace period, payment term, zero-amount invoices,
    timezone; notifications: `webhook_url`), never from the catalog's database.
    """

    lago_id: uuid.UUID
    name: str
    created_at: datetime | None = None
    webhook_url: str | None = None
    webhook_urls: list[str] = Field(default_factory=list)
    country: str | None = None
    default_currency: str = "USD"
    address_line1: str | None = None
    address_line2: str | None = None
    state: str | None = None
    zipcode: str | None = None
    email: str | None = None
    city: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    document_numbering: DocumentNumbering = "per_organization"
    document_number_prefix: str = "INV"
    net_payment_term: int = 0
    tax_identification_number: str | None = None
    timezone: str = "UTC"
    email_settings: list[EmailSetting] = Field(default_factory=list)
    billing_configuration: OrganizationBillingConfiguration = Field(default_factory=OrganizationBillingConfiguration)
    finalize_zero_amount_invoice: bool = True
    taxes: list[Tax] = Field(default_factory=list, description="Taxes applied to the organization by default.")


class InvoiceCustomSection(_Object):
    lago_id: uuid.UUID
    name: str
    code: str


class BillingEntity(_Object):
    """An organizational unit that issues invoices (Lago's billing entity, extended with its taxes)."""

    lago_id: uuid.UUID
    code: str
    name: str
    default_currency: str = "USD"
    document_locale: str = "en"
    document_numbering: EntityDocumentNumbering = "per_customer"
    document_number_prefix: str | None = None
    finalize_zero_amount_invoice: bool = True
    invoice_footer: str | None = None
    invoice_grace_period: int = 0
    subscription_invoice_issuing_date_anchor: Literal["current_period_end", "next_period_start"] = \
        "next_period_start"
    subscription_invoice_issuing_date_adjustment: Literal["align_with_finalization_date", "keep_anchor"] = \
        "align_with_finalization_date"
    is_default: bool = False
    net_payment_term: int = 0
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zipcode: str | None = None
    email: str | None = None
    phone: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    tax_identification_number: str | None = None
    timezone: str = "UTC"
    email_settings: list[EmailSetting] = Field(default_factory=list)
    eu_tax_management: bool = False
    logo_url: str | None = None
    taxes: list[Tax] = Field(default_factory=list)
    selected_invoice_custom_sections: list[InvoiceCustomSection] = Field(
        default_factory=list, description="Invoice custom sections are not built: always empty.")
    created_at: datetime
    updated_at: datetime


# -- event payloads (the `data` of each envelope) -------------------------------------------------------

class TaxEvent(_Object):
    tax: Tax


class BillableMetricEvent(_Object):
    billable_metric: BillableMetric


class AddOnEvent(_Object):
    add_on: AddOn


class FeatureEvent(_Object):
    feature: Feature


class CouponEvent(_Object):
    coupon: Coupon


class PlanEvent(_Object):
    plan: Plan


class OrganizationEvent(_Object):
    """`organization.updated` (internal: `invora.events.contracts.internal`)."""

    organization: Organization


class BillingEntityEvent(_Object):
    """`billing_entity.created` / `.updated` (internal: `invora.events.contracts.internal`)."""

    billing_entity: BillingEntity


class PlanUpdatedEvent(PlanEvent):
    previous_plan_version_id: uuid.UUID | None = Field(
        None, description="The version that was current before this update, when the update created a version."
    )
    version_created: bool = False
    cascade_updates: bool = False


class PriceChanges(_Object):
    """How a new plan version differs from the previous one, by charge code."""

    fields: list[str] = Field(default_factory=list, description="Plan-level price fields that changed.")
    charges_added: list[str] = Field(default_factory=list)
    charges_changed: list[str] = Field(default_factory=list)
    charges_removed: list[str] = Field(default_factory=list)
    fixed_charges_added: list[str] = Field(default_factory=list)
    fixed_charges_changed: list[str] = Field(default_factory=list)
    fixed_charges_removed: list[str] = Field(default_factory=list)


class PlanCascadeRequestedEvent(_Object):
    """`plan.cascade_requested`: move subscriptions on the previous version's untouched prices to the new one.

    The subscriptions service does the moving: a subscription without overrides moves to
    `to_plan_version_id`; one that overrides prices keeps its overrides on the prices it
    overrode (see `changes`) and takes the new version's other prices.
    """

    lago_plan_id: uuid.UUID
    plan_code: str
    from_plan_version_id: uuid.UUID
    to_plan_version_id: uuid.UUID
    changes: PriceChanges


AGGREGATES = ("tax", "billable_metric", "add_on", "feature", "coupon", "plan", "organization", "billing_entity")

EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    **{f"tax.{verb}": TaxEvent for verb in ("created", "updated", "deleted")},
    **{f"billable_metric.{verb}": BillableMetricEvent for verb in ("created", "updated", "deleted")},
    **{f"add_on.{verb}": AddOnEvent for verb in ("created", "updated", "deleted")},
    **{f"feature.{verb}": FeatureEvent for verb in ("created", "updated", "deleted")},
    **{f"coupon.{verb}": CouponEvent for verb in ("created", "updated", "deleted")},
    "plan.created": PlanEvent,
    "plan.updated": PlanUpdatedEvent,
    "plan.deleted": PlanEvent,
    "plan.cascade_requested": PlanCascadeRequestedEvent,
    "organization.updated": OrganizationEvent,
    "billing_entity.created": BillingEntityEvent,
    "billing_entity.updated": BillingEntityEvent,
}


def parse_event_data(event_type: str, data: dict[str, Any]) -> BaseModel:
    """The typed payload of a catalog event (raises KeyError for a type the catalog does not publish)."""
    return EVENT_PAYLOADS[event_type].model_validate(data)
