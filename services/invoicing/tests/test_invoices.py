"""Invoices of closed periods, through the service's own handlers and its API, on a real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invoicing.invoices.consumer import on_subscription_event, on_subscription_events
from invoicing.invoices.scheduler import finalize_due, flag_overdue

from .conftest import T0, charge, charge_usage, tax  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUN = datetime(2026, 6, 1, tzinfo=UTC)


async def outbox(inv, org, event_type: str) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :type AND envelope->>'organization_id' = :org "
            "ORDER BY position"), {"type": event_type, "org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


async def invoices(api, **params) -> list[dict]:
    return (await api.ok("GET", "/api/v1/invoices", params=params))["invoices"]


async def test_a_closed_period_becomes_a_finalized_invoice_with_the_right_total(world, api, inv, org):
    vat = await world.tax("vat20", "20")
    customer = await world.customer("cus_1", tax_codes=["vat20"])
    calls = charge("api_calls", "graduated", {"graduated_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]})
    plan = await world.plan(10_000, charges=[calls])
    sub = world.subscription(customer, plan, "sub_1")
    await world.close(sub, T0, APR, usage=[charge_usage(calls, "1100", 40)])
    [invoice] = await invoices(api)
    # 100.00 plan + 1000 paid units × 0.50 = 600.00; 20 % VAT (the customer's) = 120.00
    assert (invoice["status"], invoice["fees_amount_cents"], invoice["taxes_amount_cents"],
            invoice["total_amount_cents"]) == ("finalized", 60_000, 12_000, 72_000)
    assert invoice["number"] == "INV-202604-00001" and invoice["issuing_date"] == "2026-04-01"
    full = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    by_type = {f["item"]["type"]: f for f in full["fees"]}
    assert by_type["subscription"]["amount_cents"] == 10_000
    assert by_type["charge"]["amount_cents"] == 50_000 and by_type["charge"]["units"] == "1100"
    assert by_type["charge"]["events_count"] == 40
    assert [(t["tax_code"], t["amount_cents"]) for t in full["applied_taxes"]] == [("vat20", 12_000)]
    assert full["applied_taxes"][0]["lago_tax_id"] == vat["lago_id"]
    assert full["customer"]["external_id"] == "cus_1"
    created = await outbox(inv, org, "invoice.created")
    finalized = await outbox(inv, org, "invoice.finalized")
    assert [e["invoice"]["number"] for e in finalized] == ["INV-202604-00001"] and len(created) == 1
    assert finalized[0]["invoice"]["total_amount_cents"] == 72_000


async def test_redelivered_and_racing_events_make_one_invoice(world, api, inv, org):
    customer = await world.customer()
    plan = await world.plan(5_000)
    sub = world.subscription(customer, plan)
    event = world.period_ended(sub, T0, APR)
    await asyncio.gather(*(world.deliver(on_subscription_event, event) for _ in range(4)))
    await world.deliver(on_subscription_event, event)
    # a second event id for the same period (a replayed close) is no second invoice either
    again = world.period_ended(sub, T0, APR)
    await world.deliver(on_subscription_event, again)
    [invoice] = await invoices(api)
    assert invoice["total_amount_cents"] == 5_000
    assert len(await outbox(inv, org, "invoice.finalized")) == 1


async def test_proration_trial_and_tax_precedence(world, api):
    await world.tax("org_tax", "10", applied_to_organization=True)
    plan_tax, charge_tax = tax("plan_tax", "5"), tax("charge_tax", "25")
    customer = await world.customer()
    seats = charge("seats", properties={"amount": "2"}, taxes=[charge_tax])
    storage = charge("storage", properties={"amount": "1"})
    plan = await world.plan(3_100, charges=[seats, storage], taxes=[plan_tax])
    sub = world.subscription(customer, plan, started_at=(T0 + timedelta(days=10, hours=5)).isoformat())
    # started 11 March, trial until 21 March: 11 of 31 days billed (21..31) = 11.00 of 31.00
    await world.close(sub, T0 + timedelta(days=10, hours=5), APR, full=(T0, APR),
                      in_trial_until=(T0 + timedelta(days=20)).isoformat(),
                      usage=[charge_usage(seats, "3"), charge_usage(storage, "7")])
    [invoice] = await invoices(api)
    full = (await world_api_get(api, invoice))["invoice"]
    amounts = {f["item"]["code"]: (f["amount_cents"], [t["tax_code"] for t in f["applied_taxes"]])
               for f in full["fees"]}
    assert amounts[sub and (await plan_code(plan))] == (1_100, ["plan_tax"])
    assert amounts["seats"] == (600, ["charge_tax"]) and amounts["storage"] == (700, ["plan_tax"])
    # 5 % of 18.00 = 0.90, 25 % of 6.00 = 1.50; the organization's tax loses to the plan's
    assert {t["tax_code"]: t["amount_cents"] for t in full["applied_taxes"]} == {"plan_tax": 90, "charge_tax": 150}
    assert full["total_amount_cents"] == 2_400 + 240


async def plan_code(plan: dict) -> str:
    return plan["code"]


async def world_api_get(api, invoice: dict) -> dict:
    return await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}")


async def test_grace_period_draft_finalize_void(world, api, inv, org):
    await world.organization(document_number_prefix="ACME", net_payment_term=30)
    customer = await world.customer(invoice_grace_period=3)
    plan = await world.plan(2_000)
    sub = world.subscription(customer, plan)
    await world.close(sub, T0, APR)
    [draft] = await invoices(api)
    assert draft["status"] == "draft" and draft["number"] == "" and draft["issuing_date"] == "2026-04-04"
    assert draft["payment_due_date"] == "2026-05-04"
    assert len(await outbox(inv, org, "invoice.drafted")) == 1
    # the scheduler leaves it until the grace period is over
    assert await finalize_due(inv.database.sessionmaker, APR + timedelta(days=1)) == 0
    finalized = (await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/finalize"))["invoice"]
    assert finalized["status"] == "finalized" and finalized["number"] == "ACME-202604-00001"
    body = await api.error("PUT", f"/api/v1/invoices/{draft['lago_id']}/finalize", status=409)
    assert body["code"] == "invoice_already_finalized"
    await api.error("PUT", f"/api/v1/invoices/{draft['lago_id']}/refresh", status=405)
    voided = (await api.ok("POST", f"/api/v1/invoices/{draft['lago_id']}/void"))["invoice"]
    assert voided["status"] == "voided" and voided["number"] == "ACME-202604-00001"
    assert (await api.error("POST", f"/api/v1/invoices/{draft['lago_id']}/void", status=405))["code"] == \
        "invoice_not_voidable"
    assert len(await outbox(inv, org, "invoice.voided")) == 1


async def test_scheduler_finalizes_drafts_after_the_grace_period_and_flags_overdue_once(world, api, inv, org):
    customer = await world.customer(invoice_grace_period=2, net_payment_term=10)
    sub = world.subscription(customer, await world.plan(1_000))
    await world.close(sub, T0, APR)
    await finalize_due(inv.database.sessionmaker, APR + timedelta(days=2, seconds=2))
    [invoice] = await invoices(api)
    assert invoice["status"] == "finalized" and invoice["payment_due_date"] == "2026-04-13"
    await flag_overdue(inv.database.sessionmaker, datetime(2026, 4, 13, 12, tzinfo=UTC))  # due today: not overdue
    assert await outbox(inv, org, "invoice.payment_overdue") == []
    await flag_overdue(inv.database.sessionmaker, datetime(2026, 4, 14, 12, tzinfo=UTC))
    await flag_overdue(inv.database.sessionmaker, datetime(2026, 4, 15, 12, tzinfo=UTC))
    [invoice] = await invoices(api, payment_overdue="true")
    assert len(await outbox(inv, org, "invoice.payment_overdue")) == 1
    paid = (await api.ok("PUT", f"/api/v1/invoices/{invoice['lago_id']}", {"invoice": {
        "payment_status": "succeeded", "metadata": [{"key": "po", "value": "42"}]}}))["invoice"]
    assert paid["payment_status"] == "succeeded" and paid["payment_overdue"] is False
    assert [(m["key"], m["value"]) for m in paid["metadata"]] == [("po", "42")]
    assert [e["invoice"]["payment_status"] for e in await outbox(inv, org, "invoice.payment_status_updated")] == [
        "succeeded"]
    assert (await api.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/void", status=405))["code"] == \
        "invoice_not_voidable"


async def test_pay_in_advance_bills_the_next_period_and_the_start(world, api):
    customer = await world.customer()
    plan = await world.plan(3_000, pay_in_advance=True)
    started_at = T0 + timedelta(days=15)  # 16 March: 16 of 31 days
    sub = world.subscription(customer, plan, started_at=started_at.isoformat(),
                             current_billing_period_started_at=started_at.isoformat(),
                             current_billing_period_ending_at=APR.isoformat())
    await world.deliver(on_subscription_event, world.envelope("subscription.started", "subscription", sub["lago_id"],
                                                              {"subscription": sub}, occurred_at=started_at))
    await world.close(sub, started_at, APR, full=(T0, APR), next_period_start=APR.isoformat(),
                      next_period_end=MAY.isoformat())
    found = sorted(await invoices(api), key=lambda i: i["created_at"])
    assert [i["total_amount_cents"] for i in found] == [1_548, 3_000]


async def test_billing_check_parks_a_customer_whose_period_was_missed(world, api, inv, org):
    customer = await world.customer()
    sub = world.subscription(customer, await world.plan(1_000))
    await world.close(sub, T0, APR)
    await world.close(sub, MAY, JUN)  # April never closed: a gap
    newest = (await invoices(api))[0]
    assert newest["status"] == "draft"
    [violation] = (await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"]
    assert violation["kind"] == "gap" and violation["period_start"].startswith("2026-05-01")
    assert len(await outbox(inv, org, "invoice.billing_check_failed")) == 1
    assert (await api.error("PUT", f"/api/v1/invoices/{newest['lago_id']}/finalize", status=409))["code"] == \
        "customer_invoicing_parked"
    resolved = (await api.ok("POST", f"/api/v1/billing_check_violations/{violation['lago_violation_id']}/resolve"))[
        "billing_check_violation"]
    assert resolved["resolved_at"] is not None
    await finalize_due(inv.database.sessionmaker, datetime(2026, 6, 2, tzinfo=UTC))
    assert (await invoices(api))[0]["status"] == "finalized"


async def test_a_period_billed_twice_is_refused(world, api):
    customer = await world.customer()
    sub = world.subscription(customer, await world.plan(1_000))
    await world.close(sub, T0, APR)
    await world.close(sub, T0, APR, reason="termination")  # another reason, same days: an overlap
    [violation] = (await api.ok("GET", "/api/v1/billing_check_violations"))["billing_check_violations"]
    assert violation["kind"] == "overlap"
    assert sorted(i["status"] for i in await invoices(api)) == ["draft", "finalized"]


async def test_bad_charge_properties_fail_the_invoice_and_retry_keeps_it_failed(world, api, inv, org):
    customer = await world.customer()
    broken = charge("calls", "graduated", {"graduated_ranges": [{"from_value": 5, "to_value": 1}]})
    sub = world.subscription(customer, await world.plan(1_000, charges=[broken]))
    await world.close(sub, T0, APR, usage=[charge_usage(broken, "3")])
    [invoice] = await invoices(api)
    assert invoice["status"] == "failed" and invoice["number"] == ""
    assert len(await outbox(inv, org, "invoice.generation_failed")) == 1
    retried = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/retry"))["invoice"]
    assert retried["status"] == "failed"
    assert (await api.error("PUT", f"/api/v1/invoices/{invoice['lago_id']}/finalize", status=405))["code"] == \
        "invoice_not_draft"


async def test_coupons_are_consumed_at_finalization_oldest_first(world, api, inv, org):
    customer = await world.customer(tax_codes=["vat10"])
    await world.tax("vat10", "10")
    sub = world.subscription(customer, await world.plan(10_000))
    async with inv.database.sessionmaker() as session:
        for n, (kind, amount, rate) in enumerate([("fixed_amount", 3_000, None), ("percentage", None, 50)]):
            await session.execute(text(
                "INSERT INTO applied_coupons (id, organization_id, coupon_id, coupon_code, coupon_name, customer_id, "
                "external_customer_id, coupon_type, amount_cents, amount_cents_remaining, amount_currency, "
                "percentage_rate, frequency, created_at, updated_at) VALUES (:id, :org, :cid, :code, :code, :cus, "
                ":ext, :kind, :amount, :amount, 'EUR', :rate, 'once', :at, :at)"),
                {"id": uuid.uuid4(), "org": org, "cid": uuid.uuid4(), "code": f"c{n}", "cus": customer["lago_id"],
                 "ext": customer["external_id"], "kind": kind, "amount": amount, "rate": rate,
                 "at": T0 + timedelta(minutes=n)})
        await session.commit()
    await world.close(sub, T0, APR)
    [invoice] = await invoices(api)
    full = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    # 100.00 − 30.00 (fixed, oldest) − 50 % of 70.00 = 35.00; 10 % tax on 35.00
    assert (full["coupons_amount_cents"], full["taxes_amount_cents"], full["total_amount_cents"]) == (6_500, 350,
                                                                                                     3_850)
    assert sorted(c["amount_cents"] for c in full["credits"]) == [3_000, 3_500]
    async with inv.database.sessionmaker() as session:
        states = (await session.execute(text("SELECT coupon_code, status, amount_cents_remaining FROM applied_coupons "
                                             "WHERE organization_id = :org ORDER BY coupon_code"), {"org": org})).all()
    assert [tuple(s) for s in states] == [("c0", "terminated", 0), ("c1", "terminated", None)]


async def test_organizations_are_isolated_and_tenant_keys_see_their_own_customer(world, api, make_api, org):
    mine, other = await world.customer("cus_mine"), await world.customer("cus_other")
    plan = await world.plan(1_000)
    await world.close(world.subscription(mine, plan), T0, APR)
    await world.close(world.subscription(other, plan), T0, APR)
    everything = await invoices(api)
    assert len(everything) == 2
    target = next(i for i in everything if i["customer"]["external_id"] == "cus_other")
    stranger = make_api(uuid.uuid4())
    assert await invoices(stranger) == []
    await stranger.error("GET", f"/api/v1/invoices/{target['lago_id']}", status=404)
    await stranger.error("POST", f"/api/v1/invoices/{target['lago_id']}/void", status=404)
    mine = next(i for i in everything if i["customer"]["external_id"] == "cus_mine")["customer"]["lago_id"]
    tenant = make_api(org, roles=("tenant",), customer_id=mine)
    assert [i["customer"]["external_id"] for i in await invoices(tenant)] == ["cus_mine"]
    await tenant.error("GET", f"/api/v1/invoices/{target['lago_id']}", status=403)
    await tenant.error("GET", "/api/v1/customers/cus_other/invoices", status=403)
    await tenant.error("POST", f"/api/v1/invoices/{target['lago_id']}/void", status=403)
    assert len((await tenant.ok("GET", "/api/v1/customers/cus_mine/invoices"))["invoices"]) == 1
    fees = (await tenant.ok("GET", "/api/v1/fees"))["fees"]
    assert {f["external_customer_id"] for f in fees} == {"cus_mine"}
    other_fee = (await api.ok("GET", "/api/v1/fees", params={"external_customer_id": "cus_other"}))["fees"][0]
    await tenant.error("GET", f"/api/v1/fees/{other_fee['lago_id']}", status=403)
    await stranger.error("GET", f"/api/v1/fees/{other_fee['lago_id']}", status=404)


async def test_bad_input_is_a_4xx_with_field_errors_and_changes_nothing(world, api):
    customer = await world.customer()
    await world.close(world.subscription(customer, await world.plan(1_000)), T0, APR)
    [invoice] = await invoices(api)
    url = f"/api/v1/invoices/{invoice['lago_id']}"
    await api.error("PUT", url, {"invoice": {"payment_status": "paid"}})
    await api.error("PUT", url, {"invoice": {"total_amount_cents": 1}})
    await api.error("PUT", url, {"invoice": {"metadata": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}})
    body = await api.error("GET", "/api/v1/invoices", params={"statuses[]": "bogus"})
    assert body["error_details"] == {"statuses": ["value_is_invalid"]}
    await api.error("GET", "/api/v1/invoices", params={"currency": "XYZ"})
    await api.error("GET", "/api/v1/invoices/not-a-uuid", status=404)
    await api.error("GET", f"/api/v1/invoices/{uuid.uuid4()}", status=404)
    await api.error("PUT", "/api/v1/invoice_settings", {"invoice_settings": {"document_numbering": "per_customer"}},
                    status=405)  # read-only: the catalog owns the organization's settings
    await api.error("PUT", f"/api/v1/fees/{uuid.uuid4()}", {"fee": {"payment_status": "succeeded"}}, status=404)
    assert (await api.ok("GET", url))["invoice"]["metadata"] == []


async def test_keyset_pages_walk_every_invoice_once(world, api):
    customer = await world.customer()
    plan = await world.plan(1_000)
    for n in range(7):
        sub = world.subscription(customer, plan)
        await world.close(sub, T0, APR + timedelta(hours=n))
    seen, after = [], None
    while True:
        params = {"per_page": 3, **({"after": after} if after else {})}
        page = await invoices(api, **params)
        if not page:
            break
        seen.extend(i["lago_id"] for i in page)
        after = page[-1]["lago_id"]
    offset = [i["lago_id"] for i in await invoices(api, per_page=100)]
    assert seen == offset and len(set(seen)) == 7


async def test_late_usage_recomputes_a_draft_once_and_leaves_a_finalized_invoice(world, api):
    """(More in test_late_usage.py: ordering by sequence, follow-up invoices of final periods.)"""
    calls = charge("late_calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    drafted = await world.customer(invoice_grace_period=3)
    final = await world.customer()
    events = {}
    for customer in (drafted, final):
        sub = world.subscription(customer, plan)
        events[customer["external_id"]] = (sub, await world.close(sub, T0, APR, usage=[charge_usage(calls, "5")]))

    def revision(sub, closed, units: str, number: int):
        usage = {**closed.data["usage"], "charges_usage": [charge_usage(calls, units)]}
        return world.envelope("subscription.billing_period_usage_revised", "subscription", sub["lago_id"], {
            "lago_billing_period_id": closed.data["lago_billing_period_id"], "revision": number,
            "subscription": sub, "period_start": T0.isoformat(), "period_end": APR.isoformat(),
            "events_count": 8, "usage_amount_cents": 800, "usage": usage}, occurred_at=APR + timedelta(hours=1))

    for sub, closed in events.values():
        first = revision(sub, closed, "8", 1)
        await world.deliver(on_subscription_event, first)
        await world.deliver(on_subscription_event, first)  # redelivered
    found = {(i["customer"]["external_id"], i["fees_amount_cents"]): i["status"] for i in await invoices(api)}
    assert found == {(drafted["external_id"], 1_800): "draft",  # computed again, once
                     (final["external_id"], 1_500): "finalized",  # never reopened …
                     (final["external_id"], 300): "finalized"}  # … the difference is a follow-up invoice


async def test_a_batch_of_periods_is_invoiced_in_one_transaction_each_once(world, api, inv):
    customer = await world.customer()
    plan = await world.plan(1_000)
    events = [world.period_ended(world.subscription(customer, plan), T0, APR) for _ in range(5)]
    async with inv.database.sessionmaker() as session:
        await on_subscription_events(session, [*events, events[2]])  # one period twice in the batch
        await session.commit()
    found = await invoices(api)
    assert len(found) == 5 and len({i["number"] for i in found}) == 5
    assert {i["status"] for i in found} == {"finalized"}


async def test_finalize_all_and_retry_all(world, api):
    customer = await world.customer(invoice_grace_period=10)
    plan = await world.plan(1_000)
    for _ in range(3):
        await world.close(world.subscription(customer, plan), T0, APR)
    broken = charge("calls", "graduated", {"graduated_ranges": [{"from_value": 5, "to_value": 1}]})
    failing = world.subscription(await world.customer(), await world.plan(1_000, charges=[broken]))
    await world.close(failing, T0, APR, usage=[charge_usage(broken, "3")])
    done = (await api.ok("POST", "/api/v1/invoices/finalize_all"))["invoices"]
    assert len(done) == 3 and {i["status"] for i in done} == {"finalized"}
    assert (await api.ok("POST", "/api/v1/invoices/finalize_all"))["invoices"] == []
    [retried] = (await api.ok("POST", "/api/v1/invoices/retry_all"))["invoices"]
    assert retried["status"] == "failed"  # its plan version is still broken
    assert sorted(i["status"] for i in await invoices(api)) == ["failed"] + ["finalized"] * 3


async def test_fee_adjustments_on_a_draft(world, api, make_api):
    await world.tax("vat10", "10")
    customer = await world.customer(invoice_grace_period=5, tax_codes=["vat10"])
    calls = charge("adj_calls", properties={"amount": "2"})
    sub = world.subscription(customer, await world.plan(1_000, charges=[calls]))
    await world.close(sub, T0, APR, usage=[charge_usage(calls, "10")])
    [draft] = await invoices(api)
    fee = next(f for f in (await api.ok("GET", f"/api/v1/invoices/{draft['lago_id']}"))["invoice"]["fees"]
               if f["item"]["type"] == "charge")
    assert fee["amount_cents"] == 2_000
    url = f"/api/v1/fees/{fee['lago_id']}/adjustment"
    preview = (await api.ok("POST", f"{url}/preview", {"adjustment": {"units": "4"}}))["fee"]
    assert preview["amount_cents"] == 800
    assert (await api.ok("GET", f"/api/v1/invoices/{draft['lago_id']}"))["invoice"]["fees_amount_cents"] == 3_000
    adjusted = (await api.ok("POST", url, {"adjustment": {"units": "4", "unit_precise_amount": "1.255"}}))["fee"]
    assert adjusted["amount_cents"] == 502  # 4 × 1.255 = 5.02
    after = (await api.ok("GET", f"/api/v1/invoices/{draft['lago_id']}"))["invoice"]
    assert (after["fees_amount_cents"], after["taxes_amount_cents"], after["total_amount_cents"]) == (1_502, 150,
                                                                                                     1_652)
    await api.error("POST", url, {"adjustment": {}})
    await api.error("POST", url, {"adjustment": {"units": "-2"}})
    await make_api(uuid.uuid4()).error("POST", url, {"adjustment": {"units": "1"}}, status=404)
    restored = (await api.ok("DELETE", url))["fee"]
    assert restored["amount_cents"] == 2_000 and restored["units"] == "10"
    await api.error("DELETE", url, status=404)
    await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/finalize")
    assert (await api.error("POST", url, {"adjustment": {"units": "1"}}, status=405))["code"] == "invoice_not_draft"


async def test_preview_computes_the_first_invoice_and_writes_nothing(world, api, inv, org):
    await world.tax("vat20", "20")
    await world.customer("cus_prev", tax_codes=["vat20"])
    plan = await world.plan(3_100, pay_in_advance=True)
    body = {"customer": {"external_id": "cus_prev"}, "plan_code": plan["code"],
            "subscription_at": "2026-03-11T10:00:00Z", "coupons": [{"code": "x", "amount_cents": 100}]}
    invoice = (await api.ok("POST", "/api/v1/invoices/preview", body))["invoice"]
    # 11..31 March = 21 of 31 days of 31.00 = 21.00, − 1.00 coupon, + 20 % = 24.00
    assert (invoice["fees_amount_cents"], invoice["coupons_amount_cents"], invoice["taxes_amount_cents"],
            invoice["total_amount_cents"]) == (2_100, 100, 400, 2_400)
    assert invoice["issuing_date"] == "2026-03-11" and invoice["number"] == ""
    assert await invoices(api) == [] and await outbox(inv, org, "invoice.created") == []
    await api.error("POST", "/api/v1/invoices/preview", {"customer": {}, "plan_code": "missing"}, status=404)
    await api.error("POST", "/api/v1/invoices/preview", {"customer": {}, "subscriptions": {"external_ids": ["s"]}})
    await api.error("PUT", "/api/v1/invoices/preview", {}, status=405)
    await api.error("PUT", "/api/v1/invoices/finalize_all", status=405)
    await api.error("POST", "/api/v1/invoices/preview", {"customer": {"currency": "USD"},
                                                         "plan_code": plan["code"]})


async def test_payment_events_set_the_payment_status(world, api, inv, org):
    from invoicing.invoices.payments_consumer import on_payment

    customer = await world.customer()
    await world.close(world.subscription(customer, await world.plan(1_000)), T0, APR)
    [invoice] = await invoices(api)

    def payment(event_type: str, status: str):
        return world.envelope(event_type, "payment", uuid.uuid4(), {"payment": {
            "lago_id": str(uuid.uuid4()), "lago_customer_id": customer["lago_id"],
            "external_customer_id": customer["external_id"], "invoice_ids": [invoice["lago_id"]],
            "lago_payable_id": invoice["lago_id"], "amount_cents": 1_000, "amount_currency": "EUR",
            "status": status, "payment_status": status, "type": "provider", "created_at": APR.isoformat(),
            "payment_provider_type": "stripe", "payment_provider_code": "stripe_main",
            "provider_customer_id": "cus_stripe_1",
            "failure": {"category": "hard", "code": "card_declined", "message": "Your card was declined."}
            if status == "failed" else None}})

    await world.deliver(on_payment, payment("payment.failed", "failed"))
    assert (await invoices(api))[0]["payment_status"] == "failed"
    # Lago's `invoice.payment_failure` (object `payment_provider_invoice_payment_error`), once per failed charge
    assert await outbox(inv, org, "invoice.payment_failure") == [{"payment_provider_invoice_payment_error": {
        "lago_invoice_id": invoice["lago_id"], "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"], "provider_customer_id": "cus_stripe_1",
        "payment_provider": "stripe", "payment_provider_code": "stripe_main",
        "provider_error": {"message": "Your card was declined.", "error_code": "card_declined"}}}]
    await world.deliver(on_payment, payment("payment.succeeded", "succeeded"))
    await world.deliver(on_payment, payment("payment.failed", "failed"))  # late: a success is not undone
    assert (await invoices(api))[0]["payment_status"] == "succeeded"
    assert [e["invoice"]["payment_status"] for e in await outbox(inv, org, "invoice.payment_status_updated")] == [
        "failed", "succeeded"]
    assert len(await outbox(inv, org, "invoice.payment_failure")) == 1  # the late failure of a paid invoice: none
