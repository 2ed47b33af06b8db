"""Preview of an existing subscription's next invoice (`POST /invoices/preview` with `subscriptions`), across
the real services: usage read from the subscriptions service over HTTP, prepaid credits and what is left of
unit credits from wallets, nothing written or consumed; then the period really closes and the real invoice has
the preview's amounts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import text

from invora.clock import ManualClock
from invora.service_client import ServiceClient
from subscriptions.subscriptions.scheduler import run_pass
from subscriptions.usage.progressive import evaluate as evaluate_progressive_billing

from .e2e import INVOICING_WITH_WALLETS, eventually, ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
TABLES = ("invoices", "fees", "invoice_applied_taxes", "outbox_events", "applied_coupons", "customer_credits",
          "usage_revisions")


def wire_invoicing(suite, clock: ManualClock, keys):  # noqa: ANN001, ANN201 - the suite and its runtime
    """Invoicing on the test's clock, asking the in-process subscriptions (and wallets, when running) over HTTP."""
    runtime = suite["invoicing"].app.state.runtime
    runtime.clock = clock
    for name, base_url in (("subscriptions", "http://s.test"), ("wallets", "http://w.test")):
        if name in suite.running:
            setattr(runtime, name, ServiceClient(base_url=base_url, subject="service:invoicing", issuer="invora",
                                                 signing_key=keys.private_pem.decode(),
                                                 transport=httpx.ASGITransport(app=suite[name].app)))
    return runtime


async def written(invoicing, org: uuid.UUID) -> dict[str, object]:
    """The organization's rows in invoicing's tables, the outbox's by event type (to name what a failure wrote).
    Other organizations' are left out: the session's broker may still hold earlier tests' events, which this
    test's consumers (same group ids) take up meanwhile."""
    by_org = {"invoice_applied_taxes": "invoice_id IN (SELECT id FROM invoices WHERE organization_id = :o)"}
    async with invoicing.database.sessionmaker() as session:
        found: dict[str, object] = {
            t: (await session.execute(text(f"SELECT count(*) FROM {t} WHERE {by_org.get(t, 'organization_id = :o')}"),
                                      {"o": org})).scalar()
            for t in TABLES if t != "outbox_events"}
        found["outbox_events"] = dict((await session.execute(text(
            "SELECT event_type, count(*) FROM outbox_events WHERE envelope->>'organization_id' = :o "
            "GROUP BY event_type ORDER BY 1"), {"o": str(org)})).all())
    return found


