"""Previews of an existing subscription's plan change and termination (Lago's `POST /invoices/preview` with
`subscriptions.plan_code` / `subscriptions.terminated_at`), across the real services: usage read from the
subscriptions service, the unused advance fee credited as the real change credits it, nothing written; then the
change or termination really happens at the previewed instant and its real invoices have the preview's amounts.

Calendar monthly plans, UTC, subscribed on 15 March 10:00 (17 of March's 31 days), VAT 20 % on every plan."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invora.clock import ManualClock
from subscriptions.subscriptions.scheduler import run_pass

from .e2e import INVOICING_WITH_WALLETS, eventually, ok  # noqa: TID252
from .test_invoice_preview_existing import wire_invoicing, written  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
NOW = START + timedelta(days=3)  # 18 March 10:00
TERMINATION = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
SUITE = {name: config for name, config in INVOICING_WITH_WALLETS.items() if name != "wallets"}
PREVIEW = "/api/v1/invoices/preview"
AMOUNTS = ("fees_amount_cents", "coupons_amount_cents", "sub_total_excluding_taxes_amount_cents",
           "taxes_amount_cents", "sub_total_including_taxes_amount_cents", "credit_notes_amount_cents",
           "prepaid_credit_amount_cents", "total_amount_cents")


async def catalog(cat) -> None:  # noqa: ANN001 - the catalog's client
    await ok(cat, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}})
    metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
        "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
    for code, amount, in_advance, currency in (("basic", 10_000, True, "EUR"), ("pro", 30_000, True, "EUR"),
                                               ("mini", 5_000, True, "EUR"), ("startup", 10_000, False, "EUR"),
                                               ("growth", 20_000, False, "EUR"), ("dollars", 90_000, True, "USD")):
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": code.title(), "code": code, "interval": "monthly", "amount_cents": amount,
            "amount_currency": currency, "pay_in_advance": in_advance, "tax_codes": ["vat20"],
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "5"}}]}})


async def subscribe(sub_api, customer: str, plan: str, ending_at: datetime | None = None) -> None:  # noqa: ANN001
    await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
        "external_id": customer, "name": "Acme", "currency": "EUR"}})
    ending = {"ending_at": ending_at.isoformat()} if ending_at else {}
    await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": customer, "plan_code": plan, "external_id": f"sub_{customer}", **ending}})


async def ten_calls(sub_api, customer: str) -> None:  # noqa: ANN001
    """10 calls on 16 March: 10 × 5.00 = 50.00 of usage."""
    await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
        {"transaction_id": f"{customer}-{n}", "external_subscription_id": f"sub_{customer}", "code": "calls",
         "timestamp": (START + timedelta(days=1, minutes=n)).isoformat()} for n in range(10)]})


async def invoices_of(inv, customer: str, count: int) -> list[dict]:  # noqa: ANN001
    """The customer's `count` finalized invoices, oldest first, once they are all there."""
    async def found() -> list[dict] | None:
        listed = (await ok(inv, "GET", f"/api/v1/invoices?external_customer_id={customer}"))["invoices"]
        done = [i for i in listed if i["status"] == "finalized"]
        return sorted(done, key=lambda i: i["number"]) if len(done) >= count else None

    got = await eventually(found, f"{count} invoices of {customer}", timeout=90)
    assert len(got) == count, got
    return [(await ok(inv, "GET", f"/api/v1/invoices/{i['lago_id']}"))["invoice"] for i in got]


def fees(invoice: dict) -> list[tuple[str, str, int]]:
    return sorted((f["item"]["type"], f["item"]["code"], f["amount_cents"]) for f in invoice["fees"])


async def credits_of(invoicing, org: uuid.UUID) -> list[tuple[str, int]]:  # noqa: ANN001
    async with invoicing.database.sessionmaker() as session:
        return [tuple(row) for row in (await session.execute(text(
            "SELECT reason, amount_cents FROM customer_credits WHERE organization_id = :o ORDER BY created_at"),
            {"o": org})).all()]


async def projections_ready(invoicing, org: uuid.UUID, customers: int) -> None:  # noqa: ANN001
    async def ready() -> bool:
        async with invoicing.database.sessionmaker() as session:
            counts = [(await session.execute(text(f"SELECT count(*) FROM {t} WHERE organization_id = :o"),
                                             {"o": org})).scalar() for t in ("customers", "plan_versions")]
        return counts == [customers, 6]

    await eventually(ready, "invoicing's projections")


