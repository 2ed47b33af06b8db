"""Documents through the real path: the service's own `documents` consumer (Kafka, its own group) renders a
finalized invoice's and a credit note's PDF without anyone downloading, publishes `invoice.generated` /
`credit_note.generated` once, and Lago's python client downloads them (`file_url`)."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import text

from .conftest import tax  # noqa: TID252

CONSUMERS = True


async def _one_off(world, api, customer: str) -> dict:
    await world.tax("vat20", "20")
    await world.customer(customer, tax_codes=["vat20"], name="Zürich Précision AG")
    await world.add_on("setup", 10_000, taxes=[tax("reduced", "5.5")])
    return (await api.ok("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": customer, "fees": [
        {"add_on_code": "setup", "units": "3"}]}}))["invoice"]


async def _wait_for_document(inv, resource_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with inv.database.sessionmaker() as session:
            if (await session.execute(text("SELECT count(*) FROM documents WHERE resource_id = :r"),
                                      {"r": resource_id})).scalar_one():
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no document for {resource_id} after {timeout} s")


async def _events(inv, org, event_type: str) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE envelope->>'organization_id' = :org AND event_type = :t"),
            {"org": str(org), "t": event_type})).scalars())


async def test_the_documents_consumer_renders_after_finalization_and_lagos_client_downloads(
        world, api, inv, org, invora_kafka, invora_keys):
    from lago_python_client.client import Client  # noqa: PLC0415

    from invoicing.app import create_app  # noqa: PLC0415
    from invora.testing.live import serve  # noqa: PLC0415
    from invora.testing.services import service_settings  # noqa: PLC0415

    invoice = await _one_off(world, api, "cus_consumer")
    assert invoice["total_amount_cents"] == 30_000 + 1_650
    await _wait_for_document(inv, invoice["lago_id"])
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": invoice["fees"][0]["lago_id"],
                                                     "amount_cents": 1_000}]}}))["credit_note"]
    await _wait_for_document(inv, note["lago_id"])
    [generated] = await _events(inv, org, "invoice.generated")
    assert generated["data"]["invoice"]["file_url"]
    assert len(await _events(inv, org, "credit_note.generated")) == 1
    settings_ = service_settings("invoicing", database_url=inv.database_url, kafka=invora_kafka, keys=invora_keys,
                                 scheduler_enabled=False, consumers_enabled=False)

    def with_lago_client(url: str) -> tuple[str, str]:
        client = Client(api_key=invora_keys.sign(org, ["admin"]), api_url=url)
        downloaded = client.invoices.download(invoice["lago_id"])
        assert downloaded.number == invoice["number"] and downloaded.file_url
        credit_note = client.credit_notes.download(note["lago_id"])
        assert credit_note.number == note["number"] and credit_note.file_url
        path = "/api/v1/documents/"
        return (url + path + downloaded.file_url.split(path, 1)[1],
                url + path + credit_note.file_url.split(path, 1)[1])

    with serve(create_app(settings_)) as url:
        invoice_url, note_url = await asyncio.to_thread(with_lago_client, url)
        async with httpx.AsyncClient() as anonymous:
            pdf = await anonymous.get(invoice_url)
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
            assert b"/BaseFont /Helvetica" in pdf.content  # Western text: the built-in font, nothing embedded
            assert (await anonymous.get(note_url)).status_code == 200
    # downloads after the consumer rendered nothing new
    assert len(await _events(inv, org, "invoice.generated")) == 1
    assert len(await _events(inv, org, "credit_note.generated")) == 1
