"""Drafts: the content of a plan version being written, before it becomes immutable rows.

A use case loads the current version as a `PlanDraft`, applies the request to it, validates
it and hands it to `versioning.commit`, which writes a new version only when the prices
actually changed. A `ChargeDraft` remembers the row it came from (`source_id`): when its content
is unchanged the new version reuses that row, so an untouched charge keeps its `lago_id`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from catalog.plans.models import Charge, FixedCharge, PlanVersion
from invora.ids import uuid7


@dataclass
class ChargeDraft:
    code: str
    billable_metric_id: uuid.UUID
    billable_metric_code: str
    charge_model: str
    pay_in_advance: bool = False
    invoiceable: bool = True
    regroup_paid_fees: str | None = None
    prorated: bool = False
    min_amount_cents: int = 0
    invoice_display_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    filters: list[dict[str, Any]] = field(default_factory=list)  # {lago_id, invoice_display_name, properties, values}
    tax_codes: list[str] = field(default_factory=list)
    source_id: uuid.UUID | None = None
    created_at: datetime | None = None

    def content(self) -> dict[str, Any]:
        """Everything that defines the price (ids and timestamps aside)."""
        return {
            "code": self.code, "billable_metric_id": str(self.billable_metric_id), "charge_model": self.charge_model,
            "pay_in_advance": self.pay_in_advance, "invoiceable": self.invoiceable,
            "regroup_paid_fees": self.regroup_paid_fees, "prorated": self.prorated,
            "min_amount_cents": self.min_amount_cents, "invoice_display_name": self.invoice_display_name,
            "properties": self.properties, "tax_codes": self.tax_codes,
            "filters": [{k: v for k, v in f.items() if k != "lago_id"} for f in self.filters],
        }

    @classmethod
    def from_row(cls, row: Charge) -> ChargeDraft:
        return cls(
            code=row.code, billable_metric_id=row.billable_metric_id, billable_metric_code=row.billable_metric_code,
            charge_model=row.charge_model, pay_in_advance=row.pay_in_advance, invoiceable=row.invoiceable,
            regroup_paid_fees=row.regroup_paid_fees, prorated=row.prorated, min_amount_cents=row.min_amount_cents,
            invoice_display_name=row.invoice_display_name, properties=dict(row.properties),
            filters=[dict(f) for f in row.filters], tax_codes=list(row.tax_codes), source_id=row.id,
            created_at=row.created_at,
        )


@dataclass
class FixedChargeDraft:
    code: str
    add_on_id: uuid.UUID
    charge_model: str
    pay_in_advance: bool = False
    prorated: bool = False
    units: Decimal = Decimal(0)
    invoice_display_name: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    tax_codes: list[str] = field(default_factory=list)
    source_id: uuid.UUID | None = None
    created_at: datetime | None = None

    def content(self) -> dict[str, Any]:
        return {
            "code": self.code, "add_on_id": str(self.add_on_id), "charge_model": self.charge_model,
            "pay_in_advance": self.pay_in_advance, "prorated": self.prorated, "units": self.units,
            "invoice_display_name": self.invoice_display_name, "properties": self.properties,
            "tax_codes": self.tax_codes,
        }

    @classmethod
    def from_row(cls, row: FixedCharge) -> FixedChargeDraft:
        return cls(
            code=row.code, add_on_id=row.add_on_id, charge_model=row.charge_model, pay_in_advance=row.pay_in_advance,
            prorated=row.prorated, units=row.units, invoice_display_name=row.invoice_display_name,
            properties=dict(row.properties), tax_codes=list(row.tax_codes), source_id=row.id,
            created_at=row.created_at,
        )


PRICE_FIELDS = (
    "interval", "amount_cents", "amount_currency", "trial_period", "pay_in_advance", "bill_charges_monthly",
    "bill_fixed_charges_monthly", "tax_codes", "minimum_commitment", "usage_thresholds",
)


@dataclass
class PlanDraft:
    interval: str
    amount_cents: int
    amount_currency: str
    pay_in_advance: bool = False
    trial_period: Decimal | None = None
    bill_charges_monthly: bool | None = None
    bill_fixed_charges_monthly: bool | None = None
    tax_codes: list[str] = field(default_factory=list)
    minimum_commitment: dict[str, Any] | None = None  # {lago_id, amount_cents, invoice_display_name, tax_codes, …}
    usage_thresholds: list[dict[str, Any]] = field(default_factory=list)
    charges: list[ChargeDraft] = field(default_factory=list)
    fixed_charges: list[FixedChargeDraft] = field(default_factory=list)

    def field_content(self, name: str) -> Any:
        value = getattr(self, name)
        if name == "minimum_commitment" and value is not None:
            return {k: value.get(k) for k in ("amount_cents", "invoice_display_name", "tax_codes")}
        if name == "usage_thresholds":
            return [{k: t.get(k) for k in ("amount_cents", "threshold_display_name", "recurring")} for t in value]
        if name == "trial_period" and value is not None:
            return Decimal(value).normalize()
        return value

    def charge(self, code: str) -> ChargeDraft | None:
        return next((c for c in self.charges if c.code == code), None)

    def fixed_charge(self, code: str) -> FixedChargeDraft | None:
        return next((c for c in self.fixed_charges if c.code == code), None)

    def copy(self) -> PlanDraft:
        return replace(
            self, tax_codes=list(self.tax_codes),
            minimum_commitment=dict(self.minimum_commitment) if self.minimum_commitment else None,
            usage_thresholds=[dict(t) for t in self.usage_thresholds],
            charges=[replace(c, properties=dict(c.properties), filters=[dict(f) for f in c.filters],
                             tax_codes=list(c.tax_codes)) for c in self.charges],
            fixed_charges=[replace(c, properties=dict(c.properties), tax_codes=list(c.tax_codes))
                           for c in self.fixed_charges],
        )

    @classmethod
    def from_version(cls, version: PlanVersion, charges: list[Charge], fixed_charges: list[FixedCharge]) -> PlanDraft:
        return cls(
            interval=version.interval, amount_cents=version.amount_cents, amount_currency=version.amount_currency,
            pay_in_advance=version.pay_in_advance, trial_period=version.trial_period,
            bill_charges_monthly=version.bill_charges_monthly,
            bill_fixed_charges_monthly=version.bill_fixed_charges_monthly, tax_codes=list(version.tax_codes),
            minimum_commitment=dict(version.minimum_commitment) if version.minimum_commitment else None,
            usage_thresholds=[dict(t) for t in version.usage_thresholds],
            charges=[ChargeDraft.from_row(c) for c in charges],
            fixed_charges=[FixedChargeDraft.from_row(c) for c in fixed_charges],
        )


def new_filter(invoice_display_name: str | None, properties: dict[str, Any], values: dict[str, list[str]],
               lago_id: uuid.UUID | None = None) -> dict[str, Any]:
    return {"lago_id": str(lago_id or uuid7()), "invoice_display_name": invoice_display_name,
            "properties": properties, "values": values}