async def test_preview_of_an_existing_subscription_matches_its_real_invoice_and_writes_nothing(
        start_suite, invora_keys):
    clock = ManualClock(START)
    async with start_suite(INVOICING_WITH_WALLETS, clock=clock) as suite:
        org, subs, invoicing = suite.org, suite["subscriptions"], suite["invoicing"]
        inv_runtime = wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv, wal = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing", "wallets"))
        await ok(cat, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}})
        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False, "tax_codes": ["vat20"],
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "0.5"}}]}})
        for customer in ("cus_preview", "cus_other"):
            await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
                "external_id": customer, "name": "Acme", "currency": "EUR"}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_preview", "plan_code": "startup", "external_id": "sub_preview"}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_other", "plan_code": "startup", "external_id": "sub_other"}})

        async def wallet() -> dict | None:
            response = await wal.post("/api/v1/wallets", json={"wallet": {
                "external_customer_id": "cus_preview", "currency": "EUR", "rate_amount": "1",
                "granted_credits": "20"}})
            return response.json()["wallet"] if response.status_code == 200 else None

        created = await eventually(wallet, "the wallet")
        # 6 calls of unit credits (seed 002): the preview offsets them without consuming them
        grant = (await ok(wal, "POST", "/api/v1/customers/cus_preview/unit_credits", {"unit_credit": {
            "billable_metric_code": "calls", "units": "6", "reason": "Welcome calls"}}))["unit_credit"]

        async def invoicing_is_ready() -> bool:  # customer, plan version and wallet projections
            async with invoicing.database.sessionmaker() as session:
                counts = [(await session.execute(text(f"SELECT count(*) FROM {t} WHERE organization_id = :o"),
                                                 {"o": org})).scalar() for t in ("customers", "plan_versions",
                                                                                 "wallets", "unit_credit_grants")]
            return counts[0] == 2 and counts[1] >= 1 and counts[2] == 1 and counts[3] == 1

        await eventually(invoicing_is_ready, "invoicing's projections")
        clock.set(START + timedelta(days=3))
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": f"t{n}", "external_subscription_id": "sub_preview", "code": "calls",
             "timestamp": (START + timedelta(days=1, minutes=n)).isoformat()} for n in range(10)]})

        before = await written(invoicing, org)
        body = {"customer": {"external_id": "cus_preview"}, "subscriptions": {"external_ids": ["sub_preview"]}}
        preview = (await ok(inv, "POST", "/api/v1/invoices/preview", body))["invoice"]
        # 15 March 10:00 → 1 April: 17/31 of 100.00 = 54.84; 10 calls, 6 credited, 4 × 0.50 = 2.00;
        # VAT 20 % of 56.84 = 11.368 → 11.37
        assert (preview["fees_amount_cents"], preview["taxes_amount_cents"],
                preview["sub_total_including_taxes_amount_cents"]) == (5_684, 1_137, 6_821)
        assert (preview["prepaid_credit_amount_cents"], preview["total_amount_cents"]) == (2_000, 4_821)
        assert preview["lago_id"] == str(uuid.UUID(int=0)) and preview["status"] == "draft"
        assert sorted((f["item"]["type"], f["amount_cents"]) for f in preview["fees"]) == [
            ("charge", 200), ("subscription", 5_484)]
        [charge] = [f for f in preview["fees"] if f["item"]["type"] == "charge"]
        assert (charge["units"], charge["amount_details"]["unit_credits"]["credited_units"]) == ("4", "6")
        # nothing written: no invoice, fee, tax, event, coupon or credit change, no wallet debit
        assert await written(invoicing, org) == before
        assert (await ok(wal, "GET", f"/api/v1/wallets/{created['lago_id']}"))["wallet"]["balance_cents"] == 2_000
        [still] = (await ok(wal, "GET", "/api/v1/customers/cus_preview/unit_credits"))["unit_credits"]
        assert (still["lago_id"], Decimal(still["remaining_units"])) == (grant["lago_id"], 6)

        # bad input and other customers' subscriptions
        # a plan change to the same plan, a termination in the past (plan changes and terminations previewed:
        # tests/test_invoice_preview_plan_change.py)
        for bad, details in (({**body["subscriptions"], "plan_code": "startup"},
                              {"base": ["new_plan_should_be_different_from_existing_plan"]}),
                             ({**body["subscriptions"], "terminated_at": START.isoformat()},
                              {"terminated_at": ["cannot_be_in_past"]})):
            error = await ok(inv, "POST", "/api/v1/invoices/preview", {**body, "subscriptions": bad}, 422)
            assert error["error_details"] == details, error
        error = await ok(inv, "POST", "/api/v1/invoices/preview", {**body, "plan_code": "startup"}, 422)
        assert error["code"] == "validation_errors"  # a new subscription or existing ones, not both
        for external_ids in (["sub_other"], ["sub_missing"]):
            error = await ok(inv, "POST", "/api/v1/invoices/preview",
                             {**body, "subscriptions": {"external_ids": external_ids}}, 404)
            assert error["code"] == "subscription_not_found"
        assert await written(invoicing, org) == before

        # the subscriptions service unreachable: 503, never a 500
        reachable = inv_runtime.subscriptions
        inv_runtime.subscriptions = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing",
                                                  issuer="invora", signing_key=invora_keys.private_pem.decode(),
                                                  timeout=0.5, retries=1)
        error = await ok(inv, "POST", "/api/v1/invoices/preview", body, 503)
        assert error["code"] == "dependency_unavailable"
        await inv_runtime.subscriptions.aclose()
        inv_runtime.subscriptions = reachable

        # the period really closes: the real invoice has the preview's amounts
        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def finalized() -> dict | None:
            found = (await ok(inv, "GET", "/api/v1/invoices?external_customer_id=cus_preview"))["invoices"]
            return found[0] if found and found[0]["status"] == "finalized" else None

        real = await eventually(finalized, "the real invoice", timeout=90)
        for amount in ("fees_amount_cents", "taxes_amount_cents", "sub_total_including_taxes_amount_cents",
                       "prepaid_credit_amount_cents", "total_amount_cents"):
            assert real[amount] == preview[amount], amount
        # the real invoice consumed the units the preview only counted
        [used] = (await ok(wal, "GET", "/api/v1/customers/cus_preview/unit_credits"))["unit_credits"]
        assert Decimal(used["remaining_units"]) == 0


