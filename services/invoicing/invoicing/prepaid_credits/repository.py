"""SQL of the prepaid-credits saga: the wallets projection, and the pending invoices waiting for an answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.invoices.models import Invoice
from invoicing.prepaid_credits.models import WalletProjection
from invora.db.memo import memo
from invora.events.contracts.wallets import Wallet

# (organization, customer) → the currencies of its active wallets, for the customers a consumer's batch
# prefetched (one query for the batch instead of one per invoice)
_ACTIVE_WALLETS = "invoicing.active_wallet_currencies"


async def upsert_wallet(session: AsyncSession, organization_id: uuid.UUID, wallet: Wallet, sequence: int,
                        at: datetime) -> None:
    """The wallet as its event shows it, unless a later event of that wallet was applied already."""
    values = dict(customer_id=wallet.lago_customer_id, external_customer_id=wallet.external_customer_id,
                  currency=wallet.currency, status=wallet.status, sequence=sequence, updated_at=at)
    memo(session, _ACTIVE_WALLETS).pop((organization_id, wallet.lago_customer_id), None)
    statement = insert(WalletProjection).values(organization_id=organization_id, id=wallet.lago_id, **values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["organization_id", "id"], set_=values,
        where=WalletProjection.sequence < statement.excluded.sequence))


async def prefetch_active_wallets(session: AsyncSession, organization_id: uuid.UUID,
                                  customer_ids: list[uuid.UUID]) -> None:
    if not customer_ids:
        return
    rows = (await session.execute(select(WalletProjection.customer_id, WalletProjection.currency).where(
        WalletProjection.organization_id == organization_id, WalletProjection.customer_id.in_(customer_ids),
        WalletProjection.status == "active"))).all()
    remembered = memo(session, _ACTIVE_WALLETS)
    for customer_id in customer_ids:
        remembered[(organization_id, customer_id)] = set()
    for customer_id, currency in rows:
        remembered[(organization_id, customer_id)].add(currency)


async def has_active_wallet(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                            currency: str) -> bool:
    known = memo(session, _ACTIVE_WALLETS).get((organization_id, customer_id))
    if known is not None:
        return currency in known
    return bool((await session.execute(select(exists().where(
        WalletProjection.organization_id == organization_id, WalletProjection.customer_id == customer_id,
        WalletProjection.currency == currency, WalletProjection.status == "active")))).scalar_one())


async def stale_pending(session: AsyncSession, requested_before: datetime, limit: int) -> list[Invoice]:
    """Pending invoices whose request was last sent before `requested_before`, locked (others skipped)."""
    return list((await session.execute(select(Invoice).where(
        Invoice.status == "pending", Invoice.prepaid_credits_requested_at < requested_before,
    ).order_by(Invoice.prepaid_credits_requested_at).limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True))).scalars())
