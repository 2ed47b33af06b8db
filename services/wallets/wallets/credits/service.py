"""Manual credits (operations console), the customer credit view and the balance history."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from invora.context import request_id_var
from invora.errors import ValidationFailed
from invora.events.contracts.wallets import WalletTransaction
from invora.ids import uuid7
from invora.money import to_decimal
from invora.service_client import ServiceClient
from wallets.credits import repository
from wallets.credits.schemas import (
    CreditsView,
    CurrencyCredits,
    HistoryEntry,
    HistoryMeta,
    HistoryPage,
    ManualCreditInput,
    ManualCreditResponse,
    UsageCreditsInput,
)
from wallets.customers import service as customers
from wallets.ledger.arithmetic import quantize_credits
from wallets.ledger.format import credits_text
from wallets.transactions import repository as transactions_repository
from wallets.transactions import service as transactions
from wallets.transactions.render import render
from wallets.wallets import repository as wallets_repository
from wallets.wallets import service as wallets
from wallets.wallets.schemas import WalletCreateInput

EXPIRING_WINDOW = timedelta(days=30)


async def _target_wallet(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                         external_customer_id: str, currency: str, wallet_code: str | None, *, now: datetime,
                         actor: str):
    """The wallet named, or the customer's first active one in the currency (created at rate 1 if none); locked.
    A customer the projection does not hold yet (created a moment ago) is asked of subscriptions."""
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
    if wallet_code is not None:
        wallet = await wallets.get_by_code(session, organization_id, external_customer_id, wallet_code, lock=True)
        if wallet["currency"] != currency:
            raise ValidationFailed(currency=["currencies_does_not_match"])
        return wallet
    active = await wallets_repository.active_of_customer(session, organization_id, customer["id"], currency)
    if active:
        return await wallets.get_row(session, organization_id, active[0]["id"], lock=True)
    created = await wallets.create(session, organization_id, WalletCreateInput(
        external_customer_id=external_customer_id, currency=currency, rate_amount="1",
        name="Credits", code=f"credits_{currency.lower()}"), now=now, actor=actor, subscriptions=subscriptions)
    return await wallets.get_row(session, organization_id, created.lago_id, lock=True)


async def manual_credit(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                        external_customer_id: str,
                        data: ManualCreditInput, *, now: datetime, actor: str,
                        limit_cents: int) -> ManualCreditResponse:
    """A granted block of `amount_cents` and its audit row, in one commit."""
    if data.amount_cents > limit_cents:
        raise ValidationFailed(amount_cents=["value_is_out_of_range"])
    if data.expiration_at is not None and data.expiration_at <= now:
        raise ValidationFailed(expiration_at=["invalid_date"])
    wallet = await _target_wallet(session, subscriptions, organization_id, external_customer_id, data.currency,
                                  data.wallet_code, now=now, actor=actor)
    credits = quantize_credits(to_decimal(data.amount_cents, data.currency) / wallet["rate_amount"])
    row = await transactions.add_block(session, wallet, credits=credits, category="granted", now=now,
                                       description=data.reason, source="console", actor=actor,
                                       expiration_at=data.expiration_at)
    audit = await repository.insert_audit(session, {
        "id": uuid7(), "organization_id": organization_id, "wallet_transaction_id": row["id"],
        "external_customer_id": external_customer_id, "amount_cents": row["amount_cents"],
        "currency": data.currency, "reason": data.reason, "actor": actor, "request_id": request_id_var.get(),
    })
    return ManualCreditResponse(wallet_transaction=render(row, wallet["currency"]), lago_audit_id=str(audit["id"]))


async def add_usage_credits(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                            external_customer_id: str,
                            data: UsageCreditsInput, *, now: datetime, actor: str, bounds: tuple[int, int],
                            ) -> WalletTransaction:
    """Seed 003's "Add usage credits": a purchase within the bounds, pending until its payment succeeds."""
    low, high = bounds
    if not low <= data.amount_cents <= high:
        raise ValidationFailed(amount_cents=["value_is_out_of_range"])
    wallet = await _target_wallet(session, subscriptions, organization_id, external_customer_id, data.currency,
                                  data.wallet_code, now=now, actor=actor)
    credits = quantize_credits(to_decimal(data.amount_cents, data.currency) / wallet["rate_amount"])
    row = await transactions.add_block(
        session, wallet, credits=credits, category="purchased", now=now, settled=False,
        invoice_requires_successful_payment=True, description="Added usage credits", actor=actor,
        metadata=[{"key": "payment_method_id", "value": data.payment_method_id}],
        payment_method_id=data.payment_method_id)
    return render(row, wallet["currency"])


async def view(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
               external_customer_id: str, now: datetime) -> CreditsView:
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
    rows = await transactions_repository.credit_view(session, organization_id, customer["id"], now,
                                                     now + EXPIRING_WINDOW)
    pending = await transactions_repository.pending_applied(session, organization_id, external_customer_id)
    currencies = {row["currency"] for row in rows} | set(pending)
    by_currency = {row["currency"]: row for row in rows}
    return CreditsView(external_customer_id=external_customer_id, credits=[CurrencyCredits(
        currency=currency,
        available_amount_cents=int(by_currency[currency]["available_cents"]) if currency in by_currency else 0,
        expiring_amount_cents=int(by_currency[currency]["expiring_cents"]) if currency in by_currency else 0,
        next_expiration_at=by_currency[currency]["next_expiration_at"] if currency in by_currency else None,
        pending_amount_cents=pending.get(currency, 0),
    ) for currency in sorted(currencies)])


def _encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(cursor=["value_is_invalid"]) from exc


async def history(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                  external_customer_id: str, *, limit: int,
                  cursor: str | None, wallet_id: uuid.UUID | None, transaction_type: str | None,
                  created_after: datetime | None, created_before: datetime | None) -> HistoryPage:
    """Every settled movement of the customer's wallets, newest first, keyset-paged."""
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
    rows = await transactions_repository.history(
        session, organization_id, customer["id"], limit=limit + 1,
        before=_decode_cursor(cursor) if cursor else None, wallet_id=wallet_id, transaction_type=transaction_type,
        created_after=created_after, created_before=created_before)
    more = len(rows) > limit
    rows = rows[:limit]
    entries = []
    for row in rows:
        sign = 1 if row["transaction_type"] == "inbound" else -1
        entries.append(HistoryEntry(
            lago_id=str(row["id"]), lago_wallet_id=str(row["wallet_id"]), description=row["description"],
            created_at=row["created_at"], currency=row["currency"], amount_cents=sign * row["amount_cents"],
            credit_amount=("-" if sign < 0 and row["credit_amount"] else "") + credits_text(row["credit_amount"]),
            transaction_type=row["transaction_type"], transaction_status=row["transaction_status"]))
    next_cursor = _encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
    return HistoryPage(balance_history=entries, meta=HistoryMeta(next_cursor=next_cursor))
