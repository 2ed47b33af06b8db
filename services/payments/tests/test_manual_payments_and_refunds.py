"""Manual payments (partial, never above what is due, finalized invoices only), listing and reading payments, and
refunds (full or partial, required reason, idempotency key, audit trail, events; refunded at the provider once)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from payments.payments import charger


async def _manual(stage, invoice_id, amount, status=200, **fields):
    body = {"payment": {"invoice_id": str(invoice_id), "amount_cents": amount, "reference": "wire-42", **fields}}
    response = await stage.client.post("/api/v1/payments", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_partial_manual_payments_up_to_the_amount_due(payments, stage):
    customer = await stage.customer(provider=False)
    invoice_id, _ = await stage.finalize(customer, 10_000)
    first = (await _manual(stage, invoice_id, 4_000, paid_at="2026-11-30"))["payment"]
    assert first["type"] == "manual" and first["payment_status"] == "succeeded" and first["reference"] == "wire-42"
    assert first["payment_provider_type"] is None and first["payment_provider_code"] is None  # Lago: no provider
    assert first["paid_at"].startswith("2026-11-30") and first["invoice_ids"] == [str(invoice_id)]
    refused = await _manual(stage, invoice_id, 6_001, status=422)
    assert refused["error_details"] == {"amount_cents": ["invalid_amount"]}
    await _manual(stage, invoice_id, 6_000)
    assert (await _manual(stage, invoice_id, 1, status=422))["error_details"] == {"amount_cents": ["invalid_amount"]}
    listed = await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}")
    assert sorted(p["amount_cents"] for p in listed["payments"]) == [4_000, 6_000]
    by_customer = await stage.ok("GET", f"/api/v1/customers/{customer['external_id']}/payments")
    assert by_customer["meta"]["total_count"] == 2
    assert len(await stage.events("payment.succeeded")) == 2


async def test_a_manual_payment_in_full_cancels_the_charge_not_yet_sent(payments, stage):
    customer = await stage.customer()
    invoice_id, attempt = await stage.finalize(customer, 2_000)
    await _manual(stage, invoice_id, 2_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(attempt))["payment_status"] == "canceled"
    assert stage.charges_at_stripe(customer["provider_customer_id"]) == []


async def test_a_partial_manual_payment_lowers_the_charge(payments, stage):
    customer = await stage.customer()
    invoice_id, attempt = await stage.finalize(customer, 2_000)
    await _manual(stage, invoice_id, 500)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await stage.payment(attempt))["amount_cents"] == 1_500
    assert [c.amount for c in stage.charges_at_stripe(customer["provider_customer_id"])] == [1_500]


async def test_manual_payment_refusals(payments, stage):
    customer = await stage.customer(provider=False)
    invoice_id, _ = await stage.finalize(customer, 1_000)
    voided, _ = await stage.finalize(customer, 1_000)
    await stage.apply_invoice_event(stage.invoice_event(customer, 1_000, invoice_id=voided, type="invoice.voided",
                                                        status="voided", sequence=2))
    assert (await _manual(stage, voided, 100, status=405))["code"] == "invoice_not_payable"
    assert (await _manual(stage, uuid.uuid4(), 100, status=404))["code"] == "invoice_not_found"
    for bad in ({"amount_cents": 0}, {"amount_cents": -5}, {"amount_cents": "12"}, {"reference": ""},
                {"paid_at": "yesterday"}, {"extra": True}):
        body = {"payment": {"invoice_id": str(invoice_id), "amount_cents": 100, "reference": "r", **bad}}
        response = await stage.client.post("/api/v1/payments", json=body)
        assert response.status_code == 422, (bad, response.text)
    stranger = payments.client(uuid.uuid4())
    response = await stranger.post("/api/v1/payments", json={"payment": {
        "invoice_id": str(invoice_id), "amount_cents": 100, "reference": "r"}})
    assert response.status_code == 404
    assert (await stage.ok("GET", f"/api/v1/payments?invoice_id={invoice_id}"))["meta"]["total_count"] == 0


async def test_payments_are_private_to_their_organization_and_customer(payments, stage):
    customer = await stage.customer(provider=False)
    invoice_id, _ = await stage.finalize(customer, 1_000)
    payment = (await _manual(stage, invoice_id, 1_000))["payment"]
    stranger = payments.client(uuid.uuid4())
    assert (await stranger.get(f"/api/v1/payments/{payment['lago_id']}")).status_code == 404
    assert (await stranger.get("/api/v1/payments")).json()["meta"]["total_count"] == 0
    own = payments.client(stage.org, roles=["tenant"], customer_id=customer["lago_id"])
    assert (await own.get(f"/api/v1/payments/{payment['lago_id']}")).status_code == 200
    other = payments.client(stage.org, roles=["tenant"], customer_id=uuid.uuid4())
    assert (await other.get(f"/api/v1/payments/{payment['lago_id']}")).status_code == 403
    assert (await stage.client.get("/api/v1/payments/not-a-uuid")).status_code == 404


async def _refund(stage, payment_id, status=200, client=None, **fields):
    body = {"refund": {"reason": "duplicate order", "idempotency_key": f"rf-{uuid.uuid4().hex}", **fields}}
    response = await (client or stage.refunder).post(f"/api/v1/payments/{payment_id}/refunds", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_partial_then_full_refund_of_a_stripe_charge(payments, stage):
    stage.refunder = payments.client(stage.org, roles=["billing_admin"])
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 9_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    first = (await _refund(stage, payment_id, amount_cents=3_000, idempotency_key="rf-1"))["refund"]
    assert first["status"] == "pending" and first["amount_cents"] == 3_000
    replay = (await _refund(stage, payment_id, amount_cents=3_000, idempotency_key="rf-1"))["refund"]
    assert replay["lago_id"] == first["lago_id"]
    conflict = await _refund(stage, payment_id, status=409, amount_cents=2_000, idempotency_key="rf-1")
    assert conflict["code"] == "idempotency_key_reused"
    too_much = await _refund(stage, payment_id, status=422, amount_cents=6_001)
    assert too_much["error_details"] == {"amount_cents": ["exceeds_refundable_amount"]}
    rest = (await _refund(stage, payment_id))["refund"]  # no amount: what is left
    assert rest["amount_cents"] == 6_000
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    from payments.refunds import service as refunds

    await refunds.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    done = (await stage.ok("GET", f"/api/v1/refunds/{first['lago_id']}"))["refund"]
    assert done["status"] == "succeeded" and done["provider_refund_id"].startswith("re_")
    assert [a["action"] for a in done["audit"]] == ["refund.requested", "refund.succeeded"]
    assert done["audit"][0]["actor"] and done["audit"][0]["detail"]["reason"] == "duplicate order"
    at_stripe = stage.stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data
    assert sorted(r.amount for r in at_stripe) == [3_000, 6_000]
    events = [e["type"] for e in await stage.events("refund.created", "refund.succeeded", "refund.failed")]
    assert sorted(events) == ["refund.created", "refund.created", "refund.succeeded", "refund.succeeded"]
    assert (await _refund(stage, payment_id, status=422, amount_cents=1))["error_details"] == {
        "amount_cents": ["exceeds_refundable_amount"]}


async def test_refund_rules(payments, stage):
    stage.refunder = payments.client(stage.org, roles=["billing_admin"])
    customer = await stage.customer(provider=False)
    invoice_id, _ = await stage.finalize(customer, 1_000)
    payment = (await _manual(stage, invoice_id, 1_000))["payment"]
    reader = payments.client(stage.org, roles=["service"])
    await _refund(stage, payment["lago_id"], status=403, client=reader)
    no_reason = await stage.refunder.post(f"/api/v1/payments/{payment['lago_id']}/refunds",
                                          json={"refund": {"idempotency_key": "k", "reason": "  "}})
    assert no_reason.status_code == 422
    no_key = await stage.refunder.post(f"/api/v1/payments/{payment['lago_id']}/refunds",
                                       json={"refund": {"reason": "x"}})
    assert no_key.status_code == 422
    stranger = payments.client(uuid.uuid4(), roles=["billing_admin"])
    await _refund(stage, payment["lago_id"], status=404, client=stranger)
    # a manual payment's refund happened outside any provider: recorded as done at once
    refund = (await _refund(stage, payment["lago_id"], amount_cents=400))["refund"]
    assert refund["status"] == "succeeded" and [a["action"] for a in refund["audit"]] == [
        "refund.requested", "refund.succeeded"]
    # what was refunded is owed again
    await _manual(stage, invoice_id, 400)
    await _manual(stage, invoice_id, 1, status=422)


async def test_a_failed_payment_cannot_be_refunded(payments, stage):
    stage.refunder = payments.client(stage.org, roles=["billing_admin"])
    customer = await stage.customer(card="4000000000000341")
    _, payment_id = await stage.finalize(customer, 1_000)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    assert (await _refund(stage, payment_id, status=405))["code"] == "payment_not_refundable"


async def test_a_stripe_refund_answered_pending_is_read_back_by_its_id_and_settled_once(payments, stage):
    """Stripe answers some refunds `pending` (bank debits, some cards) and settles them later by `refund.updated`.
    When that webhook is lost, the refund reconciler reads the refund back (`GET /v1/refunds/{id}`) and settles it
    once; the webhook's status arriving afterwards changes nothing."""
    from payments.providers.base import RefundResult
    from payments.refunds import reconciler as refund_reconciler
    from payments.refunds import service as refunds

    stage.refunder = payments.client(stage.org, roles=["billing_admin"])
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 4_000)
    runtime, sessionmaker = payments.app.state.runtime, payments.database.sessionmaker
    await charger.run_once(runtime, sessionmaker)
    refund = (await _refund(stage, payment_id, amount_cents=1_500))["refund"]
    factory = runtime.adapters

    class AnsweredPending:  # localstripe settles refunds at once: Stripe's `pending` answer is staged here
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def refund(self, **kwargs):
            result = await self._adapter.refund(**kwargs)
            return RefundResult(status="pending", provider_refund_id=result.provider_refund_id)

    class Factory:
        def for_connection(self, connection):
            return AnsweredPending(factory.for_connection(connection))

    runtime.adapters = Factory()
    try:
        await refunds.run_once(runtime, sessionmaker)
    finally:
        runtime.adapters = factory
    shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
    assert shown["status"] == "pending" and shown["provider_refund_id"].startswith("re_")
    previous = runtime.settings
    runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0})
    try:
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {"settled:succeeded": 1}
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {}
    finally:
        runtime.settings = previous
    shown = (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]
    assert shown["status"] == "succeeded" and shown["audit"][-1]["actor"] == "reconciler"
    payment = await stage.payment(payment_id)
    async with sessionmaker() as session:  # the lost `refund.updated` arrives after all
        provider_id = (await session.execute(text("SELECT payment_provider_id FROM payments WHERE id = :id"),
                                             {"id": payment_id})).scalar_one()
        assert await refunds.apply_provider_status(session, provider_id, shown["provider_refund_id"], "succeeded",
                                                   runtime.clock.now()) == "no_change"
        await session.commit()
    assert [e["data"]["refund"]["lago_id"] for e in await stage.events("refund.succeeded")] == [refund["lago_id"]]
    at_stripe = stage.stripe.v1.refunds.list({"payment_intent": payment["provider_payment_id"]}).data
    assert [r.amount for r in at_stripe] == [1_500]


