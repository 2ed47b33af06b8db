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

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.invoicing import PrepaidCreditsReleaseRequested, PrepaidCreditsRequested
from invora.events.contracts.wallets import (
    AppliedLine,
    AppliedWalletTransaction,
    PrepaidCreditsApplied,
    PrepaidCreditsReleased,
    WalletTransactionEvent,
)
from invora.ids import uuid7
from invora.outbox import PendingEvent, add_events
from wallets.applications import repository
from wallets.events import publish
from wallets.ledger import repository as ledger_repository
from wallets.ledger import service as ledger
from wallets.ledger.arithmetic import AppliesTo, Block, Line, allocate_lines
from wallets.ledger.format import credits_text
from wallets.transactions import repository as transactions_repository
from wallets.transactions.recharge import has_threshold_rule, maybe_recharge
from wallets.transactions.render import render as render_transaction
from wallets.transactions.service import depletion_events, publish_transaction
from wallets.unit_credits import service as unit_credits


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
    return (await apply_many(session, [(organization_id, request)], now))[0]


async def apply_many(session: AsyncSession, requests: Sequence[tuple[uuid.UUID, PrepaidCreditsRequested]],
                     now: datetime) -> list[PrepaidCreditsApplied]:
    """Apply many invoices' requests in one transaction (a consumer batch), each exactly as `apply` would.

    The same rules, set-wise: the invoices are claimed in one statement (keys held by another transaction
    are waited for, then answered from what it recorded), every wallet of the customers concerned is locked
    in id order, the blocks read once, and the requests allocated in their order against what the earlier
    ones left. A duplicate inside the batch gets the first one's answer.
    """
    first: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for index, (org, request) in enumerate(requests):
        first.setdefault((org, request.lago_invoice_id), index)
    claimed = await repository.claim_many(session, [
        (org, request.lago_invoice_id, request.external_customer_id, request.currency,
         sum(line.amount_cents for line in request.lines))
        for key, index in first.items() for org, request in [requests[index]]])
    fresh = [index for key, index in first.items() if key in claimed]
    answers: dict[int, PrepaidCreditsApplied] = {}

    # what others recorded for the keys this transaction could not claim
    taken = [key for key in first if key not in claimed]
    for key, row in (await repository.get_many(session, taken)).items():
        request = requests[first[key]][1]
        if row["answer"] is not None and row["status"] == "applied":
            answers[first[key]] = PrepaidCreditsApplied.model_validate(row["answer"])
        else:  # released before (or since) it was applied: nothing stays applied
            answers[first[key]] = _answer(request, [0] * len(request.lines), [], status="released")

    # the customers' active wallets, locked (a customer unknown, deleted or without a wallet has none here)
    wallets = {w["id"]: w for w in await ledger_repository.lock_active_wallets_of_external_ids(
        session, sorted({(requests[i][0], requests[i][1].external_customer_id) for i in fresh}, key=str))}
    wallets_of: dict[tuple[uuid.UUID, str], list[RowMapping]] = defaultdict(list)
    for wallet in wallets.values():
        wallets_of[(wallet["organization_id"], wallet["customer_external_id"])].append(wallet)
    # each wallet's live blocks, kept up to date as the batch's requests take from them
    blocks: dict[uuid.UUID, dict[uuid.UUID, Block]] = defaultdict(dict)
    for block in await ledger.live_blocks(session, list(wallets), now):
        blocks[block.wallet_id][block.id] = block
    transactions: list[dict] = []
    entries: list[dict] = []
    events: list[PendingEvent] = []
    touched: dict[uuid.UUID, RowMapping] = {}
    for index in fresh:
        org, request = requests[index]
        eligible = {
            w["id"]: AppliesTo(frozenset(w["applies_to_fee_types"]), frozenset(w["applies_to_metric_codes"]))
            for w in wallets_of.get((org, request.external_customer_id), ()) if w["currency"] == request.currency}
        lines = [Line(line.fee_type, line.billable_metric_code, line.amount_cents) for line in request.lines]
        allocation = allocate_lines(lines, [b for wallet_id in eligible for b in blocks[wallet_id].values()],
                                    eligible)
        by_wallet: dict[uuid.UUID, list] = defaultdict(list)
        for debit in allocation.debits:
            by_wallet[debit.block.wallet_id].append(debit)
            block = debit.block
            blocks[block.wallet_id][block.id] = dataclasses.replace(
                block, remaining_cents=block.remaining_cents - debit.cents,
                remaining_credits=block.remaining_credits - debit.credits)
        applied: list[AppliedWalletTransaction] = []
        label = request.invoice_number or str(request.lago_invoice_id)
        for wallet_id, debits in by_wallet.items():
            wallet = wallets[wallet_id]
            touched.setdefault(wallet_id, wallet)
            cents = sum(d.cents for d in debits)
            credits = sum((d.credits for d in debits), Decimal(0))
            row = _debit_row(org, wallet, request.lago_invoice_id, cents, credits,
                             f"Applied credit balance to invoice {label}", now)
            transactions.append(row)
            entries.extend(ledger.entries(organization_id=org, movement_id=row["id"], wallet_id=wallet_id,
                                          kind="consumption", counter_account="consumed",
                                          legs=[(d.block.id, -d.cents, -d.credits) for d in debits], at=now))
            events.append(PendingEvent("wallet_transaction.created", org, "wallet_transaction", row["id"],
                                       WalletTransactionEvent(wallet_transaction=render_transaction(
                                           row, wallet["currency"]))))
            applied.append(AppliedWalletTransaction(lago_wallet_id=wallet_id, lago_wallet_transaction_id=row["id"],
                                                    amount_cents=cents, credit_amount=credits_text(credits)))
        answers[index] = _answer(request, allocation.applied_per_line, applied)

    afters: list[RowMapping] = []
    if transactions:
        await transactions_repository.insert_invoice_debits(session, transactions)
        await ledger_repository.insert_entries(session, entries)
        # the wallets as the ledger left them, read again only where something may follow from it: a
        # depletion (the balance, or the ongoing balance, reached zero) or a threshold recharge. Their locks
        # are held, so what the ledger took from each is exactly this batch's debits.
        debited: dict[uuid.UUID, int] = defaultdict(int)
        for row in transactions:
            debited[row["wallet_id"]] += row["amount_cents"]
        consequential = [wallet_id for wallet_id, wallet in touched.items()
                         if _may_deplete_or_recharge(wallet, wallet["balance_cents"] - debited[wallet_id], now)]
        afters = await ledger_repository.wallets_by_ids(session, consequential)
        for after in afters:
            events.extend(depletion_events(touched[after["id"]], after))
    # each answer rendered once: recorded with the claim, and the payload of every `credits.applied` for it
    rendered = {index: answer.model_dump(mode="json") for index, answer in answers.items()}
    await repository.record_answers(session, [
        (requests[i][0], requests[i][1].lago_invoice_id, answers[i].applied_amount_cents, rendered[i])
        for i in fresh])
    results = [answers[first[(org, request.lago_invoice_id)]] for org, request in requests]
    events.extend(PendingEvent("credits.applied", org, "credits", request.lago_invoice_id,
                               rendered[first[(org, request.lago_invoice_id)]]) for org, request in requests)
    await add_events(session, events)
    for after in afters:  # after the debits are written: a recharge's events follow the debit's
        await maybe_recharge(session, after, now)
    return results


