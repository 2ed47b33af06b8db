"""Payments' events reach tenants' webhook endpoints: the real payments service charges a declining card on
localstripe, and its `customer.payment_provider_created` and `payment.failed` (with the decline category) arrive
at an endpoint as Lago-style webhooks through the broker."""

import json
import uuid
from datetime import UTC, datetime

from invora.events.envelope import EventEnvelope


def _customer(external_id: str, code: str) -> dict:
    now = datetime.now(UTC).isoformat()
    return {"lago_id": str(uuid.uuid4()), "sequential_id": 1, "slug": "C-1", "external_id": external_id,
            "name": "Acme", "currency": "EUR", "applicable_timezone": "UTC", "account_type": "customer",
            "finalize_zero_amount_invoice": "inherit", "skip_invoice_custom_sections": False,
            "billing_configuration": {"payment_provider": "stripe", "payment_provider_code": code},
            "shipping_address": {}, "created_at": now, "updated_at": now}


def _invoice(customer: dict, amount: int) -> dict:
    now = datetime.now(UTC)
    return {"lago_id": str(uuid.uuid4()), "number": "INV-1", "status": "finalized", "payment_status": "pending",
            "issuing_date": now.date().isoformat(), "payment_due_date": now.date().isoformat(),
            "payment_overdue": False, "net_payment_term": 0, "invoice_type": "subscription", "currency": "EUR",
            "fees_amount_cents": amount, "coupons_amount_cents": 0, "credit_notes_amount_cents": 0,
            "sub_total_excluding_taxes_amount_cents": amount, "taxes_amount_cents": 0,
            "sub_total_including_taxes_amount_cents": amount, "prepaid_credit_amount_cents": 0,
            "progressive_billing_credit_amount_cents": 0, "total_amount_cents": amount, "version_number": 4,
            "created_at": now.isoformat(), "updated_at": now.isoformat(), "customer": customer}


async def test_payment_events_are_fanned_out(notifications, start_service, localstripe, receivers, kit):
    from payments.invoices import service as invoices

    receiver = await receivers()
    org = uuid.uuid4()
    await kit.create_endpoint(notifications.client(org), receiver.url + "/hook", signature_algo="hmac")
    payments = await start_service("payments", stripe_api_base=localstripe.url, charger_interval_seconds=0.1,
                                   consumers_enabled=False)
    created = await payments.client(org).post("/api/v1/payment_providers", json={"payment_provider": {
        "provider_type": "stripe", "code": "stripe", "name": "Stripe", "secret_key": "sk_test_fanout"}})
    assert created.status_code == 200, created.text
    customer = _customer("acme", "stripe")
    invoice = _invoice(customer, 1_234)
    envelope = EventEnvelope(type="invoice.finalized", source="invoicing", organization_id=org,
                             aggregate_type="invoice", aggregate_id=invoice["lago_id"], sequence=1,
                             data={"invoice": invoice})
    async with payments.database.sessionmaker() as session:
        await invoices.apply_event(session, envelope)
        await session.commit()
    payments.app.state.runtime.wake_charger()

    # the customer is created at Stripe on demand, without a card: the charge fails hard
    requests = await receiver.wait_for(3, timeout=30)
    bodies = {json.loads(r.body)["webhook_type"]: json.loads(r.body) for r in requests}
    assert set(bodies) >= {"payment.created", "customer.payment_provider_created", "payment.failed"}
    failed = bodies["payment.failed"]
    assert failed["object_type"] == "payment" and failed["organization_id"] == str(org)
    assert failed["payment"]["lago_payable_id"] == invoice["lago_id"] and failed["payment"]["amount_cents"] == 1_234
    assert failed["payment"]["failure"] == {"category": "hard", "code": "no_payment_method",
                                            "message": "The customer has no payment method at the provider."}
    provider = bodies["customer.payment_provider_created"]
    assert provider["object_type"] == "customer"
    assert provider["customer"]["external_customer_id"] == "acme"
    assert provider["customer"]["provider_customer_id"].startswith("cus_")
