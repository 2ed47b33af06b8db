"""Revenue analytics (Lago's /analytics/*) from invoicing's own invoices and fees: monthly sums of finalized
invoices only, per currency; filters; staff keys only; one organization never sees another's."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from invoicing.analytics.service import first_month, interval_months, mrr_by_month
from invoicing.invoices.consumer import on_subscription_event
from invoicing.invoices.scheduler import flag_overdue
from invora.clock import ManualClock

from .conftest import T0, World, charge, charge_usage, tax  # noqa: TID252

APR = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)


async def _bill(world: World) -> tuple[dict, dict]:
    calls = charge("calls", properties={"amount": "1"})
    plan = await world.plan(1_000, charges=[calls])
    first, second = await world.customer(net_payment_term=None), await world.customer()
    await world.close(world.subscription(first, plan), T0, APR, usage=[charge_usage(calls, "5")])  # 10 + 5 €
    await world.close(world.subscription(second, plan, subscription_at=APR.isoformat(), started_at=APR.isoformat()),
                      APR, MAY, usage=[charge_usage(calls, "2")])  # 10 + 2 €
    await world.close(world.subscription(second, await world.plan(0)), T0, APR)  # 0 €, still an invoice
    return first, second


async def test_monthly_sums_of_finalized_invoices(world, api, inv):
    first, _second = await _bill(world)
    gross = (await api.ok("GET", "/api/v1/analytics/gross_revenue"))["gross_revenues"]
    assert gross == [
        {"month": "2026-04-01T00:00:00Z", "amount_cents": 1_500, "currency": "EUR", "invoices_count": 2},
        {"month": "2026-05-01T00:00:00Z", "amount_cents": 1_200, "currency": "EUR", "invoices_count": 1},
    ]
    mine = (await api.ok("GET", "/api/v1/analytics/gross_revenue",
                         params={"external_customer_id": first["external_id"]}))["gross_revenues"]
    assert [(g["amount_cents"], g["invoices_count"]) for g in mine] == [(1_500, 1)]
    assert (await api.ok("GET", "/api/v1/analytics/gross_revenue", params={"currency": "USD"}))[
        "gross_revenues"] == []

    usage = (await api.ok("GET", "/api/v1/analytics/invoiced_usage"))["invoiced_usages"]
    assert [(u["month"][:7], u["code"], u["amount_cents"]) for u in usage] == [("2026-04", "calls", 500),
                                                                               ("2026-05", "calls", 200)]
    collections = (await api.ok("GET", "/api/v1/analytics/invoice_collection"))["invoice_collections"]
    assert [(c["month"][:7], c["payment_status"], c["invoices_count"], c["amount_cents"]) for c in collections] == [
        ("2026-04", "pending", 2, 1_500), ("2026-05", "pending", 1, 1_200)]

    assert (await api.ok("GET", "/api/v1/analytics/overdue_balance"))["overdue_balances"] == []
    await flag_overdue(inv.database.sessionmaker, datetime(2026, 4, 20, tzinfo=UTC))
    [overdue] = (await api.ok("GET", "/api/v1/analytics/overdue_balance"))["overdue_balances"]
    april = [i["lago_id"] for i in (await api.ok("GET", "/api/v1/invoices"))["invoices"]
             if i["issuing_date"].startswith("2026-04") and i["total_amount_cents"] > 0]
    assert overdue["amount_cents"] == 1_500 and overdue["lago_invoice_ids"] == april


async def test_months_keeps_the_last_months_and_bad_input_is_422(world, api, inv):
    await _bill(world)
    inv.app.state.runtime.clock = ManualClock(datetime(2026, 5, 20, tzinfo=UTC))
    try:
        [may] = (await api.ok("GET", "/api/v1/analytics/gross_revenue", params={"months": "1"}))["gross_revenues"]
        assert may["month"] == "2026-05-01T00:00:00Z" and may["amount_cents"] == 1_200
    finally:
        inv.app.state.runtime.clock = ManualClock(T0)
    assert len((await api.ok("GET", "/api/v1/analytics/gross_revenue", params={"months": "1200"}))[
        "gross_revenues"]) == 2
    assert first_month(date(2026, 5, 20), 1) == date(2026, 5, 1)
    assert first_month(date(2026, 1, 31), 2) == date(2025, 12, 1)
    assert first_month(date(2026, 5, 20), None) == date(1970, 1, 1)
    error = await api.error("GET", "/api/v1/analytics/gross_revenue", params={"currency": "XYZ"})
    assert error["error_details"] == {"currency": ["currency_code_invalid"]}
    error = await api.error("GET", "/api/v1/analytics/invoice_collection", params={"months": "0"})
    assert "months" in error["error_details"]


async def test_staff_only_and_organizations_apart(world, api, make_api, org):
    await _bill(world)
    tenant = make_api(org, roles=("tenant",), customer_id=uuid.uuid4())
    service = make_api(org, roles=("service",))
    for path in ("gross_revenue", "invoice_collection", "invoiced_usage", "mrr", "overdue_balance"):
        await tenant.error("GET", f"/api/v1/analytics/{path}", status=403)
        await service.error("GET", f"/api/v1/analytics/{path}", status=403)
    other = make_api(uuid.uuid4())
    assert (await other.ok("GET", "/api/v1/analytics/gross_revenue"))["gross_revenues"] == []
    billing_admin = make_api(org, roles=("billing_admin",))
    assert len((await billing_admin.ok("GET", "/api/v1/analytics/gross_revenue"))["gross_revenues"]) == 2



async def test_mrr_spreads_subscription_fees_by_plan_interval(world, api, inv, make_api):
    """Taxes count; yearly in arrears: 1/12 to each of the 12 months up to the issuing one; quarterly in advance:
    1/3 from the issuing month on, months after the current one dropped; weekly: mean of the month's fees × 4.33."""
    monthly = await world.plan(1_000, taxes=[tax("vat_20", "20")])
    yearly = await world.plan(12_000, interval="yearly")
    quarterly = await world.plan(3_001, interval="quarterly", pay_in_advance=True)
    weekly = await world.plan(700, interval="weekly")
    await world.close(world.subscription(await world.customer(), monthly), T0, APR)  # 10 € + 2 € VAT in April
    year_start = datetime(2025, 4, 1, tzinfo=UTC).isoformat()
    await world.close(world.subscription(await world.customer(), yearly, subscription_at=year_start,
                                         started_at=year_start), datetime(2025, 4, 1, tzinfo=UTC), APR)
    # quarterly in advance: 30.01 € issued on 1 April for April–June, then on 1 July for July–September
    jul, oct = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
    sub = world.subscription(await world.customer(), quarterly, subscription_at=APR.isoformat(),
                             started_at=APR.isoformat(), current_billing_period_started_at=APR.isoformat(),
                             current_billing_period_ending_at=jul.isoformat())
    await world.deliver(on_subscription_event, world.envelope("subscription.started", "subscription", sub["lago_id"],
                                                              {"subscription": sub}, occurred_at=APR))
    await world.close(sub, APR, jul, next_period_start=jul.isoformat(), next_period_end=oct.isoformat())
    week_start = datetime(2026, 4, 6, tzinfo=UTC).isoformat()
    week = world.subscription(await world.customer(), weekly, subscription_at=week_start, started_at=week_start)
    for day in (6, 13):
        await world.close(week, datetime(2026, 4, day, tzinfo=UTC), datetime(2026, 4, day + 7, tzinfo=UTC))

    inv.app.state.runtime.clock = ManualClock(datetime(2026, 7, 20, tzinfo=UTC))
    try:
        mrrs = (await api.ok("GET", "/api/v1/analytics/mrr"))["mrrs"]
        last = (await api.ok("GET", "/api/v1/analytics/mrr", params={"months": "2", "currency": "EUR"}))["mrrs"]
        assert (await api.ok("GET", "/api/v1/analytics/mrr", params={"currency": "USD"}))["mrrs"] == []
        billing_admin = make_api(world.org, roles=("billing_admin",))
        assert (await billing_admin.ok("GET", "/api/v1/analytics/mrr"))["mrrs"] == mrrs
        assert (await make_api(uuid.uuid4()).ok("GET", "/api/v1/analytics/mrr"))["mrrs"] == []
    finally:
        inv.app.state.runtime.clock = ManualClock(T0)
    year = {f"{2025 + (4 + k) // 12}-{(4 + k) % 12 + 1:02d}": 1_000 for k in range(11)}  # 2025-05 … 2026-03
    assert {m["month"][:7]: m["amount_cents"] for m in mrrs} == {
        **year, "2026-04": 1_200 + 1_000 + 3_031 + 1_000, "2026-05": 1_000, "2026-06": 1_000,
        "2026-07": 1_000}  # 700 × 4.33 = 3 031; 3 001 / 3 = 1 000.33 → 1 000 (August and September are ahead)
    assert {m["currency"] for m in mrrs} == {"EUR"} and mrrs[0]["month"] == "2025-05-01T00:00:00Z"
    assert last == [{"month": "2026-06-01T00:00:00Z", "amount_cents": 1_000, "currency": "EUR"},
                    {"month": "2026-07-01T00:00:00Z", "amount_cents": 1_000, "currency": "EUR"}]


