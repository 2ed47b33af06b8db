"""SQL of the projections: upserts from events, reads for invoice computation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.taxes import TaxRate
from invoicing.invoices.models import InvoicingSettings
from invoicing.projections.models import (
    AddOnProjection,
    BillingEntityProjection,
    CouponProjection,
    CustomerProjection,
    PlanVersionProjection,
    TaxProjection,
)
from invora.db.memo import memo
from invora.db.upsert import upsert_newer
from invora.events.contracts.catalog import AddOn, BillingEntity, Coupon, Organization, Plan, Tax
from invora.events.contracts.subscriptions import Customer

_TAXES = "invoicing.taxes"  # the organization's tax projection rows, read once per transaction
_PREFETCHED = "invoicing.prefetched"


async def upsert_customer(session: AsyncSession, organization_id: uuid.UUID, customer: Customer) -> None:
    values = dict(
        external_id=customer.external_id, currency=customer.currency, timezone=customer.applicable_timezone,
        tax_codes=list(customer.tax_codes), net_payment_term=customer.net_payment_term,
        invoice_grace_period=customer.invoice_grace_period, billing_entity_code=customer.billing_entity_code,
        body=customer.model_dump(mode="json"), deleted_at=customer.deleted_at, updated_at=customer.updated_at,
    )
    await upsert_newer(session, CustomerProjection, {"organization_id": organization_id, "id": customer.lago_id},
                       values)


# what documents show of their issuer (invoicing.documents.service.issuer_party)
ISSUER_FIELDS = ("name", "legal_name", "legal_number", "tax_identification_number", "email", "address_line1",
                 "address_line2", "zipcode", "city", "state", "country")


async def upsert_organization(session: AsyncSession, organization_id: uuid.UUID, organization: Organization,
                              occurred_at: datetime) -> None:
    """What invoicing applies of the organization's settings; an older event never overwrites a newer one."""
    values = dict(
        document_numbering=organization.document_numbering, document_number_prefix=organization.document_number_prefix,
        invoice_grace_period=organization.billing_configuration.invoice_grace_period,
        net_payment_term=organization.net_payment_term,
        finalize_zero_amount_invoice=organization.finalize_zero_amount_invoice, timezone=organization.timezone,
        default_currency=organization.default_currency, updated_at=occurred_at,
        issuer={**organization.model_dump(include=set(ISSUER_FIELDS), exclude_none=True),
                **({"invoice_footer": organization.billing_configuration.invoice_footer}
                   if organization.billing_configuration.invoice_footer else {})},
    )
    await upsert_newer(session, InvoicingSettings, {"organization_id": organization_id}, values)


async def upsert_billing_entity(session: AsyncSession, organization_id: uuid.UUID, entity: BillingEntity) -> None:
    values = dict(
        id=entity.lago_id, document_numbering=entity.document_numbering,
        document_number_prefix=entity.document_number_prefix or "INV",
        invoice_grace_period=entity.invoice_grace_period, net_payment_term=entity.net_payment_term,
        finalize_zero_amount_invoice=entity.finalize_zero_amount_invoice, timezone=entity.timezone,
        default_currency=entity.default_currency, tax_codes=[t.code for t in entity.taxes],
        body=entity.model_dump(mode="json"), updated_at=entity.updated_at,
    )
    await upsert_newer(session, BillingEntityProjection, {"organization_id": organization_id, "code": entity.code},
                       values)


async def billing_entity(session: AsyncSession, organization_id: uuid.UUID,
                         code: str | None) -> BillingEntityProjection | None:
    if not code:
        return None
    return await session.get(BillingEntityProjection, (organization_id, code))


async def customer(session: AsyncSession, organization_id: uuid.UUID,
                   customer_id: uuid.UUID) -> CustomerProjection | None:
    return await session.get(CustomerProjection, (organization_id, customer_id))


async def customer_by_external_id(session: AsyncSession, organization_id: uuid.UUID,
                                  external_id: str) -> CustomerProjection | None:
    return (await session.execute(select(CustomerProjection).where(
        CustomerProjection.organization_id == organization_id, CustomerProjection.external_id == external_id,
    ).order_by(CustomerProjection.deleted_at.is_not(None), CustomerProjection.updated_at.desc()).limit(1)
    )).scalar_one_or_none()


async def remember_plan_version(session: AsyncSession, organization_id: uuid.UUID, plan: Plan) -> None:
    """A plan event carries its current version's prices: kept once per version (versions never change)."""
    body = plan.model_dump(mode="json", exclude={"entitlements", "metadata"})
    await session.execute(insert(PlanVersionProjection).values(
        organization_id=organization_id, id=plan.lago_plan_version_id, plan_id=plan.lago_id, plan_code=plan.code,
        plan_name=plan.name, invoice_display_name=plan.invoice_display_name, body=body,
    ).on_conflict_do_nothing())


