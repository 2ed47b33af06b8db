"""One-off invoices (`POST /invoices`, Lago's shape): add-on fees, finalized at once."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from .conftest import tax  # noqa: TID252


async def test_a_one_off_invoice_of_add_ons_is_finalized_with_its_taxes(world, api, inv, org):
    await world.tax("vat20", "20")
    await world.tax("reduced", "5.5")
    await world.customer("cus_1", tax_codes=["vat20"])
    await world.add_on("setup", 10_000)
    await world.add_on("training", 2_500, taxes=[tax("training_tax", "10")])
    invoice = (await api.ok("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_1", "fees": [
        {"add_on_code": "setup", "units": "2.5", "description": "Two and a half setups"},
        {"add_on_code": "training", "unit_amount_cents": 3_333, "units": 3},
        {"add_on_code": "setup", "tax_codes": ["reduced"], "invoice_display_name": "Setup (reduced)"},
    ]}}))["invoice"]
    # 250.00 (customer's 20 %) + 99.99 (the add-on's 10 %) + 100.00 (5.5 % asked for)
    assert (invoice["invoice_type"], invoice["status"], invoice["fees_amount_cents"]) == ("one_off", "finalized",
                                                                                         44_999)
    assert {t["tax_code"]: t["amount_cents"] for t in invoice["applied_taxes"]} == {
        "vat20": 5_000, "training_tax": 1_000, "reduced": 550}
    assert invoice["total_amount_cents"] == 44_999 + 6_550 and invoice["number"].startswith("INV-")
    assert [f["item"]["type"] for f in invoice["fees"]] == ["add_on"] * 3
    async with inv.database.sessionmaker() as session:
        types = (await session.execute(text(
            "SELECT event_type FROM outbox_events WHERE envelope->>'organization_id' = :org ORDER BY position"),
            {"org": str(org)})).scalars().all()
    assert types == ["invoice.one_off_created", "invoice.created", "invoice.finalized"]
    paid = (await api.ok("PUT", f"/api/v1/invoices/{invoice['lago_id']}", {"invoice": {
        "payment_status": "succeeded"}}))["invoice"]  # a manual invoice paid by wire
    assert paid["payment_status"] == "succeeded"


async def test_one_off_bad_input(world, api, make_api, org):
    await world.customer("cus_2", currency="EUR")
    await world.add_on("setup", 10_000)
    await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2", "fees": []}})
    await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2", "fees": [
        {"add_on_code": "nope"}]}}, status=404)
    await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "nobody", "fees": [
        {"add_on_code": "setup"}]}}, status=404)
    body = await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2",
                                                                    "currency": "USD",
                                                                    "fees": [{"add_on_code": "setup"}]}})
    assert body["error_details"] == {"currency": ["currencies_does_not_match"]}
    await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2", "fees": [
        {"add_on_code": "setup", "tax_codes": ["unknown"]}]}}, status=404)
    await api.error("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2", "fees": [
        {"add_on_code": "setup", "units": "-1"}]}})
    await make_api(org, roles=("tenant",), customer_id=uuid.uuid4()).error("POST", "/api/v1/invoices", {"invoice": {
        "external_customer_id": "cus_2", "fees": [{"add_on_code": "setup"}]}}, status=403)
    await make_api(uuid.uuid4()).error("POST", "/api/v1/invoices", {"invoice": {
        "external_customer_id": "cus_2", "fees": [{"add_on_code": "setup"}]}}, status=404)
    assert (await api.ok("GET", "/api/v1/invoices"))["invoices"] == []
