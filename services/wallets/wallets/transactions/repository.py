"""SQL of wallet transactions (blocks included) and the balance history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta
from wallets.transactions.models import WalletTransaction
from wallets.wallets.models import Wallet

_TX = WalletTransaction.__table__
_WALLETS = Wallet.__table__


async def insert(session: AsyncSession, values: dict[str, Any]) -> RowMapping:
    return (await session.execute(_TX.insert().values(**values).returning(*_TX.c))).mappings().one()


# a batch's invoice debits (`applications.service._debit_row`) in one statement; the columns every such row
# shares are written as the constants that function sets
_INSERT_INVOICE_DEBITS = text(
    """
    INSERT INTO wallet_transactions (id, organization_id, wallet_id, customer_id, transaction_type,
                                     transaction_status, status, source, credit_amount, amount_cents, is_block,
                                     priority, description, lago_invoice_id, settled_at, created_at, updated_at)
    SELECT i, o, w, c, 'outbound', 'invoiced', 'settled', 'invoice', cr, ce, false, 50, d, inv, t, t, t
    FROM unnest(CAST(:ids AS uuid[]), CAST(:orgs AS uuid[]), CAST(:wallets AS uuid[]), CAST(:customers AS uuid[]),
                CAST(:credits AS numeric[]), CAST(:cents AS bigint[]), CAST(:descriptions AS text[]),
                CAST(:invoices AS uuid[]), CAST(:at AS timestamptz[])) AS r(i, o, w, c, cr, ce, d, inv, t)
    """
)
_INVOICE_DEBIT = {"transaction_type": "outbound", "transaction_status": "invoiced", "status": "settled",
                  "source": "invoice", "is_block": False, "priority": 50, "metadata": [],
                  "invoice_requires_successful_payment": False}


async def insert_invoice_debits(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write invoice debit rows (all with the constants of `_INVOICE_DEBIT`) in one statement."""
    if not rows:
        return
    assert all(row[k] == v for row in rows for k, v in _INVOICE_DEBIT.items()), "not an invoice debit row"
    await session.execute(_INSERT_INVOICE_DEBITS, {
        "ids": [r["id"] for r in rows], "orgs": [r["organization_id"] for r in rows],
        "wallets": [r["wallet_id"] for r in rows], "customers": [r["customer_id"] for r in rows],
        "credits": [r["credit_amount"] for r in rows], "cents": [r["amount_cents"] for r in rows],
        "descriptions": [r["description"] for r in rows], "invoices": [r["lago_invoice_id"] for r in rows],
        "at": [r["created_at"] for r in rows]})


async def by_id(session: AsyncSession, organization_id: uuid.UUID, transaction_id: uuid.UUID) -> RowMapping | None:
    statement = select(_TX).where(_TX.c.organization_id == organization_id, _TX.c.id == transaction_id)
    return (await session.execute(statement)).mappings().first()


async def by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> list[RowMapping]:
    if not ids:
        return []
    return list((await session.execute(select(_TX).where(_TX.c.id.in_(ids)))).mappings().all())


async def set_fields(session: AsyncSession, transaction_id: uuid.UUID, values: dict[str, Any]) -> RowMapping:
    statement = update(_TX).where(_TX.c.id == transaction_id).values(**values, updated_at=func.now())
    return (await session.execute(statement.returning(*_TX.c))).mappings().one()


async def page_of_wallet(session: AsyncSession, wallet_id: uuid.UUID, page: PageParams, *, status: str | None,
                         transaction_status: str | None, transaction_type: str | None,
                         ) -> tuple[list[RowMapping], PaginationMeta]:
    condition = [_TX.c.wallet_id == wallet_id]
    if status:
        condition.append(_TX.c.status == status)
    if transaction_status:
        condition.append(_TX.c.transaction_status == transaction_status)
    if transaction_type:
        condition.append(_TX.c.transaction_type == transaction_type)
    total = (await session.execute(select(func.count()).select_from(_TX).where(*condition))).scalar_one()
    rows = (await session.execute(select(_TX).where(*condition).order_by(_TX.c.created_at.desc(), _TX.c.id.desc())
                                  .limit(page.per_page).offset(page.offset))).mappings().all()
    return list(rows), page.meta(total)


_FUNDINGS = text(
    """
    SELECT e.id AS entry_id, e.block_id, e.movement_id, -e.amount_cents AS amount_cents, -e.credits AS credits,
           e.created_at
    FROM ledger_entries e
    WHERE e.account = 'wallet' AND e.kind = 'consumption' AND e.{column} = :id
    ORDER BY e.id LIMIT :limit OFFSET :offset
    """
)
_FUNDINGS_COUNT = text(
    "SELECT count(*) FROM ledger_entries e WHERE e.account = 'wallet' AND e.kind = 'consumption' AND e.{column} = :id"
)


async def consumption_links(session: AsyncSession, *, by: str, transaction_id: uuid.UUID,
                            page: PageParams) -> tuple[list[RowMapping], PaginationMeta]:
    """Consumption entries naming a block (`by="block_id"`: its consumptions) or a movement (its fundings)."""
    assert by in ("block_id", "movement_id")
    total = (await session.execute(text(_FUNDINGS_COUNT.text.format(column=by)), {"id": transaction_id})).scalar_one()
    rows = (await session.execute(text(_FUNDINGS.text.format(column=by)), {
        "id": transaction_id, "limit": page.per_page, "offset": page.offset})).mappings().all()
    return list(rows), page.meta(total)


