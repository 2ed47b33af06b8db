"""Building the API / event objects of plans and plan versions (a fixed number of queries per page)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.add_ons import repository as add_on_repository
from catalog.features import repository as feature_repository
from catalog.features.models import Feature
from catalog.plans import repository
from catalog.plans.models import Charge, FixedCharge, Plan, PlanEntitlement, PlanVersion
from catalog.taxes import service as taxes
from catalog.taxes.models import Tax
from invora.events.contracts import catalog as contracts


class _Lookups:
    def __init__(self, taxes_by_code: dict[str, Tax], add_ons: dict, features: dict) -> None:
        self.taxes = taxes_by_code
        self.add_ons = add_ons
        self.features = features

    def tax_list(self, codes: Sequence[str]) -> list[contracts.Tax]:
        return taxes.render(codes, self.taxes)


def charge_object(charge: Charge, lookups: _Lookups) -> contracts.Charge:
    return contracts.Charge(
        lago_id=charge.id, lago_billable_metric_id=charge.billable_metric_id,
        billable_metric_code=charge.billable_metric_code, code=charge.code,
        invoice_display_name=charge.invoice_display_name, created_at=charge.created_at,
        charge_model=charge.charge_model, pay_in_advance=charge.pay_in_advance, invoiceable=charge.invoiceable,
        regroup_paid_fees=charge.regroup_paid_fees, prorated=charge.prorated,
        min_amount_cents=charge.min_amount_cents, properties=charge.properties,
        filters=[contracts.ChargeFilter(**f) for f in charge.filters], taxes=lookups.tax_list(charge.tax_codes),
    )


def fixed_charge_object(fixed_charge: FixedCharge, lookups: _Lookups) -> contracts.FixedCharge:
    add_on = lookups.add_ons.get(fixed_charge.add_on_id)
    return contracts.FixedCharge(
        lago_id=fixed_charge.id, lago_add_on_id=fixed_charge.add_on_id, add_on_code=add_on.code if add_on else "",
        code=fixed_charge.code, invoice_display_name=fixed_charge.invoice_display_name,
        created_at=fixed_charge.created_at, charge_model=fixed_charge.charge_model,
        pay_in_advance=fixed_charge.pay_in_advance, prorated=fixed_charge.prorated,
        properties=fixed_charge.properties, units=fixed_charge.units, taxes=lookups.tax_list(fixed_charge.tax_codes),
    )


def _prices(plan: Plan, version: PlanVersion, charges: list[Charge], fixed_charges: list[FixedCharge],
            lookups: _Lookups) -> dict:
    commitment = None
    if version.minimum_commitment:
        mc = version.minimum_commitment
        commitment = contracts.MinimumCommitment(
            lago_id=mc["lago_id"], plan_code=plan.code, amount_cents=mc["amount_cents"],
            invoice_display_name=mc.get("invoice_display_name"), interval=version.interval,
            created_at=datetime.fromisoformat(mc["created_at"]), updated_at=datetime.fromisoformat(mc["updated_at"]),
            taxes=lookups.tax_list(mc.get("tax_codes") or []),
        )
    return {
        "interval": version.interval, "amount_cents": version.amount_cents, "amount_currency": version.amount_currency,
        "trial_period": version.trial_period, "pay_in_advance": version.pay_in_advance,
        "bill_charges_monthly": version.bill_charges_monthly,
        "bill_fixed_charges_monthly": version.bill_fixed_charges_monthly, "minimum_commitment": commitment,
        "charges": [charge_object(c, lookups) for c in charges],
        "fixed_charges": [fixed_charge_object(c, lookups) for c in fixed_charges],
        "taxes": lookups.tax_list(version.tax_codes),
        "usage_thresholds": [contracts.UsageThreshold(**t) for t in version.usage_thresholds],
    }


async def _lookups(
    session: AsyncSession, organization_id, versions: Sequence[PlanVersion], charges: dict, fixed_charges: dict,
    entitlements: dict,
) -> _Lookups:
    codes: set[str] = set()
    for version in versions:
        codes.update(version.tax_codes)
        codes.update((version.minimum_commitment or {}).get("tax_codes") or [])
    for rows in (*charges.values(), *fixed_charges.values()):
        for row in rows:
            codes.update(row.tax_codes)
    add_on_ids = {fc.add_on_id for rows in fixed_charges.values() for fc in rows}
    feature_ids = {e.feature_id for rows in entitlements.values() for e in rows}
    add_ons = await add_on_repository.by_ids(session, add_on_ids)
    features = await feature_repository.by_ids(session, feature_ids)
    return _Lookups(await taxes.by_codes(session, organization_id, codes), add_ons, features)


def entitlement_object(entitlement: PlanEntitlement, feature: Feature) -> contracts.PlanEntitlement:
    privileges = {p.code: p for p in feature.privileges}
    return contracts.PlanEntitlement(
        code=feature.code, name=feature.name, description=feature.description,
        privileges=[
            contracts.EntitlementPrivilege(code=code, name=privileges[code].name,
                                           value_type=privileges[code].value_type,
                                           config=privileges[code].config, value=value)
            for code, value in entitlement.privilege_values.items() if code in privileges
        ],
    )


async def plan_objects(session: AsyncSession, plans: Sequence[Plan]) -> list[contracts.Plan]:
    """Plans with the prices of their current version, entitlements and taxes."""
    if not plans:
        return []
    versions = await repository.current_versions(session, [p.id for p in plans])
    version_ids = [v.id for v in versions.values()]
    charges = await repository.version_charges(session, version_ids)
    fixed_charges = await repository.version_fixed_charges(session, version_ids)
    entitlements = await repository.entitlements(session, [p.id for p in plans])
    lookups = await _lookups(session, plans[0].organization_id, list(versions.values()), charges, fixed_charges,
                             entitlements)
    result = []
    for plan in plans:
        version = versions[plan.id]
        result.append(contracts.Plan(
            lago_id=plan.id, name=plan.name, invoice_display_name=plan.invoice_display_name, code=plan.code,
            description=plan.description, created_at=plan.created_at, metadata=plan.plan_metadata,
            lago_plan_version_id=version.id, version=version.number, deleted_at=plan.deleted_at,
            entitlements=[entitlement_object(e, lookups.features[e.feature_id]) for e in entitlements[plan.id]
                          if e.feature_id in lookups.features],
            **_prices(plan, version, charges[version.id], fixed_charges[version.id], lookups),
        ))
    return result


async def plan_object(session: AsyncSession, plan: Plan) -> contracts.Plan:
    return (await plan_objects(session, [plan]))[0]


async def version_objects(
    session: AsyncSession, plan: Plan, versions: Sequence[PlanVersion], current_number: int,
) -> list[contracts.PlanVersion]:
    ids = [v.id for v in versions]
    charges = await repository.version_charges(session, ids)
    fixed_charges = await repository.version_fixed_charges(session, ids)
    lookups = await _lookups(session, plan.organization_id, versions, charges, fixed_charges, {})
    return [
        contracts.PlanVersion(
            lago_id=v.id, lago_plan_id=plan.id, plan_code=plan.code, plan_name=plan.name,
            plan_invoice_display_name=plan.invoice_display_name, plan_description=plan.description, version=v.number,
            is_current=v.number == current_number and plan.deleted_at is None, created_at=v.created_at,
            **_prices(plan, v, charges[v.id], fixed_charges[v.id], lookups),
        )
        for v in versions
    ]


async def charge_objects(session: AsyncSession, organization_id, charges: Sequence[Charge]) -> list[contracts.Charge]:
    lookups = await _lookups(session, organization_id, [], {None: list(charges)}, {}, {})
    return [charge_object(c, lookups) for c in charges]


async def fixed_charge_objects(
    session: AsyncSession, organization_id, fixed_charges: Sequence[FixedCharge],
) -> list[contracts.FixedCharge]:
    lookups = await _lookups(session, organization_id, [], {}, {None: list(fixed_charges)}, {})
    return [fixed_charge_object(c, lookups) for c in fixed_charges]