async def test_upgrade_and_downgrade_of_a_plan_paid_in_advance_previewed_then_the_real_upgrade(
        start_suite, invora_keys):
    clock = ManualClock(START)
    async with start_suite(SUITE, clock=clock) as suite:
        org, invoicing = suite.org, suite["invoicing"]
        wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing"))
        await catalog(cat)
        await projections_ready(invoicing, org, 0)
        await subscribe(sub_api, "cus_adv", "basic")
        # the start invoice: 17/31 of 100.00 = 54.84 paid in advance, VAT 10.97
        [first] = await invoices_of(inv, "cus_adv", 1)
        assert (first["fees_amount_cents"], first["total_amount_cents"]) == (5_484, 6_581)
        clock.set(NOW)
        await ten_calls(sub_api, "cus_adv")
        body = {"customer": {"external_id": "cus_adv"}, "subscriptions": {"external_ids": ["sub_cus_adv"]}}
        before = await written(invoicing, org)

        # downgrade to 50.00 (a lower yearly amount): at the period's end. The old period closes on 1 April with
        # its usage and no next fee of the old plan; the new plan's first month paid in advance, 50.00
        down = (await ok(inv, "POST", PREVIEW, {**body, "subscriptions": {
            **body["subscriptions"], "plan_code": "mini"}}))["invoice"]
        assert fees(down) == [("charge", "calls", 5_000), ("subscription", "mini", 5_000)]
        assert [down[a] for a in AMOUNTS] == [10_000, 0, 10_000, 2_000, 12_000, 0, 0, 12_000]
        assert (down["issuing_date"], down["lago_id"]) == ("2026-04-01", str(uuid.UUID(int=0)))

        # upgrade to 300.00: now. The old period closes now (usage so far; the fee was paid in advance); the new
        # plan's fee from 18 March: 14/31 of 300.00 = 135.48; the basic fee's unused 14 days (18–31 March)
        # credited by a credit note: 100.00 × 14/31 = 45.16 + 20 % (9.03) = 54.19
        up = (await ok(inv, "POST", PREVIEW, {**body, "subscriptions": {
            **body["subscriptions"], "plan_code": "pro"}}))["invoice"]
        assert fees(up) == [("charge", "calls", 5_000), ("subscription", "pro", 13_548)]
        # VAT 20 % of 185.48 = 37.096 → 37.10; 222.58 − 54.19 = 168.39
        assert [up[a] for a in AMOUNTS] == [18_548, 0, 18_548, 3_710, 22_258, 5_419, 0, 16_839]
        assert up["issuing_date"] == "2026-03-18"
        assert await written(invoicing, org) == before  # nothing written by either preview
        assert await credits_of(invoicing, org) == []

        # the upgrade really happens at that instant: the old period's invoice and the new plan's, with the
        # preview's fees, the credit it showed, and together the preview's total
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_adv", "plan_code": "pro", "external_id": "sub_cus_adv"}})
        _, closed, started = await invoices_of(inv, "cus_adv", 3)
        assert await credits_of(invoicing, org) == [("credit_note", 5_419)]  # the upgrade's credit note
        assert sorted(fees(closed) + fees(started)) == fees(up)
        for amount in ("fees_amount_cents", "taxes_amount_cents", "credit_notes_amount_cents", "total_amount_cents"):
            assert closed[amount] + started[amount] == up[amount], amount


