"""`wallet_topup_payment.succeeded|failed` (payments' answer to `wallet_transaction.payment_requested`).

Succeeded: the pending purchase settles (its credits reach the balance, `wallet_transaction.updated`,
`credits.granted`). Failed: it is marked failed, nothing reaches the balance, and
`wallet_transaction.payment_failure` is published (an auto recharge then backs off,
`recharge.py`). Both only move a purchase that is still `pending`, so a redelivered or repeated
answer changes nothing; the wallet is locked first, as every movement does. A purchase whose wallet
was terminated meanwhile is settled all the same (the money was taken, so the credits stay on record
in the terminated wallet) and logged as `topup_paid_on_terminated_wallet` for an operator to refund.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.payments import WalletTopUpPaymentEvent
from invora.events.envelope import EventEnvelope, topic_for
from invora.logging import get_logger
from wallets.ledger import repository as ledger_repository
from wallets.runtime import WalletsRuntime
from wallets.transactions import repository, service

log = get_logger(__name__)
EVENT_TYPES = frozenset({"wallet_topup_payment.succeeded", "wallet_topup_payment.failed"})


async def apply_answer(session: AsyncSession, envelope: EventEnvelope, runtime: WalletsRuntime) -> str:
    """Apply one answer; what happened (for logs and tests)."""
    payment = WalletTopUpPaymentEvent.model_validate(envelope.data).wallet_topup_payment
    organization_id = envelope.organization_id
    locked = await ledger_repository.lock_wallets(session, organization_id, [payment.lago_wallet_id])
    transaction = await repository.by_id(session, organization_id, payment.lago_wallet_transaction_id)
    if not locked or transaction is None or transaction["wallet_id"] != payment.lago_wallet_id:
        log.warning("topup_payment_for_unknown_transaction", transaction_id=str(payment.lago_wallet_transaction_id))
        return "unknown"
    if transaction["status"] != "pending":
        return "already_" + transaction["status"]
    wallet = locked[0]
    now = runtime.clock.now()
    if payment.payment_status == "failed":
        await service.fail(session, wallet, transaction, now)
        return "failed"
    if wallet["status"] != "active":
        log.warning("topup_paid_on_terminated_wallet", wallet_id=str(wallet["id"]),
                    transaction_id=str(transaction["id"]), amount_cents=payment.amount_cents)
    await service.settle(session, wallet, transaction, now)
    return "settled"


def topup_payments_consumer(runtime: WalletsRuntime) -> ConsumerSpec:
    async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        for envelope in envelopes:
            await apply_answer(session, envelope, runtime)

    return ConsumerSpec(name="topup_payments", topics=(topic_for("wallet_topup_payment"),), batch_handler=handle,
                        event_types=EVENT_TYPES)
