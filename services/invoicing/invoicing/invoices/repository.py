"""SQL of invoices and fees: the claim of a period (unique key), numbering counters, reads for the API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, Select, and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.applied_coupons.models import AppliedCoupon
from invoicing.invoices.models import (
    BillingCheckViolation,
    Fee,
    Invoice,
    InvoiceAppliedTax,
    InvoicingSettings,
)
from invora.db.memo import memo

# Reads a billing run repeats for every invoice of a batch are remembered for the transaction
# (`invora.db.memo`): the organization's settings, which customers are parked, and which invoices were
# claimed in this transaction (they have no applied taxes to delete yet).
_SETTINGS, _PARKED, _FRESH = "invoicing.settings", "invoicing.parked", "invoicing.fresh_invoices"
_APPLIED_TAXES = "invoicing.applied_taxes"  # invoice id → the applied taxes this transaction wrote
# a batch's prefetches: (organization, customer) → holds an active applied coupon; (organization,
# subscription) → [(invoice id, from, to)] of its subscription fees (what the billing check reads)
_COUPON_HOLDERS, _BILLED = "invoicing.coupon_holders", "invoicing.billed_periods"

_NEXT_NUMBER = text(
    """
    INSERT INTO invoice_number_counters (organization_id, scope, last_number) VALUES (:organization, :scope, 1)
    ON CONFLICT (organization_id, scope) DO UPDATE SET last_number = invoice_number_counters.last_number + 1
    RETURNING last_number
    """
)


async def next_number(session: AsyncSession, organization_id: uuid.UUID, scope: str) -> int:
    """The scope's next number; the counter row stays locked until the transaction ends (gapless).
    Pending changes are not flushed first (they do not touch the counter): the finalization writes its
    amounts and its number in one UPDATE."""
    with session.no_autoflush:
        return (await session.execute(_NEXT_NUMBER, {"organization": organization_id, "scope": scope})).scalar_one()


# Numbers for a whole batch at once (`lifecycle.number_deferred`): every scope's counter moves by how many
# invoices it numbers, in one statement, in (organization, scope) order so two batches never wait on each
# other's counters crosswise (no deadlock); each row is locked only from here to the commit.
_RESERVE_NUMBERS = text(
    """
    INSERT INTO invoice_number_counters (organization_id, scope, last_number)
    SELECT o, s, n FROM unnest(CAST(:organizations AS uuid[]), CAST(:scopes AS varchar[]), CAST(:counts AS bigint[]))
        AS wanted(o, s, n) ORDER BY o, s
    ON CONFLICT (organization_id, scope) DO UPDATE
        SET last_number = invoice_number_counters.last_number + excluded.last_number
    RETURNING organization_id, scope, last_number
    """
)

# the batch's numbered invoices finalized in one statement (number and status together: `ck_invoices_numbered`)
_FINALIZE_NUMBERED = text(
    """
    UPDATE invoices SET status = 'finalized', number = v.number, sequential_id = v.sequential_id,
        finalized_at = v.at, updated_at = v.at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:numbers AS varchar[]), CAST(:sequential_ids AS bigint[]),
                CAST(:ats AS timestamptz[])) AS v(id, number, sequential_id, at)
    WHERE invoices.id = v.id AND invoices.status = 'draft'
    """
)


async def reserve_numbers(session: AsyncSession,
                          wanted: dict[tuple[uuid.UUID, str], int]) -> dict[tuple[uuid.UUID, str], int]:
    """`count` numbers for each (organization, scope): the last number reserved for each (the reserved ones
    are the `count` numbers up to it). The counters stay locked until the transaction ends (gapless)."""
    keys = sorted(wanted, key=lambda k: (str(k[0]), k[1]))
    with session.no_autoflush:
        rows = (await session.execute(_RESERVE_NUMBERS, {
            "organizations": [k[0] for k in keys], "scopes": [k[1] for k in keys],
            "counts": [wanted[k] for k in keys]})).all()
    return {(row.organization_id, row.scope): row.last_number for row in rows}


async def finalize_numbered(session: AsyncSession, rows: Sequence[tuple[uuid.UUID, str, int, datetime]]) -> int:
    """Drafts (id, number, sequential id, when) finalized in one statement; how many were."""
    with session.no_autoflush:
        result = await session.execute(_FINALIZE_NUMBERED, {
            "ids": [r[0] for r in rows], "numbers": [r[1] for r in rows], "sequential_ids": [r[2] for r in rows],
            "ats": [r[3] for r in rows]})
    return result.rowcount


async def settings_of(session: AsyncSession, organization_id: uuid.UUID) -> InvoicingSettings:
    """The organization's settings as last heard from the catalog; the catalog's defaults before that."""
    remembered = memo(session, _SETTINGS)
    if organization_id in remembered:
        return remembered[organization_id]
    found = await session.get(InvoicingSettings, organization_id)
    settings = found if found is not None else InvoicingSettings(
        organization_id=organization_id, document_numbering="per_organization", document_number_prefix="INV",
        invoice_grace_period=0, net_payment_term=0, finalize_zero_amount_invoice=True, timezone="UTC",
        default_currency="USD")
    remembered[organization_id] = settings
    return settings


_CLAIM = insert(Invoice).on_conflict_do_nothing(
    index_elements=["organization_id", "subscription_id", "period_start", "billing_reason"],
    index_where=text("subscription_id IS NOT NULL AND source_key IS NULL"),
).returning(Invoice)


async def claim(session: AsyncSession, values: dict[str, Any]) -> Invoice | None:
    """Insert the invoice unless its (subscription, period, reason) already has one: the new row (one
    round trip: the insert returns it), or None."""
    with session.no_autoflush:  # what earlier invoices of a batch left pending is written together later
        # one statement object, the values bound as parameters: compiled once (not rebuilt for every invoice)
        invoice = (await session.execute(_CLAIM, values)).scalar_one_or_none()
    if invoice is not None:
        memo(session, _FRESH)[invoice.id] = True
    return invoice


async def claim_keyed(session: AsyncSession, values: dict[str, Any]) -> Invoice | None:
    """Insert the invoice unless one with its `source_key` exists (an event paid in advance, a threshold
    crossed): the new row, or None."""
    invoice = (await session.execute(insert(Invoice).values(**values).on_conflict_do_nothing(
        index_elements=["organization_id", "source_key"], index_where=text("source_key IS NOT NULL"),
    ).returning(Invoice))).scalar_one_or_none()
    if invoice is not None:
        memo(session, _FRESH)[invoice.id] = True
    return invoice


async def progressive_unit_credits(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                                   period_start: datetime, *, exclude: uuid.UUID | None = None) -> dict[str, Decimal]:
    """The units unit credits covered on the period's progressive-billing invoices (voided ones aside: their
    units went back), per metric: what the period's later invoices price as already credited."""
    statement = select(Invoice.source["unit_credits"]).where(
        Invoice.organization_id == organization_id, Invoice.subscription_id == subscription_id,
        Invoice.period_start == period_start, Invoice.billing_reason == "progressive_billing",
        Invoice.status != "voided", Invoice.source.has_key("unit_credits"))
    if exclude is not None:
        statement = statement.where(Invoice.id != exclude)
    total: dict[str, Decimal] = {}
    for credited in (await session.execute(statement)).scalars():
        for metric, units in (credited or {}).items():
            total[metric] = total.get(metric, Decimal(0)) + Decimal(units)
    return total


