"""Documents (PDF) of invoices and credit notes: what the PDF says (read back with pypdf), rendered once
(download, background consumer, concurrency, redelivery), `*.generated` once, the public link (no API key,
tampered, expired, another kind), drafts refused as Lago does, access (tenant keys, other organizations,
bad ids)."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import UTC, datetime

from pypdf import PdfReader
from sqlalchemy import text

from invoicing.documents import consumer
from invoicing.documents.invoice_pdf import render_invoice_pdf
from invora.documents import links
from invora.documents.layout import Party
from invora.events.contracts.invoicing import Credit, Invoice

from .conftest import T0, tax  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
CUSTOMER = {"name": "Ёлка Сервис ООО", "legal_name": "ООО «Ёлка»", "address_line1": "ул. Тверская, 7",
            "city": "Москва", "zipcode": "125009", "country": "RU", "tax_identification_number": "7701234567",
            "email": "billing@elka.example"}


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def finalized_invoice(world, api, customer: str = "cus_doc") -> dict:
    """100.00 € setup at the customer's 20 % and 25.00 € training at 10 %: 125.00 + 22.50 = 147.50 €."""
    await world.organization(name="Acme SAS", legal_name="Acme Software SAS", address_line1="1 rue de Rivoli",
                             zipcode="75001", city="Paris", country="FR", tax_identification_number="FR12345678901",
                             billing_configuration={"invoice_footer": "Pay by wire to FR76 3000 6000 0112"})
    await world.tax("vat20", "20")
    await world.customer(customer, tax_codes=["vat20"], **CUSTOMER)
    await world.add_on("setup", 10_000)
    await world.add_on("training", 2_500, taxes=[tax("training_tax", "10")])
    return (await api.ok("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": customer, "fees": [
        {"add_on_code": "setup"}, {"add_on_code": "training", "units": "2.5"}]}}))["invoice"]


async def outbox(inv, org, event_type: str) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE envelope->>'organization_id' = :org AND event_type = :t "
            "ORDER BY position"), {"org": str(org), "t": event_type})).scalars())


async def documents(inv, resource_id: str) -> list[bytes]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text("SELECT content FROM documents WHERE resource_id = :r"),
                                           {"r": resource_id})).scalars())


async def fetch(inv, file_url: str):
    """The link as anyone would follow it: no Authorization header."""
    assert file_url.startswith("http://127.0.0.1:8100/api/v1/documents/")
    return await inv.client().get(file_url.removeprefix("http://127.0.0.1:8100"))


async def deliver_finalized(world, invoice: dict) -> None:
    envelope = world.envelope("invoice.finalized", "invoice", invoice["lago_id"], {"invoice": invoice})
    await world.deliver(consumer.on_event, envelope)


