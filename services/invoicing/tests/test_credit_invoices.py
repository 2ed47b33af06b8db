"""Invoices of paid credits (Lago's `credit` invoices) from wallets' `wallet.paid_credits_invoice_requested`:
one per top-up whatever the redeliveries, one `credit` fee, no taxes, coupons or customer credits, finalized
at once (what payments charges); no credit note on it; an unknown customer is retried, nothing written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from invoicing.invoices.credit_invoice import CreditInvoiceCustomerUnknown
from invoicing.prepaid_credits.consumer import on_wallet

from .conftest import T0  # noqa: TID252
from .test_applied_coupons import coupon  # noqa: TID252


def requested(world, customer: dict, transaction_id: uuid.UUID, *, credits: str = "25.5", rate: str = "2",
              amount: int = 5_100, wallet_id: uuid.UUID | None = None):
    wallet_id = wallet_id or uuid.uuid4()
    return world.envelope("wallet.paid_credits_invoice_requested", "wallet", wallet_id, {
        "lago_wallet_transaction_id": str(transaction_id), "lago_wallet_id": str(wallet_id),
        "wallet_name": "Prepaid", "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"], "amount_cents": amount, "currency": "EUR",
        "credit_amount": credits, "rate_amount": rate, "purchase_order_number": None, "created_at": T0.isoformat()})


async def events(inv, org, invoice_id: str) -> list[str]:
    async with inv.database.sessionmaker() as session:
        return list((await session.execute(text(
            "SELECT event_type FROM outbox_events WHERE envelope->>'organization_id' = :org "
            "AND envelope->>'aggregate_id' = :id ORDER BY position"), {"org": str(org), "id": invoice_id})).scalars())


async def test_paid_credits_make_one_finalized_credit_invoice_without_taxes_or_coupons(world, api, inv, org):
    await world.tax("vat20", "20", applied_to_organization=True)
    await world.coupon_event(coupon("welcome"))
    customer = await world.customer("cus_credits", tax_codes=["vat20"])
    await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": "cus_credits", "coupon_code": "welcome"}})
    transaction = uuid.uuid4()
    # 25.5 credits at 2.00 € each: 51.00 €; delivered twice, then re-published (a new event id)
    for _ in range(2):
        await world.deliver(on_wallet, requested(world, customer, transaction))
    [invoice] = (await api.ok("GET", "/api/v1/invoices", params={"external_customer_id": "cus_credits"}))["invoices"]
    assert (invoice["invoice_type"], invoice["status"], invoice["payment_status"]) == ("credit", "finalized",
                                                                                        "pending")
    assert invoice["number"] and invoice["issuing_date"] == T0.date().isoformat()
    assert (invoice["fees_amount_cents"], invoice["coupons_amount_cents"], invoice["taxes_amount_cents"],
            invoice["credit_notes_amount_cents"], invoice["prepaid_credit_amount_cents"],
            invoice["total_amount_cents"], invoice["total_due_amount_cents"]) == (5_100, 0, 0, 0, 0, 5_100, 5_100)
    [fee] = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["fees"]
    assert (fee["item"]["type"], fee["item"]["item_type"]) == ("credit", "WalletTransaction")
    assert (fee["amount_cents"], fee["taxes_amount_cents"], fee["units"], fee["item"]["lago_item_id"]) == (
        5_100, 0, "25.5", str(transaction))
    # Lago's webhook for a paid-credit invoice, then the events every finalized invoice has
    assert await events(inv, org, invoice["lago_id"]) == [
        "invoice.paid_credit_added", "invoice.created", "invoice.finalized"]
    # the coupon was not spent on bought credits
    [state] = (await api.ok("GET", "/api/v1/applied_coupons", params={"external_customer_id": "cus_credits"}))[
        "applied_coupons"]
    assert state["amount_cents_remaining"] == 5_000
    # a second top-up: its own invoice
    await world.deliver(on_wallet, requested(world, customer, uuid.uuid4(), credits="10", rate="1", amount=1_000))
    assert sorted(i["total_amount_cents"] for i in (await api.ok(
        "GET", "/api/v1/invoices", params={"external_customer_id": "cus_credits"}))["invoices"]) == [1_000, 5_100]
    # bought credits take no credit note
    body = await api.error("POST", "/api/v1/credit_notes", {"credit_note": {
        "invoice_id": invoice["lago_id"], "items": [{"fee_id": fee["lago_id"], "amount_cents": 100}]}}, status=405)
    assert body["code"] == "invalid_type_or_status"


async def test_an_unknown_customer_is_retried_and_writes_nothing(world, api, inv, org):
    stranger = {"lago_id": str(uuid.uuid4()), "external_id": "cus_unknown"}
    with pytest.raises(CreditInvoiceCustomerUnknown):
        await world.deliver(on_wallet, requested(world, stranger, uuid.uuid4()))
    assert (await api.ok("GET", "/api/v1/invoices"))["invoices"] == []
    # once the customer is known, the redelivered request makes the invoice
    customer = await world.customer("cus_unknown", lago_id=stranger["lago_id"])
    await world.deliver(on_wallet, requested(world, customer, uuid.uuid4()))
    [invoice] = (await api.ok("GET", "/api/v1/invoices"))["invoices"]
    assert (invoice["invoice_type"], invoice["total_amount_cents"]) == ("credit", 5_100)
