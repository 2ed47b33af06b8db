"""Applying request bodies to drafts: resolve references, merge fields, validate what changed.

Errors are collected (field path → Lago error codes) so one 422 lists every problem. Paths are
relative to the request's root object: `charges.0.properties` in a plan body, `properties` in a
charge body.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from catalog.add_ons.models import AddOn
from catalog.add_ons.service import live_by_code as add_on_by_code
from catalog.add_ons.service import live_by_id as add_on_by_id
from catalog.billable_metrics import service as metrics
from catalog.billable_metrics.models import BillableMetric
from catalog.plans import rules
from catalog.plans.drafts import ChargeDraft, FixedChargeDraft, PlanDraft, new_filter
from catalog.plans.rules import Errors, add
from catalog.plans.schemas import (
    ChargeFilterInput,
    ChargeInput,
    FixedChargeInput,
    MinimumCommitmentInput,
    PlanCreateInput,
    PlanUpdateInput,
    UsageThresholdInput,
)
from catalog.taxes import service as taxes
from invora.ids import uuid7
from invora.pricing import clean_properties

MONTHLY_BILLING_INTERVALS = ("yearly", "semiannual")


class Resolver:
    """What a plan refers to (metrics, add-ons, taxes), looked up once per request."""

    def __init__(self, session, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self._metrics: dict[uuid.UUID, BillableMetric] = {}

    async def live_metric(self, metric_id: uuid.UUID | None, code: str | None) -> BillableMetric | None:
        if metric_id is not None:
            found = await metrics.by_ids(self.session, self.organization_id, {metric_id})
            metric = found.get(metric_id)
            metric = metric if metric is not None and metric.deleted_at is None else None
        else:
            metric = (await metrics.live_by_codes(self.session, self.organization_id, {code or ""})).get(code or "")
        if metric is not None:
            self._metrics[metric.id] = metric
        return metric

    async def metric(self, metric_id: uuid.UUID) -> BillableMetric | None:
        """Any metric, deleted ones included (an existing charge may outlive its metric)."""
        if metric_id not in self._metrics:
            self._metrics.update(await metrics.by_ids(self.session, self.organization_id, {metric_id}))
        return self._metrics.get(metric_id)

    async def live_add_on(self, add_on_id: uuid.UUID | None, code: str | None) -> AddOn | None:
        if add_on_id is not None:
            return await add_on_by_id(self.session, self.organization_id, add_on_id)
        return await add_on_by_code(self.session, self.organization_id, code or "")

    async def add_on(self, add_on_id: uuid.UUID) -> AddOn | None:
        return await add_on_by_id(self.session, self.organization_id, add_on_id, include_deleted=True)

    async def tax_errors(self, codes: list[str] | None, field: str) -> Errors:
        return await taxes.check_codes(self.session, self.organization_id, codes, field)


def _merge(errors: Errors, more: Errors) -> None:
    for field, codes in more.items():
        for code in codes:
            add(errors, field, code)


# -- charges ----------------------------------------------------------------------------------------------

def _filters(model: str, inputs: list[ChargeFilterInput], existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """New filters; one with the same values as an existing filter keeps its lago_id."""
    by_values = {_values_key(f["values"]): f["lago_id"] for f in existing}
    return [
        new_filter(f.invoice_display_name, clean_properties(model, f.properties), f.values,
                   by_values.get(_values_key(f.values)))
        for f in inputs
    ]


def _values_key(values: dict[str, list[str]]) -> tuple:
    return tuple(sorted((k, tuple(sorted(v))) for k, v in values.items()))


def _next_code(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


async def charge_from_input(
    resolver: Resolver, data: ChargeInput, existing: ChargeDraft | None, taken_codes: set[str], prefix: str,
    errors: Errors,
) -> ChargeDraft | None:
    """A charge draft from a request (a new charge, or `existing` updated); validated when it changed."""
    if data.billable_metric_id is not None or data.billable_metric_code is not None:
        metric = await resolver.live_metric(data.billable_metric_id, data.billable_metric_code)
        if metric is None:
            field = "billable_metric_id" if data.billable_metric_id is not None else "billable_metric_code"
            add(errors, f"{prefix}{field}", "billable_metric_not_found")
            return None
    elif existing is not None:
        metric = await resolver.metric(existing.billable_metric_id)
    else:
        add(errors, f"{prefix}billable_metric_id", "value_is_mandatory")
        return None
    model = data.charge_model or (existing.charge_model if existing else None)
    if model is None:
        add(errors, f"{prefix}charge_model", "value_is_mandatory")
        return None
    assert metric is not None

    if existing is not None:
        draft = replace(existing, billable_metric_id=metric.id, billable_metric_code=metric.code, charge_model=model)
    else:
        code = data.code or _next_code(metric.code, taken_codes)
        draft = ChargeDraft(code=code, billable_metric_id=metric.id, billable_metric_code=metric.code,
                            charge_model=model)
    if data.code is not None:
        draft.code = data.code
    for name in ("pay_in_advance", "invoiceable", "prorated", "min_amount_cents"):
        if getattr(data, name) is not None:
            setattr(draft, name, getattr(data, name))
    for name in ("regroup_paid_fees", "invoice_display_name"):
        if data.given(name):
            setattr(draft, name, getattr(data, name))
    draft.properties = clean_properties(model, data.properties if data.properties is not None else draft.properties)
    if data.filters is not None:
        draft.filters = _filters(model, data.filters, existing.filters if existing else [])
    else:
        draft.filters = [{**f, "properties": clean_properties(model, f["properties"])} for f in draft.filters]
    if data.tax_codes is not None:
        draft.tax_codes = list(data.tax_codes)

    if existing is None or draft.content() != existing.content():
        _merge(errors, rules.charge_errors(draft, metric, prefix))
        if existing is None or draft.tax_codes != existing.tax_codes:
            _merge(errors, await resolver.tax_errors(draft.tax_codes, f"{prefix}tax_codes"))
    return draft


async def replace_charges(
    resolver: Resolver, draft: PlanDraft, inputs: list[ChargeInput], codes_by_id: dict[uuid.UUID, str] | None,
    errors: Errors,
) -> None:
    """The plan's charges become exactly `inputs`: those naming an existing charge (by id or code) update it."""
    matched: list[ChargeDraft | None] = []
    for index, data in enumerate(inputs):
        existing = None
        if data.id is not None and codes_by_id is not None:
            code = codes_by_id.get(data.id)
            existing = draft.charge(code) if code is not None else None
            if existing is None:
                add(errors, f"charges.{index}.id", "charge_not_found")
        elif data.code is not None:
            existing = draft.charge(data.code)
        matched.append(existing)
    taken = {d.code for d in inputs if d.code} | {m.code for m in matched if m is not None}
    result: list[ChargeDraft] = []
    used: set[str] = set()
    for index, (data, existing) in enumerate(zip(inputs, matched, strict=True)):
        if data.id is not None and codes_by_id is not None and existing is None:
            continue
        charge = await charge_from_input(resolver, data, existing, taken | used, f"charges.{index}.", errors)
        if charge is None:
            continue
        if charge.code in used:
            add(errors, f"charges.{index}.code", "value_already_exist")
        used.add(charge.code)
        result.append(charge)
    draft.charges = result


