"""The API's operations on wallet transactions: top up (paid / granted / voided), void a grant, read, list."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.events.contracts.wallets import WalletTransaction
from invora.ids import parse_uuid
from invora.web.pagination import PageParams, PaginationMeta
from wallets.errors import WalletNotActive, WalletNotFound, WalletTransactionNotFound
from wallets.ledger.format import credits_text
from wallets.transactions import repository, service
from wallets.transactions.render import render
from wallets.transactions.schemas import ConsumptionLink, WalletTransactionCreateInput
from wallets.wallets import service as wallets
from wallets.wallets.service import _check_paid_limits


async def create(session: AsyncSession, organization_id: uuid.UUID, data: WalletTransactionCreateInput, *,
                 now: datetime, actor: str) -> list[WalletTransaction]:
    """Lago's top-up: up to three transactions (paid, granted, voided), in that order, in one commit."""
    try:
        wallet = await wallets.get_row(session, organization_id, data.wallet_id, lock=True)
    except WalletNotFound as exc:
        raise ValidationFailed(wallet_id=["wallet_not_found"]) from exc
    if wallet["status"] != "active":
        raise WalletNotActive("the wallet is terminated")
    if not (data.paid_credits or data.granted_credits or data.voided_credits):
        raise ValidationFailed(paid_credits=["value_is_mandatory"])
    if data.expiration_at is not None and data.expiration_at <= now:
        raise ValidationFailed(expiration_at=["invalid_date"])
    if not data.ignore_paid_top_up_limits:
        _check_paid_limits(wallet, data.paid_credits or None, "paid_credits")
    metadata = [m.model_dump() for m in data.metadata or []]
    terms = {"now": now, "name": data.name, "metadata": metadata, "actor": actor,
             "priority": data.priority or 50, "expiration_at": data.expiration_at,
             "purchase_order_number": data.purchase_order_number}
    rows: list[RowMapping] = []
    if data.paid_credits:
        requires_payment = (data.invoice_requires_successful_payment
                            if data.invoice_requires_successful_payment is not None
                            else wallet["invoice_requires_successful_payment"])
        method = data.payment_method
        if method is not None and method.payment_method_type == "manual" and method.payment_method_id:
            raise ValidationFailed(payment_method=["payment_method_id_not_allowed_for_manual"])
        rows.append(await service.add_block(
            session, wallet, credits=data.paid_credits, category="purchased", settled=not requires_payment,
            invoice_requires_successful_payment=requires_payment,
            payment_method_id=method.payment_method_id if method else None,
            manual_payment=method is not None and method.payment_method_type == "manual",
            description=data.reason or f"Purchased {credits_text(data.paid_credits)} credits", **terms))
    if data.granted_credits:
        rows.append(await service.add_block(
            session, wallet, credits=data.granted_credits, category="granted",
            description=data.reason or f"Granted {credits_text(data.granted_credits)} credits", **terms))
    if data.voided_credits:
        current = await wallets.get_row(session, organization_id, wallet["id"])
        voided = await service.void_credits(session, current, data.voided_credits, now=now, name=data.name,
                                            metadata=metadata, actor=actor)
        if voided is not None:
            rows.append(voided)
    return [render(r, wallet["currency"]) for r in rows]


async def get_row(session: AsyncSession, organization_id: uuid.UUID, transaction_id: str) -> RowMapping:
    parsed = parse_uuid(transaction_id)
    row = await repository.by_id(session, organization_id, parsed) if parsed else None
    if row is None:
        raise WalletTransactionNotFound()
    return row


async def void_grant(session: AsyncSession, organization_id: uuid.UUID, transaction_id: str, reason: str, *,
                     now: datetime, actor: str) -> WalletTransaction:
    block = await get_row(session, organization_id, transaction_id)
    wallet = await wallets.get_row(session, organization_id, block["wallet_id"], lock=True)
    block = await get_row(session, organization_id, transaction_id)  # again, under the wallet's lock
    updated, _removal = await service.void_block(session, wallet, block, reason=reason, now=now, actor=actor)
    return render(updated, wallet["currency"])


async def list_of_wallet(session: AsyncSession, wallet: RowMapping, page: PageParams, **filters: str | None,
                         ) -> tuple[list[WalletTransaction], PaginationMeta]:
    rows, meta = await repository.page_of_wallet(session, wallet["id"], page, **filters)
    return [render(r, wallet["currency"]) for r in rows], meta


async def links(session: AsyncSession, transaction: RowMapping, currency: str, page: PageParams, *,
                consumptions: bool) -> tuple[list[ConsumptionLink], PaginationMeta]:
    """Consumptions of a block (which debits it funded) or fundings of a debit (which blocks paid for it)."""
    entries, meta = await repository.consumption_links(
        session, by="block_id" if consumptions else "movement_id", transaction_id=transaction["id"], page=page)
    others = {r["id"]: r for r in await repository.by_ids(
        session, list({e["movement_id" if consumptions else "block_id"] for e in entries}))}
    return [ConsumptionLink(
        lago_id=str(e["entry_id"]), amount_cents=e["amount_cents"], credit_amount=credits_text(e["credits"]),
        created_at=e["created_at"].isoformat(),
        wallet_transaction=render(others[e["movement_id" if consumptions else "block_id"]], currency),
    ) for e in entries], meta