async def test_preview_deducts_what_progressive_billing_invoiced_as_the_period_invoice_does(
        start_suite, invora_keys):
    """A usage threshold crossed mid-period: the progressive-billing invoice billed 6 of 10 calls (4 taken from
    unit credits). The preview of the period's invoice prices those 4 units as credited (not again from the
    grants, now empty) and deducts what the progressive invoice billed, as the real period-end invoice does."""
    clock = ManualClock(START)
    async with start_suite(INVOICING_WITH_WALLETS, clock=clock) as suite:
        org, subs, invoicing = suite.org, suite["subscriptions"], suite["invoicing"]
        wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv, wal = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing", "wallets"))
        await ok(cat, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}})
        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Metered", "code": "metered", "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False, "tax_codes": ["vat20"],
            "usage_thresholds": [{"amount_cents": 300, "threshold_display_name": "3 EUR"}],
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "0.5"}}]}})
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
            "external_id": "cus_pb", "name": "Acme", "currency": "EUR"}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_pb", "plan_code": "metered", "external_id": "sub_pb"}})

        async def grant() -> dict | None:  # once wallets knows the customer
            response = await wal.post("/api/v1/customers/cus_pb/unit_credits", json={"unit_credit": {
                "billable_metric_code": "calls", "units": "4", "reason": "Welcome calls"}})
            return response.json()["unit_credit"] if response.status_code == 200 else None

        await eventually(grant, "the unit credits grant")

        async def invoicing_is_ready() -> bool:  # customer, plan version and grant projections
            async with invoicing.database.sessionmaker() as session:
                counts = [(await session.execute(text(f"SELECT count(*) FROM {t} WHERE organization_id = :o"),
                                                 {"o": org})).scalar() for t in ("customers", "plan_versions",
                                                                                 "unit_credit_grants")]
            return counts[0] == 1 and counts[1] >= 1 and counts[2] == 1

        await eventually(invoicing_is_ready, "invoicing's projections")

        async def send(first: int, count: int, day: int) -> None:
            await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
                {"transaction_id": f"pb{n}", "external_subscription_id": "sub_pb", "code": "calls",
                 "timestamp": (START + timedelta(days=day, minutes=n)).isoformat()}
                for n in range(first, first + count)]})

        # 10 calls = 5.00 of usage: the 3.00 threshold is crossed, a progressive invoice is issued
        clock.set(START + timedelta(days=2))
        await send(0, 10, 1)
        assert await evaluate_progressive_billing(subs.database.sessionmaker, clock.now()) == 1

        async def progressive() -> dict | None:
            found = (await ok(inv, "GET", "/api/v1/invoices?external_customer_id=cus_pb"))["invoices"]
            done = [i for i in found if i["invoice_type"] == "progressive_billing" and i["status"] == "finalized"]
            return done[0] if done else None

        issued = await eventually(progressive, "the progressive-billing invoice", timeout=90)
        # (10 calls − 4 credited) × 0.50 = 3.00, VAT 0.60
        assert (issued["fees_amount_cents"], issued["total_amount_cents"]) == (300, 360)
        [grant] = (await ok(wal, "GET", "/api/v1/customers/cus_pb/unit_credits"))["unit_credits"]
        assert Decimal(grant["remaining_units"]) == 0

        # 6 more calls (16 in the period; no new crossing), then the preview of the period's invoice
        clock.set(START + timedelta(days=3))
        await send(10, 6, 2)
        assert await evaluate_progressive_billing(subs.database.sessionmaker, clock.now()) == 0

        before = await written(invoicing, org)
        body = {"customer": {"external_id": "cus_pb"}, "subscriptions": {"external_ids": ["sub_pb"]}}
        preview = (await ok(inv, "POST", "/api/v1/invoices/preview", body))["invoice"]
        # 17/31 of 100.00 = 54.84; (16 − 4 credited by the progressive invoice) × 0.50 = 6.00; fees 60.84;
        # less the 3.00 progressive billing billed = 57.84 (without the fix: 62.84 and no deduction)
        assert (preview["fees_amount_cents"], preview["progressive_billing_credit_amount_cents"],
                preview["sub_total_excluding_taxes_amount_cents"]) == (6_084, 300, 5_784)
        # taxes as the period's invoice computes them (`billing.compute`): VAT on the fees after the deduction, which
        # the progressive invoice already taxed (20 % of 57.84 = 11.568 → 11.57, not 20 % of 60.84 = 12.17)
        assert preview["taxes_amount_cents"] == 1_157
        assert preview["total_amount_cents"] == 5_784 + 1_157
        [charge] = [f for f in preview["fees"] if f["item"]["type"] == "charge"]
        assert (charge["units"], charge["amount_cents"]) == ("12", 600)
        assert charge["amount_details"]["unit_credits"]["credited_units"] == "4"
        assert await written(invoicing, org) == before  # nothing written
        [still] = (await ok(wal, "GET", "/api/v1/customers/cus_pb/unit_credits"))["unit_credits"]
        assert Decimal(still["remaining_units"]) == 0

        # the period really closes: the real invoice has the preview's amounts, deduction included
        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def finalized() -> dict | None:
            found = (await ok(inv, "GET", "/api/v1/invoices?external_customer_id=cus_pb"))["invoices"]
            done = [i for i in found if i["invoice_type"] == "subscription" and i["status"] == "finalized"]
            return done[0] if done else None

        real = await eventually(finalized, "the period's invoice", timeout=90)
        for amount in ("fees_amount_cents", "progressive_billing_credit_amount_cents",
                       "sub_total_excluding_taxes_amount_cents", "taxes_amount_cents",
                       "sub_total_including_taxes_amount_cents", "total_amount_cents"):
            assert real[amount] == preview[amount], amount