# -- fixed charges ----------------------------------------------------------------------------------------

async def fixed_charge_from_input(
    resolver: Resolver, data: FixedChargeInput, existing: FixedChargeDraft | None, taken_codes: set[str],
    currency: str, prefix: str, errors: Errors,
) -> FixedChargeDraft | None:
    if data.add_on_id is not None or data.add_on_code is not None:
        add_on = await resolver.live_add_on(data.add_on_id, data.add_on_code)
        if add_on is None:
            add(errors, f"{prefix}{'add_on_id' if data.add_on_id is not None else 'add_on_code'}", "add_on_not_found")
            return None
    elif existing is not None:
        add_on = await resolver.add_on(existing.add_on_id)
    else:
        add(errors, f"{prefix}add_on_id", "value_is_mandatory")
        return None
    model = data.charge_model or (existing.charge_model if existing else None)
    if model is None:
        add(errors, f"{prefix}charge_model", "value_is_mandatory")
        return None
    assert add_on is not None

    if existing is not None:
        draft = replace(existing, add_on_id=add_on.id, charge_model=model)
    else:
        draft = FixedChargeDraft(code=data.code or _next_code(add_on.code, taken_codes), add_on_id=add_on.id,
                                 charge_model=model)
    if data.code is not None:
        draft.code = data.code
    for name in ("pay_in_advance", "prorated", "units"):
        if getattr(data, name) is not None:
            setattr(draft, name, getattr(data, name))
    if data.given("invoice_display_name"):
        draft.invoice_display_name = data.invoice_display_name
    draft.properties = clean_properties(model, data.properties if data.properties is not None else draft.properties)
    if data.tax_codes is not None:
        draft.tax_codes = list(data.tax_codes)

    if existing is None or draft.content() != existing.content():
        _merge(errors, rules.fixed_charge_errors(draft, prefix))
        if add_on.amount_currency != currency:
            add(errors, f"{prefix}add_on", "currencies_does_not_match")
        if existing is None or draft.tax_codes != existing.tax_codes:
            _merge(errors, await resolver.tax_errors(draft.tax_codes, f"{prefix}tax_codes"))
    return draft


