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