async def test_a_refund_look_up_that_fails_waits_its_turn_while_the_others_settle(payments, stage):
    """The refund reconciler asks the provider about each pending refund on its own: one whose look-up fails (the
    provider unreachable) is looked up again after `RECONCILE_INTERVAL_SECONDS`, the other settles at once."""
    from datetime import timedelta

    from payments.providers.base import ProviderUnreachable, RefundResult
    from payments.refunds import reconciler as refund_reconciler
    from payments.refunds import service as refunds

    stage.refunder = payments.client(stage.org, roles=["billing_admin"])
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, 6_000)
    runtime, sessionmaker = payments.app.state.runtime, payments.database.sessionmaker
    await charger.run_once(runtime, sessionmaker)
    first = (await _refund(stage, payment_id, amount_cents=1_000))["refund"]
    second = (await _refund(stage, payment_id, amount_cents=2_000))["refund"]
    factory, failing = runtime.adapters, {first["lago_id"]}

    class Staged:  # Stripe answers `pending`; looking up the first refund fails while `failing` holds it
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def refund(self, **kwargs):
            result = await self._adapter.refund(**kwargs)
            return RefundResult(status="pending", provider_refund_id=result.provider_refund_id)

        async def find_refund(self, *, reference, **kwargs):
            if reference in failing:
                raise ProviderUnreachable("read timeout")
            return await self._adapter.find_refund(reference=reference, **kwargs)

    class Factory:
        def for_connection(self, connection):
            return Staged(factory.for_connection(connection))

    class Clock:
        def __init__(self, moment) -> None:
            self.moment = moment

        def now(self):
            return self.moment

    runtime.adapters = Factory()
    previous, original_clock = runtime.settings, runtime.clock
    runtime.settings = previous.model_copy(update={"reconcile_after_seconds": 0, "reconcile_interval_seconds": 600})
    try:
        await refunds.run_once(runtime, sessionmaker)
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {"lookup_failed": 1, "settled:succeeded": 1}
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {}  # its next look-up is not due yet
        failing.clear()  # the provider answers again
        runtime.clock = Clock(original_clock.now() + timedelta(seconds=601))
        assert await refund_reconciler.run_once(runtime, sessionmaker) == {"settled:succeeded": 1}
    finally:
        runtime.adapters, runtime.settings, runtime.clock = factory, previous, original_clock
    for refund in (first, second):
        assert (await stage.ok("GET", f"/api/v1/refunds/{refund['lago_id']}"))["refund"]["status"] == "succeeded"
    assert sorted(e["data"]["refund"]["lago_id"] for e in await stage.events("refund.succeeded")) == sorted(
        [first["lago_id"], second["lago_id"]])