async def test_preview_adds_the_minimum_commitment_true_up_as_the_period_invoice_does(start_suite, invora_keys):
    """A plan whose minimum commitment exceeds the period's fees: the preview shows the true-up the period's
    invoice will add (`generate.period_commitment_lines`, shared), and the real invoice has its amounts."""
    clock = ManualClock(START)
    suite_config = {name: config for name, config in INVOICING_WITH_WALLETS.items() if name != "wallets"}
    async with start_suite(suite_config, clock=clock) as suite:
        org, subs, invoicing = suite.org, suite["subscriptions"], suite["invoicing"]
        wire_invoicing(suite, clock, invora_keys)
        cat, sub_api, inv = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing"))
        metric = (await ok(cat, "POST", "/api/v1/billable_metrics", {"billable_metric": {
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}))["billable_metric"]
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Committed", "code": "committed", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "pay_in_advance": False,
            "minimum_commitment": {"amount_cents": 31_000, "invoice_display_name": "Commitment"},
            "charges": [{"billable_metric_id": metric["lago_id"], "charge_model": "standard",
                         "properties": {"amount": "1"}}]}})
        await ok(sub_api, "POST", "/api/v1/customers", {"customer": {
            "external_id": "cus_commit", "name": "Acme", "currency": "EUR"}})
        await ok(sub_api, "POST", "/api/v1/subscriptions", {"subscription": {
            "external_customer_id": "cus_commit", "plan_code": "committed", "external_id": "sub_commit"}})

        async def invoicing_is_ready() -> bool:
            async with invoicing.database.sessionmaker() as session:
                counts = [(await session.execute(text(f"SELECT count(*) FROM {t} WHERE organization_id = :o"),
                                                 {"o": org})).scalar() for t in ("customers", "plan_versions")]
            return all(counts)

        await eventually(invoicing_is_ready, "invoicing's projections")
        clock.set(START + timedelta(days=3))
        await ok(sub_api, "POST", "/api/v1/events/batch", {"events": [
            {"transaction_id": f"c{n}", "external_subscription_id": "sub_commit", "code": "calls",
             "timestamp": (START + timedelta(days=1, minutes=n)).isoformat()} for n in range(5)]})

        before = await written(invoicing, org)
        body = {"customer": {"external_id": "cus_commit"}, "subscriptions": {"external_ids": ["sub_commit"]}}
        preview = (await ok(inv, "POST", "/api/v1/invoices/preview", body))["invoice"]
        # 15 March 10:00 → 1 April, 17 of 31 days: the fee 10.00 × 17/31 = 5.48, 5 calls = 5.00; the commitment
        # 310.00 × 17/31 = 170.00, so a true-up of 170.00 − 10.48 = 159.52
        fees = {f["item"]["type"]: f["amount_cents"] for f in preview["fees"]}
        assert fees == {"subscription": 548, "charge": 500, "commitment": 15_952}, fees
        assert preview["fees_amount_cents"] == 17_000
        assert await written(invoicing, org) == before  # nothing written

        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def finalized() -> dict | None:
            found = (await ok(inv, "GET", "/api/v1/invoices?external_customer_id=cus_commit"))["invoices"]
            return found[0] if found and found[0]["status"] == "finalized" else None

        real = await eventually(finalized, "the real invoice", timeout=90)
        for amount in ("fees_amount_cents", "taxes_amount_cents", "total_amount_cents"):
            assert real[amount] == preview[amount], amount
