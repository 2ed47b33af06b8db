"""Lago's `DELETE /invoices/{id}` (drafts only) and `DELETE /fees/{id}` (fees not yet invoiced): removed entirely,
no number consumed, credits given back, and the billing check told about the period a deleted draft left unbilled."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from invoicing.invoices.consumer import on_subscription_event

from .conftest import T0, charge  # noqa: TID252
from .test_pay_in_advance import advance_usage, all_invoices, outbox  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)


async def test_deleting_a_draft_removes_it_keeps_numbering_and_parks_the_unbilled_period(world, api, inv, org):
    await world.organization(document_number_prefix="ACME", net_payment_term=30)
    customer = await world.customer(invoice_grace_period=3)
    sub = world.subscription(customer, await world.plan(2_000))
    await world.close(sub, T0, APR)
    await world.close(sub, APR, MAY)
    march, april = sorted(await all_invoices(api), key=lambda i: i["issuing_date"])
    assert (march["status"], april["status"]) == ("draft", "draft")

    deleted = (await api.ok("DELETE", f"/api/v1/invoices/{march['lago_id']}"))["invoice"]
    assert deleted["lago_id"] == march["lago_id"] and deleted["status"] == "draft"
    assert deleted["fees_amount_cents"] == 2_000 and deleted["number"] == ""
    await api.error("GET", f"/api/v1/invoices/{march['lago_id']}", status=404)
    await api.error("DELETE", f"/api/v1/invoices/{march['lago_id']}", status=404)  # a second delete: gone
    assert [i["lago_id"] for i in await all_invoices(api)] == [april["lago_id"]]
    fees = (await api.ok("GET", "/api/v1/fees", params={"external_subscription_id": sub["external_id"]}))["fees"]
    assert {f["lago_invoice_id"] for f in fees} == {april["lago_id"]}  # its fees went with it

    # not silently unbilled: the billing check records the period as a gap and parks the customer
    [violation] = (await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"]
    assert violation["kind"] == "gap" and violation["period_start"].startswith("2026-03-01")
    assert violation["period_end"].startswith("2026-04-01")
    [event] = await outbox(inv, org, "invoice.billing_check_failed")
    assert event["detail"]["deleted_draft"] == march["lago_id"] and event["kind"] == "gap"
    assert (await api.error("PUT", f"/api/v1/invoices/{april['lago_id']}/finalize", status=409))["code"] == \
        "customer_invoicing_parked"
    await api.ok("POST", f"/api/v1/billing_check_violations/{violation['lago_violation_id']}/resolve")
    # the deleted draft never had a number: the next one is the first
    finalized = (await api.ok("PUT", f"/api/v1/invoices/{april['lago_id']}/finalize"))["invoice"]
    assert finalized["number"] == "ACME-202605-00001"


async def test_only_drafts_can_be_deleted_by_their_organization_and_staff(world, api, make_api, org):
    customer = await world.customer()  # no grace period: finalized at once
    sub = world.subscription(customer, await world.plan(1_000))
    await world.close(sub, T0, APR)
    [final] = await all_invoices(api)
    assert final["status"] == "finalized"
    body = await api.error("DELETE", f"/api/v1/invoices/{final['lago_id']}", status=405)
    assert body["code"] == "invoice_not_draft"
    assert (await api.ok("GET", f"/api/v1/invoices/{final['lago_id']}"))["invoice"]["status"] == "finalized"

    drafty = await world.customer(invoice_grace_period=5)
    other_sub = world.subscription(drafty, await world.plan(1_000))
    await world.close(other_sub, T0, APR)
    [draft] = await all_invoices(api, external_customer_id=drafty["external_id"])
    await make_api(uuid.uuid4()).error("DELETE", f"/api/v1/invoices/{draft['lago_id']}", status=404)
    tenant = make_api(org, roles=("tenant",), customer_id=uuid.UUID(drafty["lago_id"]))
    await tenant.error("DELETE", f"/api/v1/invoices/{draft['lago_id']}", status=403)
    await api.error("DELETE", "/api/v1/invoices/not-a-uuid", status=404)  # as GET: an id that cannot exist
    assert (await api.ok("GET", f"/api/v1/invoices/{draft['lago_id']}"))["invoice"]["status"] == "draft"
    assert (await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"] == []


async def test_a_fee_not_yet_invoiced_can_be_deleted_an_invoiced_one_cannot(world, api, make_api, org):
    customer = await world.customer()
    seats = charge("seats", "standard", {"amount": "2.5"}, pay_in_advance=True, invoiceable=False)
    sub = world.subscription(customer, await world.plan(1_000, charges=[seats]))
    await asyncio.gather(world.deliver(on_subscription_event, advance_usage(world, sub, seats, "seat-1", "4", "6")))
    [fee] = (await api.ok("GET", "/api/v1/fees", params={"external_subscription_id": sub["external_id"]}))["fees"]
    assert fee["lago_invoice_id"] is None

    await make_api(uuid.uuid4()).error("DELETE", f"/api/v1/fees/{fee['lago_id']}", status=404)
    await make_api(org, roles=("tenant",), customer_id=uuid.UUID(customer["lago_id"])).error(
        "DELETE", f"/api/v1/fees/{fee['lago_id']}", status=403)
    await api.error("DELETE", "/api/v1/fees/nope", status=404)
    deleted = (await api.ok("DELETE", f"/api/v1/fees/{fee['lago_id']}"))["fee"]
    assert deleted["lago_id"] == fee["lago_id"] and deleted["amount_cents"] == 500
    await api.error("GET", f"/api/v1/fees/{fee['lago_id']}", status=404)
    await api.error("DELETE", f"/api/v1/fees/{fee['lago_id']}", status=404)

    await world.close(sub, T0, APR)
    [invoice] = await all_invoices(api)
    [invoiced] = [f for f in (await api.ok("GET", "/api/v1/fees", params={
        "external_subscription_id": sub["external_id"]}))["fees"] if f["lago_invoice_id"] == invoice["lago_id"]][:1]
    body = await api.error("DELETE", f"/api/v1/fees/{invoiced['lago_id']}", status=405)
    assert body["code"] == "invoiced_fee"
    await api.ok("GET", f"/api/v1/fees/{invoiced['lago_id']}")


async def test_delete_racing_finalize_one_wins_and_nothing_is_half_done(world, api):
    customer = await world.customer(invoice_grace_period=3)
    sub = world.subscription(customer, await world.plan(1_500))
    await world.close(sub, T0, APR)
    [draft] = await all_invoices(api)
    path = f"/api/v1/invoices/{draft['lago_id']}"
    deleted, finalized = await asyncio.gather(api.client.delete(path), api.client.put(f"{path}/finalize"))
    statuses = sorted([deleted.status_code, finalized.status_code])
    if deleted.status_code == 200:  # the delete won: the finalize found nothing
        assert finalized.status_code == 404 and await all_invoices(api) == []
        assert len((await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"]) == 1
    else:  # the finalize won: the delete is refused and the invoice is numbered
        assert statuses == [200, 405] and deleted.json()["code"] == "invoice_not_draft"
        [kept] = await all_invoices(api)
        assert kept["status"] == "finalized" and kept["number"]
        assert (await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"] == []