async def replace_fixed_charges(
    resolver: Resolver, draft: PlanDraft, inputs: list[FixedChargeInput],
    codes_by_id: dict[uuid.UUID, str] | None, errors: Errors,
) -> None:
    matched: list[FixedChargeDraft | None] = []
    for index, data in enumerate(inputs):
        existing = None
        if data.id is not None and codes_by_id is not None:
            code = codes_by_id.get(data.id)
            existing = draft.fixed_charge(code) if code is not None else None
            if existing is None:
                add(errors, f"fixed_charges.{index}.id", "fixed_charge_not_found")
        elif data.code is not None:
            existing = draft.fixed_charge(data.code)
        matched.append(existing)
    taken = {d.code for d in inputs if d.code} | {m.code for m in matched if m is not None}
    result: list[FixedChargeDraft] = []
    used: set[str] = set()
    for index, (data, existing) in enumerate(zip(inputs, matched, strict=True)):
        if data.id is not None and codes_by_id is not None and existing is None:
            continue
        fixed_charge = await fixed_charge_from_input(
            resolver, data, existing, taken | used, draft.amount_currency, f"fixed_charges.{index}.", errors,
        )
        if fixed_charge is None:
            continue
        if fixed_charge.code in used:
            add(errors, f"fixed_charges.{index}.code", "value_already_exist")
        used.add(fixed_charge.code)
        result.append(fixed_charge)
    draft.fixed_charges = result


async def check_fixed_charge_currencies(resolver: Resolver, draft: PlanDraft, errors: Errors) -> None:
    """After a change of the plan's currency: every fixed charge's add-on must follow."""
    for index, fixed_charge in enumerate(draft.fixed_charges):
        add_on = await resolver.add_on(fixed_charge.add_on_id)
        if add_on is not None and add_on.amount_currency != draft.amount_currency:
            add(errors, f"fixed_charges.{index}.add_on", "currencies_does_not_match")


# -- plan-level prices ----------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(UTC).isoformat()


def apply_minimum_commitment(draft: PlanDraft, data: MinimumCommitmentInput | None) -> None:
    if data is None or data.amount_cents is None:
        draft.minimum_commitment = None
        return
    content = {"amount_cents": data.amount_cents, "invoice_display_name": data.invoice_display_name,
               "tax_codes": list(data.tax_codes or [])}
    old = draft.minimum_commitment
    if old is not None and all(old.get(k) == v for k, v in content.items()):
        return
    draft.minimum_commitment = {
        "lago_id": old["lago_id"] if old else str(uuid7()), **content,
        "created_at": old["created_at"] if old else _now(), "updated_at": _now(),
    }


def apply_usage_thresholds(draft: PlanDraft, inputs: list[UsageThresholdInput], errors: Errors) -> None:
    old = {(t["amount_cents"], t["recurring"]): t for t in draft.usage_thresholds}
    thresholds = []
    for data in inputs:
        recurring = bool(data.recurring)
        previous = old.get((data.amount_cents, recurring))
        unchanged = previous is not None and previous.get("threshold_display_name") == data.threshold_display_name
        thresholds.append({
            "lago_id": previous["lago_id"] if previous else str(uuid7()),
            "threshold_display_name": data.threshold_display_name, "amount_cents": data.amount_cents,
            "recurring": recurring, "created_at": previous["created_at"] if previous else _now(),
            "updated_at": previous["updated_at"] if unchanged else _now(),
        })
    if sum(1 for t in thresholds if t["recurring"]) > 1:
        add(errors, "usage_thresholds", "multiple_recurring_thresholds")
    amounts = [t["amount_cents"] for t in thresholds if not t["recurring"]]
    if len(set(amounts)) != len(amounts):
        add(errors, "usage_thresholds", "duplicated_amount_cents")
    draft.usage_thresholds = thresholds


async def apply_plan_prices(
    resolver: Resolver, draft: PlanDraft, data: PlanCreateInput | PlanUpdateInput, errors: Errors,
) -> None:
    for name in ("interval", "amount_cents", "amount_currency", "pay_in_advance"):
        if getattr(data, name) is not None:
            setattr(draft, name, getattr(data, name))
    if data.given("trial_period"):
        draft.trial_period = data.trial_period
    for name in ("bill_charges_monthly", "bill_fixed_charges_monthly"):
        value = getattr(data, name) if data.given(name) else getattr(draft, name)
        # Lago: only yearly and semiannual plans can bill charges monthly; others carry null
        setattr(draft, name, bool(value) if draft.interval in MONTHLY_BILLING_INTERVALS else None)
    if data.tax_codes is not None:
        if data.tax_codes != draft.tax_codes:
            _merge(errors, await resolver.tax_errors(data.tax_codes, "tax_codes"))
        draft.tax_codes = list(data.tax_codes)
    if data.given("minimum_commitment"):
        commitment = data.minimum_commitment
        if commitment is not None and commitment.tax_codes:
            _merge(errors, await resolver.tax_errors(commitment.tax_codes, "minimum_commitment.tax_codes"))
        apply_minimum_commitment(draft, commitment)
    if data.usage_thresholds is not None:
        apply_usage_thresholds(draft, data.usage_thresholds, errors)
