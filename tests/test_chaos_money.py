"""Chaos on the money path, under `invora dev` with its Stripe fake (localstripe): while customers keep
subscribing to a plan paid in advance (each subscription is invoiced at once, and the invoice is charged
on the customer's card), the payments service is killed mid-charge, then invoicing, then PostgreSQL, then
the broker (which comes back empty). The supervisor restarts each. Afterwards every acknowledged
subscription has exactly one invoice, finalized and paid, and the money moved exactly once per invoice:
counted at the fake, whose charges are what a card statement would show (localstripe ignores idempotency
keys, so a second call for an invoice would be a second charge). No customer was charged without an
invoice, or for another amount than the invoice's total.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from pathlib import Path

import httpx

from invora.infra.localstripe import LocalStripe
from invora.testing.dev_run import DevPorts, DevRun

PLAN_AMOUNT_CENTS = 2_900
CUSTOMERS = 80  # Stripe customers with a card, made before the traffic starts; each subscribes once at most




def _stripe_customers(stripe_url: str, count: int) -> list[str]:
    stripe = LocalStripe(stripe_url).client()
    made = []
    for _ in range(count):
        customer = stripe.v1.customers.create({"email": "payer@chaos.test"})
        method = stripe.v1.payment_methods.create({"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        stripe.v1.payment_methods.attach(method.id, {"customer": customer.id})
        made.append(customer.id)
    return made


def _succeeded_charges(stripe_url: str, customer: str) -> list[int]:
    stripe = LocalStripe(stripe_url).client()
    return [c.amount for c in stripe.v1.charges.list({"customer": customer, "limit": 100}).data
            if c.status == "succeeded"]


async def test_money_chaos_every_acknowledged_subscription_is_invoiced_and_charged_once(
        tmp_path: Path, dev_data_dir: Path) -> None:
    run = DevRun(dev_data_dir, DevPorts.pick(), tmp_path / "dev.out")
    try:
        summary = await asyncio.to_thread(run.wait_for_dev_json)
        stripe_url = summary["stripe_api_base"]
        assert stripe_url, "invora dev started no Stripe fake"
        api = summary["api_url"]
        headers = {"Authorization": f"Bearer {summary['api_key']}"}
        async with httpx.AsyncClient(base_url=f"{api}/api/v1", timeout=10.0, headers=headers) as client:
            async def ok(method: str, path: str, body: dict | None = None) -> dict:
                response = await client.request(method, path, json=body)
                assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
                return response.json()

            await ok("POST", "/payment_providers", {"payment_provider": {
                "provider_type": "stripe", "code": "stripe_chaos", "name": "Stripe", "secret_key": "sk_test_chaos",
                "webhook_secret": "whsec_chaos"}})
            await ok("POST", "/plans", {"plan": {
                "name": "Chaos", "code": "chaos", "interval": "monthly", "amount_cents": PLAN_AMOUNT_CENTS,
                "amount_currency": "EUR", "pay_in_advance": True}})
            pool = await asyncio.to_thread(_stripe_customers, stripe_url, CUSTOMERS)
            provider_customer = {f"chaos_{i}": stripe_id for i, stripe_id in enumerate(pool)}

            acknowledged: list[str] = []
            attempted: list[str] = []
            stop = asyncio.Event()

            async def traffic() -> None:
                for external_id, stripe_id in provider_customer.items():
                    if stop.is_set():
                        return
                    attempted.append(external_id)
                    with contextlib.suppress(httpx.HTTPError):
                        # a retried customer write is an upsert; only the subscription's answer counts
                        for _ in range(20):
                            customer = await client.post("/customers", json={"customer": {
                                "external_id": external_id, "name": external_id, "currency": "EUR",
                                "billing_configuration": {"payment_provider": "stripe",
                                                          "payment_provider_code": "stripe_chaos",
                                                          "provider_customer_id": stripe_id}}})
                            if customer.status_code == 200:
                                break
                            await asyncio.sleep(0.5)
                        else:
                            continue
                        subscription = await client.post("/subscriptions", json={"subscription": {
                            "external_customer_id": external_id, "plan_code": "chaos",
                            "external_id": f"sub_{external_id}", "billing_time": "anniversary"}})
                        if subscription.status_code == 200:
                            acknowledged.append(external_id)
                    await asyncio.sleep(0.15)

            writer = asyncio.create_task(traffic())
            await asyncio.sleep(3)
            recovery: dict[str, float] = {}
            for target in ("payments", "invoicing", "postgres", "kafka"):
                recovery[target] = await run.kill_and_recover(target, summary)
                await asyncio.sleep(1.5)
            stop.set()
            await writer
            traffic_done = time.monotonic()
            assert len(acknowledged) >= 10, f"too little traffic got through: {len(acknowledged)} of {len(attempted)}"

            async def invoices_of(external_id: str) -> list[dict]:
                return (await ok("GET", f"/invoices?external_customer_id={external_id}"))["invoices"]

            # parked work waits out its back-off (seconds to a few minutes): late still counts, never does not
            deadline = time.monotonic() + 300
            pending = list(acknowledged)
            while pending:
                with contextlib.suppress(httpx.HTTPError):
                    still = []
                    for external_id in pending:
                        invoices = await invoices_of(external_id)
                        if not (len(invoices) == 1 and invoices[0]["payment_status"] == "succeeded"):
                            still.append((external_id, [(i["status"], i["payment_status"]) for i in invoices]))
                    pending = [external_id for external_id, _ in still]
                    if pending and time.monotonic() > deadline:
                        raise AssertionError(f"{len(still)} acknowledged subscriptions not invoiced and paid once: "
                                             f"{still[:10]}\n{run.diagnostics()}")
                if pending:
                    await asyncio.sleep(1)
            caught_up = time.monotonic() - traffic_done
            await asyncio.sleep(3)  # a second charge in flight would land now

            # every customer that was attempted (acknowledged or not): charges at the fake == its paid invoices
            charged_twice, mismatched = [], []
            for external_id in attempted:
                invoices = await invoices_of(external_id)
                subscription_invoices = Counter(i["invoice_type"] for i in invoices)
                assert subscription_invoices["subscription"] <= 1, f"{external_id} invoiced twice: {invoices}"
                charges = await asyncio.to_thread(_succeeded_charges, stripe_url, provider_customer[external_id])
                paid = [i["total_amount_cents"] for i in invoices if i["payment_status"] == "succeeded"]
                if len(charges) > len(invoices):
                    charged_twice.append((external_id, charges, invoices))
                elif sorted(charges) != sorted(paid):
                    mismatched.append((external_id, charges, paid))
            assert charged_twice == [], f"charged more than once: {charged_twice[:5]}"
            assert mismatched == [], f"charges at the fake differ from the paid invoices: {mismatched[:5]}"
            for external_id in acknowledged:
                (invoice,) = await invoices_of(external_id)
                assert invoice["status"] == "finalized" and invoice["total_amount_cents"] == PLAN_AMOUNT_CENTS
                payments = (await ok("GET", f"/payments?invoice_id={invoice['lago_id']}"))["payments"]
                assert [p["payment_status"] for p in payments].count("succeeded") == 1, payments

        print(f"money chaos: {len(acknowledged)} of {len(attempted)} subscriptions acknowledged; ready again "
              "after (s): " + ", ".join(f"{k} {v:.1f}" for k, v in recovery.items())
              + f"; every acknowledged subscription paid {caught_up:.1f}s after the traffic stopped")
        output = run.output.read_text(errors="replace")
        for part in recovery:
            assert f"{part} restarted" in output, output[-3000:]
        assert run.terminate() == 0, run.diagnostics()
    finally:
        if run.process.poll() is None:
            run.kill_everything()