def _may_deplete_or_recharge(wallet: RowMapping, balance_after: int, now: datetime) -> bool:
    """Whether a debit leaving `balance_after` cents can publish a depletion (`depletion_events`: the balance
    or the ongoing balance at zero or below) or start a threshold recharge (`maybe_recharge`)."""
    return (balance_after <= 0 or balance_after - wallet["ongoing_usage_balance_cents"] <= 0
            or has_threshold_rule(wallet, now))


def _debit_row(org: uuid.UUID, wallet: RowMapping, invoice_id: uuid.UUID, cents: int, credits: Decimal,
               description: str, now: datetime) -> dict:
    return {
        "id": uuid7(), "organization_id": org, "wallet_id": wallet["id"], "customer_id": wallet["customer_id"],
        "transaction_type": "outbound", "transaction_status": "invoiced", "status": "settled", "source": "invoice",
        "credit_amount": credits, "amount_cents": cents, "remaining_credits": None, "remaining_cents": None,
        "is_block": False, "category": None, "priority": 50, "expiration_at": None, "voided_at": None,
        "void_reason": None, "description": description, "name": None, "metadata": [],
        "invoice_requires_successful_payment": False, "lago_invoice_id": invoice_id, "lago_voided_invoice_id": None,
        "purchase_order_number": None, "settled_at": now, "failed_at": None, "actor": None, "created_at": now,
        "updated_at": now,
    }


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
    if request.reason == "invoice_voided":
        # unit credits the invoice used (wallets/unit_credits) go back too, once; not when only its prepaid
        # credits were abandoned: the invoice was finalized with its units offset, so it keeps them
        await unit_credits.release(session, organization_id, invoice_id, now)
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
