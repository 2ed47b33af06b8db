"""Invoicing's credit note and document events reach tenants' webhook endpoints: the real invoicing service issues a
credit note on a one-off invoice, both are downloaded (their PDFs rendered), and `credit_note.created`,
`credit_note.generated` and `invoice.generated` (with `file_url`) arrive at an endpoint as Lago-style webhooks
through the broker."""

import json
import uuid
from datetime import UTC, datetime

from invora.events.envelope import EventEnvelope


async def test_credit_note_events_are_fanned_out(notifications, start_service, receivers, kit):
    from invoicing.projections.consumer import on_add_on, on_customer

    receiver = await receivers()
    org = uuid.uuid4()
    await kit.create_endpoint(notifications.client(org), receiver.url + "/hook", signature_algo="hmac")
    invoicing = await start_service("invoicing", scheduler_enabled=False, consumers_enabled=False)
    now = datetime.now(UTC).isoformat()
    customer = {"lago_id": str(uuid.uuid4()), "sequential_id": 1, "slug": "C-1", "external_id": "acme",
                "name": "Acme", "currency": "EUR", "applicable_timezone": "UTC", "tax_codes": [],
                "account_type": "customer", "finalize_zero_amount_invoice": "inherit",
                "skip_invoice_custom_sections": False, "billing_configuration": {}, "shipping_address": {},
                "created_at": now, "updated_at": now}
    add_on = {"lago_id": str(uuid.uuid4()), "name": "Setup", "code": "setup", "amount_cents": 10_000,
              "amount_currency": "EUR", "created_at": now, "taxes": []}
    for sequence, (handler, kind, body) in enumerate([(on_customer, "customer", customer),
                                                      (on_add_on, "add_on", add_on)], start=1):
        async with invoicing.database.sessionmaker() as session:
            await handler(session, EventEnvelope(type=f"{kind}.created", source="test", organization_id=org,
                                                 aggregate_type=kind, aggregate_id=body["lago_id"], sequence=sequence,
                                                 data={kind: body}))
            await session.commit()
    client = invoicing.client(org)
    answer = await client.post("/api/v1/invoices", json={"invoice": {"external_customer_id": "acme",
                                                                     "fees": [{"add_on_code": "setup"}]}})
    assert answer.status_code == 200, answer.text
    invoice = answer.json()["invoice"]
    answer = await client.post("/api/v1/credit_notes", json={"credit_note": {
        "invoice_id": invoice["lago_id"], "reason": "other",
        "items": [{"fee_id": invoice["fees"][0]["lago_id"], "amount_cents": 2_500}]}})
    assert answer.status_code == 200, answer.text
    note = answer.json()["credit_note"]
    for path in (f"/api/v1/invoices/{invoice['lago_id']}/download", f"/api/v1/credit_notes/{note['lago_id']}/download"):
        assert (await client.post(path)).status_code == 200

    # invoice.one_off_created, .created, .finalized, .generated; credit_note.created, .generated
    requests = await receiver.wait_for(6, timeout=30)
    bodies = {json.loads(r.body)["webhook_type"]: json.loads(r.body) for r in requests}
    assert {"credit_note.created", "credit_note.generated", "invoice.generated"} <= set(bodies)
    assert bodies["invoice.generated"]["object_type"] == "invoice"
    assert "/api/v1/documents/invoices/" in bodies["invoice.generated"]["invoice"]["file_url"]
    assert "/api/v1/documents/credit_notes/" in bodies["credit_note.generated"]["credit_note"]["file_url"]
    assert bodies["credit_note.created"]["credit_note"]["file_url"] is None
    created = bodies["credit_note.created"]
    assert created["object_type"] == "credit_note" and created["organization_id"] == str(org)
    assert created["credit_note"]["lago_id"] == note["lago_id"]
    assert (created["credit_note"]["total_amount_cents"], created["credit_note"]["number"]) == (
        2_500, f"{invoice['number']}-CN1")
