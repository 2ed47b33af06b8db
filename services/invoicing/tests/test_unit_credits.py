"""Unit credits on period invoices, invoicing's side (`invoicing.unit_credits`, `billing/charges.py`):
the offset before pricing (hypothesis against a brute-force model), the grants projection (by sequence,
live grants only), and a customer with grants whose wallets service is unreachable (nothing written, the
event retried). The whole exchange with the real wallets service: `tests/test_unit_credits_invoicing.py`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from invoicing.billing.charges import charge_fees
from invoicing.invoices.consumer import with_catalog_fallback
from invoicing.invoices.errors import DependencyUnavailable
from invoicing.prepaid_credits.consumer import on_wallet
from invoicing.unit_credits import repository
from invoicing.unit_credits import service as unit_credits
from invora.events.contracts.subscriptions import UsageSnapshot
from invora.pricing import price_charge
from invora.service_client import ServiceClient

from .conftest import T0, charge, charge_usage  # noqa: TID252
from .test_invoices import outbox  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
GRADUATED = {"graduated_ranges": [
    {"from_value": 0, "to_value": 1000, "per_unit_amount": "0.02", "flat_amount": "0"},
    {"from_value": 1001, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "0"}]}


def snapshot(*usages: dict) -> UsageSnapshot:
    return UsageSnapshot.model_validate({
        "from_datetime": T0.isoformat(), "to_datetime": APR.isoformat(), "issuing_date": "2026-04-01",
        "currency": "EUR", "amount_cents": 0, "total_amount_cents": 0, "charges_usage": list(usages)})


def test_twelve_thousand_calls_with_ten_thousand_credited_are_priced_on_two_thousand():
    calls = charge("calls", properties={"amount": "0.01"})
    [line] = charge_fees({"charges": [calls]}, {}, snapshot(charge_usage(calls, "12000")), "EUR",
                         {"calls": Decimal(10_000)})
    assert (line.units, line.credited_units, line.amount_cents) == (Decimal(2000), Decimal(10_000), 2_000)
    assert line.amount_details["unit_credits"] == {"usage_units": "12000", "credited_units": "10000"}
    [plain] = charge_fees({"charges": [calls]}, {}, snapshot(charge_usage(calls, "12000")), "EUR")
    assert plain.amount_cents == 12_000 and "unit_credits" not in plain.amount_details


def test_a_percentage_charge_is_not_offset_and_another_metric_is_untouched():
    fee = charge("volume", "percentage", {"rate": "1"})
    other = charge("storage", properties={"amount": "1"})
    lines = charge_fees({"charges": [fee, other]}, {}, snapshot(
        charge_usage(fee, "3", event_values=["100", "100", "100"]), charge_usage(other, "5")), "EUR",
        {"volume": Decimal(2)})
    assert [line.credited_units for line in lines] == [0, 0]
    assert lines[1].amount_cents == 500


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5_000), min_size=1, max_size=4), st.integers(0, 20_000),
       st.sampled_from(["standard", "graduated"]))
def test_credited_units_are_taken_from_the_metric_slots_in_order_and_each_priced_on_what_is_left(
        slots, credited, model):
    charges = [charge("calls", model, GRADUATED if model == "graduated" else {"amount": "0.01"}) for _ in slots]
    usage = snapshot(*(charge_usage(c, str(units)) for c, units in zip(charges, slots, strict=True)))
    lines = charge_fees({"charges": charges}, {}, usage, "EUR", {"calls": Decimal(credited)})
    pool = Decimal(credited)
    for line, units, body in zip(lines, slots, charges, strict=True):  # brute force: slot by slot
        taken = min(pool, Decimal(units))
        pool -= taken
        assert line.credited_units == taken
        assert line.units == units - taken
        expected = price_charge(model, body["properties"], "EUR", units=Decimal(units) - taken)
        assert line.amount_cents == int(expected.amount_cents)
    # never more than credited nor than used
    assert sum(line.credited_units for line in lines) == min(Decimal(credited), Decimal(sum(slots)))


def grant_body(customer: dict, status: str = "active", expiration_at: datetime | None = None,
               lago_id: str | None = None, metric: str = "calls") -> dict:
    return {"lago_id": lago_id or str(uuid.uuid4()), "lago_customer_id": customer["lago_id"],
            "external_customer_id": customer["external_id"], "billable_metric_code": metric, "units": "10000",
            "remaining_units": "10000", "status": status,
            "expiration_at": expiration_at.isoformat() if expiration_at else None}


async def grant_event(world, body: dict, verb: str = "created", sequence: int | None = None) -> None:
    envelope = world.envelope(f"wallet.unit_credit_{verb}", "wallet", body["lago_id"], {"unit_credit": body})
    if sequence is not None:
        envelope = envelope.model_copy(update={"sequence": sequence})
    await world.deliver(on_wallet, envelope)


async def live(inv, org, customer: dict, at: datetime) -> set[str]:
    async with inv.database.sessionmaker() as session:
        return await repository.live_metric_codes(session, org, uuid.UUID(customer["lago_id"]), at)


async def test_the_grants_projection_moves_forward_only_and_knows_live_grants(world, inv, org):
    customer = await world.customer()
    body = grant_body(customer)
    await grant_event(world, {**body, "status": "voided"}, "voided", sequence=5)
    await grant_event(world, body, "created", sequence=4)  # an older event redelivered: stays voided
    assert await live(inv, org, customer, T0) == set()
    await grant_event(world, grant_body(customer, expiration_at=T0 + timedelta(days=1), metric="storage"))
    assert await live(inv, org, customer, T0) == {"storage"}
    assert await live(inv, org, customer, T0 + timedelta(days=2)) == set()  # expired by then
    other = await world.customer()
    assert await live(inv, org, other, T0) == set()
    async with inv.database.sessionmaker() as session:  # a consumer batch's prefetch answers the same
        ids = [uuid.UUID(customer["lago_id"]), uuid.UUID(other["lago_id"])]
        await repository.prefetch_active_grants(session, org, ids)
        assert await repository.live_metric_codes(session, org, ids[0], T0) == {"storage"}
        assert await repository.live_metric_codes(session, org, ids[0], T0 + timedelta(days=2)) == set()
        assert await repository.live_metric_codes(session, org, ids[1], T0) == set()


@pytest.fixture
def handle(inv):
    return with_catalog_fallback(inv.app.state.runtime)


async def test_wallets_unreachable_for_a_customer_with_grants_writes_nothing_and_raises(world, inv, org, handle):
    customer = await world.customer()
    await grant_event(world, grant_body(customer))
    calls = charge("calls", properties={"amount": "0.01"})
    plan = await world.plan(0, charges=[calls])
    sub = world.subscription(customer, plan)
    envelope = world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12000")])
    runtime = inv.app.state.runtime
    reachable = runtime.wallets
    runtime.wallets = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing", issuer="invora",
                                    api_key="unused", timeout=0.5, retries=0)
    try:
        async with inv.database.sessionmaker() as session:
            with pytest.raises(DependencyUnavailable):
                await handle(session, [envelope])
            await session.rollback()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    async with inv.database.sessionmaker() as session:
        count = (await session.execute(text("SELECT count(*) FROM invoices WHERE organization_id = :o"),
                                       {"o": org})).scalar()
    assert count == 0  # the platform consumer retries the event; nothing half-written
    assert unit_credits.WALLETS.get() is None  # the consumer's client is not left behind


async def test_a_customer_without_grants_is_invoiced_without_asking_wallets(world, inv, org, handle):
    customer = await world.customer()
    other = await world.customer()
    await grant_event(world, grant_body(other))  # someone else's grant
    calls = charge("calls", properties={"amount": "0.01"})
    plan = await world.plan(0, charges=[calls])
    sub = world.subscription(customer, plan)
    runtime = inv.app.state.runtime
    reachable = runtime.wallets
    runtime.wallets = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing", issuer="invora",
                                    api_key="unused", timeout=0.5, retries=0)  # any call would fail
    try:
        async with inv.database.sessionmaker() as session:
            await handle(session, [world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12000")])])
            await session.commit()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    async with inv.database.sessionmaker() as session:
        amount, source = (await session.execute(text(
            "SELECT fees_amount_cents, source FROM invoices WHERE organization_id = :o"), {"o": org})).one()
    assert amount == 12_000 and "unit_credits" not in source


class FakeWallets(httpx.AsyncBaseTransport):
    """Wallets' `POST /unit_credits/applications` as its contract answers it (once per (invoice, metric), never
    above what is left); the real service behind it: `tests/test_unit_credits_invoicing.py`."""

    def __init__(self, units: Decimal) -> None:
        self.left, self.answers, self.calls = units, {}, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        body = json.loads(request.content)["unit_credit_application"]
        key = (body["lago_invoice_id"], body["billable_metric_code"])
        if key not in self.answers:
            self.answers[key] = min(self.left, Decimal(body["units"]))
            self.left -= self.answers[key]
        return httpx.Response(200, json={"unit_credit_application": {
            "lago_invoice_id": key[0], "billable_metric_code": key[1], "requested_units": body["units"],
            "applied_units": str(self.answers[key])}})


async def test_refresh_late_usage_and_void_reuse_the_recorded_units_and_release_them(world, api, inv, org, handle):
    customer = await world.customer(invoice_grace_period=1)
    await grant_event(world, grant_body(customer))
    calls = charge("calls", properties={"amount": "1"})
    plan = await world.plan(0, charges=[calls])
    sub = world.subscription(customer, plan)
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(Decimal(10))
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    closed = world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12")])
    try:
        async with inv.database.sessionmaker() as session:
            await handle(session, [closed])
            await session.commit()
        [draft] = (await api.ok("GET", "/api/v1/invoices"))["invoices"]
        assert draft["status"] == "draft" and draft["fees_amount_cents"] == 200  # 12 − 10 credited = 2 × 1 €
        # refresh prices again with the recorded units, never asking again
        await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/refresh")
        finalized = (await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/finalize"))["invoice"]
        assert finalized["fees_amount_cents"] == 200 and fake.calls == 1
        # late usage: 15 used in all → 5 priced, 2 billed already → the follow-up bills 3
        revised = world.envelope("subscription.billing_period_usage_revised", "subscription", sub["lago_id"], {
            "lago_billing_period_id": closed.data["lago_billing_period_id"], "revision": 1, "subscription": sub,
            "period_start": T0.isoformat(), "period_end": APR.isoformat(), "events_count": 15,
            "usage_amount_cents": 0, "usage": {**closed.data["usage"], "charges_usage": [charge_usage(calls, "15")]}},
            occurred_at=APR + timedelta(hours=1))
        async with inv.database.sessionmaker() as session:
            await handle(session, [revised])
            await session.commit()
        follow_up = next(i for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"]
                         if i["lago_id"] != draft["lago_id"])
        assert follow_up["fees_amount_cents"] == 300 and fake.calls == 1
        # void: the release request wallets answers by giving the units back
        await api.ok("POST", f"/api/v1/invoices/{draft['lago_id']}/void")
        released = await outbox(inv, org, "invoice.prepaid_credits_release_requested")
        assert [r["lago_invoice_id"] for r in released] == [draft["lago_id"]]
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable


async def test_deleting_a_draft_that_took_units_asks_wallets_to_release_them(world, api, inv, org, handle):
    customer = await world.customer(invoice_grace_period=1)
    await grant_event(world, grant_body(customer))
    calls = charge("calls", properties={"amount": "1"})
    sub = world.subscription(customer, await world.plan(0, charges=[calls]))
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(Decimal(10))
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    try:
        async with inv.database.sessionmaker() as session:
            await handle(session, [world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12")])])
            await session.commit()
        [draft] = (await api.ok("GET", "/api/v1/invoices"))["invoices"]
        assert draft["status"] == "draft" and draft["fees_amount_cents"] == 200 and fake.calls == 1
        await api.ok("DELETE", f"/api/v1/invoices/{draft['lago_id']}")
        released = await outbox(inv, org, "invoice.prepaid_credits_release_requested")
        assert [r["lago_invoice_id"] for r in released] == [draft["lago_id"]]
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable


# -- charges paid in advance -----------------------------------------------------------------------------------

ADVANCE_TIERS = {"graduated_ranges": [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]}


async def test_fees_paid_in_advance_are_offset_event_by_event_and_the_slot_keeps_its_position(
        world, api, inv, org, handle):
    from .test_pay_in_advance import advance_usage, all_invoices  # noqa: TID252, PLC0415

    customer = await world.customer(tax_codes=[])
    await grant_event(world, grant_body(customer))
    calls = charge("calls", "graduated", ADVANCE_TIERS, pay_in_advance=True, invoiceable=True)
    sub = world.subscription(customer, await world.plan(0, charges=[calls]))
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(Decimal(5))
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    try:
        first = advance_usage(world, sub, calls, "t1", "0", "9")
        for envelope in (first, first, advance_usage(world, sub, calls, "t2", "9", "12"),
                         advance_usage(world, sub, calls, "t3", "12", "15")):
            async with inv.database.sessionmaker() as session:
                await handle(session, [envelope])
                await session.commit()
        # t1: 9 calls, 5 credited → priced 0→4 (4.00); t2: 3 calls, none left → priced 4→7 (3.00), not 9→12;
        # t3: 7→10 (3.00): the tiers see 10 priced calls, not 15 (without credits: 9.00, 2.00, 1.50)
        full = [(await api.ok("GET", f"/api/v1/invoices/{i['lago_id']}"))["invoice"] for i in await all_invoices(api)]
        found = sorted(full, key=lambda i: i["fees"][0]["event_transaction_id"])
        assert [i["fees_amount_cents"] for i in found] == [400, 300, 300]
        assert fake.calls == 3  # once per event, the redelivery asked nothing
        fee = found[0]["fees"][0]
        assert (fee["units"], fee["amount_details"]["unit_credits"]) == (
            "4", {"usage_units": "9", "credited_units": "5"})
        assert set(fake.answers) == {(i["lago_id"], "calls") for i in found}
        # voiding the first gives its units back (the same release as a period invoice's)
        await api.ok("POST", f"/api/v1/invoices/{found[0]['lago_id']}/void")
        released = await outbox(inv, org, "invoice.prepaid_credits_release_requested")
        assert [r["lago_invoice_id"] for r in released] == [found[0]["lago_id"]]
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable


async def test_a_fee_paid_in_advance_without_invoice_is_offset_and_wallets_knows_it_by_the_fee(
        world, api, inv, org, handle):
    from .test_pay_in_advance import advance_usage  # noqa: TID252, PLC0415

    customer = await world.customer(tax_codes=[])
    await grant_event(world, grant_body(customer))
    calls = charge("calls", properties={"amount": "2"}, pay_in_advance=True, invoiceable=False)
    sub = world.subscription(customer, await world.plan(0, charges=[calls]))
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(Decimal(3))
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    try:
        envelope = advance_usage(world, sub, calls, "t1", "0", "5")
        for _ in range(2):
            async with inv.database.sessionmaker() as session:
                await handle(session, [envelope])
                await session.commit()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    [created] = await outbox(inv, org, "fee.created")
    fee = created["fee"]
    # 5 calls, 3 credited: 2 × 2.00 €
    assert (fee["units"], fee["amount_cents"], fee["amount_details"]["unit_credits"]["credited_units"]) == (
        "2", 400, "3")
    assert fake.calls == 1 and list(fake.answers) == [(fee["lago_id"], "calls")]


async def test_a_fee_paid_in_advance_of_a_customer_without_grants_asks_nothing(world, api, inv, org, handle):
    from .test_pay_in_advance import advance_usage, all_invoices  # noqa: TID252, PLC0415

    customer = await world.customer(tax_codes=[])
    calls = charge("calls", properties={"amount": "2"}, pay_in_advance=True, invoiceable=True)
    sub = world.subscription(customer, await world.plan(0, charges=[calls]))
    runtime = inv.app.state.runtime
    reachable = runtime.wallets
    runtime.wallets = ServiceClient(base_url="http://127.0.0.1:9", subject="service:invoicing", issuer="invora",
                                    api_key="unused", timeout=0.5, retries=0)  # any call would fail
    try:
        async with inv.database.sessionmaker() as session:
            await handle(session, [advance_usage(world, sub, calls, "t1", "0", "5")])
            await session.commit()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    [invoice] = await all_invoices(api)
    assert invoice["fees_amount_cents"] == 1_000


# -- progressive billing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("left", "billed"), [(Decimal(5), (300, 400)), (Decimal(10), (0, 200))])
async def test_progressive_invoices_and_the_period_credit_each_unit_once(world, api, inv, org, handle, left, billed):
    """8 calls at a threshold, 12 at the close, 1 € a call: the progressive invoice asks for 8, the period's
    invoice only for the 4 since; each is priced less every unit credited so far, so together they bill
    (12 − credited) × 1 € and the period's deduction matches what the progressive invoice priced."""
    from .test_pay_in_advance import all_invoices, threshold_reached, thresholds  # noqa: TID252, PLC0415

    customer = await world.customer(tax_codes=[])
    await grant_event(world, grant_body(customer))
    calls = charge("calls", properties={"amount": "1"})
    sub = world.subscription(customer, await world.plan(0, charges=[calls], usage_thresholds=thresholds(500)))
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(left)
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    try:
        reached = threshold_reached(world, sub, calls, "8", 500, 800, T0 + timedelta(days=5))
        for envelope in (reached, reached, world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12")])):
            async with inv.database.sessionmaker() as session:
                await handle(session, [envelope])
                await session.commit()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    [progressive] = await all_invoices(api, invoice_type="progressive_billing")
    [period] = await all_invoices(api, invoice_type="subscription")
    assert progressive["total_amount_cents"] == billed[0]
    assert period["total_amount_cents"] == billed[1]
    assert progressive["total_amount_cents"] + period["total_amount_cents"] == (12 - min(left, 12)) * 100
    # wallets was asked 8 units for the progressive invoice, then 4 (not 12) for the period's
    asked = {invoice: units for (invoice, _), units in fake.answers.items()}
    assert set(asked) == {progressive["lago_id"], period["lago_id"]} and fake.calls == 2
    assert asked[progressive["lago_id"]] == min(left, 8)
    assert asked[period["lago_id"]] == min(left - min(left, 8), 4)


async def test_a_grant_gone_by_the_close_still_counts_what_progressive_invoices_credited(world, api, inv, org, handle):
    from .test_pay_in_advance import all_invoices, threshold_reached, thresholds  # noqa: TID252, PLC0415

    customer = await world.customer(tax_codes=[])
    grant = grant_body(customer)
    await grant_event(world, grant)
    calls = charge("calls", properties={"amount": "1"})
    sub = world.subscription(customer, await world.plan(0, charges=[calls], usage_thresholds=thresholds(500)))
    runtime = inv.app.state.runtime
    reachable, fake = runtime.wallets, FakeWallets(Decimal(6))
    runtime.wallets = ServiceClient(base_url="http://w.test", subject="service:invoicing", issuer="invora",
                                    api_key="k", transport=fake)
    try:
        async with inv.database.sessionmaker() as session:
            await handle(session, [threshold_reached(world, sub, calls, "8", 500, 800, T0 + timedelta(days=5))])
            await session.commit()
        await grant_event(world, {**grant, "status": "voided"}, "voided")  # no live grant at the close
        async with inv.database.sessionmaker() as session:
            await handle(session, [world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "12")])])
            await session.commit()
    finally:
        await runtime.wallets.aclose()
        runtime.wallets = reachable
    [progressive] = await all_invoices(api, invoice_type="progressive_billing")
    [period] = await all_invoices(api, invoice_type="subscription")
    # 8 − 6 = 2 billed first; the close prices 12 − 6 = 6 and deducts the 2: 4, wallets not asked again
    assert (progressive["total_amount_cents"], period["fees_amount_cents"], period["total_amount_cents"]) == (
        200, 600, 400)
    assert fake.calls == 1
