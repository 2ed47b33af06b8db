"""Payment receipts' PDFs: rendered once after `payment_receipt.created` (redelivery, a second consumer), the
text read back (number, amount, method, invoice, a Greek customer name), `payment_receipt.generated` once with
`file_url`, `file_url` on reads, the public link without a key (tampered, expired, another kind refused)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

from pypdf import PdfReader
from sqlalchemy import text

from invora.documents import links
from invora.events.envelope import EventEnvelope
from payments.documents import consumer


async def _receipt(stage, payments, amount: int, reference: str = "wire-42") -> tuple[dict, dict, uuid.UUID]:
    customer = await stage.customer(provider=False)
    async with payments.database.sessionmaker() as session:
        await session.execute(text("UPDATE customers SET name = 'Ωμέγα Ναυτιλιακή' WHERE id = :id"),
                              {"id": customer["lago_id"]})
        await session.commit()
    invoice_id, _ = await stage.finalize(customer, amount)
    payment = (await stage.ok("POST", "/api/v1/payments", {"payment": {
        "invoice_id": str(invoice_id), "amount_cents": amount, "reference": reference}}))["payment"]
    [receipt] = (await stage.ok("GET", f"/api/v1/payment_receipts?invoice_id={invoice_id}"))["payment_receipts"]
    return receipt, payment, invoice_id


async def _deliver(stage, payments) -> None:
    """The `payment_receipt.created` events of the organization, through the documents consumer's handler."""
    for envelope in await stage.events("payment_receipt.created"):
        async with payments.database.sessionmaker() as session:
            await consumer.on_receipt_created(session, EventEnvelope.model_validate(envelope))
            await session.commit()


async def _documents(payments, receipt_id: str) -> list[bytes]:
    async with payments.database.sessionmaker() as session:
        return list((await session.execute(text("SELECT content FROM documents WHERE resource_id = :r"),
                                           {"r": receipt_id})).scalars())


async def test_a_receipt_is_rendered_once_and_served_by_its_link(payments, stage):
    receipt, payment, invoice_id = await _receipt(stage, payments, 123_456)
    assert receipt["file_url"] is None
    await _deliver(stage, payments)
    await _deliver(stage, payments)  # redelivered: nothing rendered or published again
    [stored] = await _documents(payments, receipt["lago_id"])
    [generated] = await stage.events("payment_receipt.generated")
    assert generated["data"]["payment_receipt"]["lago_id"] == receipt["lago_id"]
    url = generated["data"]["payment_receipt"]["file_url"]
    assert url.startswith("http://127.0.0.1:8100/api/v1/documents/payment_receipts/")
    read = (await stage.ok("GET", f"/api/v1/payment_receipts/{receipt['lago_id']}"))["payment_receipt"]
    listed = (await stage.ok("GET", "/api/v1/payment_receipts"))["payment_receipts"]
    assert read["file_url"] and [r["file_url"] is not None for r in listed] == [True]
    response = await payments.client().get(read["file_url"].removeprefix("http://127.0.0.1:8100"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content == stored
    page = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (receipt["number"], "1,234.56 EUR", "Manual payment (reference wire-42)",
                     f"INV-{invoice_id.hex[:6]}", str(invoice_id), "Ωμέγα Ναυτιλιακή", "billing@acme.test",
                     datetime.fromisoformat(payment["created_at"]).date().isoformat()):
        assert expected in page, expected


async def test_receipt_links_refuse_tampering_expiry_and_other_kinds(payments, stage):
    receipt, _, _ = await _receipt(stage, payments, 500)
    await _deliver(stage, payments)
    token = (await stage.ok("GET", f"/api/v1/payment_receipts/{receipt['lago_id']}"))["payment_receipt"][
        "file_url"].rsplit("/", 1)[1]
    anonymous = payments.client()
    body, mac = token.split(".")
    altered = body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert (await anonymous.get(f"/api/v1/documents/payment_receipts/{altered}")).json()["code"] == \
        "document_not_found"
    past = links.current().token("payment_receipts", uuid.UUID(receipt["lago_id"]),
                                 int(datetime.now(UTC).timestamp()) - 60)
    expired = await anonymous.get(f"/api/v1/documents/payment_receipts/{past}")
    assert expired.status_code == 403 and expired.json()["code"] == "document_link_expired"
    # an invoice's link kind signed for this id names nothing here
    invoice_kind = links.current().token("invoices", uuid.UUID(receipt["lago_id"]),
                                         int(datetime.now(UTC).timestamp()) + 3600)
    assert (await anonymous.get(f"/api/v1/documents/payment_receipts/{invoice_kind}")).status_code == 404
    assert (await anonymous.get("/api/v1/documents/payment_receipts/not-a-token")).status_code in (404, 422)
    assert (await anonymous.get(f"/api/v1/documents/payment_receipts/{token}")).status_code == 200
