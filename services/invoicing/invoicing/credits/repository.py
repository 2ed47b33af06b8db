"""SQL of customer credits: the fee an upgrade credits, the credit's claim, balances, applications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credits.models import CustomerCredit, InvoiceCredit
from invoicing.invoices.models import Fee, Invoice
from invora.db.memo import memo

# (organization, customer) → whether the customer may hold a credit with a balance, remembered for the
# transaction (a consumer's batch asks once for all its customers: most have none, and then `available`
# needs no query); anything that creates or gives back a balance says so here
_MAY_HAVE_CREDITS = "invoicing.customers_with_credits"


async def advance_fee_at(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                         instant: datetime) -> tuple[Fee, Invoice] | None:
    """The subscription fee paid in advance whose span holds `instant` (its invoice not voided nor failed)."""
    row = (await session.execute(select(Fee, Invoice).join(Invoice, Invoice.id == Fee.invoice_id).where(
        Fee.organization_id == organization_id, Fee.subscription_id == subscription_id,
        Fee.fee_type == "subscription", Fee.pay_in_advance.is_(True), Fee.from_date <= instant,
        Fee.to_date > instant, Invoice.status.in_(("draft", "finalized", "pending")),
    ).order_by(Fee.from_date.desc()).limit(1))).first()
    return None if row is None else (row[0], row[1])


async def claim_credit(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert the credit unless this (subscription, reason) already has one; its id, or None."""
    memo(session, _MAY_HAVE_CREDITS)[(values["organization_id"], values["customer_id"])] = True
    return (await session.execute(insert(CustomerCredit).values(**values).on_conflict_do_nothing(
        index_elements=["organization_id", "subscription_id", "reason"]).returning(CustomerCredit.id)
    )).scalar_one_or_none()


async def prefetch_customers_with_credits(session: AsyncSession, organization_id: uuid.UUID,
                                          customer_ids: list[uuid.UUID]) -> None:
    """Which of these customers hold a credit with a balance, in one query (a consumer's batch)."""
    if not customer_ids:
        return
    holders = set((await session.execute(select(CustomerCredit.customer_id).where(
        CustomerCredit.organization_id == organization_id, CustomerCredit.customer_id.in_(customer_ids),
        CustomerCredit.balance_cents > 0).distinct())).scalars())
    remembered = memo(session, _MAY_HAVE_CREDITS)
    for customer_id in customer_ids:
        remembered.setdefault((organization_id, customer_id), customer_id in holders)


async def available(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, currency: str,
                    exclude_invoice_id: uuid.UUID, *, lock: bool) -> list[CustomerCredit]:
    """The customer's credits with a balance in this currency, oldest first (locked to consume them)."""
    if memo(session, _MAY_HAVE_CREDITS).get((organization_id, customer_id)) is False:
        return []
    statement = select(CustomerCredit).where(
        CustomerCredit.organization_id == organization_id, CustomerCredit.customer_id == customer_id,
        CustomerCredit.currency == currency, CustomerCredit.balance_cents > 0,
        CustomerCredit.source_invoice_id != exclude_invoice_id,
    ).order_by(CustomerCredit.created_at, CustomerCredit.id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return list((await session.execute(statement)).scalars())


async def take(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, credit_id: uuid.UUID,
               amount_cents: int, now: datetime) -> None:
    await session.execute(update(CustomerCredit).where(CustomerCredit.id == credit_id).values(
        balance_cents=CustomerCredit.balance_cents - amount_cents, updated_at=now))
    await session.execute(insert(InvoiceCredit).values(
        organization_id=organization_id, invoice_id=invoice_id, credit_id=credit_id, amount_cents=amount_cents,
        created_at=now, updated_at=now))


async def give_back(session: AsyncSession, invoice_id: uuid.UUID, now: datetime) -> int:
    """A voided invoice's credits return to their balances; how much was given back."""
    memo(session, _MAY_HAVE_CREDITS).clear()  # a balance may be back above zero
    taken = (await session.execute(delete(InvoiceCredit).where(InvoiceCredit.invoice_id == invoice_id).returning(
        InvoiceCredit.credit_id, InvoiceCredit.amount_cents))).all()
    for credit_id, amount in taken:
        # a voided credit note's credit stays voided: what it gave is not given back (Lago)
        await session.execute(update(CustomerCredit).where(CustomerCredit.id == credit_id,
                                                           CustomerCredit.voided_at.is_(None)).values(
            balance_cents=CustomerCredit.balance_cents + amount, updated_at=now))
    return sum(amount for _, amount in taken)


async def of_customer(session: AsyncSession, organization_id: uuid.UUID,
                      customer_id: uuid.UUID) -> list[CustomerCredit]:
    return list((await session.execute(select(CustomerCredit).where(
        CustomerCredit.organization_id == organization_id, CustomerCredit.customer_id == customer_id,
    ).order_by(CustomerCredit.created_at, CustomerCredit.id))).scalars())


def remember_balance(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    """The customer now holds a balance (a credit note's credit): `available` must look it up."""
    memo(session, _MAY_HAVE_CREDITS)[(organization_id, customer_id)] = True
