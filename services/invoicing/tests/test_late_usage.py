"""Late usage (`subscription.billing_period_usage_revised`): applied by `sequence`, never by arrival order;
a final invoice is never reopened, its period's difference is billed on a follow-up invoice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.billing.late_usage import Billed, difference, slot_key
from invoicing.invoices.consumer import on_subscription_event, on_subscription_events

from .conftest import T0, charge, charge_usage  # noqa: TID252
from .test_invoices import invoices, outbox  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)


class Period:
    def __init__(self, world, calls: dict, sub: dict, closed) -> None:
        self.world, self.calls, self.sub, self.closed = world, calls, sub, closed

    def revision(self, units: str, number: int, sequence: int | None = None):
        usage = {**self.closed.data["usage"], "charges_usage": [charge_usage(self.calls, units)]}
        envelope = self.world.envelope(
            "subscription.billing_period_usage_revised", "subscription", self.sub["lago_id"], {
                "lago_billing_period_id": self.closed.data["lago_billing_period_id"], "revision": number,
                "subscription": self.sub, "period_start": T0.isoformat(), "period_end": APR.isoformat(),
                "events_count": int(units), "usage_amount_cents": 0, "usage": usage},
            occurred_at=APR + timedelta(hours=number))
        return envelope if sequence is None else envelope.model_copy(update={"sequence": sequence})

    async def deliver(self, envelope) -> None:
        await self.world.deliver(on_subscription_event, envelope)


async def closed_period(world, units: str = "5", **customer_fields) -> Period:
    await world.tax("vat10", "10")
    calls = charge("late_calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    customer = await world.customer(tax_codes=["vat10"], **customer_fields)
    sub = world.subscription(customer, plan)
    closed = await world.close(sub, T0, APR, usage=[charge_usage(calls, units)])
    return Period(world, calls, sub, closed)


async def of_subscription(api, period: Period) -> list[dict]:
    found = [i for i in await invoices(api) if i["external_subscription_id"] == period.sub["external_id"]]
    return sorted(found, key=lambda i: i["created_at"])


async def test_an_older_revision_never_overwrites_a_newer_one_on_a_draft(world, api):
    period = await closed_period(world, invoice_grace_period=3)
    newer, older = period.revision("9", 2), period.revision("7", 1)
    assert older.sequence > newer.sequence  # built later: give it its real, earlier place
    older = older.model_copy(update={"sequence": newer.sequence - 1})
    await period.deliver(newer)
    await period.deliver(older)  # parked, retried after the newer one: changes nothing
    [draft] = await of_subscription(api, period)
    assert (draft["status"], draft["fees_amount_cents"]) == ("draft", 1_900)
    # refresh computes from the kept usage too
    refreshed = (await api.ok("PUT", f"/api/v1/invoices/{draft['lago_id']}/refresh"))["invoice"]
    assert refreshed["fees_amount_cents"] == 1_900


async def test_a_revision_heard_before_its_period_closes_in_invoicing_is_used_by_the_invoice(world, api):
    await world.tax("vat10", "10")
    calls = charge("late_calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    customer = await world.customer(tax_codes=["vat10"])
    sub = world.subscription(customer, plan)
    close = world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "5")])
    period = Period(world, calls, sub, close)
    revised = period.revision("12", 1)
    await period.deliver(revised)  # the close was parked (say its plan version was late); its revision went on
    await world.deliver(on_subscription_event, close)
    [invoice] = await of_subscription(api, period)
    assert (invoice["status"], invoice["fees_amount_cents"]) == ("finalized", 2_200)
    await period.deliver(period.revision("12", 1, sequence=revised.sequence))  # again: nothing
    assert len(await of_subscription(api, period)) == 1


@pytest.mark.parametrize("batched", [False, True], ids=["one_event", "batch"])
@pytest.mark.parametrize("grace", [3, None], ids=["draft", "finalized"])
@pytest.mark.parametrize("first", ["invoice", "revision"])
async def test_a_revision_committed_beside_its_periods_invoice_creation_is_never_lost(world, api, inv, first, grace,
                                                                                      batched):
    """The invoice's creation and a revision of its period run in two transactions at once: whichever commits
    first, the revision ends up in the draft (or, the invoice final, on its follow-up) or in the invoice."""
    await world.tax("vat10", "10")
    calls = charge("late_calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    customer = await world.customer(tax_codes=["vat10"], invoice_grace_period=grace)
    sub = world.subscription(customer, plan)
    close = world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "5")])
    period = Period(world, calls, sub, close)
    revised = period.revision("12", 1)
    held, other = (close, revised) if first == "invoice" else (revised, close)
    async with inv.database.sessionmaker() as session:
        if batched:  # the consumer's batch: the periods of its closes locked and read ahead
            await on_subscription_events(session, [held])
        else:
            await on_subscription_event(session, held)  # not committed yet
        racing = asyncio.create_task(world.deliver(on_subscription_events if batched else on_subscription_event,
                                                   [other] if batched else other))
        await asyncio.sleep(0.5)  # unserialised, the other one reads now, sees nothing and commits
        assert not racing.done()  # it waits for the period's lock
        await session.commit()
    await racing
    found = [(i["status"], i["fees_amount_cents"]) for i in await of_subscription(api, period)]
    if first == "invoice" and grace is None:  # final before the revision: the difference on a follow-up
        assert found == [("finalized", 1_500), ("finalized", 700)]
    else:
        assert found == [("draft" if grace else "finalized", 2_200)]


async def test_a_revision_before_its_close_in_one_batch_is_used_by_the_invoice(world, api):
    """The batch reads its closes' revisions ahead; a revision kept earlier in the same batch is not missed."""
    await world.tax("vat10", "10")
    calls = charge("late_calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    sub = world.subscription(await world.customer(tax_codes=["vat10"]), plan)
    close = world.period_ended(sub, T0, APR, usage=[charge_usage(calls, "5")])
    period = Period(world, calls, sub, close)
    await world.deliver(on_subscription_events, [period.revision("12", 1), close])
    [invoice] = await of_subscription(api, period)
    assert (invoice["status"], invoice["fees_amount_cents"]) == ("finalized", 2_200)


async def test_a_final_invoice_is_never_reopened_and_each_revision_bills_its_difference_once(world, api, inv, org):
    period = await closed_period(world)
    [first] = await of_subscription(api, period)
    assert (first["status"], first["fees_amount_cents"], first["total_amount_cents"]) == ("finalized", 1_500, 1_650)
    one = period.revision("8", 1)
    await period.deliver(one)
    await period.deliver(one)  # redelivered
    await period.deliver(period.revision("8", 1, sequence=one.sequence))  # the same revision under a new id
    invoices_now = await of_subscription(api, period)
    assert [(i["status"], i["fees_amount_cents"], i["taxes_amount_cents"]) for i in invoices_now] == [
        ("finalized", 1_500, 150), ("finalized", 300, 30)]
    follow_up = (await api.ok("GET", f"/api/v1/invoices/{invoices_now[1]['lago_id']}"))["invoice"]
    [fee] = follow_up["fees"]
    assert (fee["item"]["type"], fee["units"], fee["amount_cents"]) == ("charge", "3", 300)
    assert fee["amount_details"]["late_usage"]["previously_billed_amount_cents"] == 500
    assert (follow_up["billing_period_start"], follow_up["number"]) == (first["billing_period_start"],
                                                                       "INV-202604-00002")

    two = period.revision("10", 2)
    older = period.revision("9", 1, sequence=one.sequence)  # an older one again, late
    await period.deliver(two)
    await period.deliver(older)
    assert [i["fees_amount_cents"] for i in await of_subscription(api, period)] == [1_500, 300, 200]
    # usage that went down is not credited here (credit notes): no invoice
    await period.deliver(period.revision("4", 3))
    assert [i["fees_amount_cents"] for i in await of_subscription(api, period)] == [1_500, 300, 200]
    # every follow-up is finalized with its own number and event
    numbers = [e["invoice"]["number"] for e in await outbox(inv, org, "invoice.finalized")]
    assert len(numbers) == len(set(numbers)) == 3


async def test_a_follow_up_still_in_draft_takes_the_next_revision_instead_of_a_second_follow_up(world, api):
    period = await closed_period(world)
    await world.organization(billing_configuration={"invoice_grace_period": 2})  # the catalog's settings
    await period.deliver(period.revision("8", 1))
    await period.deliver(period.revision("11", 2))
    found = await of_subscription(api, period)
    assert [(i["status"], i["fees_amount_cents"]) for i in found] == [("finalized", 1_500), ("draft", 600)]


@settings(max_examples=200, deadline=None)
@given(billed=st.lists(st.integers(0, 10**7), min_size=1, max_size=6),
       revised=st.lists(st.integers(0, 10**7), min_size=1, max_size=6))
def test_the_follow_up_bills_exactly_the_positive_differences(billed, revised):
    slots = [f"00000000-0000-0000-0000-{i:012d}" for i in range(max(len(billed), len(revised)))]
    lines = [(amount, [], {"fee_type": "charge", "charge_id": slots[i], "charge_filter_id": None, "grouped_by": {},
                           "item": {}, "units": Decimal(amount), "events_count": 1, "amount_details": {}})
             for i, amount in enumerate(revised)]
    before = {slot_key(slots[i], None, {}, None): Billed(amount, Decimal(amount), 1) for i, amount in enumerate(billed)}
    outcome = difference(lines, before, 2)
    previous = [billed[i] if i < len(billed) else 0 for i in range(len(revised))]
    assert sum(line[0] for line in outcome.lines) == sum(max(r - b, 0) for r, b in zip(revised, previous, strict=True))
    assert outcome.uncredited_cents == sum(max(b - r, 0) for r, b in zip(revised, previous, strict=True))
    assert all(line[0] > 0 and line[2]["amount_cents"] == line[0] for line in outcome.lines)


async def test_a_weighted_sum_fee_shows_the_sum_of_event_values_as_total_aggregated_units(world, api):
    """Lago: a weighted sum's fee has `units` the time-weighted value and `total_aggregated_units` the plain sum of
    the event values; any other aggregation shows its units there."""
    seats = charge("seats", properties={"amount": "2"})
    calls = charge("calls", properties={"amount": "1"})
    plan = await world.plan(0, charges=[seats, calls])
    customer = await world.customer()
    weighted = {**charge_usage(seats, "3.5", 4), "total_aggregated_units": "12"}
    weighted["billable_metric"] = {**weighted["billable_metric"], "aggregation_type": "weighted_sum_agg"}
    await world.close(world.subscription(customer, plan), T0, APR, usage=[weighted, charge_usage(calls, "7")])
    [invoice] = await invoices(api, external_customer_id=customer["external_id"])
    fees = (await api.ok("GET", f"/api/v1/invoices/{invoice['lago_id']}"))["invoice"]["fees"]
    by_code = {f["item"]["code"]: f for f in fees}
    assert (by_code["seats"]["units"], by_code["seats"]["total_aggregated_units"],
            by_code["seats"]["amount_cents"]) == ("3.5", "12", 700)
    assert (by_code["calls"]["units"], by_code["calls"]["total_aggregated_units"]) == ("7", "7")
    listed = (await api.ok("GET", "/api/v1/fees", params={"external_customer_id": customer["external_id"]}))["fees"]
    assert {f["item"]["code"]: f["total_aggregated_units"] for f in listed
            if f["item"]["type"] == "charge"} == {"seats": "12", "calls": "7"}