async def test_termination_previewed_for_plans_in_arrears_and_in_advance_then_the_real_terminations(
        start_suite, invora_keys):
    clock = ManualClock(START)
    async with start_suite(SUITE, clock=clock) as suite:
        org, invoicing = suite.org, suite["invoicing"]
        wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing"))
        await catalog(cat)
        await projections_ready(invoicing, org, 0)
        await subscribe(sub_api, "cus_arr", "startup")
        await subscribe(sub_api, "cus_adv", "basic")
        await subscribe(sub_api, "cus_end", "startup", ending_at=TERMINATION)
        await invoices_of(inv, "cus_adv", 1)  # its fee paid in advance (54.84)
        clock.set(NOW)
        await ten_calls(sub_api, "cus_arr")
        await ten_calls(sub_api, "cus_adv")
        await ten_calls(sub_api, "cus_end")
        arrears = {"customer": {"external_id": "cus_arr"}, "subscriptions": {"external_ids": ["sub_cus_arr"]}}
        advance = {"customer": {"external_id": "cus_adv"}, "subscriptions": {"external_ids": ["sub_cus_adv"]}}
        before = await written(invoicing, org)

        # in arrears, terminated on 25 March 12:00: the fee for 15–25 March (the termination's day counted:
        # 11/31 of 100.00 = 35.48) and the usage so far; VAT 20 % of 85.48 = 17.096 → 17.10
        ended = (await ok(inv, "POST", PREVIEW, {**arrears, "subscriptions": {
            **arrears["subscriptions"], "terminated_at": TERMINATION.isoformat()}}))["invoice"]
        assert fees(ended) == [("charge", "calls", 5_000), ("subscription", "startup", 3_548)]
        assert [ended[a] for a in AMOUNTS] == [8_548, 0, 8_548, 1_710, 10_258, 0, 0, 10_258]
        assert ended["issuing_date"] == "2026-03-25"

        # in arrears, upgraded now (18 March): the old fee up to the upgrade's day excluded (3/31 = 9.68), the
        # usage so far; the new plan is paid in arrears, so nothing of it yet
        up = (await ok(inv, "POST", PREVIEW, {**arrears, "subscriptions": {
            **arrears["subscriptions"], "plan_code": "growth"}}))["invoice"]
        assert fees(up) == [("charge", "calls", 5_000), ("subscription", "startup", 968)]
        assert [up[a] for a in AMOUNTS] == [5_968, 0, 5_968, 1_194, 7_162, 0, 0, 7_162]

        # in advance, terminated on 25 March 12:00: no fee (paid), the usage, and the 6 days after the
        # termination's day credited by a credit note: 100.00 × 6/31 = 19.35 (an item in minor units) + 20 % (3.87)
        credited = (await ok(inv, "POST", PREVIEW, {**advance, "subscriptions": {
            **advance["subscriptions"], "terminated_at": TERMINATION.isoformat()}}))["invoice"]
        assert fees(credited) == [("charge", "calls", 5_000)]
        assert [credited[a] for a in AMOUNTS] == [5_000, 0, 5_000, 1_000, 6_000, 2_322, 0, 3_678]
        # ending on 25 March 12:00 (`ending_at`): previewed as that termination, as Lago does
        ending = (await ok(inv, "POST", PREVIEW, {"customer": {"external_id": "cus_end"}, "subscriptions": {
            "external_ids": ["sub_cus_end"]}}))["invoice"]
        assert [ending[a] for a in AMOUNTS] == [ended[a] for a in AMOUNTS]
        assert ending["issuing_date"] == "2026-03-25"
        assert await written(invoicing, org) == before  # nothing written
        assert await credits_of(invoicing, org) == []

        # the terminations really happen then: each final invoice has the preview's amounts
        clock.set(TERMINATION)
        for customer, preview in (("cus_arr", ended), ("cus_adv", credited)):
            await ok(sub_api, "DELETE", f"/api/v1/subscriptions/sub_{customer}")
            real = (await invoices_of(inv, customer, 2 if customer == "cus_adv" else 1))[-1]
            assert fees(real) == fees(preview), customer
            assert [real[a] for a in AMOUNTS] == [preview[a] for a in AMOUNTS], customer
        assert await credits_of(invoicing, org) == [("credit_note", 2_322)]  # the termination's note
        # the scheduler ends the third at its `ending_at`: its final invoice is the preview's
        assert await run_pass(suite["subscriptions"].database.sessionmaker, clock.now())
        [real] = await invoices_of(inv, "cus_end", 1)
        assert fees(real) == fees(ending) and [real[a] for a in AMOUNTS] == [ending[a] for a in AMOUNTS]


