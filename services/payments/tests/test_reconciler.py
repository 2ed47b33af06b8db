"""The reconciler settles charges the provider left `processing` or `requires_action` when their webhook never
comes: it looks them up by reference at localstripe, records what it finds once (one event), and a lookup
that fails parks that payment alone (`invora.parking`) while the others settle."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from sqlalchemy import text

from payments.payments import charger, lifecycle, reconciler, repository
from payments.providers.stripe import REFERENCE_KEY, charge_result

CARD_3DS = "4000002500003155"


@contextlib.contextmanager
def settings(payments, **changes):
    runtime = payments.app.state.runtime
    previous = runtime.settings
    runtime.settings = previous.model_copy(update=changes)
    try:
        yield runtime
    finally:
        runtime.settings = previous


async def processing_payment(payments, stage, amount: int):
    """A charge the provider answered `processing`, recorded as the charger records it: the PaymentIntent (our
    reference in its metadata) is created at localstripe unconfirmed, which our adapter reads as `processing`;
    `settle` confirms it there later, and no webhook tells us."""
    customer = await stage.customer()
    _, payment_id = await stage.finalize(customer, amount)
    method = stage.stripe.v1.payment_methods.list({"customer": customer["provider_customer_id"], "type": "card"}
                                                  ).data[0].id
    intent = stage.stripe.v1.payment_intents.create({
        "amount": amount, "currency": "eur", "customer": customer["provider_customer_id"], "payment_method": method,
        "metadata": {REFERENCE_KEY: str(payment_id)}})
    async with payments.database.sessionmaker() as session:
        await session.execute(text("UPDATE payments SET calls = 1 WHERE id = :id"), {"id": payment_id})
        row = await repository.lock(session, payment_id)
        assert await lifecycle.apply_charge_result(session, row, charge_result(intent), datetime.now(UTC))
        await session.commit()
    assert (await stage.payment(payment_id))["payment_status"] == "processing"
    return customer, payment_id, intent.id


def settle(stage, intent_id: str) -> None:
    stage.stripe.v1.payment_intents.confirm(intent_id)


async def reconcile(payments) -> dict[str, int]:
    return await reconciler.run_once(payments.app.state.runtime, payments.database.sessionmaker)



async def test_a_processing_charge_whose_webhook_never_came_is_settled_once(payments, stage):
    customer, payment_id, intent = await processing_payment(payments, stage, 4_200)
    settle(stage, intent)  # the money is taken at the provider; nobody listens to its webhook
    with settings(payments, reconcile_after_seconds=3600):
        await reconcile(payments)  # too early: the webhook still has time
    assert (await stage.payment(payment_id))["payment_status"] == "processing"
    with settings(payments, reconcile_after_seconds=0):
        await reconcile(payments)
        payment = await stage.payment(payment_id)
        assert payment["payment_status"] == "succeeded" and payment["paid_at"]
        await reconcile(payments)  # settled: nothing more
    assert len(await stage.events("payment.succeeded")) == 1
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1


async def test_a_payment_still_processing_is_looked_up_again_only_after_the_interval(payments, stage):
    _, payment_id, intent = await processing_payment(payments, stage, 1_300)
    # looked up before the provider settles it: still processing, and the next lookup is deferred
    with settings(payments, reconcile_after_seconds=0, reconcile_interval_seconds=3600):
        await reconcile(payments)
        assert (await stage.payment(payment_id))["payment_status"] == "processing"
        settle(stage, intent)
        await reconcile(payments)  # deferred for an hour: not looked up yet
        assert (await stage.payment(payment_id))["payment_status"] == "processing"
    async with payments.database.sessionmaker() as session:
        await session.execute(text("UPDATE payments SET next_attempt_at = now() - interval '1 second' WHERE id = :id"),
                              {"id": payment_id})
        await session.commit()
    with settings(payments, reconcile_after_seconds=0):
        await reconcile(payments)
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"


async def test_a_3ds_charge_authenticated_without_a_webhook_is_settled(payments, stage):
    customer = await stage.customer(card=CARD_3DS)
    _, payment_id = await stage.finalize(customer, 2_500)
    await charger.run_once(payments.app.state.runtime, payments.database.sessionmaker)
    payment = await stage.payment(payment_id)
    assert payment["payment_status"] == "requires_action"
    intent = stage.stripe.v1.payment_intents.retrieve(payment["provider_payment_id"])
    stage.localstripe.authenticate(intent.id, intent.client_secret)
    with settings(payments, reconcile_after_seconds=0):
        await reconcile(payments)
    assert (await stage.payment(payment_id))["payment_status"] == "succeeded"
    assert [e["data"]["payment"]["lago_id"] for e in await stage.events("payment.succeeded")] == [str(payment_id)]


async def test_a_failing_lookup_parks_that_payment_alone_and_it_settles_once_repaired(payments, stage):
    _, broken, first = await processing_payment(payments, stage, 900)
    _, healthy, second = await processing_payment(payments, stage, 800)
    settle(stage, first)
    settle(stage, second)
    async with payments.database.sessionmaker() as session:
        real = (await session.execute(text("SELECT provider_payment_id FROM payments WHERE id = :id"),
                                      {"id": broken})).scalar_one()
        await session.execute(text("UPDATE payments SET provider_payment_id = 'pi_unknown_here' WHERE id = :id"),
                              {"id": broken})
        await session.commit()
    with settings(payments, reconcile_after_seconds=0):
        await reconcile(payments)
        assert (await stage.payment(healthy))["payment_status"] == "succeeded"
        assert (await stage.payment(broken))["payment_status"] == "processing"
        async with payments.database.sessionmaker() as session:
            parked = (await session.execute(text(
                "SELECT attempts, error FROM parked_items WHERE loop = 'reconciler' AND item_key = :key"),
                {"key": str(broken)})).mappings().one()
        assert parked["attempts"] == 1 and parked["error"]
        await reconcile(payments)  # parked with a back-off: not looked up again yet
        async with payments.database.sessionmaker() as session:
            assert (await session.execute(text(
                "SELECT attempts FROM parked_items WHERE loop = 'reconciler' AND item_key = :key"),
                {"key": str(broken)})).scalar_one() == 1
            # repaired, and due again
            await session.execute(text("UPDATE payments SET provider_payment_id = :real WHERE id = :id"),
                                  {"real": real, "id": broken})
            await session.execute(text("UPDATE parked_items SET next_attempt_at = now() - interval '1 second' "
                                       "WHERE loop = 'reconciler' AND item_key = :key"), {"key": str(broken)})
            await session.commit()
        await reconcile(payments)
    assert (await stage.payment(broken))["payment_status"] == "succeeded"
    async with payments.database.sessionmaker() as session:
        assert (await session.execute(text(
            "SELECT count(*) FROM parked_items WHERE loop = 'reconciler' AND item_key = :key"),
            {"key": str(broken)})).scalar_one() == 0
