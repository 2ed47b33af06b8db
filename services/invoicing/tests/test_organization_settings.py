"""The organization's settings reach invoicing through the catalog's `organization.updated` only.

Numbering, grace period, payment term and `finalize_zero_amount_invoice` are applied from the
projection; a customer's own values win; an older event never overwrites a newer one; one
organization's settings never touch another's invoices.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from .conftest import T0, World  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)


async def _events(inv, org, event_type: str) -> int:
    async with inv.database.sessionmaker() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM outbox_events WHERE event_type = :type AND envelope->>'organization_id' = :org"),
            {"type": event_type, "org": str(org)})).scalar_one()


async def _invoices(api) -> list[dict]:
    return (await api.ok("GET", "/api/v1/invoices"))["invoices"]


async def test_settings_come_from_the_organization_event_and_a_customer_wins(world, api):
    before = (await api.ok("GET", "/api/v1/invoice_settings"))["invoice_settings"]
    assert before == {"document_numbering": "per_organization", "document_number_prefix": "INV",
                      "invoice_grace_period": 0, "net_payment_term": 0, "finalize_zero_amount_invoice": True,
                      "timezone": "UTC", "default_currency": "USD"}
    await world.organization(document_number_prefix="ORG", net_payment_term=15, timezone="Europe/Paris",
                             billing_configuration={"invoice_grace_period": 2})
    applied = (await api.ok("GET", "/api/v1/invoice_settings"))["invoice_settings"]
    assert applied["invoice_grace_period"] == 2 and applied["net_payment_term"] == 15
    assert applied["timezone"] == "Europe/Paris"

    plan = await world.plan(1_000)
    inheriting = await world.customer()
    own = await world.customer(invoice_grace_period=0, net_payment_term=5)
    await world.close(world.subscription(inheriting, plan), T0, APR)
    await world.close(world.subscription(own, plan), T0, APR)
    by_customer = {i["customer"]["lago_id"]: i for i in await _invoices(api)}
    draft = by_customer[inheriting["lago_id"]]
    assert draft["status"] == "draft" and draft["issuing_date"] == "2026-04-03"  # the organization's 2 days
    assert draft["payment_due_date"] == "2026-04-18"
    finalized = by_customer[own["lago_id"]]
    assert finalized["status"] == "finalized" and finalized["number"] == "ORG-202604-00001"
    assert finalized["payment_due_date"] == "2026-04-06"  # the customer's 5 days


async def test_an_older_event_never_overwrites_a_newer_one(world, api):
    await world.organization(document_number_prefix="NEW", occurred_at=T0 + timedelta(minutes=2))
    await world.organization(document_number_prefix="OLD", occurred_at=T0 + timedelta(minutes=1))
    applied = (await api.ok("GET", "/api/v1/invoice_settings"))["invoice_settings"]
    assert applied["document_number_prefix"] == "NEW"


async def test_zero_amount_invoices_are_closed_when_the_organization_says_so(world, api, inv, org):
    await world.organization(finalize_zero_amount_invoice=False)
    free = await world.plan(0)
    paid = await world.plan(1_000)
    inherit = await world.customer()
    finalize = await world.customer(finalize_zero_amount_invoice="finalize")
    await world.close(world.subscription(inherit, free), T0, APR)
    await world.close(world.subscription(finalize, free), T0, APR)
    await world.close(world.subscription(inherit, paid), T0, APR)
    rows = await _invoices(api)
    closed = [i for i in rows if i["status"] == "closed"]
    assert len(closed) == 1 and closed[0]["customer"]["lago_id"] == inherit["lago_id"]
    assert closed[0]["number"] == "" and closed[0]["total_amount_cents"] == 0
    finalized = sorted(i["total_amount_cents"] for i in rows if i["status"] == "finalized")
    assert finalized == [0, 1_000]  # the customer's `finalize` wins; a non-zero invoice is always finalized
    assert await _events(inv, org, "invoice.finalized") == 2  # nothing to collect for the closed one
    listed = (await api.ok("GET", "/api/v1/invoices", params={"statuses[]": "closed"}))["invoices"]
    assert [i["lago_id"] for i in listed] == [closed[0]["lago_id"]]


async def test_a_customer_skip_closes_a_zero_invoice_under_the_default(world, api):
    skip = await world.customer(finalize_zero_amount_invoice="skip")
    await world.close(world.subscription(skip, await world.plan(0)), T0, APR)
    [invoice] = await _invoices(api)
    assert invoice["status"] == "closed"


async def test_one_organizations_settings_never_reach_another(world, inv, make_api):
    await world.organization(document_number_prefix="MINE", finalize_zero_amount_invoice=False)
    other = World(inv, uuid.uuid4())
    other_api = make_api(other.org)
    customer = await other.customer()
    await other.close(other.subscription(customer, await other.plan(0)), T0, APR)
    [invoice] = await _invoices(other_api)
    assert invoice["status"] == "finalized" and invoice["number"].startswith("INV-")
    assert (await other_api.ok("GET", "/api/v1/invoice_settings"))["invoice_settings"]["document_number_prefix"] \
        == "INV"


async def test_the_settings_are_read_only_here_and_staff_only(world, api, make_api, org):
    body = await api.error("PUT", "/api/v1/invoice_settings", {"invoice_settings": {"net_payment_term": 3}},
                           status=405)
    assert body["status"] == 405
    tenant = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    await tenant.error("GET", "/api/v1/invoice_settings", status=403)


async def test_a_customer_is_invoiced_by_its_billing_entity(world, api):
    await world.organization(document_number_prefix="ORG", net_payment_term=30)
    org_vat = await world.tax("org_vat", "20", applied_to_organization=True)
    eu_vat = await world.tax("eu_vat", "10")
    await world.billing_entity("eu", document_numbering="per_billing_entity", document_number_prefix="EU",
                               net_payment_term=7, invoice_grace_period=0, taxes=[eu_vat])
    await world.billing_entity("us", document_numbering="per_billing_entity", document_number_prefix="US")
    plan = await world.plan(1_000)
    european = await world.customer(billing_entity_code="eu")
    american = await world.customer(billing_entity_code="us")
    plain = await world.customer()
    unknown = await world.customer(billing_entity_code="not_heard_of_yet")
    for customer in (european, european, american, plain, unknown):
        await world.close(world.subscription(customer, plan), T0, APR)
    rows = await _invoices(api)
    by_customer: dict[str, list[dict]] = {}
    for invoice in rows:
        by_customer.setdefault(invoice["customer"]["lago_id"], []).append(invoice)
    eu = by_customer[european["lago_id"]]
    assert sorted(i["number"] for i in eu) == ["EU-202604-00001", "EU-202604-00002"]  # the entity's own counter
    assert {i["payment_due_date"] for i in eu} == {"2026-04-08"}  # its 7 days, not the organization's 30
    assert {t["tax_code"] for i in eu for t in i["applied_taxes"]} == {"eu_vat"}  # its taxes replace the defaults
    assert {i["total_amount_cents"] for i in eu} == {1_100}
    [us] = by_customer[american["lago_id"]]
    assert us["number"] == "US-202604-00001" and us["applied_taxes"] == []  # no taxes of its own: none
    for lone in (plain, unknown):  # no entity (or one not heard of): the organization's settings and taxes
        [invoice] = by_customer[lone["lago_id"]]
        assert invoice["number"].startswith("ORG-202604-") and invoice["payment_due_date"] == "2026-05-01"
        assert [t["tax_code"] for t in invoice["applied_taxes"]] == [org_vat["code"]]


async def test_an_entitys_zero_amount_rule_and_an_older_event(world, api):
    await world.billing_entity("quiet", finalize_zero_amount_invoice=False, updated_at=T0 + timedelta(minutes=2))
    await world.billing_entity("quiet", finalize_zero_amount_invoice=True, updated_at=T0 + timedelta(minutes=1))
    customer = await world.customer(billing_entity_code="quiet")
    await world.close(world.subscription(customer, await world.plan(0)), T0, APR)
    [invoice] = await _invoices(api)
    assert invoice["status"] == "closed"  # the newer entity (zero-amount invoices not finalized) won