def test_mrr_interval_and_rounding_rules():
    assert [interval_months(d) for d in (7, 28, 31, 90, 92, 181, 184, 365, 366, None)] == [
        0, 1, 1, 3, 3, 6, 6, 12, 12, 1]
    fee = SimpleNamespace(issuing_date=date(2026, 1, 15), currency="EUR", pay_in_advance=True, amount=Decimal(100),
                          days_in_period=365)
    spread = mrr_by_month([fee], date(2026, 12, 1))
    assert len(spread) == 12 and sum(spread.values()) == Decimal(100)  # no cent lost before the final rounding
    assert min(spread) == (date(2026, 1, 1), "EUR") and max(spread) == (date(2026, 12, 1), "EUR")
    arrears = mrr_by_month([SimpleNamespace(**{**vars(fee), "pay_in_advance": False})], date(2026, 12, 1))
    assert sorted(arrears) == [(date(2025, month, 1), "EUR") for month in range(2, 13)] + [(date(2026, 1, 1), "EUR")]
    assert mrr_by_month([fee], date(2026, 3, 1)).keys() == {(date(2026, m, 1), "EUR") for m in (1, 2, 3)}


async def test_usage_sums_invoiced_charge_fees_per_period_and_metric(world, api, make_api, org):
    calls, seats = charge("calls", properties={"amount": "1"}), charge("seats", properties={"amount": "0.5"})
    plan = await world.plan(1_000, charges=[calls, seats])
    company = await world.customer(customer_type="company", country="FR")
    person = await world.customer(customer_type="individual", country="DE")
    sub = world.subscription(company, plan)
    await world.close(sub, T0, APR, usage=[charge_usage(calls, "5"), charge_usage(seats, "3")])  # 5 € + 1.50 €
    later = world.subscription(person, plan, subscription_at=APR.isoformat(), started_at=APR.isoformat())
    await world.close(later, APR, MAY, usage=[charge_usage(calls, "2.5")])  # 2.50 €

    usages = (await api.ok("GET", "/api/v1/analytics/usage"))["usages"]
    assert [(u["start_of_period_dt"], u["end_of_period_dt"], u["billable_metric_code"], u["amount_cents"],
             u["units"], u["amount_currency"]) for u in usages] == [
        ("2026-03-01", "2026-03-31", "calls", 500, "5", "EUR"), ("2026-03-01", "2026-03-31", "seats", 150, "3", "EUR"),
        ("2026-04-01", "2026-04-30", "calls", 250, "2.5", "EUR")]
    assert {u["organization_id"] for u in usages} == {str(org)}

    async def codes(**params) -> list[tuple[str, str, int]]:
        found = (await api.ok("GET", "/api/v1/analytics/usage", params=params))["usages"]
        return [(u["start_of_period_dt"], u["billable_metric_code"], u["amount_cents"]) for u in found]

    april = [("2026-04-01", "calls", 250)]
    assert await codes(external_customer_id=person["external_id"]) == april
    assert await codes(external_subscription_id=later["external_id"]) == april
    assert await codes(customer_type="individual") == april
    assert await codes(customer_country="DE") == april
    assert await codes(from_date="2026-04-01") == april
    assert await codes(to_date="2026-03-31", billable_metric_code="seats") == [("2026-03-01", "seats", 150)]
    assert await codes(plan_code=plan["code"], currency="EUR") == [("2026-03-01", "calls", 500),
                                                                   ("2026-03-01", "seats", 150), *april]
    assert await codes(plan_code="other") == [] and await codes(currency="USD") == []
    assert await codes(time_granularity="daily") == [("2026-03-01", "calls", 500), ("2026-03-01", "seats", 150),
                                                     *april]
    weekly = (await api.ok("GET", "/api/v1/analytics/usage", params={"time_granularity": "weekly"}))["usages"]
    # 1 March 2026 is a Sunday: its week began on Monday 23 February; 1 April (a Wednesday): Monday 30 March
    assert [(u["start_of_period_dt"], u["end_of_period_dt"]) for u in weekly] == [
        ("2026-02-23", "2026-03-01"), ("2026-02-23", "2026-03-01"), ("2026-03-30", "2026-04-05")]

    for params, field in (({"time_granularity": "yearly"}, "time_granularity"), ({"from_date": "soon"}, "from_date"),
                          ({"to_date": "0"}, "to_date"), ({"to_date": "2026-02-30"}, "to_date"),
                          ({"customer_country": "XX"}, "customer_country"), ({"currency": "XYZ"}, "currency"),
                          ({"is_billable_metric_recurring": "true"}, "is_billable_metric_recurring")):
        assert field in (await api.error("GET", "/api/v1/analytics/usage", params=params))["error_details"]
    assert (await make_api(uuid.uuid4()).ok("GET", "/api/v1/analytics/usage"))["usages"] == []
    await make_api(org, roles=("tenant",), customer_id=uuid.uuid4()).error("GET", "/api/v1/analytics/usage",
                                                                          status=403)
    assert len((await make_api(org, roles=("billing_admin",)).ok("GET", "/api/v1/analytics/usage"))["usages"]) == 3
