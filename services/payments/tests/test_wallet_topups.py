"""Charging wallet top-ups on Stripe (localstripe): once per top-up, whatever is repeated or crashes; a declined
card answers `failed`; a customer without a provider is answered at once. The top-up charger is driven by
hand (`run_once`); localstripe ignores idempotency keys, so a second call would show as a second charge."""

from __future__ import annotations

import uuid
from datetime import timedelta

from invora.events.envelope import EventEnvelope
from payments.providers.base import ChargeRequest
from payments.wallet_topups import charger, repository, service

CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _request(stage, customer: dict, amount_cents: int, *, transaction_id: uuid.UUID | None = None,
             payment_method_id: str | None = None) -> EventEnvelope:
    transaction_id = transaction_id or uuid.uuid4()
    return EventEnvelope(
        type="wallet_transaction.payment_requested", source="wallets", organization_id=stage.org,
        aggregate_type="wallet_transaction", aggregate_id=str(transaction_id), sequence=1, data={
            "lago_wallet_transaction_id": str(transaction_id), "lago_wallet_id": str(uuid.uuid4()),
            "lago_customer_id": customer["lago_id"], "external_customer_id": customer["external_id"],
            "amount_cents": amount_cents, "currency": "EUR", "payment_method_id": payment_method_id,
            "description": "Added usage credits"})


async def _record(payments, envelope) -> uuid.UUID | None:
    async with payments.database.sessionmaker() as session:
        charge_id = await service.record_request(session, envelope, payments.app.state.runtime.clock.now())
        await session.commit()
    return charge_id


async def _charge(payments, stage, transaction_id: str) -> dict:
    async with payments.database.sessionmaker() as session:
        return dict(await repository.by_transaction(session, stage.org, uuid.UUID(transaction_id)))


async def _run(payments) -> int:
    return await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)


async def _answers(stage) -> list[dict]:
    return [e["data"]["wallet_topup_payment"] for e in
            await stage.events("wallet_topup_payment.succeeded", "wallet_topup_payment.failed")]


async def test_a_top_up_is_charged_once_and_answered(payments, stage):
    customer = await stage.customer()
    envelope = _request(stage, customer, 2_500)
    assert await _record(payments, envelope) is not None
    assert await _record(payments, envelope) is None  # the same top-up again: nothing new
    await _run(payments)
    await _run(payments)
    charge = await _charge(payments, stage, envelope.aggregate_id)
    assert charge["status"] == "succeeded" and charge["provider_payment_id"].startswith("pi_")
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [2_500]
    [answer] = await _answers(stage)
    assert answer["payment_status"] == "succeeded" and answer["amount_cents"] == 2_500
    assert answer["lago_wallet_transaction_id"] == envelope.aggregate_id and answer["paid_at"] is not None


async def test_a_declined_card_answers_failed_with_its_category(payments, stage):
    customer = await stage.customer(card=CARD_DECLINED_ON_CHARGE)
    envelope = _request(stage, customer, 1_000)
    await _record(payments, envelope)
    await _run(payments)
    charge = await _charge(payments, stage, envelope.aggregate_id)
    assert charge["status"] == "failed" and charge["calls"] == 1
    [answer] = await _answers(stage)
    assert answer["payment_status"] == "failed" and answer["failure"]["category"] in ("soft", "hard")
    assert answer["failure"]["code"]
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []
    assert await _run(payments) == 0  # a failed charge is final: never retried by itself


async def test_a_customer_without_a_provider_is_answered_failed_at_once(payments, stage):
    customer = await stage.customer(provider=False)
    envelope = _request(stage, customer, 1_000)
    await _record(payments, envelope)
    await _run(payments)
    [answer] = await _answers(stage)
    assert answer["payment_status"] == "failed" and answer["failure"]["code"] == "missing_payment_provider"


async def test_a_crash_after_the_call_is_reconciled_without_a_second_charge(payments, stage):
    customer = await stage.customer()
    envelope = _request(stage, customer, 4_200)
    charge_id = await _record(payments, envelope)
    runtime = payments.app.state.runtime
    now = runtime.clock.now()
    async with payments.database.sessionmaker() as session:  # claimed, marked, called, then the process died
        claimed = await repository.claim_due(session, now, now + timedelta(seconds=30), 100)
        lease = next(r["lease_until"] for r in claimed if r["id"] == charge_id)
        assert await repository.mark_called(session, charge_id, lease, code=stage.provider_code,
                                            provider_customer_id=customer["provider_customer_id"])
        charge = await repository.lock(session, charge_id)
        await session.commit()
    adapter = runtime.adapters.for_connection(await _connection(payments, stage))
    await adapter.charge(ChargeRequest(reference=str(charge_id), idempotency_key=charge["idempotency_key"],
                                       amount_cents=4_200, currency="EUR",
                                       provider_customer_id=customer["provider_customer_id"]))
    assert (await _charge(payments, stage, envelope.aggregate_id))["status"] == "pending"  # still leased

    class Later:
        def now(self):
            return now + timedelta(seconds=31)

    original, runtime.clock = runtime.clock, Later()
    try:
        await _run(payments)  # the lease ran out: looked up by reference, recorded, not sent again
    finally:
        runtime.clock = original
    assert (await _charge(payments, stage, envelope.aggregate_id))["status"] == "succeeded"
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1
    assert [a["payment_status"] for a in await _answers(stage)] == ["succeeded"]


async def test_a_named_payment_method_is_charged_and_a_stranger_s_is_refused(payments, stage):
    customer = await stage.customer()
    methods = await stage.ok("GET", f"/api/v1/customers/{customer['external_id']}/payment_methods")
    lago_id = methods["payment_methods"][0]["lago_id"]
    envelope = _request(stage, customer, 700, payment_method_id=lago_id)
    await _record(payments, envelope)
    foreign = _request(stage, customer, 800, payment_method_id=str(uuid.uuid4()))
    await _record(payments, foreign)
    await _run(payments)
    assert (await _charge(payments, stage, envelope.aggregate_id))["status"] == "succeeded"
    refused = await _charge(payments, stage, foreign.aggregate_id)
    assert refused["status"] == "failed" and refused["failure"]["code"] == "payment_method_not_found"
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [700]


async def _connection(payments, stage) -> dict:
    from payments.payment_providers import repository as providers_repository

    async with payments.database.sessionmaker() as session:
        provider = await providers_repository.by_code(session, stage.org, stage.provider_code)
    return {"id": provider.id, "code": provider.code, "provider_type": provider.provider_type,
            "secret_key": provider.secret_key, "webhook_secret": provider.webhook_secret,
            "updated_at": provider.updated_at}
