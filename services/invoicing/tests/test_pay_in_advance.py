"""Charges paid in advance and progressive billing, through the service's own handlers and its API, on a real
database: one fee per event, one invoice per threshold crossed, deductions on the period's invoice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from invoicing.invoices.consumer import on_subscription_event
from invora.ids import uuid7

from .conftest import T0, charge, charge_usage  # noqa: TID252
from .test_applied_coupons import coupon  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
GRADUATED = {"graduated_ranges": [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"}]}


async def outbox(inv, org, event_type: str) -> list[dict]:
    async with inv.database.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT envelope FROM outbox_events WHERE event_type = :type AND envelope->>'organization_id' = :org "
            "ORDER BY position"), {"type": event_type, "org": str(org)})).scalars().all()
    return [row["data"] for row in rows]


def advance_usage(world, sub: dict, charge_body: dict, transaction_id: str, before: str, after: str,
                  at: datetime | None = None, **fields):
    at = at or T0 + timedelta(days=3)
    data = {"lago_event_id": str(uuid7()), "transaction_id": transaction_id,
            "code": charge_body["billable_metric_code"],
            "timestamp": at.isoformat(), "subscription": sub, "lago_plan_version_id": sub["lago_plan_version_id"],
            "lago_charge_id": charge_body["lago_id"], "units_before": before, "units_after": after,
            "period_start": T0.isoformat(), "period_end": APR.isoformat(), **fields}
    return world.envelope("subscription.pay_in_advance_usage", "subscription", sub["lago_id"], data, occurred_at=at)


def thresholds(*amounts: int, recurring: int | None = None) -> list[dict]:
    rows = [(a, False) for a in amounts] + ([(recurring, True)] if recurring else [])
    return [{"lago_id": str(uuid.uuid4()), "amount_cents": a, "recurring": r, "threshold_display_name": None,
             "created_at": T0.isoformat(), "updated_at": T0.isoformat()} for a, r in rows]


async def all_invoices(api, **params) -> list[dict]:
    return (await api.ok("GET", "/api/v1/invoices", params={"per_page": 100, **params}))["invoices"]


async def test_an_invoiceable_charge_paid_in_advance_bills_each_event_once(world, api, inv, org):
    customer = await world.customer(tax_codes=[])
    await world.tax("vat", "20", applied_to_organization=True)
    calls = charge("calls", "graduated", GRADUATED, pay_in_advance=True, invoiceable=True)
    plan = await world.plan(1_000, charges=[calls])
    sub = world.subscription(customer, plan)
    first = advance_usage(world, sub, calls, "t1", "0", "9")
    # the second event crosses into the second tier: 1 unit at 1.00 and 2 at 0.50
    second = advance_usage(world, sub, calls, "t2", "9", "12")
    await asyncio.gather(*(world.deliver(on_subscription_event, first) for _ in range(3)))
    await world.deliver(on_subscription_event, second)
    await world.deliver(on_subscription_event, second)  # redelivered
    # the same transaction id in a new envelope (a replay) is still the same fee
    await world.deliver(on_subscription_event, advance_usage(world, sub, calls, "t2", "9", "12"))
    found = await all_invoices(api)
    assert sorted(i["fees_amount_cents"] for i in found) == [200, 900]
    assert {i["status"] for i in found} == {"finalized"} and {i["invoice_type"] for i in found} == {"subscription"}
    assert sorted(i["total_amount_cents"] for i in found) == [240, 1_080]  # 20 % VAT
    full = (await api.ok("GET", f"/api/v1/invoices/{found[0]['lago_id']}"))["invoice"]
    [fee] = full["fees"]
    assert fee["pay_in_advance"] is True and fee["invoiceable"] is True and fee["event_transaction_id"] == "t2"
    assert (fee["units"], fee["amount_cents"]) == ("3", 200)
    # the period's invoice bills the subscription fee only: the usage was billed as it happened
    await world.close(sub, T0, APR, usage=[charge_usage(calls, "12", 2)])
    period = [i for i in await all_invoices(api) if i["fees_amount_cents"] not in (200, 900)]
    assert [i["fees_amount_cents"] for i in period] == [1_000]
    assert len(await outbox(inv, org, "invoice.finalized")) == 3
    assert await outbox(inv, org, "fee.created") == []


async def test_a_charge_not_invoiceable_makes_a_fee_alone_and_fee_created(world, api, make_api, inv, org):
    await world.tax("vat", "10", applied_to_organization=True)
    customer = await world.customer()
    seats = charge("seats", "standard", {"amount": "2.5"}, pay_in_advance=True, invoiceable=False)
    plan = await world.plan(0, charges=[seats])
    sub = world.subscription(customer, plan)
    event = advance_usage(world, sub, seats, "seat-1", "4", "6")
    await asyncio.gather(*(world.deliver(on_subscription_event, event) for _ in range(3)))
    assert await all_invoices(api) == []
    fees = (await api.ok("GET", "/api/v1/fees", params={"external_subscription_id": sub["external_id"]}))["fees"]
    [fee] = fees
    assert (fee["lago_invoice_id"], fee["amount_cents"], fee["taxes_amount_cents"], fee["units"]) == (
        None, 500, 50, "2")
    assert fee["invoiceable"] is False and fee["pay_in_advance"] is True and fee["payment_status"] == "pending"
    [created] = await outbox(inv, org, "fee.created")
    assert created["fee"]["lago_id"] == fee["lago_id"] and created["fee"]["total_amount_cents"] == 550
    paid = (await api.ok("PUT", f"/api/v1/fees/{fee['lago_id']}", {"fee": {"payment_status": "succeeded"}}))["fee"]
    assert paid["payment_status"] == "succeeded"
    # no invoice to adjust; another organization cannot see it; another customer's tenant key neither
    await api.error("POST", f"/api/v1/fees/{fee['lago_id']}/adjustment", {"adjustment": {"units": "1"}}, status=405)
    other = make_api(uuid.uuid4())
    await other.error("GET", f"/api/v1/fees/{fee['lago_id']}", status=404)
    assert (await other.ok("GET", "/api/v1/fees"))["fees"] == []
    stranger = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    await stranger.error("GET", f"/api/v1/fees/{fee['lago_id']}", status=403)
    mine = make_api(org, roles=("tenant",), customer_id=uuid.UUID(customer["lago_id"]))
    assert [f["lago_id"] for f in (await mine.ok("GET", "/api/v1/fees"))["fees"]] == [fee["lago_id"]]
    # the period's invoice does not bill the seats again
    await world.close(sub, T0, APR, usage=[charge_usage(seats, "6", 1)])
    assert [i["fees_amount_cents"] for i in await all_invoices(api)] == [0]


def threshold_reached(world, sub: dict, charge_body: dict, units: str, crossed: int, lifetime: int,
                      at: datetime):
    data = {"subscription": sub, "usage_threshold": {"amount_cents": crossed, "recurring": False},
            "crossed_amount_cents": crossed, "crossed_amounts_cents": [crossed],
            "lifetime_usage_amount_cents": lifetime,
            "lago_plan_version_id": sub["lago_plan_version_id"], "period_start": T0.isoformat(),
            "period_end": APR.isoformat(), "reached_at": at.isoformat(),
            "usage": {"from_datetime": T0.isoformat(), "to_datetime": at.isoformat(), "issuing_date": "2026-03-31",
                      "currency": "EUR", "amount_cents": 0, "total_amount_cents": 0,
                      "charges_usage": [charge_usage(charge_body, units)]}}
    return world.envelope("subscription.usage_threshold_reached", "subscription", sub["lago_id"], data,
                          occurred_at=at)


async def test_lagos_progressive_billing_example(world, api, inv, org):
    """Lago's guide (plans/progressive-billing): step thresholds at $5, $20, $50, $100 and $1,000 of lifetime
    usage; each crossing issues a `progressive_billing` invoice for the period's usage so far, less what the
    period's earlier progressive invoices billed; the period's invoice deducts all of it (after the fees,
    before coupons). Usage here: $1 a unit."""
    customer = await world.customer()
    units = charge("units", "standard", {"amount": "1"})
    plan = await world.plan(0, charges=[units], usage_thresholds=thresholds(500, 2_000, 5_000, 10_000, 100_000))
    sub = world.subscription(customer, plan)
    steps = [(5, 500), (22, 2_000), (51, 5_000), (130, 10_000)]  # units at the evaluation, threshold crossed
    for day, (used, crossed) in enumerate(steps, start=2):
        event = threshold_reached(world, sub, units, str(used), crossed, used * 100, T0 + timedelta(days=day))
        await world.deliver(on_subscription_event, event)
        await world.deliver(on_subscription_event, event)  # redelivered: no second invoice
    progressive = await all_invoices(api, invoice_type="progressive_billing")
    by_fees = sorted((i["fees_amount_cents"], i["progressive_billing_credit_amount_cents"], i["total_amount_cents"])
                     for i in progressive)
    # each bills the usage so far less what was billed before: 5, 22 − 5, 51 − 22, 130 − 51
    assert by_fees == [(500, 0, 500), (2_200, 500, 1_700), (5_100, 2_200, 2_900), (13_000, 5_100, 7_900)]
    assert {i["status"] for i in progressive} == {"finalized"}
    # the period closes at 180 units: its invoice bills 180 and deducts the 130 already billed
    await world.close(sub, T0, APR, usage=[charge_usage(units, "180", 9)])
    [period] = await all_invoices(api, invoice_type="subscription")
    assert (period["fees_amount_cents"], period["progressive_billing_credit_amount_cents"],
            period["sub_total_excluding_taxes_amount_cents"], period["total_amount_cents"]) == (18_000, 13_000, 5_000,
                                                                                               5_000)
    assert sum(i["total_amount_cents"] for i in [*progressive, period]) == 18_000


async def test_a_draft_progressive_invoice_is_not_deducted(world, api, inv, org):
    customer = await world.customer(invoice_grace_period=2)
    units = charge("units", "standard", {"amount": "1"})
    plan = await world.plan(0, charges=[units], usage_thresholds=thresholds(500))
    sub = world.subscription(customer, plan)
    await world.deliver(on_subscription_event, threshold_reached(world, sub, units, "7", 500, 700,
                                                                 T0 + timedelta(days=5)))
    [draft] = await all_invoices(api, invoice_type="progressive_billing")
    assert draft["status"] == "draft" and draft["fees_amount_cents"] == 700
    await world.close(sub, T0, APR, usage=[charge_usage(units, "9", 2)])
    [period] = await all_invoices(api, invoice_type="subscription")
    assert (period["fees_amount_cents"], period["progressive_billing_credit_amount_cents"]) == (900, 0)


# -- pure: totals with progressive-billing deductions, and fees of events paid in advance ----------------------

from decimal import Decimal  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from invoicing.billing.totals import totals  # noqa: E402
from invora.pricing import price_charge, price_increment  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=6), st.integers(0, 10**7), st.integers(0, 10**6),
       st.integers(0, 10**6), st.integers(0, 10**6))
def test_progressive_invoices_and_the_period_invoice_bill_the_usage_once(increments, last, subscription_fee,
                                                                         coupons, taxes):
    """Usage grows; each progressive invoice bills the usage so far less the earlier ones; the period's invoice
    bills its fees less all of them. Each invoice's amounts add up in Lago's order, and the usage is billed
    exactly once across them."""
    cumulative, so_far = [], 0
    for step in increments:
        so_far += step
        cumulative.append(so_far)
    billed = 0
    for usage in cumulative:
        t = totals(fees=usage, coupons=0, taxes=0, progressive_billing_credit=billed)
        assert t.sub_total_excluding_taxes_amount_cents == usage - billed >= 0
        billed += t.fees_amount_cents - t.progressive_billing_credit_amount_cents
    final_usage = so_far + last
    fees = subscription_fee + final_usage
    t = totals(fees=fees, coupons=coupons, taxes=taxes, progressive_billing_credit=billed)
    assert t.progressive_billing_credit_amount_cents == billed  # never more than the fees
    assert t.sub_total_excluding_taxes_amount_cents == fees - billed - t.coupons_amount_cents
    assert t.coupons_amount_cents == min(coupons, fees - billed)
    assert t.total_amount_cents == t.sub_total_excluding_taxes_amount_cents + taxes
    assert billed + (t.fees_amount_cents - t.progressive_billing_credit_amount_cents) == subscription_fee + final_usage


GRADUATED_PACKAGES = st.sampled_from([
    ("graduated", GRADUATED),
    ("standard", {"amount": "0.333"}),
    ("package", {"amount": "5", "package_size": 10, "free_units": 3}),
    ("graduated", {"graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "0", "flat_amount": "2"},
        {"from_value": 6, "to_value": None, "per_unit_amount": "0.07", "flat_amount": "1"}]}),
])


@settings(max_examples=300, deadline=None)
@given(GRADUATED_PACKAGES, st.lists(st.integers(0, 50), min_size=1, max_size=12))
def test_fees_of_chained_events_add_up_to_the_price_of_the_period(charge, units):
    """Each event paid in advance bills price(after) − price(before); chained over a period the exact amounts
    add up to the price of the period's units, and the rounded fees stay within half a cent per event."""
    model, properties = charge
    before, exact, rounded = Decimal(0), Decimal(0), 0
    for step in units:
        increment = price_increment(model, properties, "EUR", before=before, after=before + step)
        assert increment.amount_cents >= 0
        exact += increment.precise_amount
        rounded += increment.amount_cents
        before += step
    whole = price_charge(model, properties, "EUR", units=before).precise_amount if before else Decimal(0)
    assert exact == whole
    assert abs(Decimal(rounded) - whole * 100) <= Decimal(len(units)) / 2