async def test_bad_plan_changes_and_terminations_are_refused_and_write_nothing(start_suite, invora_keys):
    clock = ManualClock(START)
    async with start_suite(SUITE, clock=clock) as suite:
        org, invoicing = suite.org, suite["invoicing"]
        wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing"))
        await catalog(cat)
        await projections_ready(invoicing, org, 0)
        await subscribe(sub_api, "cus_arr", "startup")
        await subscribe(sub_api, "cus_other", "startup")
        await projections_ready(invoicing, org, 2)
        clock.set(NOW)
        ids = {"external_ids": ["sub_cus_arr"]}
        body = {"customer": {"external_id": "cus_arr"}}
        before = await written(invoicing, org)

        async def refused(subscriptions: dict, status: int, expected: dict | str) -> None:
            error = await ok(inv, "POST", PREVIEW, {**body, "subscriptions": subscriptions}, status)
            if isinstance(expected, str):
                assert error["code"] == expected, error
            else:
                assert error["error_details"] == expected, error

        two = {"external_ids": ["sub_cus_arr", "sub_cus_other"]}
        await refused({**two, "plan_code": "growth"}, 422,
                      {"subscriptions": ["only_one_subscription_allowed_for_plan_change"]})
        await refused({**two, "terminated_at": TERMINATION.isoformat()}, 422,
                      {"subscriptions": ["only_one_subscription_allowed_for_termination"]})
        await refused({**ids, "terminated_at": (NOW - timedelta(seconds=1)).isoformat()}, 422,
                      {"terminated_at": ["cannot_be_in_past"]})
        await refused({**ids, "terminated_at": "2026-04-01T00:00:01Z"}, 422,
                      {"terminated_at": ["after_current_billing_period"]})
        await refused({**ids, "terminated_at": "next week"}, 422, "validation_errors")
        await refused({**ids, "plan_code": ""}, 422, "validation_errors")
        await refused({**ids, "plan_code": "nope"}, 404, "plan_not_found")
        await refused({**ids, "plan_code": "startup"}, 422,
                      {"base": ["new_plan_should_be_different_from_existing_plan"]})
        await refused({**ids, "plan_code": "dollars"}, 422, {"currency": ["currencies_does_not_match"]})
        await refused({"external_ids": ["sub_cus_other"], "plan_code": "growth"}, 404, "subscription_not_found")
        # another organization: neither the customer nor its subscription
        stranger = invoicing.client(uuid.uuid4())
        error = await ok(stranger, "POST", PREVIEW, {**body, "subscriptions": {**ids, "plan_code": "growth"}}, 404)
        assert error["code"] == "customer_not_found"
        # a tenant key previews nothing (staff writers only)
        tenant = invoicing.client(org, ["tenant"], customer_id=uuid.uuid4())
        await ok(tenant, "POST", PREVIEW, {**body, "subscriptions": {**ids, "plan_code": "growth"}}, 403)
        # terminating at the period's very end is allowed, and the preview of that writes nothing either
        edge = (await ok(inv, "POST", PREVIEW, {**body, "subscriptions": {
            **ids, "terminated_at": "2026-04-01T00:00:00Z"}}))["invoice"]
        assert fees(edge) == [("charge", "calls", 0), ("subscription", "startup", 5_484)]  # 17/31, no usage
        assert await written(invoicing, org) == before

        # a downgrade of a plan in arrears to one paid in advance, previewed then done: the old period's invoice
        # at its end (17/31 of 100.00, no usage) and the new plan's first month in advance (50.00)
        down = (await ok(inv, "POST", PREVIEW, {**body, "subscriptions": {**ids, "plan_code": "mini"}}))["invoice"]
        assert fees(down) == [("charge", "calls", 0), ("subscription", "mini", 5_000),
                              ("subscription", "startup", 5_484)]
        assert [down[a] for a in AMOUNTS] == [10_484, 0, 10_484, 2_097, 12_581, 0, 0, 12_581]
        assert down["issuing_date"] == "2026-04-01"
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_arr", "plan_code": "mini", "external_id": "sub_cus_arr"}})
        clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
        assert await run_pass(suite["subscriptions"].database.sessionmaker, clock.now())
        closed, started = await invoices_of(inv, "cus_arr", 2)
        assert sorted(fees(closed) + fees(started)) == fees(down)
        for amount in ("fees_amount_cents", "taxes_amount_cents", "total_amount_cents"):
            assert closed[amount] + started[amount] == down[amount], amount

