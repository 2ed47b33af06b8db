"""Charging wallet top-ups on Stripe (localstripe): once per top-up, whatever is repeated or crashes; a declined
card answers `failed`; a customer without a provider is answered at once. The top-up charger is driven by
hand (`run_once`); localstripe ignores idempotency keys, so a second call would show as a second charge."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

from invora.events.envelope import EventEnvelope
from payments.providers.base import ChargeRequest
from payments.wallet_topups import charger, repository, service

CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _request(stage, customer: dict, amount_cents: int, *, transaction_id: uuid.UUID | None = None,
             payment_method_id: str | None = None, manual: bool = False) -> EventEnvelope:
    transaction_id = transaction_id or uuid.uuid4()
    return EventEnvelope(
        type="wallet_transaction.payment_requested", source="wallets", organization_id=stage.org,
        aggregate_type="wallet_transaction", aggregate_id=str(transaction_id), sequence=1, data={
            "lago_wallet_transaction_id": str(transaction_id), "lago_wallet_id": str(uuid.uuid4()),
            "lago_customer_id": customer["lago_id"], "external_customer_id": customer["external_id"],
            "amount_cents": amount_cents, "currency": "EUR", "payment_method_id": payment_method_id,
            "description": "Added usage credits", "manual": manual})


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


async def _stripe_webhook(receiver, event_type: str, match, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for request in receiver.requests:
            body = json.loads(request.body)
            if body["type"] == event_type and match(body["data"]["object"]):
                return request
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {event_type} webhook")


async def test_a_manual_top_up_is_paid_once_on_its_page_and_never_charged_off_session(payments, stage,
                                                                                      webhook_receiver):
    stage.localstripe.register_webhook(f"topup-{uuid.uuid4().hex[:6]}", webhook_receiver.url, stage.webhook_secret,
                                       events=["payment_intent.succeeded"])
    customer = await stage.customer(card=None)  # nothing saved at Stripe: the customer pays on the page
    envelope = _request(stage, customer, 2_500, manual=True)
    transaction_id = envelope.aggregate_id
    await _record(payments, envelope)
    await _run(payments)
    await _run(payments)
    charge = await _charge(payments, stage, transaction_id)
    assert charge["status"] == "pending" and charge["calls"] == 0 and charge["manual"]  # never sent off-session
    assert await _answers(stage) == []

    url = f"/api/v1/wallet_transactions/{transaction_id}/payment_url"
    details = (await stage.ok("POST", url))["wallet_transaction_payment_details"]
    assert details["lago_wallet_transaction_id"] == transaction_id and details["payment_provider"] == "stripe"
    assert details["lago_customer_id"] == customer["lago_id"]
    assert details["external_customer_id"] == customer["external_id"]
    session = stage.stripe.v1.checkout.sessions.retrieve(details["payment_url"].rsplit("/", 1)[-1])
    assert (session.mode, session.amount_total, session.currency) == ("payment", 2_500, "eur")
    # asked again: the same page (a second payable page could be paid twice)
    assert (await stage.ok("POST", url))["wallet_transaction_payment_details"]["payment_url"] == \
        details["payment_url"]
    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=customer["lago_id"])
    own = await tenant.post(url)
    assert own.status_code == 200 and own.json()["wallet_transaction_payment_details"]["payment_url"] == \
        details["payment_url"]

    paid = stage.localstripe.complete_checkout(session.id, "4242424242424242")
    request = await _stripe_webhook(webhook_receiver, "payment_intent.succeeded",
                                    lambda obj: obj["id"] == paid["payment_intent"])

    async def post(body: bytes, signature: str):
        return await stage.service.client().post(
            f"/api/v1/provider_webhooks/stripe/{stage.org}", params={"code": stage.provider_code}, content=body,
            headers={"content-type": "application/json", "stripe-signature": signature})

    first = await post(request.body, request.headers["Stripe-Signature"])
    assert first.status_code == 200 and first.json()["outcome"] == "recorded", first.text
    assert (await post(request.body, request.headers["Stripe-Signature"])).json()["outcome"] == "duplicate"
    charge = await _charge(payments, stage, transaction_id)
    assert charge["status"] == "succeeded" and charge["provider_payment_id"] == paid["payment_intent"]
    [answer] = await _answers(stage)
    assert answer["payment_status"] == "succeeded" and answer["amount_cents"] == 2_500
    assert answer["lago_wallet_transaction_id"] == transaction_id
    assert len(stage.charges_at_stripe(customer["provider_customer_id"])) == 1
    # no invoice payment came of it
    assert await stage.events("payment.succeeded") == []
    refused = await stage.error("POST", url)
    assert refused["error_details"] == {"base": ["wallet_transaction_not_payable"]}


async def test_a_top_up_payment_url_is_refused_where_it_could_charge_twice_or_is_not_ours(payments, stage):
    customer = await stage.customer()
    automatic = _request(stage, customer, 1_000)  # charged off-session by the charger
    await _record(payments, automatic)
    body = await stage.error("POST", f"/api/v1/wallet_transactions/{automatic.aggregate_id}/payment_url")
    assert body["error_details"] == {"base": ["payment_in_progress"]}
    manual = _request(stage, customer, 1_200, manual=True)
    await _record(payments, manual)
    url = f"/api/v1/wallet_transactions/{manual.aggregate_id}/payment_url"
    other_org = stage.service.client(uuid.uuid4())
    assert (await other_org.post(url)).status_code == 404
    stranger = await stage.customer()
    tenant = stage.service.client(stage.org, roles=["tenant"], customer_id=stranger["lago_id"])
    assert (await tenant.post(url)).status_code == 403
    reader = stage.service.client(stage.org, roles=["service"])
    assert (await reader.post(url)).status_code == 403
    await stage.error("POST", f"/api/v1/wallet_transactions/{uuid.uuid4()}/payment_url", status=404)
    await stage.error("POST", "/api/v1/wallet_transactions/not-an-id/payment_url", status=404)
    no_provider = await stage.customer(provider=False)
    unlinked = _request(stage, no_provider, 900, manual=True)
    await _record(payments, unlinked)
    body = await stage.error("POST", f"/api/v1/wallet_transactions/{unlinked.aggregate_id}/payment_url")
    assert body["error_details"] == {"base": ["no_linked_payment_provider"]}
    # none of these refusals made a page or touched a charge
    for envelope in (automatic, manual, unlinked):
        charge = await _charge(payments, stage, envelope.aggregate_id)
        assert charge["hosted_url"] is None and charge["hosted_at"] is None and charge["status"] == "pending"


async def test_concurrent_page_requests_make_one_page(payments, stage):
    customer = await stage.customer(card=None)
    envelope = _request(stage, customer, 3_000, manual=True)
    await _record(payments, envelope)
    url = f"/api/v1/wallet_transactions/{envelope.aggregate_id}/payment_url"
    runtime = payments.app.state.runtime
    factory, pages = runtime.adapters, []

    class Counting:  # counts the pages asked of the provider
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def payment_url(self, **kwargs):
            pages.append(kwargs["metadata"])
            await asyncio.sleep(0.2)  # the provider takes its time: the other requests arrive meanwhile
            return await self._adapter.payment_url(**kwargs)

    class Factory:
        def for_connection(self, connection):
            return Counting(factory.for_connection(connection))

    runtime.adapters = Factory()
    try:
        answers = await asyncio.gather(*(stage.client.post(url) for _ in range(4)))
    finally:
        runtime.adapters = factory
    made = {a.json()["wallet_transaction_payment_details"]["payment_url"] for a in answers if a.status_code == 200}
    assert len(made) == 1 and len(pages) == 1, [a.text for a in answers]
    refused = [a.json() for a in answers if a.status_code != 200]
    assert all(r["status"] == 422 and r["error_details"] == {"base": ["payment_in_progress"]} for r in refused)
    assert pages[0]["invora_wallet_transaction_id"] == envelope.aggregate_id
    again = (await stage.ok("POST", url))["wallet_transaction_payment_details"]["payment_url"]
    assert {again} == made


async def test_a_page_the_provider_refuses_leaves_nothing_behind(payments, stage):
    from payments.providers.base import ProviderError

    customer = await stage.customer(card=None)
    envelope = _request(stage, customer, 1_100, manual=True)
    await _record(payments, envelope)
    url = f"/api/v1/wallet_transactions/{envelope.aggregate_id}/payment_url"
    runtime = payments.app.state.runtime
    factory = runtime.adapters

    class Refusing:
        def __init__(self, adapter) -> None:
            self._adapter = adapter

        def __getattr__(self, name):
            return getattr(self._adapter, name)

        async def payment_url(self, **kwargs):
            raise ProviderError("the provider refused the page", code="refused")

    class Factory:
        def for_connection(self, connection):
            return Refusing(factory.for_connection(connection))

    runtime.adapters = Factory()
    try:
        refused = await stage.error("POST", url, status=400)
    finally:
        runtime.adapters = factory
    assert refused["code"] == "payment_provider_error"
    charge = await _charge(payments, stage, envelope.aggregate_id)
    assert charge["hosted_at"] is None and charge["hosted_url"] is None and charge["status"] == "pending"
    made = (await stage.ok("POST", url))["wallet_transaction_payment_details"]  # asked again: a page now
    assert made["payment_url"].startswith("https://checkout.stripe.com/")