async def test_paid_fees_are_regrouped_into_an_advance_charges_invoice_at_the_close(world, api, inv, org):
    """`regroup_paid_fees: invoice` (Lago): the paid fees of a charge paid in advance and not invoiceable become
    one `advance_charges` invoice when the period closes — finalized, numbered, already paid, no coupon; an
    unpaid fee waits; a replayed close regroups nothing twice."""
    await world.tax("vat", "10", applied_to_organization=True)
    await world.coupon_event(coupon("tenpct", "percentage", frequency="forever"))
    customer = await world.customer()
    await api.ok("POST", "/api/v1/applied_coupons", {"applied_coupon": {
        "external_customer_id": customer["external_id"], "coupon_code": "tenpct"}})
    seats = charge("seats", "standard", {"amount": "3"}, pay_in_advance=True, invoiceable=False,
                   regroup_paid_fees="invoice")
    plan = await world.plan(1_000, charges=[seats])
    sub = world.subscription(customer, plan)
    for n, (before, after) in enumerate([("0", "2"), ("2", "3"), ("3", "4")]):
        await world.deliver(on_subscription_event, advance_usage(world, sub, seats, f"s{n}", before, after))
    fees = (await api.ok("GET", "/api/v1/fees", params={"external_subscription_id": sub["external_id"]}))["fees"]
    by_txn = {f["event_transaction_id"]: f for f in fees}
    for paid in ("s0", "s1"):
        await api.ok("PUT", f"/api/v1/fees/{by_txn[paid]['lago_id']}", {"fee": {"payment_status": "succeeded"}})
    close = world.period_ended(sub, T0, APR, usage=[charge_usage(seats, "4", 3)])
    await world.deliver(on_subscription_event, close)
    await world.deliver(on_subscription_event, close)  # redelivered
    [regrouped] = await all_invoices(api, invoice_type="advance_charges")
    assert (regrouped["status"], regrouped["payment_status"], regrouped["fees_amount_cents"],
            regrouped["coupons_amount_cents"], regrouped["taxes_amount_cents"]) == ("finalized", "succeeded", 900, 0,
                                                                                    90)
    assert regrouped["number"]
    full = (await api.ok("GET", f"/api/v1/invoices/{regrouped['lago_id']}"))["invoice"]
    assert sorted(f["event_transaction_id"] for f in full["fees"]) == ["s0", "s1"]
    after = (await api.ok("GET", "/api/v1/fees", params={"external_subscription_id": sub["external_id"]}))["fees"]
    assert {f["event_transaction_id"]: f["lago_invoice_id"] for f in after}["s2"] is None
    # the period's own invoice bills the subscription fee only, and the coupon applies there
    [period] = await all_invoices(api, invoice_type="subscription")
    assert (period["fees_amount_cents"], period["coupons_amount_cents"]) == (1_000, 100)
