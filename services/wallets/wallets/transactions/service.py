"""Credits in and out of a wallet: grants and purchases (blocks), voids, expiries.

Every function takes the session first, locks the wallet it moves (`FOR UPDATE`, in id order when
several), writes the transaction row and its ledger movement in the caller's transaction, and
records the events. None commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.wallets import (
    PAID_CREDITS_INVOICE_REQUESTED,
    CreditsBalanceDepleted,
    CreditsGranted,
    PaidCreditsInvoiceRequested,
    TopUpPaymentRequested,
    WalletEvent,
    WalletTransactionEvent,
)
from invora.ids import uuid7
from invora.outbox import PendingEvent, add_events
from wallets.errors import InsufficientCredits, WalletNotActive, WalletTransactionNotVoidable
from wallets.events import publish
from wallets.ledger import service as ledger
from wallets.ledger.arithmetic import Debit, allocate_credits, credits_to_cents
from wallets.ledger.format import credits_text
from wallets.transactions import repository
from wallets.transactions.render import render
from wallets.wallets import repository as wallets_repository
from wallets.wallets.render import render as render_wallet

Category = Literal["granted", "purchased"]


async def publish_transaction(session: AsyncSession, wallet: RowMapping, row: RowMapping,
                              verb: str = "created") -> None:
    await publish(session, wallet["organization_id"], f"wallet_transaction.{verb}", row["id"],
                  WalletTransactionEvent(wallet_transaction=render(row, wallet["currency"])))


def depletion_events(before: RowMapping, after: RowMapping) -> list[PendingEvent]:
    """`credits.balance_depleted` when a debit emptied the wallet, `wallet.depleted_ongoing_balance` when it
    took the ongoing balance (balance minus current usage) from above zero to zero or below."""
    events: list[PendingEvent] = []
    if before["balance_cents"] > 0 and after["balance_cents"] == 0:
        events.append(PendingEvent("credits.balance_depleted", after["organization_id"], "credits", after["id"],
                                   CreditsBalanceDepleted(external_customer_id=after["external_customer_id"],
                                                          wallet=render_wallet(after))))
    before_ongoing = before["balance_cents"] - before["ongoing_usage_balance_cents"]
    after_ongoing = after["balance_cents"] - after["ongoing_usage_balance_cents"]
    if before_ongoing > 0 >= after_ongoing:
        events.append(PendingEvent("wallet.depleted_ongoing_balance", after["organization_id"], "wallet",
                                   after["id"], WalletEvent(wallet=render_wallet(after))))
    return events


async def after_debit(session: AsyncSession, before: RowMapping, wallet_id: uuid.UUID,
                      now: datetime, *, recharge: bool = True) -> RowMapping:
    """The wallet as it is now; the depletion events when this debit emptied it; its auto recharge."""
    from wallets.transactions.recharge import maybe_recharge

    after = await wallets_repository.by_id(session, before["organization_id"], wallet_id)
    assert after is not None
    await add_events(session, depletion_events(before, after))
    if recharge:
        await maybe_recharge(session, after, now)
    return after


async def add_block(
    session: AsyncSession, wallet: RowMapping, *, credits: Decimal, category: Category, now: datetime,
    description: str, source: str = "manual", settled: bool = True, priority: int = 50,
    expiration_at: datetime | None = None, name: str | None = None, metadata: list[dict] | None = None,
    invoice_requires_successful_payment: bool = False, actor: str | None = None,
    purchase_order_number: str | None = None, payment_method_id: str | None = None, manual_payment: bool = False,
) -> RowMapping:
    """Credits into `wallet` as their own block (granted, or purchased); pending purchases wait for payment:
    the payments service is asked to charge them (`wallet_transaction.payment_requested`, same transaction);
    purchases settled at once are invoiced (`wallet.paid_credits_invoice_requested`, same transaction)."""
    if wallet["status"] != "active":
        raise WalletNotActive("the wallet is terminated")
    cents = credits_to_cents(credits, wallet["rate_amount"], wallet["currency"])
    transaction_id = uuid7()
    row = await repository.insert(session, {
        "id": transaction_id, "organization_id": wallet["organization_id"], "wallet_id": wallet["id"],
        "customer_id": wallet["customer_id"], "transaction_type": "inbound", "transaction_status": category,
        "status": "settled" if settled else "pending", "source": source, "credit_amount": credits,
        "amount_cents": cents, "remaining_credits": Decimal(0), "remaining_cents": 0, "is_block": True,
        "category": category, "priority": priority, "expiration_at": expiration_at, "description": description,
        "name": name, "metadata": metadata or [], "actor": actor,
        "invoice_requires_successful_payment": invoice_requires_successful_payment,
        "purchase_order_number": purchase_order_number, "settled_at": now if settled else None,
        "created_at": now, "updated_at": now,
    })
    if settled:
        row = await _credit_block(session, wallet, row, now)
    await publish_transaction(session, wallet, row)
    if not settled and category == "purchased":
        await request_payment(session, wallet, row, payment_method_id, manual=manual_payment)
    if settled:
        await publish(session, wallet["organization_id"], "credits.granted", transaction_id, CreditsGranted(
            external_customer_id=wallet["external_customer_id"], lago_wallet_id=wallet["id"],
            wallet_transaction=render(row, wallet["currency"])))
    if settled and category == "purchased" and cents > 0:
        await request_invoice(session, wallet, row)
    return row


async def request_invoice(session: AsyncSession, wallet: RowMapping, row: RowMapping) -> None:
    """Paid credits granted at once (no successful payment required) are still paid for: invoicing makes them
    a `credit` invoice (Lago's), which payments charges like any invoice."""
    await publish(session, wallet["organization_id"], PAID_CREDITS_INVOICE_REQUESTED, wallet["id"],
                  PaidCreditsInvoiceRequested(
                      lago_wallet_transaction_id=row["id"], lago_wallet_id=wallet["id"], wallet_name=wallet["name"],
                      lago_customer_id=wallet["customer_id"], external_customer_id=wallet["external_customer_id"],
                      amount_cents=row["amount_cents"], currency=wallet["currency"],
                      credit_amount=row["credit_amount"], rate_amount=wallet["rate_amount"],
                      purchase_order_number=row["purchase_order_number"], created_at=row["created_at"]))


async def request_payment(session: AsyncSession, wallet: RowMapping, row: RowMapping,
                          payment_method_id: str | None = None, *, manual: bool = False) -> None:
    """Ask payments to charge a pending purchase (its answer: `transactions/payments_consumer.py`); `manual`: not
    charged off-session, the customer pays on the provider's page (payments' `wallet_transactions/{id}/payment_url`).

    A purchase worth nothing in money (credits below a cent) is settled at once: there is nothing to charge.
    """
    if row["amount_cents"] <= 0:
        await settle(session, wallet, row, row["created_at"])
        return
    await publish(session, wallet["organization_id"], "wallet_transaction.payment_requested", row["id"],
                  TopUpPaymentRequested(
                      lago_wallet_transaction_id=row["id"], lago_wallet_id=wallet["id"],
                      lago_customer_id=wallet["customer_id"], external_customer_id=wallet["external_customer_id"],
                      amount_cents=row["amount_cents"], currency=wallet["currency"],
                      payment_method_id=payment_method_id, description=row["description"], manual=manual))


async def _credit_block(session: AsyncSession, wallet: RowMapping, row: RowMapping, now: datetime) -> RowMapping:
    kind, counter = ("purchase", "purchased") if row["category"] == "purchased" else ("grant", "granted")
    await ledger.post(session, organization_id=wallet["organization_id"], movement_id=row["id"],
                      wallet_id=wallet["id"], kind=kind, counter_account=counter,
                      legs=[(row["id"], row["amount_cents"], row["credit_amount"])], at=now)
    refreshed = await repository.by_id(session, wallet["organization_id"], row["id"])
    assert refreshed is not None
    return refreshed


async def settle(session: AsyncSession, wallet: RowMapping, transaction: RowMapping, now: datetime) -> RowMapping:
    """A pending purchase's payment succeeded: its credits reach the balance (once: it must still be pending)."""
    if transaction["status"] != "pending":
        return transaction
    row = await repository.set_fields(session, transaction["id"], {"status": "settled", "settled_at": now})
    row = await _credit_block(session, wallet, row, now)
    await publish_transaction(session, wallet, row, "updated")
    await publish(session, wallet["organization_id"], "credits.granted", row["id"], CreditsGranted(
        external_customer_id=wallet["external_customer_id"], lago_wallet_id=wallet["id"],
        wallet_transaction=render(row, wallet["currency"])))
    return row


async def fail(session: AsyncSession, wallet: RowMapping, transaction: RowMapping, now: datetime) -> RowMapping:
    """A pending purchase's payment failed: nothing reaches the balance (once: it must still be pending)."""
    if transaction["status"] != "pending":
        return transaction
    row = await repository.set_fields(session, transaction["id"], {"status": "failed", "failed_at": now})
    await publish_transaction(session, wallet, row, "payment_failure")
    return row


async def remove(
    session: AsyncSession, wallet: RowMapping, debits: Sequence[Debit], *, now: datetime,
    kind: Literal["void", "expiry"],
    description: str, source: str = "manual", name: str | None = None, metadata: list[dict] | None = None,
    actor: str | None = None, recharge: bool = True,
) -> RowMapping | None:
    """One outbound `voided` transaction taking `debits` out of their blocks (voids, expiries)."""
    debits = [d for d in debits if d.cents or d.credits]
    if not debits:
        return None
    transaction_id = uuid7()
    row = await repository.insert(session, {
        "id": transaction_id, "organization_id": wallet["organization_id"], "wallet_id": wallet["id"],
        "customer_id": wallet["customer_id"], "transaction_type": "outbound", "transaction_status": "voided",
        "status": "settled", "source": source, "credit_amount": sum((d.credits for d in debits), Decimal(0)),
        "amount_cents": sum(d.cents for d in debits), "is_block": False, "description": description,
        "name": name, "metadata": metadata or [], "actor": actor, "settled_at": now, "created_at": now,
        "updated_at": now,
    })
    await ledger.post(session, organization_id=wallet["organization_id"], movement_id=transaction_id,
                      wallet_id=wallet["id"], kind=kind, counter_account="voided" if kind == "void" else "expired",
                      legs=[(d.block.id, -d.cents, -d.credits) for d in debits], at=now)
    await publish_transaction(session, wallet, row)
    await after_debit(session, wallet, wallet["id"], now, recharge=recharge)
    return row


async def void_credits(session: AsyncSession, wallet: RowMapping, credits: Decimal, *, now: datetime,
                       name: str | None = None, metadata: list[dict] | None = None,
                       actor: str | None = None) -> RowMapping | None:
    """Lago's `voided_credits`: take that many credits out, in consumption order; more than the balance: 409."""
    if wallet["status"] != "active":
        raise WalletNotActive("the wallet is terminated")
    blocks = await ledger.live_blocks(session, [wallet["id"]], now)
    if sum((b.remaining_credits for b in blocks), Decimal(0)) < credits:
        raise InsufficientCredits(f"the wallet holds less than {credits_text(credits)} credits")
    return await remove(session, wallet, allocate_credits(credits, blocks), now=now, kind="void",
                        description=f"Voided {credits_text(credits)} credits", name=name, metadata=metadata,
                        actor=actor)


async def void_block(session: AsyncSession, wallet: RowMapping, block: RowMapping, *, reason: str, now: datetime,
                     actor: str | None = None) -> tuple[RowMapping, RowMapping | None]:
    """Void a grant: what is left of it is removed (what was already applied stays applied). Once."""
    if not block["is_block"] or block["voided_at"] is not None or block["status"] != "settled":
        raise WalletTransactionNotVoidable("only a settled credit grant that is not voided yet can be voided")
    removal = await remove(
        session, wallet, [_whole(block, wallet)], now=now, kind="void", actor=actor,
        description=f"Voided credit grant: {reason}")
    updated = await repository.set_fields(session, block["id"], {"voided_at": now, "void_reason": reason})
    await publish_transaction(session, wallet, updated, "updated")
    return updated, removal


async def expire_block(session: AsyncSession, wallet: RowMapping, block: RowMapping,
                       now: datetime) -> RowMapping | None:
    """Remove what is left of a block past its expiry (idempotent: an empty block removes nothing)."""
    return await remove(session, wallet, [_whole(block, wallet)], now=now, kind="expiry", source="expiration",
                        description="Credits expired")


def _whole(block: RowMapping, wallet: RowMapping) -> Debit:
    return Debit(ledger.to_block({**block, "wallet_priority": wallet["priority"],
                                  "wallet_created_at": wallet["created_at"], "rate_amount": wallet["rate_amount"],
                                  "currency": wallet["currency"]}),
                 block["remaining_cents"], block["remaining_credits"])