async def credited_in_slot(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                           charge_id: uuid.UUID, charge_filter_id: uuid.UUID | None, grouped_by: dict[str, Any],
                           period_start: datetime) -> Decimal:
    """The units unit credits covered on the slot's earlier fees paid in advance this period (what shifts the
    priced position of the slot's next event)."""
    credited = Fee.amount_details["unit_credits"]["credited_units"].astext
    statement = select(func.coalesce(func.sum(credited.cast(Numeric)), 0)).where(
        Fee.organization_id == organization_id, Fee.subscription_id == subscription_id, Fee.charge_id == charge_id,
        Fee.charge_filter_id.is_(None) if charge_filter_id is None else Fee.charge_filter_id == charge_filter_id,
        Fee.grouped_by == grouped_by, Fee.from_date == period_start, Fee.pay_in_advance.is_(True))
    return Decimal((await session.execute(statement)).scalar_one())


async def claim_advance_fee(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert a fee paid in advance unless its (subscription, charge, event) has one; its id, or None."""
    return (await session.execute(insert(Fee).values(**values).on_conflict_do_nothing(
        index_elements=["organization_id", "subscription_id", "charge_id", "event_transaction_id"],
        index_where=text("event_transaction_id IS NOT NULL"),
    ).returning(Fee.id))).scalar_one_or_none()


async def paid_fees_to_regroup(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                               charge_ids: Sequence[uuid.UUID], before: datetime) -> list[Fee]:
    """Fees paid in advance that no invoice carries, paid (`succeeded`), of the given charges, up to `before`:
    locked, for the `advance_charges` invoice that regroups them."""
    return list((await session.execute(select(Fee).where(
        Fee.organization_id == organization_id, Fee.subscription_id == subscription_id, Fee.invoice_id.is_(None),
        Fee.pay_in_advance.is_(True), Fee.payment_status == "succeeded", Fee.charge_id.in_(list(charge_ids)),
        Fee.created_at < before).order_by(Fee.created_at, Fee.id).with_for_update())).scalars())


async def progressive_billed(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                             period_start: Any, *, exclude: uuid.UUID | None = None,
                             created_before: datetime | None = None) -> int:
    """What the final progressive-billing invoices of one subscription period billed for usage (their fees less
    their own deductions): finalized, or `pending` (amounts fixed, waiting for prepaid credits). Drafts do not
    count (Lago: only finalized invoices); voided ones billed nothing."""
    statement = select(func.coalesce(func.sum(
        Invoice.fees_amount_cents - Invoice.progressive_billing_credit_amount_cents), 0)).where(
        Invoice.organization_id == organization_id, Invoice.subscription_id == subscription_id,
        Invoice.period_start == period_start, Invoice.invoice_type == "progressive_billing",
        Invoice.status.in_(("finalized", "pending")))
    if exclude is not None:
        statement = statement.where(Invoice.id != exclude)
    if created_before is not None:  # a progressive invoice deducts those before it, never a later one
        statement = statement.where(Invoice.created_at <= created_before)
    return int((await session.execute(statement)).scalar_one())


async def insert_invoice(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID:
    return (await session.execute(insert(Invoice).values(**values).returning(Invoice.id))).scalar_one()


async def add_fees(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    forget_billed(session)
    if rows:
        await session.execute(insert(Fee), list(rows))


async def replace_applied_taxes(session: AsyncSession, invoice_id: uuid.UUID,
                                rows: Sequence[dict[str, Any]]) -> list[InvoiceAppliedTax]:
    """The invoice's applied taxes replaced by `rows`; the new rows, as `applied_taxes_of` would read them."""
    if memo(session, _FRESH).pop(invoice_id, None) is not None:
        # an invoice claimed in this transaction has none yet: the rows (every column given) join the next
        # flush, which writes a batch's applied taxes together
        written = sorted((InvoiceAppliedTax(**row) for row in rows), key=lambda row: row.tax_code)
        session.add_all(written)
    else:
        # (the delete flushes what an earlier replace of this transaction left pending, then removes it)
        await session.execute(delete(InvoiceAppliedTax).where(InvoiceAppliedTax.invoice_id == invoice_id))
        with session.no_autoflush:
            written = sorted((await session.scalars(insert(InvoiceAppliedTax).returning(InvoiceAppliedTax),
                                                    list(rows))).all(), key=lambda row: row.tax_code) if rows else []
    memo(session, _APPLIED_TAXES)[invoice_id] = written
    return written


async def delete_fees(session: AsyncSession, invoice_id: uuid.UUID) -> None:
    forget_billed(session)
    await session.execute(delete(Fee).where(Fee.invoice_id == invoice_id))


async def delete_invoice(session: AsyncSession, invoice: Invoice) -> None:
    """A draft removed for good: fees, applied taxes and credit applications go with it (ON DELETE CASCADE)."""
    await session.execute(delete(Invoice).where(Invoice.id == invoice.id, Invoice.status == "draft")
                          .execution_options(synchronize_session=False))
    session.expunge(invoice)
    memo(session, _APPLIED_TAXES).pop(invoice.id, None)
    forget_billed(session)


async def delete_fee(session: AsyncSession, fee: Fee) -> None:
    """A fee no invoice carries, removed for good."""
    await session.execute(delete(Fee).where(Fee.id == fee.id, Fee.invoice_id.is_(None))
                          .execution_options(synchronize_session=False))
    session.expunge(fee)


async def update_fee(session: AsyncSession, fee_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(Fee).where(Fee.id == fee_id).values(**values))


async def lock_invoice(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice | None:
    return (await session.execute(select(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.id == invoice_id,
    ).with_for_update().execution_options(populate_existing=True))).scalar_one_or_none()


async def get_invoice(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice | None:
    return (await session.execute(select(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.id == invoice_id))).scalar_one_or_none()


async def fees_of(session: AsyncSession, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Fee]]:
    found: dict[uuid.UUID, list[Fee]] = {i: [] for i in invoice_ids}
    if invoice_ids:
        rows = (await session.execute(select(Fee).where(Fee.invoice_id.in_(list(invoice_ids)))
                                      .order_by(Fee.created_at, Fee.id))).scalars().all()
        for fee in rows:
            found[fee.invoice_id].append(fee)
    return found


async def applied_taxes_of(session: AsyncSession,
                           invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[InvoiceAppliedTax]]:
    written = memo(session, _APPLIED_TAXES)
    found: dict[uuid.UUID, list[InvoiceAppliedTax]] = {i: list(written.get(i, ())) for i in invoice_ids}
    unknown = [i for i in invoice_ids if i not in written]  # written in this transaction: no need to read them back
    if unknown:
        rows = (await session.execute(select(InvoiceAppliedTax).where(
            InvoiceAppliedTax.invoice_id.in_(unknown)).order_by(InvoiceAppliedTax.tax_code))).scalars().all()
        for row in rows:
            found[row.invoice_id].append(row)
    return found


async def active_coupons(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, *,
                         lock: bool) -> list[AppliedCoupon]:
    if memo(session, _COUPON_HOLDERS).get((organization_id, customer_id)) is False:
        return []  # the batch's prefetch found none (`prefetch_coupon_holders`)
    statement = select(AppliedCoupon).where(
        AppliedCoupon.organization_id == organization_id, AppliedCoupon.customer_id == customer_id,
        AppliedCoupon.status == "active").order_by(AppliedCoupon.created_at, AppliedCoupon.id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    with session.no_autoflush:  # pending fees get their amounts first and are inserted once, amounts included
        return list((await session.execute(statement)).scalars())


async def update_coupon(session: AsyncSession, coupon_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(AppliedCoupon).where(AppliedCoupon.id == coupon_id).values(**values))


async def due_drafts(session: AsyncSession, now: datetime, limit: int) -> list[Invoice]:
    """Drafts whose grace period is over, locked and skipped by other finalizers (`SKIP LOCKED`)."""
    return list((await session.execute(select(Invoice).where(
        Invoice.status == "draft", Invoice.finalize_at <= now,
    ).order_by(Invoice.finalize_at).limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True))).scalars())


async def overdue_candidates(session: AsyncSession, today: date, limit: int) -> list[Invoice]:
    return list((await session.execute(select(Invoice).where(
        Invoice.status == "finalized", Invoice.payment_status != "succeeded", Invoice.payment_overdue.is_(False),
        Invoice.payment_due_date < today,
    ).limit(limit).with_for_update(skip_locked=True).execution_options(populate_existing=True))).scalars())


# -- billing check: no period billed twice, none missed ------------------------------------------------

async def prefetch_coupon_holders(session: AsyncSession, organization_id: uuid.UUID,
                                  customer_ids: Sequence[uuid.UUID]) -> None:
    """Which of these customers have an active applied coupon, in one query (a consumer's batch): the others'
    invoices skip `active_coupons`' read."""
    wanted = set(customer_ids)
    if not wanted:
        return
    holders = set((await session.execute(select(AppliedCoupon.customer_id).where(
        AppliedCoupon.organization_id == organization_id, AppliedCoupon.customer_id.in_(list(wanted)),
        AppliedCoupon.status == "active").distinct())).scalars())
    remembered = memo(session, _COUPON_HOLDERS)
    for customer_id in wanted:
        remembered.setdefault((organization_id, customer_id), customer_id in holders)


async def prefetch_billed_periods(session: AsyncSession, organization_id: uuid.UUID,
                                  subscription_ids: Sequence[uuid.UUID]) -> None:
    """`billed_subscription_periods` of many subscriptions in one query (a consumer's batch); the fees the
    transaction writes next are added (`remember_billed`), and anything else that changes fees or voids an
    invoice forgets them all (`forget_billed`)."""
    wanted = set(subscription_ids)
    if not wanted:
        return
    with session.no_autoflush:
        rows = (await session.execute(select(Fee.subscription_id, Fee.invoice_id, Fee.from_date, Fee.to_date)
                                      .join(Invoice, Invoice.id == Fee.invoice_id)
                                      .where(Fee.organization_id == organization_id,
                                             Fee.subscription_id.in_(list(wanted)), Fee.fee_type == "subscription",
                                             Invoice.status != "voided", Fee.from_date.is_not(None)))).all()
    remembered = memo(session, _BILLED)
    for subscription_id in wanted:
        remembered.setdefault((organization_id, subscription_id), [])
    for row in rows:
        remembered[(organization_id, row.subscription_id)].append((row.invoice_id, row.from_date, row.to_date))


def remember_billed(session: AsyncSession, fees: Sequence[Fee]) -> None:
    """Subscription fees this transaction adds, for the billing check of the batch's later invoices."""
    remembered = memo(session, _BILLED)
    for fee in fees:
        key = (fee.organization_id, fee.subscription_id)
        if fee.fee_type == "subscription" and fee.from_date is not None and key in remembered:
            remembered[key].append((fee.invoice_id, fee.from_date, fee.to_date))


def forget_billed(session: AsyncSession) -> None:
    memo(session, _BILLED).clear()


async def billed_subscription_periods(session: AsyncSession, organization_id: uuid.UUID,
                                      subscription_id: uuid.UUID,
                                      exclude_invoice_id: uuid.UUID) -> list[tuple[datetime, datetime]]:
    """The [from, to) every subscription fee of the subscription covers, in order (voided invoices excluded).
    Only other invoices' fees count, so the excluded invoice's pending fees need not be flushed first."""
    remembered = memo(session, _BILLED).get((organization_id, subscription_id))
    if remembered is not None:  # the batch's prefetch, with what this transaction wrote since
        return sorted((start, end) for invoice_id, start, end in remembered if invoice_id != exclude_invoice_id)
    with session.no_autoflush:
        rows = (await session.execute(select(Fee.from_date, Fee.to_date).join(Invoice, Invoice.id == Fee.invoice_id)
                                      .where(Fee.organization_id == organization_id,
                                             Fee.subscription_id == subscription_id, Fee.fee_type == "subscription",
                                             Invoice.status != "voided", Fee.from_date.is_not(None),
                                             Fee.invoice_id != exclude_invoice_id,
                                             ).order_by(Fee.from_date))).all()
    return [(row[0], row[1]) for row in rows]


async def parked(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
    """Whether the customer has an unresolved billing-check violation (remembered for the transaction;
    `prefetch_parked` answers it for a whole batch of customers in one query)."""
    remembered = memo(session, _PARKED)
    if (organization_id, customer_id) not in remembered:
        with session.no_autoflush:
            remembered[(organization_id, customer_id)] = (await session.execute(
                select(func.count()).select_from(BillingCheckViolation).where(
                    BillingCheckViolation.organization_id == organization_id,
                    BillingCheckViolation.customer_id == customer_id,
                    BillingCheckViolation.resolved_at.is_(None)))).scalar_one() > 0
    return remembered[(organization_id, customer_id)]


async def prefetch_parked(session: AsyncSession, organization_id: uuid.UUID,
                          customer_ids: Sequence[uuid.UUID]) -> None:
    """`parked` for many customers in one query (a consumer's batch)."""
    wanted = set(customer_ids)
    if not wanted:
        return
    parked_ids = set((await session.execute(select(BillingCheckViolation.customer_id).where(
        BillingCheckViolation.organization_id == organization_id,
        BillingCheckViolation.customer_id.in_(list(wanted)),
        BillingCheckViolation.resolved_at.is_(None)))).scalars())
    remembered = memo(session, _PARKED)
    for customer_id in wanted:
        remembered[(organization_id, customer_id)] = customer_id in parked_ids


def forget_parked(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    """A violation of the customer was resolved in this transaction: `parked` asks the database again."""
    memo(session, _PARKED).pop((organization_id, customer_id), None)


async def record_violation(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID:
    violation_id = (await session.execute(insert(BillingCheckViolation).values(**values)
                                          .returning(BillingCheckViolation.id))).scalar_one()
    memo(session, _PARKED)[(values["organization_id"], values["customer_id"])] = True
    return violation_id


async def violations(session: AsyncSession, organization_id: uuid.UUID) -> list[BillingCheckViolation]:
    return list((await session.execute(select(BillingCheckViolation).where(
        BillingCheckViolation.organization_id == organization_id).order_by(
        BillingCheckViolation.created_at.desc()))).scalars())


# -- lists ---------------------------------------------------------------------------------------------

@dataclass
class InvoiceFilters:
    external_customer_id: str | None = None
    customer_id: uuid.UUID | None = None
    statuses: list[str] = field(default_factory=list)
    payment_statuses: list[str] = field(default_factory=list)
    invoice_type: str | None = None
    currency: str | None = None
    issuing_date_from: date | None = None
    issuing_date_to: date | None = None
    amount_from: int | None = None
    amount_to: int | None = None
    payment_overdue: bool | None = None
    search_term: str | None = None


def invoices_query(organization_id: uuid.UUID, filters: InvoiceFilters) -> Select:
    statement = select(Invoice).where(Invoice.organization_id == organization_id)
    if filters.external_customer_id is not None:
        statement = statement.where(Invoice.external_customer_id == filters.external_customer_id)
    if filters.customer_id is not None:
        statement = statement.where(Invoice.customer_id == filters.customer_id)
    if filters.statuses:
        statement = statement.where(Invoice.status.in_(filters.statuses))
    if filters.payment_statuses:
        statement = statement.where(Invoice.payment_status.in_(filters.payment_statuses))
    if filters.invoice_type:
        statement = statement.where(Invoice.invoice_type == filters.invoice_type)
    if filters.currency:
        statement = statement.where(Invoice.currency == filters.currency)
    if filters.issuing_date_from:
        statement = statement.where(Invoice.issuing_date >= filters.issuing_date_from)
    if filters.issuing_date_to:
        statement = statement.where(Invoice.issuing_date <= filters.issuing_date_to)
    if filters.amount_from is not None:
        statement = statement.where(Invoice.total_amount_cents >= filters.amount_from)
    if filters.amount_to is not None:
        statement = statement.where(Invoice.total_amount_cents <= filters.amount_to)
    if filters.payment_overdue is not None:
        statement = statement.where(Invoice.payment_overdue.is_(filters.payment_overdue))
    if filters.search_term:
        term = f"%{filters.search_term}%"
        statement = statement.where(or_(Invoice.number.ilike(term), Invoice.external_customer_id.ilike(term)))
    return statement


async def list_invoices(session: AsyncSession, organization_id: uuid.UUID, filters: InvoiceFilters, *,
                        limit: int, offset: int = 0,
                        after: tuple[datetime, uuid.UUID] | None = None) -> tuple[list[Invoice], int]:
    """A page, newest first; `after` (created_at, id) continues a keyset walk instead of an offset."""
    statement = invoices_query(organization_id, filters)
    total = (await session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    if after is not None:
        statement = statement.where(or_(Invoice.created_at < after[0],
                                        and_(Invoice.created_at == after[0], Invoice.id < after[1])))
    else:
        statement = statement.offset(offset)
    rows = (await session.execute(statement.order_by(Invoice.created_at.desc(), Invoice.id.desc())
                                  .limit(limit))).scalars().all()
    return list(rows), total


@dataclass
class FeeFilters:
    external_customer_id: str | None = None
    customer_id: uuid.UUID | None = None
    external_subscription_id: str | None = None
    fee_type: str | None = None
    billable_metric_code: str | None = None
    currency: str | None = None
    payment_status: str | None = None
    created_at_from: datetime | None = None
    created_at_to: datetime | None = None


async def list_fees(session: AsyncSession, organization_id: uuid.UUID, filters: FeeFilters, *, limit: int,
                    offset: int) -> tuple[list[Fee], int]:
    statement = select(Fee).where(Fee.organization_id == organization_id)
    for column, value in ((Fee.external_customer_id, filters.external_customer_id),
                          (Fee.customer_id, filters.customer_id),
                          (Fee.external_subscription_id, filters.external_subscription_id),
                          (Fee.fee_type, filters.fee_type), (Fee.billable_metric_code, filters.billable_metric_code),
                          (Fee.amount_currency, filters.currency), (Fee.payment_status, filters.payment_status)):
        if value is not None:
            statement = statement.where(column == value)
    if filters.created_at_from:
        statement = statement.where(Fee.created_at >= filters.created_at_from)
    if filters.created_at_to:
        statement = statement.where(Fee.created_at <= filters.created_at_to)
    total = (await session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = (await session.execute(statement.order_by(Fee.created_at.desc(), Fee.id.desc()).limit(limit)
                                  .offset(offset))).scalars().all()
    return list(rows), total


async def get_fee(session: AsyncSession, organization_id: uuid.UUID, fee_id: uuid.UUID, *,
                  lock: bool = False) -> Fee | None:
    statement = select(Fee).where(Fee.organization_id == organization_id, Fee.id == fee_id)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def release_parked_drafts(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                                now: datetime) -> None:
    await session.execute(update(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.customer_id == customer_id, Invoice.status == "draft",
        Invoice.finalize_at.is_(None)).values(finalize_at=now))


async def drafts_of_period(session: AsyncSession, organization_id: uuid.UUID,
                           billing_period_id: uuid.UUID) -> list[Invoice]:
    """The invoices of one closed billing period, locked (a usage revision recomputes the drafts among them)."""
    return list((await session.execute(select(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.billing_period_id == billing_period_id,
    ).with_for_update().execution_options(populate_existing=True))).scalars())


async def lock_by_status(session: AsyncSession, organization_id: uuid.UUID, status: str, limit: int) -> list[Invoice]:
    """Up to `limit` of the organization's invoices in `status`, oldest first, locked (others skipped)."""
    return list((await session.execute(select(Invoice).where(
        Invoice.organization_id == organization_id, Invoice.status == status,
    ).order_by(Invoice.created_at, Invoice.id).limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True))).scalars())


async def paid_in_advance_for(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                              start: datetime, end: datetime, exclude_invoice_id: uuid.UUID) -> int:
    """Fees of the subscription paid in advance for a period starting in [start, end), on other invoices that
    stand (not voided nor failed): what a minimum commitment counts as already billed for that period."""
    return int((await session.execute(select(func.coalesce(func.sum(Fee.amount_cents), 0)).join(
        Invoice, Invoice.id == Fee.invoice_id).where(
        Fee.organization_id == organization_id, Fee.subscription_id == subscription_id,
        Fee.pay_in_advance.is_(True), Fee.from_date >= start, Fee.from_date < end,
        Fee.invoice_id != exclude_invoice_id, Invoice.status.not_in(("voided", "failed")),
    ))).scalar_one())
