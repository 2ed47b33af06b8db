"""Wallet top-ups charged by payments: wallets asks (`wallet_transaction.payment_requested`), payments charges
the customer's payment method once and answers `wallet_topup_payment.succeeded|failed`.

The request is recorded in the event's transaction (one row per top-up: a unique key on the wallet
transaction, so a redelivered or repeated request records nothing new); the charge happens later,
outside any transaction (`charger.py`); the outcome is recorded once, with its answer in the same
transaction. A customer without a provider connection cannot be charged: the answer is `failed`
(`missing_payment_provider`, hard) at once, so the top-up never waits forever.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import PaymentFailure, WalletTopUpPayment, WalletTopUpPaymentEvent
from invora.events.contracts.wallets import TopUpPaymentRequested
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from payments.events import publish
from payments.providers.base import ChargeResult
from payments.wallet_topups import repository


async def record_request(session: AsyncSession, envelope: EventEnvelope, now: datetime) -> uuid.UUID | None:
    """Record the charge a top-up asks for; its id, or None when this top-up was asked for before."""
    request = TopUpPaymentRequested.model_validate(envelope.data)
    charge_id = uuid7()
    recorded = await repository.insert(session, {
        "id": charge_id, "org": envelope.organization_id, "transaction_id": request.lago_wallet_transaction_id,
        "wallet_id": request.lago_wallet_id, "customer_id": request.lago_customer_id,
        "amount_cents": request.amount_cents, "currency": request.currency,
        "description": request.description[:255], "payment_method_id": request.payment_method_id,
        "idempotency_key": f"wallet-topup-{request.lago_wallet_transaction_id}", "manual": request.manual})
    return charge_id if recorded else None


async def record_outcome(session: AsyncSession, charge: RowMapping, result: ChargeResult, now: datetime) -> bool:
    """Record a final outcome (`succeeded` or `failed`) and publish the answer; False if one was recorded before."""
    succeeded = result.status == "succeeded"
    failure = None if succeeded else PaymentFailure(
        category=result.decline_category or "soft", code=result.failure_code, message=result.failure_message)
    row = await repository.settle(session, charge["id"], status="succeeded" if succeeded else "failed",
                                  provider_payment_id=result.provider_payment_id,
                                  failure=failure.model_dump() if failure else None,
                                  paid_at=now if succeeded else None)
    if row is None:
        return False
    await publish(session, row["organization_id"], f"wallet_topup_payment.{row['status']}", row["id"],
                  WalletTopUpPaymentEvent(wallet_topup_payment=WalletTopUpPayment(
                      lago_id=row["id"], lago_wallet_transaction_id=row["wallet_transaction_id"],
                      lago_wallet_id=row["wallet_id"], lago_customer_id=row["customer_id"],
                      amount_cents=row["amount_cents"], currency=row["currency"], payment_status=row["status"],
                      provider_payment_id=row["provider_payment_id"],
                      payment_provider_code=row["payment_provider_code"], failure=failure, paid_at=row["paid_at"])))
    return True


def failed(code: str, message: str, category: str = "hard") -> ChargeResult:
    return ChargeResult(status="failed", provider_payment_id=None, provider_status="error", amount_cents=0,
                        decline_category=category, failure_code=code, failure_message=message)
