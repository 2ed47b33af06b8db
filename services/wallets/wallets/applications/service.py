"""Applying prepaid credits to an invoice, and giving them back when it is voided (the saga's wallets side).

- **Idempotent per invoice**: the first thing an application does is claim the invoice's row in
  `credit_applications` (primary key: organization, invoice). A repeated request (redelivered, or sent
  again by invoicing) finds the row and gets the recorded answer again, with no second effect; two
  concurrent requests for one invoice are serialised by the key, the second waiting for the first.
- **Never more than the balance**: the customer's wallets are locked in id order before their blocks are
  read, so concurrent invoices of one customer apply one after the other; and the ledger's `CHECK`s
  refuse a debit below zero whatever the code does.
- **Reversed on void**: a release puts back each block's part of the application, into the same blocks,
  unless that block has since expired or been voided, or its wallet terminated (those credits are gone,
  as an expiry is final). A release before any request is recorded, so a late request applies nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.invoicing import PrepaidCreditsReleaseRequested, PrepaidCreditsRequested
from invora.events.contracts.wallets import (
    AppliedLine,
    AppliedWalletTransaction,
    PrepaidCreditsApplied,
    PrepaidCreditsReleased,
)
from invora.ids import uuid7
from wallets.applications import repository
from wallets.common.events import publish
from wallets.customers import service as customers
from wallets.ledger import repository as ledger_repository
from wallets.ledger import service as ledger
from wallets.ledger.arithmetic import AppliesTo, Line, allocate_lines
from wallets.ledger.format import credits_text
from wallets.transactions import repository as transactions_repository
from wallets.transactions.service import after_debit, publish_transaction
from wallets.wallets import repository as wallets_repository


def _answer(request: PrepaidCreditsRequested, applied_per_line: list[int],
            transactions: list[AppliedWalletTransaction], status: str = "applied") -> PrepaidCreditsApplied:
    return PrepaidCreditsApplied(
        lago_invoice_id=request.lago_invoice_id, external_customer_id=request.external_customer_id,
        currency=request.currency, requested_amount_cents=sum(line.amount_cents for line in request.lines),
        applied_amount_cents=sum(applied_per_line), status=status, wallet_transactions=transactions,
        lines=[AppliedLine(lago_fee_id=line.lago_fee_id, fee_type=line.fee_type,
                           billable_metric_code=line.billable_metric_code, requested_amount_cents=line.amount_cents,
                           applied_amount_cents=applied) for line, applied in zip(request.lines, applied_per_line,
                                                                                  strict=True)],
    )


async def apply(session: AsyncSession, organization_id: uuid.UUID, request: PrepaidCreditsRequested,
                now: datetime) -> PrepaidCreditsApplied:
    """Apply the customer's credits to the invoice once; answer `credits.applied` (every time asked)."""
    requested = sum(line.amount_cents for line in request.lines)
    claimed = await repository.claim(session, organization_id=organization_id, invoice_id=request.lago_invoice_id,
                                     customer=request.external_customer_id, currency=request.currency,
                                     status="applied", requested=requested)
    if not claimed:
        existing = await repository.get(session, organization_id, request.lago_invoice_id)
        assert existing is not None
        if existing["answer"] is not None and existing["status"] == "applied":
            answer = PrepaidCreditsApplied.model_validate(existing["answer"])
        else:  # released before (or since) it was applied: nothing stays applied
            answer = _answer(request, [0] * len(request.lines), [], status="released")
        await _publish_answer(session, organization_id, answer)
        return answer

    applied_per_line = [0] * len(request.lines)
    transactions: list[AppliedWalletTransaction] = []
    customer = await customers.find(session, organization_id, request.external_customer_id)
    if customer is not None and requested > 0:
        candidates = await wallets_repository.active_of_customer(session, organization_id, customer["id"],
                                                                 request.currency)
        wallets = {w["id"]: w for w in await ledger_repository.lock_wallets(
            session, organization_id, [c["id"] for c in candidates]) if w["status"] == "active"}
        blocks = await ledger.live_blocks(session, list(wallets), now)
        lines = [Line(line.fee_type, line.billable_metric_code, line.amount_cents) for line in request.lines]
        scopes = {wallet_id: AppliesTo(frozenset(w["applies_to_fee_types"]), frozenset(w["applies_to_metric_codes"]))
                  for wallet_id, w in wallets.items()}
        allocation = allocate_lines(lines, blocks, scopes)
        applied_per_line = allocation.applied_per_line
        by_wallet = defaultdict(list)
        for debit in allocation.debits:
            by_wallet[debit.block.wallet_id].append(debit)
        label = request.invoice_number or str(request.lago_invoice_id)
        for wallet_id, debits in by_wallet.items():
            wallet = wallets[wallet_id]
            cents = sum(d.cents for d in debits)
            credits = sum((d.credits for d in debits), Decimal(0))
            transaction_id = uuid7()
            row = await transactions_repository.insert(session, {
                "id": transaction_id, "organization_id": organization_id, "wallet_id": wallet_id,
                "customer_id": wallet["customer_id"], "transaction_type": "outbound",
                "transaction_status": "invoiced", "status": "settled", "source": "invoice", "credit_amount": credits,
                "amount_cents": cents, "is_block": False, "lago_invoice_id": request.lago_invoice_id,
                "description": f"Applied credit balance to invoice {label}", "settled_at": now,
                "created_at": now, "updated_at": now,
            })
            await ledger.post(session, organization_id=organization_id, movement_id=transaction_id,
                              wallet_id=wallet_id, kind="consumption", counter_account="consumed",
                              legs=[(d.block.id, -d.cents, -d.credits) for d in debits], at=now)
            await publish_transaction(session, wallet, row)
            await after_debit(session, wallet, wallet_id)
            transactions.append(AppliedWalletTransaction(
                lago_wallet_id=wallet_id, lago_wallet_transaction_id=transaction_id, amount_cents=cents,
                credit_amount=credits_text(credits)))
    answer = _answer(request, applied_per_line, transactions)
    await repository.record_answer(session, organization_id, request.lago_invoice_id, answer.applied_amount_cents,
                                   answer.model_dump(mode="json"))
    await _publish_answer(session, organization_id, answer)
    return answer