async def test_download_renders_the_invoice_once_and_its_link_serves_it_without_a_key(world, api, inv, org):
    invoice = await finalized_invoice(world, api)
    assert invoice["status"] == "finalized" and invoice["file_url"] is None
    assert invoice["total_amount_cents"] == 10_000 + 6_250 + 2_000 + 625
    assert await outbox(inv, org, "invoice.generated") == []
    downloaded = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/download"))["invoice"]
    assert downloaded["lago_id"] == invoice["lago_id"] and downloaded["number"] == invoice["number"]
    response = await fetch(inv, downloaded["file_url"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert f"{invoice['number']}.pdf" in response.headers["content-disposition"]
    page = pdf_text(response.content)
    # number, issuer, the customer in Cyrillic, each fee's units, unit price and amount, taxes per rate, totals
    for expected in (invoice["number"], "Acme SAS", "1 rue de Rivoli", "FR12345678901", CUSTOMER["name"],
                     CUSTOMER["legal_name"], "ул. Тверская, 7", "125009 Москва", "Tax ID: 7701234567",
                     "Setup", "100.00 EUR", "Training", "2.5", "25.00 EUR", "62.50 EUR",
                     "VAT20 20 % on 100.00 EUR", "20.00 EUR", "TRAINING_TAX 10 % on 62.50 EUR", "6.25 EUR",
                     "Sub total excl. taxes", "162.50 EUR", "Sub total incl. taxes", "188.75 EUR", "Amount due",
                     invoice["issuing_date"], invoice["payment_due_date"], "Pay by wire to FR76 3000 6000 0112"):
        assert expected in page, expected
    # the second download: the same file, not rendered again, the event once
    again = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/download"))["invoice"]
    assert (await fetch(inv, again["file_url"])).content == response.content
    assert await documents(inv, invoice["lago_id"]) == [response.content]
    [generated] = await outbox(inv, org, "invoice.generated")
    assert generated["data"]["invoice"]["file_url"].startswith("http://127.0.0.1:8100/api/v1/documents/invoices/")
    # reads show the link from now on
    read = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (await fetch(inv, read["file_url"])).content == response.content
    listed = (await api.ok("GET", "/api/v1/invoices"))["invoices"]
    assert [i["file_url"] is not None for i in listed] == [True]


async def test_the_background_consumer_renders_once_under_redelivery_and_a_later_download_reuses_it(
        world, api, inv, org):
    invoice = await finalized_invoice(world, api, "cus_bg")
    await deliver_finalized(world, invoice)
    await deliver_finalized(world, invoice)  # a redelivery (or a second consumer) renders nothing
    [stored] = await documents(inv, invoice["lago_id"])
    assert len(await outbox(inv, org, "invoice.generated")) == 1
    downloaded = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/download"))["invoice"]
    assert (await fetch(inv, downloaded["file_url"])).content == stored
    assert len(await outbox(inv, org, "invoice.generated")) == 1


async def test_concurrent_downloads_store_one_document_and_publish_once(world, api, inv, org):
    invoice = await finalized_invoice(world, api, "cus_race")
    answers = await asyncio.gather(*(api.client.post(f"/api/v1/invoices/{invoice['lago_id']}/download")
                                     for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    [stored] = await documents(inv, invoice["lago_id"])
    for answer in answers:
        assert (await fetch(inv, answer.json()["invoice"]["file_url"])).content == stored
    assert len(await outbox(inv, org, "invoice.generated")) == 1


async def test_a_draft_cannot_be_downloaded_as_in_lago_and_gets_no_document(world, api, inv, org):
    customer = await world.customer(invoice_grace_period=3)
    plan = await world.plan(2_000)
    await world.close(world.subscription(customer, plan), T0, APR)
    [draft] = (await api.ok("GET", "/api/v1/invoices"))["invoices"]
    assert draft["status"] == "draft"
    body = await api.error("POST", f"/api/v1/invoices/{draft['lago_id']}/download", status=404)
    assert body["code"] == "invoice_not_found"
    await deliver_finalized(world, draft)  # an event naming a draft renders nothing either
    assert await documents(inv, draft["lago_id"]) == []
    assert (await api.ok("GET", f"/api/v1/invoices/{draft['lago_id']}"))["invoice"]["file_url"] is None
    finalized = (await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/finalize"))["invoice"]
    downloaded = (await api.ok("POST", f"/api/v1/invoices/{draft['lago_id']}/download"))["invoice"]
    assert finalized["number"] in pdf_text((await fetch(inv, downloaded["file_url"])).content)


async def test_tampered_expired_and_misdirected_links_are_refused(world, api, inv, org):
    invoice = await finalized_invoice(world, api, "cus_links")
    url = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/download"))["invoice"]["file_url"]
    token = url.rsplit("/", 1)[1]
    body, mac = token.split(".")
    for altered in (body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac,
                    body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B"), body + ".", "x.y", body):
        response = await inv.client().get(f"/api/v1/documents/invoices/{altered}")
        assert response.status_code in (404, 422), (altered, response.text)
        assert response.json()["status"] == response.status_code
    signer = links.current()
    past = signer.token("invoices", uuid.UUID(invoice["lago_id"]), int(datetime.now(UTC).timestamp()) - 1)
    expired = await inv.client().get(f"/api/v1/documents/invoices/{past}")
    assert expired.status_code == 403 and expired.json()["code"] == "document_link_expired"
    # a valid invoice token on the credit notes' path names nothing there
    wrong_kind = await inv.client().get(f"/api/v1/documents/credit_notes/{token}")
    assert wrong_kind.status_code == 404 and wrong_kind.json()["code"] == "document_not_found"
    # a token made with another key (another deployment) is refused
    other = links.DocumentLinks(key=b"k" * 32, public_url="http://x", ttl_seconds=3600)
    forged = other.token("invoices", uuid.UUID(invoice["lago_id"]), int(datetime.now(UTC).timestamp()) + 3600)
    assert (await inv.client().get(f"/api/v1/documents/invoices/{forged}")).status_code == 404
    assert (await fetch(inv, url)).status_code == 200


async def test_access_tenant_keys_other_organizations_and_bad_ids(world, api, inv, org, make_api):
    invoice = await finalized_invoice(world, api, "cus_own")
    customer_id = invoice["customer"]["lago_id"]
    own = make_api(org, roles=("tenant",), customer_id=customer_id)
    assert (await own.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/download"))["invoice"]["file_url"]
    other_customer = make_api(org, roles=("tenant",), customer_id=str(uuid.uuid4()))
    await other_customer.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/download", status=403)
    other_org = make_api(uuid.uuid4())
    body = await other_org.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/download", status=404)
    assert body["code"] == "invoice_not_found"
    await other_org.error("POST", f"/api/v1/credit_notes/{invoice['lago_id']}/download", status=404)
    await api.error("POST", f"/api/v1/invoices/{uuid.uuid4()}/download", status=404)
    for bad in ("not-a-uuid", "1", "%00"):
        response = await api.client.post(f"/api/v1/invoices/{bad}/download")
        assert response.status_code in (404, 422) and response.json()["status"] == response.status_code
    assert (await inv.client().post(f"/api/v1/invoices/{invoice['lago_id']}/download")).status_code == 401


async def test_a_credit_note_pdf_its_download_and_generated_event(world, api, inv, org, make_api):
    invoice = await finalized_invoice(world, api, "cus_cn")
    by_code = {f["item"]["code"]: f["lago_id"] for f in invoice["fees"]}
    note = (await api.ok("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "reason": "duplicated_charge", "description": "Charged twice",
        "items": [{"fee_id": by_code["setup"], "amount_cents": 3_333},
                  {"fee_id": by_code["training"], "amount_cents": 1_001}]}}))["credit_note"]
    assert note["file_url"] is None and await outbox(inv, org, "credit_note.generated") == []
    downloaded = (await api.ok("POST", f"/api/v1/credit_notes/{note['lago_id']}/download"))["credit_note"]
    response = await fetch(inv, downloaded["file_url"])
    page = pdf_text(response.content)
    for expected in (note["number"], invoice["number"], "Duplicated charge", "Charged twice", CUSTOMER["name"],
                     "Acme SAS", "Setup", "33.33 EUR", "Training", "10.01 EUR", "43.34 EUR",
                     "VAT20 20 % on 33.33 EUR", "6.67 EUR", "TRAINING_TAX 10 % on 10.01 EUR", "1.00 EUR",
                     "Total credited", "51.01 EUR", "Credited to the customer's balance"):
        assert expected in page, expected
    await world.deliver(consumer.on_event, world.envelope("credit_note.created", "credit_note", note["lago_id"],
                                                          {"credit_note": note}))
    assert await documents(inv, note["lago_id"]) == [response.content]
    [generated] = await outbox(inv, org, "credit_note.generated")
    assert generated["data"]["credit_note"]["file_url"]
    read = (await api.ok("GET", f"/api/v1/credit_notes/{note['lago_id']}"))["credit_note"]
    assert (await fetch(inv, read["file_url"])).content == response.content
    # tenant keys: their own customer's notes only; another organization: 404
    customer_id = invoice["customer"]["lago_id"]
    own = make_api(org, roles=("tenant",), customer_id=customer_id)
    assert (await own.ok("POST", f"/api/v1/credit_notes/{note['lago_id']}/download"))["credit_note"]["file_url"]
    await make_api(org, roles=("tenant",), customer_id=str(uuid.uuid4())).error(
        "POST", f"/api/v1/credit_notes/{note['lago_id']}/download", status=403)
    body = await make_api(uuid.uuid4()).error("POST", f"/api/v1/credit_notes/{note['lago_id']}/download", status=404)
    assert body["code"] == "credit_note_not_found"
    assert len(await outbox(inv, org, "credit_note.generated")) == 1


async def test_the_pdf_shows_deductions_coupons_credits_and_currencies_by_their_exponent(world, api, inv, org):
    invoice = Invoice.model_validate(await finalized_invoice(world, api, "cus_render"))
    issuer = Party("From", ("Acme SAS",))
    for currency, fees, expected in (("JPY", 1_234_567, "1,234,567 JPY"), ("KWD", 1_234_567, "1,234.567 KWD"),
                                     ("EUR", 1_234_567, "12,345.67 EUR")):
        variant = invoice.model_copy(deep=True, update={
            "currency": currency, "fees_amount_cents": fees, "progressive_billing_credit_amount_cents": 1_000,
            "credits": [Credit(lago_id=uuid.uuid4(), amount_cents=500, amount_currency=currency,
                               item={"type": "coupon", "code": "spring", "name": "Spring -5"}, invoice={})],
            "credit_notes_amount_cents": 70, "prepaid_credit_amount_cents": 30, "total_paid_amount_cents": 0})
        page = pdf_text(render_invoice_pdf(variant, issuer))
        assert expected in page
        # progressive billing, the coupon, credit notes and prepaid credits each on their line, negative
        minus = {"JPY": ("-1,000 JPY", "-500 JPY", "-70 JPY", "-30 JPY"),
                 "KWD": ("-1.000 KWD", "-0.500 KWD", "-0.070 KWD", "-0.030 KWD"),
                 "EUR": ("-10.00 EUR", "-5.00 EUR", "-0.70 EUR", "-0.30 EUR")}[currency]
        for label, amount in zip(("Progressive billing already invoiced", "Coupon Spring -5",
                                  "Credit notes and credits", "Prepaid credits"), minus, strict=True):
            assert label in page and amount in page, (label, amount)

