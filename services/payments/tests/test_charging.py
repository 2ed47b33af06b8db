"""Charging finalized invoices on Stripe (localstripe): once, whatever crashes, timeouts, retries and replays
happen. The charger is driven by hand here (`run_once`), so each failure is staged exactly; every test
counts the charges at the fake, which ignores idempotency keys, so a second call would show."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy import text

from payments.payments import charger, repository
from payments.providers.base import ChargeRequest, ProviderUnreachable

CARD_DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined
CARD_3DS = "4000002500003155"  # needs 3-D Secure


def _runtime(payments):
    return payments.app.state.runtime


async def _run(payments) -> int:
    return await charger.run_once(_runtime(payments), payments.database.sessionmaker)


class ManualClock:
    def __init__(self, start) -> None:
        self.moment = start

    def now(self):
        return self.moment


async def test_a_finalized_invoice_is_charged_once(payments, stage):
    customer = await stage.customer()
    invoice_id, payment_id = await stage.finalize(customer, 12_345)
    assert payment_id is not None
    assert (await stage.payment(payment_id))["payment_status"] == "pending"
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded" and payment["amount_cents"] == 12_345
    assert payment["provider_payment_id"].startswith("pi_") and payment["lago_payable_id"] == str(invoice_id)
    charges = stage.charges_at_stripe(customer["provider_customer_id"])
    assert [c.amount for c in charges] == [12_345]
    assert [e["type"] for e in await stage.events("payment.created", "payment.succeeded")] == [
        "payment.created", "payment.succeeded"]
    assert await _run(payments) == 0  # nothing left to do
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_redelivered_and_replayed_finalized_events_record_one_attempt(payments, stage):
    customer = await stage.customer()
    envelope = stage.invoice_event(customer, 5_000)
    first = await stage.apply_invoice_event(envelope)
    replay = stage.invoice_event(customer, 5_000, invoice_id=uuid.UUID(envelope.aggregate_id), sequence=2)
    assert await stage.apply_invoice_event(envelope) is None
    assert await stage.apply_invoice_event(replay) is None
    await _run(payments)
    # after success, a late replay finds nothing due
    late = stage.invoice_event(customer, 5_000, invoice_id=uuid.UUID(envelope.aggregate_id), sequence=3)
    assert await stage.apply_invoice_event(late) is None
    await _run(payments)
    assert (await stage.payment(first))["payment_status"] == "succeeded"
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1
    listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={envelope.aggregate_id}")
    assert listed["meta"]["total_count"] == 1


async def test_the_database_refuses_a_second_live_attempt_for_an_invoice(payments, stage):
    customer = await stage.customer()
    invoice_id, payment_id = await stage.finalize(customer, 700)
    async with payments.database.sessionmaker() as session:
        row = (await session.execute(text("SELECT * FROM payments WHERE id = :id"), {"id": payment_id})
               ).mappings().one()
        clone = {**row, "id": uuid.uuid4(), "idempotency_key": "other", "reference": "other"}
        assert await repository.insert(session, clone) is None  # the partial unique index answers "already there"
        await session.rollback()


async def test_a_crash_after_the_call_is_reconciled_by_reference_without_a_second_charge(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 4_200)
    runtime = _runtime(payments)
    sessionmaker = payments.database.sessionmaker
    # the crashed process: claimed, marked the call, called Stripe, died before recording the answer
    now = runtime.clock.now()
    async with sessionmaker() as session:
        claimed = await repository.claim_due(session, now, now + timedelta(seconds=30), 100)
        lease = next(r["lease_until"] for r in claimed if r["id"] == payment_id)
        assert await repository.mark_called(session, payment_id, lease, amount_cents=4_200,
                                            provider_customer_id=customer["provider_customer_id"])
        payment = await repository.lock(session, payment_id)
        await session.commit()
    adapter = runtime.adapters.for_connection(await _connection(payments, payment["payment_provider_id"]))
    await adapter.charge(ChargeRequest(reference=payment["reference"], idempotency_key=payment["idempotency_key"],
                                       amount_cents=4_200, currency="EUR",
                                       provider_customer_id=customer["provider_customer_id"]))
    assert await _run(payments) == 0 or (await stage.payment(payment_id))["payment_status"] == "pending"
    # the lease runs out; the next claimer looks the charge up instead of sending another
    original = runtime.clock
    runtime.clock = ManualClock(now + timedelta(seconds=31))
    try:
        await _run(payments)
    finally:
        runtime.clock = original
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded" and payment["provider_payment_id"].startswith("pi_")
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_a_crash_before_the_call_charges_once_after_the_lease(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 999)
    runtime = _runtime(payments)
    now = runtime.clock.now()
    async with payments.database.sessionmaker() as session:
        claimed = await repository.claim_due(session, now, now + timedelta(seconds=30), 100)
        lease = next(r["lease_until"] for r in claimed if r["id"] == payment_id)
        assert await repository.mark_called(session, payment_id, lease, amount_cents=999,
                                            provider_customer_id=customer["provider_customer_id"])
        await session.commit()
    original = runtime.clock
    runtime.clock = ManualClock(now + timedelta(seconds=31))
    try:
        await _run(payments)
    finally:
        runtime.clock = original
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [999]


class LostAnswer:
    """Stripe takes the charge, but the answer never comes back (a timeout after the fact)."""

    def __init__(self, adapter) -> None:
        self._adapter = adapter
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self._adapter, name)

    async def charge(self, request):
        self.calls += 1
        await self._adapter.charge(request)
        raise ProviderUnreachable("read timeout")


async def test_a_timeout_is_reconciled_by_looking_the_charge_up(payments, stage):
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 3_100)
    runtime = _runtime(payments)
    factory = runtime.adapters
    wrappers: list[LostAnswer] = []

    class Factory:
        def for_connection(self, connection):
            wrappers.append(LostAnswer(factory.for_connection(connection)))
            return wrappers[-1]

    runtime.adapters = Factory()
    try:
        await _run(payments)
        assert (await stage.payment(payment_id))["payment_status"] == "pending"  # deferred, not failed
        original = runtime.clock
        runtime.clock = ManualClock(original.now() + timedelta(seconds=5))
        try:
            await _run(payments)
        finally:
            runtime.clock = original
    finally:
        runtime.adapters = factory
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "succeeded"
    assert sum(w.calls for w in wrappers) == 1  # the second pass looked it up and sent nothing
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_concurrent_chargers_send_one_charge(payments, stage):
    customer = await stage.customer()
    ids = [(await stage.finalize(customer, 100 + i))[1] for i in range(5)]
    await asyncio.gather(*(_run(payments) for _ in range(4)))
    for payment_id in ids:
        assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert sorted(c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])) == [
        100, 101, 102, 103, 104]


async def test_a_declined_card_fails_the_payment_with_its_category(payments, stage):
    customer = await stage.customer(card=CARD_DECLINED_ON_CHARGE)
    _, payment_id = await stage.finalize(customer, 2_000)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "failed"
    assert payment["failure"]["code"] == "card_declined" and payment["failure"]["category"] == "soft"
    failed = await stage.events("payment.failed")
    assert len(failed) == 1 and failed[0]["data"]["payment"]["failure"]["category"] == "soft"
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []


async def test_a_card_that_needs_authentication_asks_for_action(payments, stage):
    customer = await stage.customer(card=CARD_3DS)
    _, payment_id = await stage.finalize(customer, 2_500)
    await _run(payments)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "requires_action" and payment["next_action"]
    events = await stage.events("payment.requires_action")
    assert len(events) == 1 and events[0]["data"]["payment"]["next_action"] == payment["next_action"]
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []


async def test_an_invoice_voided_before_the_charge_is_not_charged(payments, stage):
    customer = await stage.customer()
    invoice_id, payment_id = await stage.finalize(customer, 800)
    await stage.apply_invoice_event(stage.invoice_event(customer, 800, invoice_id=invoice_id, type="invoice.voided",
                                                        status="voided", sequence=2))
    await _run(payments)
    assert (await stage.payment(payment_id))["payment_status"] == "canceled"
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []


async def test_a_customer_without_a_provider_customer_is_created_there_once(payments, stage, stripe_client):
    customer = await stage.customer(linked=False)
    _, first = await stage.finalize(customer, 300)
    _, second = await stage.finalize(customer, 400)
    await _run(payments)
    created = await stage.events("customer.payment_provider_created")
    assert len(created) == 1
    provider_customer_id = created[0]["data"]["customer"]["provider_customer_id"]
    assert provider_customer_id.startswith("cus_")
    # what a receiver of Lago's webhook reads in its `customer` object
    sent = created[0]["data"]["customer"]
    assert (sent["lago_id"], sent["external_id"]) == (str(customer["lago_id"]), customer["external_id"])
    assert sent["billing_configuration"] == {"payment_provider": "stripe", "payment_provider_code": sent[
        "payment_provider_code"], "provider_customer_id": provider_customer_id}
    # the new Stripe customer has no card yet: a hard failure, nothing charged
    for payment_id in (first, second):
        payment = await stage.payment(payment_id)
        assert payment["payment_status"] == "failed" and payment["failure"]["category"] == "hard"
        assert payment["provider_customer_id"] == provider_customer_id
    assert stage.charges_at_stripe(provider_customer_id) == []


async def test_a_customer_without_a_provider_is_not_charged(payments, stage):
    customer = await stage.customer(provider=False)
    _, payment_id = await stage.finalize(customer, 300)
    assert payment_id is None


async def _connection(payments, provider_id):
    from payments.payment_providers.models import PaymentProvider

    async with payments.database.sessionmaker() as session:
        provider = await session.get(PaymentProvider, provider_id)
        return {"id": provider.id, "provider_type": provider.provider_type, "secret_key": provider.secret_key,
                "webhook_secret": provider.webhook_secret, "updated_at": provider.updated_at}


async def test_a_burst_beyond_the_concurrency_is_charged_once_each_never_more_at_once(payments, stage):
    """One pass claims only as many attempts as it has free call slots, and claims again as calls finish."""
    customer = await stage.customer()
    ids = [(await stage.finalize(customer, 1_000 + i))[1] for i in range(7)]
    runtime = _runtime(payments)
    factory, previous = runtime.adapters, runtime.settings
    in_flight, most = 0, 0

    class Counting:
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def charge(self, request):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                await asyncio.sleep(0.05)
                return await self._adapter.charge(request)
            finally:
                in_flight -= 1

    class Factory:
        def for_connection(self, connection):
            return Counting(factory.for_connection(connection))

    runtime.adapters, runtime.settings = Factory(), previous.model_copy(update={"charger_concurrency": 2})
    try:
        assert await _run(payments) >= 7  # one pass, claims of at most two
    finally:
        runtime.adapters, runtime.settings = factory, previous
    assert most == 2
    for payment_id in ids:
        assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert sorted(c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])) == [
        1_000 + i for i in range(7)]
    receipts = [e["data"]["payment_receipt"] for e in await stage.events("payment_receipt.created")]
    mine = [r for r in receipts if r["payment"]["lago_id"] in {str(i) for i in ids}]
    assert len(mine) == 7 and len({r["number"] for r in mine}) == 7 and all(r["number"] for r in mine)


async def test_an_answer_that_cannot_be_recorded_leaves_the_others_recorded_and_is_reconciled_once(payments, stage):
    """Answers are recorded several to a transaction; one that fails is retried alone, the others still land,
    and the failed one is found at the provider by reference after its lease, never charged again."""
    customer = await stage.customer()
    ids = [(await stage.finalize(customer, 2_000 + i))[1] for i in range(4)]
    runtime = _runtime(payments)
    factory = runtime.adapters
    answered: list[int] = []
    all_answered = asyncio.Event()

    class Unrecordable:
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def charge(self, request):
            result = await self._adapter.charge(request)
            answered.append(request.amount_cents)
            if len(answered) == len(ids):
                all_answered.set()
            await asyncio.wait_for(all_answered.wait(), 10)  # the answers reach the recorder together
            if request.amount_cents == 2_001:  # longer than the column: this answer cannot be written
                return dataclasses.replace(result, provider_payment_id="pi_" + "x" * 300)
            return result

    class Factory:
        def for_connection(self, connection):
            return Unrecordable(factory.for_connection(connection))

    runtime.adapters = Factory()
    try:
        await _run(payments)
    finally:
        runtime.adapters = factory
    statuses = {i: (await stage.payment(payment_id))["payment_status"] for i, payment_id in enumerate(ids)}
    assert statuses == {0: "succeeded", 1: "pending", 2: "succeeded", 3: "succeeded"}
    original = runtime.clock
    runtime.clock = ManualClock(original.now() + timedelta(seconds=31))  # the lease runs out
    try:
        await _run(payments)
    finally:
        runtime.clock = original
    assert (await stage.payment(ids[1]))["payment_status"] == "succeeded"
    assert sorted(c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])) == [
        2_000, 2_001, 2_002, 2_003]


async def test_a_consumed_batch_records_what_one_event_at_a_time_would(payments, stage):
    """The invoices consumer's batch (`apply_events`, one transaction): a replay of an invoice in the same batch,
    a void after its finalization, a customer without a provider and an invoice already charged leave exactly
    the attempts that applying the events one at a time leaves, and each invoice is charged once."""
    from payments.invoices import service as invoices

    customer, other, unpaid = await stage.customer(), await stage.customer(), await stage.customer(provider=False)
    earlier_id, _ = await stage.finalize(customer, 900)
    await _run(payments)  # charged already: a replay in the batch finds nothing due
    first, second, voided, free = (stage.invoice_event(customer, 1_100), stage.invoice_event(other, 1_200),
                                   stage.invoice_event(other, 1_300), stage.invoice_event(unpaid, 1_400))
    batch = [first, second, stage.invoice_event(customer, 1_100, invoice_id=uuid.UUID(first.aggregate_id), sequence=2),
             voided, stage.invoice_event(other, 1_300, invoice_id=uuid.UUID(voided.aggregate_id),
                                         type="invoice.voided", status="voided", sequence=2),
             free, stage.invoice_event(customer, 900, invoice_id=earlier_id, sequence=2)]
    async with payments.database.sessionmaker() as session:
        recorded = await invoices.apply_events(session, batch)
        await session.commit()
    assert len(recorded) == 3 and len(set(recorded)) == 3  # first, second, voided (then canceled): one each
    async with payments.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT invoice_id, payment_status, failure_code, idempotency_key FROM payments WHERE id = ANY(:ids)"),
            {"ids": recorded})).mappings().all()
    by_invoice = {str(row["invoice_id"]): row for row in rows}
    assert by_invoice[first.aggregate_id]["payment_status"] == "pending"
    assert by_invoice[first.aggregate_id]["idempotency_key"] == f"invoice-{first.aggregate_id}-attempt-1"
    assert by_invoice[second.aggregate_id]["payment_status"] == "pending"
    assert (by_invoice[voided.aggregate_id]["payment_status"], by_invoice[voided.aggregate_id]["failure_code"]) == (
        "canceled", "invoice_voided")
    created = [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.created")]
    assert all(created.count(str(payment_id)) == 1 for payment_id in recorded)
    async with payments.database.sessionmaker() as session:  # the same batch again: nothing more
        assert await invoices.apply_events(session, batch) == []
        await session.commit()
    await _run(payments)
    assert sorted(c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])) == [900, 1_100]
    assert [c.amount for c in stage.charges_at_stripe(other["provider_customer_id"])] == [1_200]


async def test_a_call_slot_is_free_once_its_answer_is_handed_over_and_the_pass_waits_for_every_answer(
        payments, stage, monkeypatch):
    """Answers are recorded by the batch writer after their call slot is freed (a slow commit does not hold a
    slot), yet a pass returns only once every answer is recorded, each charged once."""
    from payments.payments import outcomes

    customer = await stage.customer()
    ids = [(await stage.finalize(customer, 3_000 + i))[1] for i in range(6)]
    runtime = _runtime(payments)
    factory, previous = runtime.adapters, runtime.settings
    unrecorded_at_call: list[int] = []

    async def pending_count() -> int:
        async with payments.database.sessionmaker() as session:
            return (await session.execute(text(
                "SELECT count(*) FROM payments WHERE id = ANY(:ids) AND payment_status = 'pending' AND calls > 0"),
                {"ids": ids})).scalar_one()

    class Watching:
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def charge(self, request):
            unrecorded_at_call.append(await pending_count() - 1)  # called before, not this one, not yet recorded
            return await self._adapter.charge(request)

    class Factory:
        def for_connection(self, connection):
            return Watching(factory.for_connection(connection))

    write_batch = outcomes.Recorder._write_batch

    async def slow_write_batch(self, batch):
        await asyncio.sleep(0.5)  # a slow commit
        await write_batch(self, batch)

    monkeypatch.setattr(outcomes.Recorder, "_write_batch", slow_write_batch)
    runtime.adapters, runtime.settings = Factory(), previous.model_copy(update={"charger_concurrency": 1})
    try:
        assert await _run(payments) >= 6
    finally:
        runtime.adapters, runtime.settings = factory, previous
    assert max(unrecorded_at_call) >= 1  # a later call started while an earlier answer waited for its batch
    for payment_id in ids:  # the pass returned: every answer recorded
        assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert sorted(c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])) == [
        3_000 + i for i in range(6)]
