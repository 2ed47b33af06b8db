"""The invoicing side of the prepaid-credits saga, through the service's own handlers on a real database:
pending → request → answer → finalized with the credits; void → release; redeliveries, a crash between
steps, a lost answer (the resend pass), customers without a usable wallet (no round trip).

The wallets service's answers are built from its contracts here; `tests/test_prepaid_credits_saga.py`
runs the two services together over the broker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.billing.prepaid import credit_lines, with_prepaid_credit
from invoicing.billing.totals import totals
from invoicing.invoices.scheduler import resend_prepaid_requests
from invoicing.prepaid_credits.consumer import credits_consumer, on_wallet

from .conftest import T0, charge, charge_usage  # noqa: TID252
from .test_invoices import invoices, outbox  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)


def wallet_body(customer: dict, currency: str = "EUR", status: str = "active") -> dict:
    return {"lago_id": str(uuid.uuid4()), "lago_customer_id": customer["lago_id"],
            "external_customer_id": customer["external_id"], "status": status, "currency": currency,
            "code": "main", "priority": 50, "rate_amount": "1", "credits_balance": "10", "balance_cents": 1000,
            "consumed_credits": "0", "consumed_amount_cents": 0, "created_at": T0.isoformat(),
            "invoice_requires_successful_payment": False, "applies_to": {}, "ongoing_balance_cents": 1000,
            "ongoing_usage_balance_cents": 0, "credits_ongoing_balance": "10", "credits_ongoing_usage_balance": "0"}


async def wallet_event(world, body: dict, event_type: str = "wallet.created", sequence: int | None = None) -> None:
    envelope = world.envelope(event_type, "wallet", body["lago_id"], {"wallet": body})
    if sequence is not None:
        envelope = envelope.model_copy(update={"sequence": sequence})
    await world.deliver(on_wallet, envelope)


def answer(world, request: dict, applied: int, status: str = "applied"):
    lines = request["lines"]
    data = {"lago_invoice_id": request["lago_invoice_id"], "external_customer_id": request["external_customer_id"],
            "currency": request["currency"], "requested_amount_cents": sum(line["amount_cents"] for line in lines),
            "applied_amount_cents": applied, "status": status, "wallet_transactions": [],
            "lines": [{"lago_fee_id": line["lago_fee_id"], "fee_type": line["fee_type"],
                       "requested_amount_cents": line["amount_cents"], "applied_amount_cents": 0} for line in lines]}
    return world.envelope("credits.applied", "credits", request["lago_invoice_id"], data)


@pytest.fixture
def on_credits(inv):
    return credits_consumer(inv.app.state.runtime).handler


async def pending_invoice(world, api, *, vat: bool = True):
    if vat:
        await world.tax("vat20", "20")
    customer = await world.customer(tax_codes=["vat20"] if vat else [])
    await wallet_event(world, wallet_body(customer))
    calls = charge("calls", properties={"amount": "0.01"})
    plan = await world.plan(10_000, charges=[calls])
    sub = world.subscription(customer, plan)
    await world.close(sub, T0, APR, usage=[charge_usage(calls, "333")])
    [invoice] = await invoices(api, external_customer_id=customer["external_id"])
    return customer, invoice


async def test_an_invoice_of_a_customer_with_a_wallet_waits_pending_for_its_credits_then_finalizes(
        world, api, inv, org, on_credits):
    customer, invoice = await pending_invoice(world, api)
    # 100.00 + 333 × 0.01 = 103.33; 20 % = 20.666 → 20.67; due 124.00
    assert (invoice["status"], invoice["number"], invoice["total_amount_cents"]) == ("pending", "", 12_400)
    assert await outbox(inv, org, "invoice.finalized") == []
    [request] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    assert request["lago_invoice_id"] == invoice["lago_id"] and request["currency"] == "EUR"
    assert request["external_customer_id"] == customer["external_id"]
    # the lines add up to the amount due exactly (taxes rounded once per invoice, not per fee)
    assert sum(line["amount_cents"] for line in request["lines"]) == 12_400
    assert sorted(line["fee_type"] for line in request["lines"]) == ["charge", "subscription"]
    # a pending invoice cannot be finalized by hand, refreshed or voided
    assert (await api.error("PUT", f"/api/v1/invoices/{invoice['lago_id']}/finalize", status=405))["code"] == \
        "invoice_not_draft"
    assert (await api.error("POST", f"/api/v1/invoices/{invoice['lago_id']}/void", status=405))["code"] == \
        "invoice_not_voidable"

    reply = answer(world, request, 1_000)
    await world.deliver(on_credits, reply)
    await world.deliver(on_credits, reply)  # redelivered
    await world.deliver(on_credits, answer(world, request, 1_000))  # a second answer (to a resent request)
    full = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (full["status"], full["number"], full["prepaid_credit_amount_cents"], full["total_amount_cents"]) == (
        "finalized", "INV-202604-00001", 1_000, 11_400)
    assert full["sub_total_including_taxes_amount_cents"] == 12_400
    [finalized] = await outbox(inv, org, "invoice.finalized")
    assert finalized["invoice"]["total_amount_cents"] == 11_400
    assert finalized["invoice"]["prepaid_credit_amount_cents"] == 1_000
    assert len(await outbox(inv, org, "invoice.created")) == 1

    voided = (await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/void"))["invoice"]
    assert voided["status"] == "voided"
    [release] = await outbox(inv, org, "invoice.prepaid_credits_release_requested")
    assert release == {"lago_invoice_id": invoice["lago_id"], "external_customer_id": customer["external_id"],
                       "reason": "invoice_voided"}
    released = {"lago_invoice_id": invoice["lago_id"], "released_amount_cents": 1_000, "wallet_transactions": []}
    for _ in range(2):
        await world.deliver(on_credits, world.envelope("credits.released", "credits", invoice["lago_id"], released))
    async with inv.database.sessionmaker() as session:
        status = (await session.execute(text("SELECT prepaid_credits_status FROM invoices WHERE id = :id"),
                                        {"id": invoice["lago_id"]})).scalar_one()
    assert status == "released"


async def test_credits_never_exceed_the_amount_due_and_a_released_answer_applies_nothing(
        world, api, inv, org, on_credits):
    _customer, invoice = await pending_invoice(world, api, vat=False)
    [request] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    await world.deliver(on_credits, answer(world, request, 99_999_999))  # a wrong answer is capped
    full = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (full["prepaid_credit_amount_cents"], full["total_amount_cents"], full["status"]) == (
        10_333, 0, "finalized")

    await pending_invoice(world, api, vat=False)  # a second customer's invoice
    [_first, request] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    await world.deliver(on_credits, answer(world, request, 5_000, status="released"))
    full = (await api.ok("GET", f"/api/v1/invoices/{request['lago_invoice_id']}"))["invoice"]
    assert (full["prepaid_credit_amount_cents"], full["total_amount_cents"]) == (0, 10_333)
    # nothing to give back when nothing was applied
    await api.ok("POST", f"/api/v1/invoices/{full['lago_id']}/void")
    assert len(await outbox(inv, org, "invoice.prepaid_credits_release_requested")) == 0


async def test_a_crash_while_handling_the_answer_changes_nothing_and_the_redelivery_finalizes(
        world, api, inv, org, on_credits):
    _customer, invoice = await pending_invoice(world, api)
    [request] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    reply = answer(world, request, 700)

    class Crash(Exception):
        pass

    async with inv.database.sessionmaker() as session:
        await on_credits(session, reply)  # finalized in this transaction …
        with pytest.raises(Crash):
            raise Crash  # … which dies before its commit
        await session.rollback()
    again = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (again["status"], again["number"], again["prepaid_credit_amount_cents"]) == ("pending", "", 0)
    assert await outbox(inv, org, "invoice.finalized") == []
    await world.deliver(on_credits, reply)
    again = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (again["status"], again["number"], again["total_amount_cents"]) == ("finalized", "INV-202604-00001",
                                                                               12_400 - 700)


async def test_a_crash_before_the_request_commits_leaves_a_draft_the_scheduler_finalizes_later(world, api, inv, org):
    from invoicing.invoices import lifecycle, service
    from invoicing.invoices.scheduler import finalize_due

    customer = await world.customer(invoice_grace_period=1)
    await wallet_event(world, wallet_body(customer))
    plan = await world.plan(10_000)
    await world.close(world.subscription(customer, plan), T0, APR)
    [draft] = await invoices(api)
    assert draft["status"] == "draft"
    async with inv.database.sessionmaker() as session:  # a finalization that dies before its commit
        invoice = await service.load(session, org, uuid.UUID(draft["lago_id"]), lock=True)
        await lifecycle.finalize(session, invoice, APR + timedelta(days=2))
        assert invoice.status == "pending"
        await session.rollback()
    [still] = await invoices(api)
    assert still["status"] == "draft" and await outbox(inv, org, "invoice.prepaid_credits_requested") == []
    await finalize_due(inv.database.sessionmaker, APR + timedelta(days=2))
    [pending] = await invoices(api)
    assert (pending["status"], pending["number"]) == ("pending", "")
    assert len(await outbox(inv, org, "invoice.prepaid_credits_requested")) == 1
    # a second pass neither asks twice nor finalizes: the invoice waits for its answer
    await finalize_due(inv.database.sessionmaker, APR + timedelta(days=3))
    assert len(await outbox(inv, org, "invoice.prepaid_credits_requested")) == 1
    assert (await invoices(api))[0]["status"] == "pending"


async def test_a_lost_answer_is_asked_for_again_with_the_same_request(world, api, inv, org, on_credits):
    _customer, invoice = await pending_invoice(world, api)
    [first] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    requested_at = datetime.fromisoformat(first["requested_at"])
    sessionmaker = inv.database.sessionmaker
    assert await resend_prepaid_requests(sessionmaker, requested_at + timedelta(seconds=30), 60) == 0
    assert await resend_prepaid_requests(sessionmaker, requested_at + timedelta(seconds=61), 60) >= 1
    requests = [r for r in await outbox(inv, org, "invoice.prepaid_credits_requested")
                if r["lago_invoice_id"] == invoice["lago_id"]]
    assert len(requests) == 2 and requests[0]["lines"] == requests[1]["lines"]
    await world.deliver(on_credits, answer(world, requests[1], 100))
    assert (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["status"] == "finalized"
    # finalized: never asked again
    assert await resend_prepaid_requests(sessionmaker, requested_at + timedelta(days=1), 60) == 0


async def test_customers_without_a_usable_wallet_do_not_pay_the_round_trip(world, api, inv, org):
    plan = await world.plan(10_000)
    nobody = await world.customer()
    dollars = await world.customer()
    await wallet_event(world, wallet_body(dollars, currency="USD"))
    closed = await world.customer()
    body = wallet_body(closed)
    await wallet_event(world, body, sequence=1)
    await wallet_event(world, {**body, "status": "terminated"}, "wallet.terminated", sequence=3)
    await wallet_event(world, body, "wallet.updated", sequence=2)  # older, arrives late: ignored
    for customer in (nobody, dollars, closed):
        await world.close(world.subscription(customer, plan), T0, APR)
    assert sorted(i["status"] for i in await invoices(api)) == ["finalized"] * 3
    assert await outbox(inv, org, "invoice.prepaid_credits_requested") == []
    # a zero invoice of a customer with a wallet finalizes at once too
    rich = await world.customer()
    await wallet_event(world, wallet_body(rich))
    free = await world.plan(0)
    await world.close(world.subscription(rich, free), T0, APR)
    assert await outbox(inv, org, "invoice.prepaid_credits_requested") == []


@settings(max_examples=300, deadline=None)
@given(dues=st.lists(st.decimals(min_value=0, max_value=10**9, places=6), min_size=1, max_size=12),
       fees=st.integers(0, 10**9), coupons=st.integers(0, 10**9), taxes=st.integers(0, 10**8),
       credit_notes=st.integers(0, 10**8), balance=st.integers(0, 10**10))
def test_credit_lines_and_totals_add_up_to_the_cent(dues, fees, coupons, taxes, credit_notes, balance):
    before = totals(fees=fees, coupons=coupons, taxes=taxes, credit_notes=credit_notes)
    due = before.sub_total_including_taxes_amount_cents - before.credit_notes_amount_cents
    shares = credit_lines(dues, due)
    assert sum(shares) == due and all(s >= 0 for s in shares)
    if sum(dues) > 0:  # a share is its proportional part, rounded to a neighbouring cent
        for share, exact in zip(shares, dues, strict=True):
            assert abs(share - due * exact / sum(dues)) < 1
    applied = min(balance, sum(shares))  # wallets: never above the balance nor the lines
    settled = with_prepaid_credit(sub_total_including_taxes=before.sub_total_including_taxes_amount_cents,
                                  credit_notes=before.credit_notes_amount_cents, applied=applied)
    after = totals(fees=fees, coupons=coupons, taxes=taxes, credit_notes=credit_notes,
                   prepaid_credit=settled.prepaid_credit_amount_cents)
    assert settled.total_amount_cents == after.total_amount_cents == (
        fees - after.coupons_amount_cents + taxes - after.credit_notes_amount_cents
        - settled.prepaid_credit_amount_cents)
    assert settled.prepaid_credit_amount_cents <= min(balance, due) and settled.total_amount_cents >= 0
    # an answer above the amount due is capped
    assert with_prepaid_credit(sub_total_including_taxes=before.sub_total_including_taxes_amount_cents,
                               credit_notes=before.credit_notes_amount_cents,
                               applied=due + 1).prepaid_credit_amount_cents == due


async def test_an_answer_that_never_comes_is_compensated_finalized_without_credits_and_released(
        world, api, inv, org, on_credits):
    _customer, invoice = await pending_invoice(world, api)
    [request] = await outbox(inv, org, "invoice.prepaid_credits_requested")
    asked = datetime.fromisoformat(request["requested_at"])
    sessionmaker = inv.database.sessionmaker
    # before the abandon delay: asked again, still pending
    await resend_prepaid_requests(sessionmaker, asked + timedelta(minutes=5), 60, abandon_after_seconds=3600)
    assert (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["status"] == "pending"
    # past it: finalized without credits, and a release so nothing wallets applied (or would apply) stays taken
    await resend_prepaid_requests(sessionmaker, asked + timedelta(hours=2), 60, abandon_after_seconds=3600)
    full = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (full["status"], full["number"], full["prepaid_credit_amount_cents"], full["total_amount_cents"]) == (
        "finalized", "INV-202604-00001", 0, 12_400)
    releases = [r for r in await outbox(inv, org, "invoice.prepaid_credits_release_requested")
                if r["lago_invoice_id"] == invoice["lago_id"]]
    assert [r["reason"] for r in releases] == ["invoice_abandoned"]
    # wallets' late answer changes nothing; its release answer closes the saga
    await world.deliver(on_credits, answer(world, request, 900))
    again = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]
    assert (again["prepaid_credit_amount_cents"], again["total_amount_cents"]) == (0, 12_400)
    assert len(await outbox(inv, org, "invoice.finalized")) == 1
    await world.deliver(on_credits, world.envelope("credits.released", "credits", invoice["lago_id"], {
        "lago_invoice_id": invoice["lago_id"], "released_amount_cents": 900, "wallet_transactions": []}))
    async with inv.database.sessionmaker() as session:
        status = (await session.execute(text("SELECT prepaid_credits_status FROM invoices WHERE id = :id"),
                                        {"id": invoice["lago_id"]})).scalar_one()
    assert status == "released"
    # voiding it later sends no second release
    await api.ok("POST", f"/api/v1/invoices/{invoice['lago_id']}/void")
    assert len([r for r in await outbox(inv, org, "invoice.prepaid_credits_release_requested")
                if r["lago_invoice_id"] == invoice["lago_id"]]) == 1