async def prefetch(session: AsyncSession, organization_id: uuid.UUID, customer_ids: Sequence[uuid.UUID],
                   version_ids: Sequence[uuid.UUID]) -> None:
    """Customers and plan versions of a consumer's batch in two queries: later `customer()` and
    `plan_version()` calls find them in the session (its identity map) without a round trip. The rows are
    held for the transaction: the identity map alone holds them weakly and would let them go."""
    held = memo(session, _PREFETCHED).setdefault(organization_id, [])
    if customer_ids:
        held.extend((await session.execute(select(CustomerProjection).where(
            CustomerProjection.organization_id == organization_id,
            CustomerProjection.id.in_(set(customer_ids))))).scalars())
    if version_ids:
        held.extend((await session.execute(select(PlanVersionProjection).where(
            PlanVersionProjection.organization_id == organization_id,
            PlanVersionProjection.id.in_(set(version_ids))))).scalars())


async def plan_version(session: AsyncSession, organization_id: uuid.UUID,
                       version_id: uuid.UUID) -> PlanVersionProjection | None:
    return await session.get(PlanVersionProjection, (organization_id, version_id))


async def upsert_tax(session: AsyncSession, organization_id: uuid.UUID, tax: Tax, deleted: bool) -> None:
    values = dict(id=tax.lago_id, name=tax.name, description=tax.description, rate=Decimal(str(tax.rate)),
                  applied_to_organization=tax.applied_to_organization and not deleted, deleted=deleted)
    await session.execute(insert(TaxProjection).values(organization_id=organization_id, code=tax.code, **values)
                          .on_conflict_do_update(index_elements=["organization_id", "code"], set_=values))
    memo(session, _TAXES).pop(organization_id, None)


async def _live_taxes(session: AsyncSession, organization_id: uuid.UUID) -> list[TaxProjection]:
    """The organization's taxes that are not deleted, by code (a handful of rows; remembered for the transaction)."""
    remembered = memo(session, _TAXES)
    if organization_id not in remembered:
        remembered[organization_id] = list((await session.execute(select(TaxProjection).where(
            TaxProjection.organization_id == organization_id, TaxProjection.deleted.is_(False),
        ).order_by(TaxProjection.code))).scalars().all())
    return remembered[organization_id]


def tax_rate(row: TaxProjection) -> TaxRate:
    return TaxRate(code=row.code, name=row.name, rate=Decimal(row.rate), id=str(row.id), description=row.description)


async def taxes_by_code(session: AsyncSession, organization_id: uuid.UUID, codes: Sequence[str]) -> list[TaxRate]:
    if not codes:
        return []
    by_code = {row.code: tax_rate(row) for row in await _live_taxes(session, organization_id)}
    return [by_code[code] for code in codes if code in by_code]


async def organization_taxes(session: AsyncSession, organization_id: uuid.UUID,
                             customer: CustomerProjection | None = None) -> list[TaxRate]:
    """The default taxes: the customer's billing entity's own, else those applied to the organization."""
    entity = await billing_entity(session, organization_id, customer.billing_entity_code if customer else None)
    if entity is not None:
        return await taxes_by_code(session, organization_id, entity.tax_codes)
    return [tax_rate(row) for row in await _live_taxes(session, organization_id) if row.applied_to_organization]


async def upsert_coupon(session: AsyncSession, organization_id: uuid.UUID, coupon: Coupon, deleted: bool) -> None:
    values = dict(id=coupon.lago_id, body=coupon.model_dump(mode="json"), deleted=deleted)
    await session.execute(insert(CouponProjection).values(organization_id=organization_id, code=coupon.code, **values)
                          .on_conflict_do_update(index_elements=["organization_id", "code"], set_=values))


async def coupon(session: AsyncSession, organization_id: uuid.UUID, code: str) -> CouponProjection | None:
    return await session.get(CouponProjection, (organization_id, code))


async def upsert_add_on(session: AsyncSession, organization_id: uuid.UUID, add_on: AddOn, deleted: bool) -> None:
    values = dict(id=add_on.lago_id, body=add_on.model_dump(mode="json"), deleted=deleted)
    await session.execute(insert(AddOnProjection).values(organization_id=organization_id, code=add_on.code, **values)
                          .on_conflict_do_update(index_elements=["organization_id", "code"], set_=values))


async def add_ons(session: AsyncSession, organization_id: uuid.UUID,
                  codes: Sequence[str]) -> dict[str, AddOnProjection]:
    if not codes:
        return {}
    rows = (await session.execute(select(AddOnProjection).where(
        AddOnProjection.organization_id == organization_id, AddOnProjection.code.in_(list(codes)),
        AddOnProjection.deleted.is_(False)))).scalars().all()
    return {row.code: row for row in rows}


async def plan_versions_by_code(session: AsyncSession, organization_id: uuid.UUID,
                                plan_code: str) -> Sequence[PlanVersionProjection]:
    """Every version heard of of the plan with this code."""
    return (await session.execute(select(PlanVersionProjection).where(
        PlanVersionProjection.organization_id == organization_id,
        PlanVersionProjection.plan_code == plan_code))).scalars().all()
