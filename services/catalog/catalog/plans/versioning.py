"""Writing plan versions: a new immutable version whenever the prices change, never an update in place.

`commit` compares the draft with the current version's content; if nothing that defines a
price changed it writes nothing. Otherwise it writes version n+1, reusing every charge row whose
content is unchanged (same `lago_id` across versions) and inserting new rows for the rest.
The caller holds the plan row locked (`SELECT … FOR UPDATE`), so version numbers never race.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.plans.drafts import PRICE_FIELDS, PlanDraft
from catalog.plans.models import (
    Charge,
    FixedCharge,
    Plan,
    PlanVersion,
    PlanVersionCharge,
    PlanVersionFixedCharge,
)
from invora.events.contracts.catalog import PriceChanges
from invora.ids import uuid7


@dataclass
class Commit:
    version: PlanVersion
    created: bool
    previous: PlanVersion | None = None
    changes: PriceChanges | None = None


def changes_between(before: PlanDraft, after: PlanDraft) -> PriceChanges:
    changes = PriceChanges(fields=[f for f in PRICE_FIELDS if before.field_content(f) != after.field_content(f)])
    old = {c.code: c.content() for c in before.charges}
    new = {c.code: c.content() for c in after.charges}
    changes.charges_added = [code for code in new if code not in old]
    changes.charges_removed = [code for code in old if code not in new]
    changes.charges_changed = [code for code in new if code in old and new[code] != old[code]]
    old_fixed = {c.code: c.content() for c in before.fixed_charges}
    new_fixed = {c.code: c.content() for c in after.fixed_charges}
    changes.fixed_charges_added = [code for code in new_fixed if code not in old_fixed]
    changes.fixed_charges_removed = [code for code in old_fixed if code not in new_fixed]
    changes.fixed_charges_changed = [code for code in new_fixed if code in old_fixed
                                     and new_fixed[code] != old_fixed[code]]
    return changes


def _has_changes(changes: PriceChanges) -> bool:
    return any(getattr(changes, name) for name in PriceChanges.model_fields)


async def commit(
    session: AsyncSession, plan: Plan, draft: PlanDraft, current: PlanVersion | None = None,
    before: PlanDraft | None = None,
) -> Commit:
    """Write `draft` as the plan's next version, unless it prices exactly like `before` (the current one)."""
    changes = None
    if current is not None and before is not None:
        changes = changes_between(before, draft)
        if not _has_changes(changes):  # a reorder alone is no price change
            return Commit(current, created=False)
    version = PlanVersion(
        id=uuid7(), organization_id=plan.organization_id, plan_id=plan.id,
        number=(current.number + 1) if current else 1, interval=draft.interval, amount_cents=draft.amount_cents,
        amount_currency=draft.amount_currency, trial_period=draft.trial_period, pay_in_advance=draft.pay_in_advance,
        bill_charges_monthly=draft.bill_charges_monthly, bill_fixed_charges_monthly=draft.bill_fixed_charges_monthly,
        tax_codes=list(draft.tax_codes), minimum_commitment=draft.minimum_commitment,
        usage_thresholds=list(draft.usage_thresholds),
    )
    session.add(version)
    unchanged = {c.source_id: c.content() for c in (before.charges if before else []) if c.source_id}
    unchanged_fixed = {c.source_id: c.content() for c in (before.fixed_charges if before else []) if c.source_id}
    links: list = []
    for position, charge in enumerate(draft.charges):
        charge_id = charge.source_id
        if charge_id is None or unchanged.get(charge_id) != charge.content():
            charge_id = uuid7()
            session.add(Charge(
                id=charge_id, organization_id=plan.organization_id, plan_id=plan.id, code=charge.code,
                billable_metric_id=charge.billable_metric_id, billable_metric_code=charge.billable_metric_code,
                charge_model=charge.charge_model, pay_in_advance=charge.pay_in_advance,
                invoiceable=charge.invoiceable, regroup_paid_fees=charge.regroup_paid_fees,
                prorated=charge.prorated, min_amount_cents=charge.min_amount_cents,
                invoice_display_name=charge.invoice_display_name, properties=charge.properties,
                filters=charge.filters, tax_codes=charge.tax_codes,
            ))
        links.append(PlanVersionCharge(plan_version_id=version.id, charge_id=charge_id, position=position))
    for position, fixed_charge in enumerate(draft.fixed_charges):
        fixed_id = fixed_charge.source_id
        if fixed_id is None or unchanged_fixed.get(fixed_id) != fixed_charge.content():
            fixed_id = uuid7()
            session.add(FixedCharge(
                id=fixed_id, organization_id=plan.organization_id, plan_id=plan.id, code=fixed_charge.code,
                add_on_id=fixed_charge.add_on_id, charge_model=fixed_charge.charge_model,
                pay_in_advance=fixed_charge.pay_in_advance, prorated=fixed_charge.prorated, units=fixed_charge.units,
                invoice_display_name=fixed_charge.invoice_display_name, properties=fixed_charge.properties,
                tax_codes=fixed_charge.tax_codes,
            ))
        links.append(PlanVersionFixedCharge(plan_version_id=version.id, fixed_charge_id=fixed_id, position=position))
    await session.flush()  # versions and charge rows before the links that reference them
    session.add_all(links)
    await session.flush()
    await session.refresh(version)
    return Commit(version, created=True, previous=current, changes=changes)