async def history(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, *, limit: int,
                  before: tuple[datetime, uuid.UUID] | None, wallet_id: uuid.UUID | None,
                  transaction_type: str | None, created_after: datetime | None, created_before: datetime | None,
                  ) -> list[RowMapping]:
    """Settled movements, newest first, keyset-paged on (created_at, id)."""
    condition = [_TX.c.organization_id == organization_id, _TX.c.customer_id == customer_id,
                 _TX.c.status == "settled"]
    if wallet_id is not None:
        condition.append(_TX.c.wallet_id == wallet_id)
    if transaction_type:
        condition.append(_TX.c.transaction_type == transaction_type)
    if created_after is not None:
        condition.append(_TX.c.created_at >= created_after)
    if created_before is not None:
        condition.append(_TX.c.created_at < created_before)
    if before is not None:
        at, last_id = before
        condition.append(or_(_TX.c.created_at < at, and_(_TX.c.created_at == at, _TX.c.id < last_id)))
    statement = (select(_TX, _WALLETS.c.currency).join(_WALLETS, _WALLETS.c.id == _TX.c.wallet_id)
                 .where(*condition).order_by(_TX.c.created_at.desc(), _TX.c.id.desc()).limit(limit))
    return list((await session.execute(statement)).mappings().all())


_CREDIT_VIEW = text(
    """
    SELECT w.currency,
           coalesce(sum(t.remaining_cents) FILTER (WHERE t.expiration_at IS NULL OR t.expiration_at > :now), 0)
               AS available_cents,
           coalesce(sum(t.remaining_cents) FILTER (WHERE t.expiration_at > :now AND t.expiration_at <= :soon), 0)
               AS expiring_cents,
           min(t.expiration_at) FILTER (WHERE t.expiration_at > :now AND t.remaining_cents > 0) AS next_expiration_at
    FROM wallets w JOIN wallet_transactions t ON t.wallet_id = w.id AND t.is_block
    WHERE w.organization_id = :org AND w.customer_id = :customer AND w.status = 'active'
    GROUP BY w.currency ORDER BY w.currency
    """
)
_PENDING = text(
    """
    SELECT currency, coalesce(sum(applied_amount_cents), 0) AS pending_cents
    FROM credit_applications
    WHERE organization_id = :org AND external_customer_id = :external_id AND status = 'applied'
      AND settled_at IS NULL
    GROUP BY currency
    """
)


async def credit_view(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                      now: datetime, soon: datetime) -> list[RowMapping]:
    return list((await session.execute(_CREDIT_VIEW, {"org": organization_id, "customer": customer_id, "now": now,
                                                      "soon": soon})).mappings().all())


async def pending_applied(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> dict[str, int]:
    rows = (await session.execute(_PENDING, {"org": organization_id, "external_id": external_id})).all()
    return {row.currency: int(row.pending_cents) for row in rows}


async def expiring_blocks(session: AsyncSession, now: datetime, limit: int) -> list[RowMapping]:
    """Blocks past their expiry with something left (a single-row read, locked by the caller per wallet)."""
    statement = (select(_TX.c.id, _TX.c.organization_id, _TX.c.wallet_id).where(
        _TX.c.is_block, or_(_TX.c.remaining_credits > 0, _TX.c.remaining_cents > 0), _TX.c.expiration_at <= now)
        .order_by(_TX.c.expiration_at).limit(limit))
    return list((await session.execute(statement)).mappings().all())


async def recharges_since(session: AsyncSession, wallet_id: uuid.UUID, since: datetime) -> list[RowMapping]:
    """The wallet's auto recharges created since `since` (paid and granted parts count once per recharge),
    and any still pending whenever it started."""
    statement = select(_TX.c.id, _TX.c.status, _TX.c.failed_at, _TX.c.created_at).where(
        _TX.c.wallet_id == wallet_id, _TX.c.source == "threshold", _TX.c.transaction_type == "inbound",
        or_(_TX.c.created_at >= since, _TX.c.status == "pending"))
    rows = (await session.execute(statement)).mappings().all()
    by_moment: dict = {}
    for row in rows:  # the paid and granted parts of one recharge share its moment
        current = by_moment.get(row["created_at"])
        if current is None or row["status"] in ("pending", "failed"):
            by_moment[row["created_at"]] = row
    return list(by_moment.values())


_WITH_INTERVAL_RULES = text(
    """
    SELECT * FROM wallets
    WHERE status = 'active' AND recurring_transaction_rules @> '[{"trigger": "interval"}]' AND id > :after
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    """
)
_CLAIM_RUN = text(
    """
    INSERT INTO recurring_runs (wallet_id, rule_id, due_at) VALUES (:wallet, :rule, :due)
    ON CONFLICT DO NOTHING RETURNING wallet_id
    """
)


async def wallets_with_interval_rules(session: AsyncSession, after: uuid.UUID, limit: int) -> list[RowMapping]:
    """The next `limit` active wallets with an interval rule after `after` (id order), locked; others skipped."""
    return list((await session.execute(_WITH_INTERVAL_RULES, {"after": after, "limit": limit})).mappings().all())


async def claim_recurring_run(session: AsyncSession, wallet_id: uuid.UUID, rule_id: str, due: datetime) -> bool:
    return (await session.execute(_CLAIM_RUN, {"wallet": wallet_id, "rule": rule_id, "due": due})).first() is not None
