"""The saga through the broker: invoicing's request events in, wallets' answers out, redeliveries harmless."""

import uuid

from invora.testing.events import read_events

CONSUMERS = True


async def test_a_published_request_is_answered_and_a_repeat_changes_nothing(api, wallets, org, producer,
                                                                             invora_kafka):
    customer = await api.customer()
    wallet = await api.wallet(customer, granted_credits="10")
    invoice = str(uuid.uuid4())
    data = {"lago_invoice_id": invoice, "invoice_number": "F-1", "external_customer_id": customer,
            "currency": "EUR", "lines": [{"fee_type": "subscription", "amount_cents": 250}]}
    for _ in range(2):  # invoicing asks twice (a retry): two events, one effect, two identical answers
        await producer.emit(org, "invoice.prepaid_credits_requested", data=data, aggregate_type="invoice",
                            aggregate_id=invoice)
    answers = await read_events(invora_kafka, "invora.credits",
                                lambda e: e.type == "credits.applied" and e.aggregate_id == invoice, count=2,
                                timeout=30)
    assert [a.data["applied_amount_cents"] for a in answers] == [250, 250]
    assert answers[0].data == answers[1].data
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 750

    await producer.emit(org, "invoice.prepaid_credits_release_requested", data={"lago_invoice_id": invoice},
                        aggregate_type="invoice", aggregate_id=invoice)
    [released] = await read_events(invora_kafka, "invora.credits",
                                   lambda e: e.type == "credits.released" and e.aggregate_id == invoice, timeout=30)
    assert released.data["released_amount_cents"] == 250
    assert (await api.get_wallet(wallet["lago_id"]))["balance_cents"] == 1000




async def test_a_paid_invoice_s_credits_stop_being_pending(api, wallets, org, producer, invora_kafka):
    import asyncio
    from datetime import UTC, datetime

    customer = await api.customer()
    await api.wallet(customer, granted_credits="10")
    invoice = str(uuid.uuid4())
    await producer.emit(org, "invoice.prepaid_credits_requested", aggregate_type="invoice", aggregate_id=invoice,
                        data={"lago_invoice_id": invoice, "external_customer_id": customer, "currency": "EUR",
                              "lines": [{"fee_type": "subscription", "amount_cents": 300}]})
    await read_events(invora_kafka, "invora.credits",
                      lambda e: e.type == "credits.applied" and e.aggregate_id == invoice, timeout=30)
    view = await api.ok("GET", f"/api/v1/customers/{customer}/credits")
    assert view["credits"][0]["pending_amount_cents"] == 300 and view["credits"][0]["available_amount_cents"] == 700

    payment_id = str(uuid.uuid4())
    await producer.emit(org, "payment.succeeded", aggregate_type="payment", aggregate_id=payment_id, data={
        "payment": {"lago_id": payment_id, "lago_customer_id": str(uuid.uuid4()), "external_customer_id": customer,
                    "invoice_ids": [invoice], "lago_payable_id": invoice, "amount_cents": 0,
                    "amount_currency": "EUR", "status": "succeeded", "payment_status": "succeeded",
                    "type": "provider", "created_at": datetime.now(UTC).isoformat()}})
    deadline = asyncio.get_running_loop().time() + 30
    while (await api.ok("GET", f"/api/v1/customers/{customer}/credits"))["credits"][0]["pending_amount_cents"]:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