async def _publish_answer(session: AsyncSession, organization_id: uuid.UUID, answer: PrepaidCreditsApplied) -> None:
    await publish(session, organization_id, "credits.applied", answer.lago_invoice_id, answer)


async def release(session: AsyncSession, organization_id: uuid.UUID, request: PrepaidCreditsReleaseRequested,
                  now: datetime) -> PrepaidCreditsReleased:
    """Give back what was applied to the invoice, once; answer `credits.released` (every time asked)."""
    invoice_id = request.lago_invoice_id
    await repository.claim(session, organization_id=organization_id, invoice_id=invoice_id,
                           customer=request.external_customer_id, currency=None, status="released", requested=0)
    application = await repository.get(session, organization_id, invoice_id, lock=True)
    assert application is not None
    if application["status"] == "released":
        answer = PrepaidCreditsReleased(lago_invoice_id=invoice_id,
                                        external_customer_id=application["external_customer_id"],
                                        released_amount_cents=application["released_amount_cents"],
                                        wallet_transactions=[])
        await publish(session, organization_id, "credits.released", invoice_id, answer)
        return answer

    legs = await repository.consumption_legs(session, organization_id, invoice_id)
    wallets = {w["id"]: w for w in await ledger_repository.lock_wallets(
        session, organization_id, sorted({leg["wallet_id"] for leg in legs}))}
    blocks = {b["id"]: b for b in await transactions_repository.by_ids(
        session, list({leg["block_id"] for leg in legs}))}
    restored: dict[uuid.UUID, list[tuple[uuid.UUID, int, Decimal]]] = defaultdict(list)
    lost = 0
    for leg in legs:
        block, wallet = blocks[leg["block_id"]], wallets[leg["wallet_id"]]
        alive = (wallet["status"] == "active" and block["voided_at"] is None
                 and (block["expiration_at"] is None or block["expiration_at"] > now))
        if alive:
            restored[wallet["id"]].append((block["id"], leg["cents"], leg["credits"]))
        else:
            lost += leg["cents"]
    transactions: list[AppliedWalletTransaction] = []
    label = str(invoice_id)
    for wallet_id, wallet_legs in restored.items():
        wallet = wallets[wallet_id]
        cents = sum(c for _, c, _ in wallet_legs)
        credits = sum((c for _, _, c in wallet_legs), Decimal(0))
        transaction_id = uuid7()
        row = await transactions_repository.insert(session, {
            "id": transaction_id, "organization_id": organization_id, "wallet_id": wallet_id,
            "customer_id": wallet["customer_id"], "transaction_type": "inbound", "transaction_status": "granted",
            "status": "settled", "source": "invoice", "credit_amount": credits, "amount_cents": cents,
            "is_block": False, "lago_voided_invoice_id": invoice_id, "settled_at": now, "created_at": now,
            "updated_at": now, "description": f"Credits restored from voided invoice {label}",
        })
        await ledger.post(session, organization_id=organization_id, movement_id=transaction_id, wallet_id=wallet_id,
                          kind="reversal", counter_account="consumed", legs=wallet_legs, at=now)
        await publish_transaction(session, wallet, row)
        transactions.append(AppliedWalletTransaction(
            lago_wallet_id=wallet_id, lago_wallet_transaction_id=transaction_id, amount_cents=cents,
            credit_amount=credits_text(credits)))
    released = sum(t.amount_cents for t in transactions)
    await repository.mark_released(session, organization_id, invoice_id, released, now)
    answer = PrepaidCreditsReleased(lago_invoice_id=invoice_id,
                                    external_customer_id=application["external_customer_id"],
                                    released_amount_cents=released, lost_amount_cents=lost,
                                    wallet_transactions=transactions)
    await publish(session, organization_id, "credits.released", invoice_id, answer)
    return answer
