"""Revenue analytics (Lago's /analytics/*) from invoicing's own invoices and fees: monthly sums of finalized
invoices only, per currency; filters; staff keys only; one organization never sees another's."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from invoicing.analytics.service import first_month
from invoicing.invoices.scheduler import flag_overdue
from invora.clock import ManualClock

from .conftest import T0, World, charge, charge_usage  # noqa: TID252

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
    for path in ("gross_revenue", "invoice_collection", "invoiced_usage", "overdue_balance"):
        await tenant.error("GET", f"/api/v1/analytics/{path}", status=403)
        await service.error("GET", f"/api/v1/analytics/{path}", status=403)
    other = make_api(uuid.uuid4())
    assert (await other.ok("GET", "/api/v1/analytics/gross_revenue"))["gross_revenues"] == []
    billing_admin = make_api(org, roles=("billing_admin",))
    assert len((await billing_admin.ok("GET", "/api/v1/analytics/gross_revenue"))["gross_revenues"]) == 2
