"""End to end, over the real broker: catalog → subscriptions → invoicing ⇄ wallets.

Two subscriptions of one customer close at the same instant; both invoices wait `pending` for the customer's
prepaid credits at the same time (two requests racing for one wallet), wallets applies them once each and
never above the balance, invoicing finalizes each with its credits (number, `invoice.finalized` with the
amount due payments will charge); voiding one gives its credits back to the wallet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invora.clock import ManualClock
from invora.testing.events import read_events
from subscriptions.subscriptions.scheduler import run_pass

from .e2e import INVOICING_WITH_WALLETS, eventually, ok  # noqa: TID252

START = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


async def test_invoices_are_finalized_with_prepaid_credits_and_voiding_gives_them_back(start_suite, invora_kafka):
    clock = ManualClock(START)
    async with start_suite(INVOICING_WITH_WALLETS, clock=clock) as suite:
        org, subs, invoicing = suite.org, suite["subscriptions"], suite["invoicing"]
        cat, sub_api, inv, wal = (suite.api(name) for name in ("catalog", "subscriptions", "invoicing", "wallets"))
        await ok(cat, "POST", "/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}})
        await ok(cat, "POST", "/api/v1/plans", {"plan": {
            "name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False, "tax_codes": ["vat20"]}})
        await suite.customer("cus_credits")
        for n in (1, 2):
            await suite.subscribe("cus_credits", "startup", f"sub_{n}")

        async def create_wallet() -> dict | None:  # once wallets heard of the customer (customer.created)
            response = await wal.post("/api/v1/wallets", json={"wallet": {
                "external_customer_id": "cus_credits", "currency": "EUR", "rate_amount": "1",
                "granted_credits": "80", "name": "Prepaid"}})
            return response.json()["wallet"] if response.status_code == 200 else None

        wallet = await eventually(create_wallet, "the wallet")
        assert wallet["balance_cents"] == 8_000

        async def invoicing_knows_the_wallet() -> bool:
            async with invoicing.database.sessionmaker() as session:
                return bool((await session.execute(text("SELECT count(*) FROM wallets WHERE status = 'active'"
                                                        " AND organization_id = :org"), {"org": org})).scalar())

        await eventually(invoicing_knows_the_wallet, "the wallets projection")

        clock.set(END + timedelta(minutes=5))
        assert await run_pass(subs.database.sessionmaker, clock.now())

        async def both_finalized() -> list[dict] | None:
            found = (await ok(inv, "GET", "/api/v1/invoices"))["invoices"]
            return found if len(found) == 2 and all(i["status"] == "finalized" for i in found) else None

        finalized = await eventually(both_finalized, "two finalized invoices", timeout=90)
        # each: 17 of 31 days of 100.00 = 54.84, VAT 20 % = 10.97 → 65.81 due; 80.00 of credits for both
        assert [i["sub_total_including_taxes_amount_cents"] for i in finalized] == [6_581, 6_581]
        credits = sorted(i["prepaid_credit_amount_cents"] for i in finalized)
        assert credits == [8_000 - 6_581, 6_581]  # one fully paid, the other with what was left
        for invoice in finalized:  # total = Σ fees − coupons + taxes − credits, to the cent
            assert invoice["total_amount_cents"] == (invoice["fees_amount_cents"] - invoice["coupons_amount_cents"]
                                                     + invoice["taxes_amount_cents"]
                                                     - invoice["prepaid_credit_amount_cents"])
        assert sorted(i["number"] for i in finalized) == ["INV-202604-00001", "INV-202604-00002"]
        assert (await ok(wal, "GET", f"/api/v1/wallets/{wallet['lago_id']}"))["wallet"]["balance_cents"] == 0

        # payments charge on invoice.finalized: it carries the amount due after credits
        events = await read_events(invora_kafka, "invora.invoice", lambda e: e.type == "invoice.finalized"
                                   and e.organization_id == org, count=2, timeout=30)
        assert sorted(e.data["invoice"]["total_amount_cents"] for e in events) == [0, 6_581 * 2 - 8_000]

        paid = next(i for i in finalized if i["prepaid_credit_amount_cents"] == 6_581)
        await ok(inv, "POST", f"/api/v1/invoices/{paid['lago_id']}/void")

        async def balance_restored() -> bool:
            found = (await ok(wal, "GET", f"/api/v1/wallets/{wallet['lago_id']}"))["wallet"]
            return found["balance_cents"] == 6_581

        await eventually(balance_restored, "the credits back in the wallet")
        [released] = await read_events(invora_kafka, "invora.credits", lambda e: e.type == "credits.released"
                                       and e.aggregate_id == paid["lago_id"], timeout=30)
        assert released.data["released_amount_cents"] == 6_581

        async def released_on_invoice() -> bool:
            async with invoicing.database.sessionmaker() as session:
                return (await session.execute(text("SELECT prepaid_credits_status FROM invoices WHERE id = :id"),
                                              {"id": paid["lago_id"]})).scalar() == "released"

        await eventually(released_on_invoice, "the invoice's credits marked released")
