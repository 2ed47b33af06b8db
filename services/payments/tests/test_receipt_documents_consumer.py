"""Receipts' PDFs through the real path: the service's own `receipt-documents` consumer (Kafka, its own group)
renders a manual payment's receipt without anyone asking, and `payment_receipt.generated` follows once."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import text

CONSUMERS = True


async def test_the_receipt_documents_consumer_renders_each_new_receipt_once(payments, stage):
    invoice_id, _ = await stage.finalize(await stage.customer(provider=False), 4_200)
    await stage.ok("POST", "/api/v1/payments", {"payment": {"invoice_id": str(invoice_id), "amount_cents": 4_200,
                                                             "reference": "wire"}})
    [receipt] = (await stage.ok("GET", f"/api/v1/payment_receipts?invoice_id={invoice_id}"))["payment_receipts"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        read = (await stage.ok("GET", f"/api/v1/payment_receipts/{receipt['lago_id']}"))["payment_receipt"]
        if read["file_url"]:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the receipt's document was not rendered within 60 s")
    pdf = await payments.client().get(read["file_url"].removeprefix("http://127.0.0.1:8100"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    [generated] = await stage.events("payment_receipt.generated")
    assert generated["data"]["payment_receipt"]["number"] == receipt["number"]
    async with payments.database.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM documents WHERE resource_id = :r"),
                                      {"r": receipt["lago_id"]})).scalar_one() == 1
