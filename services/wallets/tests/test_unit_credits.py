"""Unit credits (seed 002: "10,000 API calls of a metric"): grants, their own ledger, consumption for an
invoice once, release on void, void and expiry, the database's refusals, concurrency, and a random replay
against a brute-force model of the documented order."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from invora.errors import MethodNotAllowed
from wallets.customers import service as customers
from wallets.unit_credits import service

D = Decimal


async def _grant(api, customer: str, units: str, **fields) -> dict:
    return (await api.ok("POST", f"/api/v1/customers/{customer}/unit_credits", {"unit_credit": {
        "billable_metric_code": "api_calls", "units": units, "reason": "Welcome units", **fields}}))["unit_credit"]


async def _customer_id(wallets, org, external_id) -> uuid.UUID:
    async with wallets.database.sessionmaker() as session:
        return (await customers.get(session, org, external_id))["id"]


async def _consume(wallets, org, customer_id, invoice_id, units, now, metric="api_calls") -> Decimal:
    async with wallets.database.sessionmaker() as session:
        applied = await service.consume(session, org, customer_id, invoice_id, metric, D(units), now)
        await session.commit()
    return applied


async def _release(wallets, org, invoice_id, now):
    async with wallets.database.sessionmaker() as session:
        released = await service.release(session, org, invoice_id, now)
        await session.commit()
    return released


async def _remaining(api, customer) -> dict[str, str]:
    page = await api.ok("GET", f"/api/v1/customers/{customer}/unit_credits", params={"per_page": 100})
    return {g["reason"]: g["remaining_units"] for g in page["unit_credits"]}


async def test_grant_list_void_in_the_api(api, make_api, wallets, org):
    customer = await api.customer()
    grant = await _grant(api, customer, "10000", priority=5)
    assert grant["units"] == "10000.0" and grant["remaining_units"] == "10000.0" and grant["status"] == "active"
    assert grant["billable_metric_code"] == "api_calls" and grant["priority"] == 5
    listed = await api.ok("GET", f"/api/v1/customers/{customer}/unit_credits",
                          params={"billable_metric_code": "api_calls"})
    assert [g["lago_id"] for g in listed["unit_credits"]] == [grant["lago_id"]]
    assert listed["meta"]["total_count"] == 1
    voided = (await api.ok("POST", f"/api/v1/unit_credits/{grant['lago_id']}/void",
                           {"unit_credit": {"reason": "Sold by mistake"}}))["unit_credit"]
    assert voided["status"] == "voided" and voided["remaining_units"] == "0.0" and voided["end_reason"] == \
        "Sold by mistake"
    body = await api.error("POST", f"/api/v1/unit_credits/{grant['lago_id']}/void",
                           {"unit_credit": {"reason": "again"}}, status=405)
    assert body["code"] == "unit_credit_not_voidable"

    for bad in ({"units": "0"}, {"units": "-5"}, {"units": "1.123456"}, {"reason": "  "}, {"priority": 0}):
        await api.error("POST", f"/api/v1/customers/{customer}/unit_credits", {"unit_credit": {
            "billable_metric_code": "api_calls", "units": "10", "reason": "r", **bad}}, status=422)
    assert (await api.error("POST", "/api/v1/customers/nobody/unit_credits", {"unit_credit": {
        "billable_metric_code": "api_calls", "units": "1", "reason": "r"}}, status=404))["code"] == \
        "customer_not_found"
    other = make_api(uuid.uuid4())
    await other.error("POST", f"/api/v1/unit_credits/{grant['lago_id']}/void",
                      {"unit_credit": {"reason": "x"}}, status=404)
    await other.error("GET", f"/api/v1/customers/{customer}/unit_credits", status=404)


async def test_consumption_follows_the_order_once_and_a_release_gives_back(api, wallets, org, clock):
    customer = await api.customer()
    now = clock.now()
    await _grant(api, customer, "300", reason="plain")
    await _grant(api, customer, "200", reason="soon", expiration_at=(now + timedelta(days=2)).isoformat())
    await _grant(api, customer, "100", reason="first", priority=1)
    await _grant(api, customer, "999", reason="other metric", billable_metric_code="storage")
    customer_id = await _customer_id(wallets, org, customer)
    invoice = uuid.uuid4()
    assert await _consume(wallets, org, customer_id, invoice, "250", now) == D("250")
    assert await _remaining(api, customer) == {"plain": "300.0", "soon": "50.0", "first": "0.0",
                                               "other metric": "999.0"}
    assert await _consume(wallets, org, customer_id, invoice, "250", now) == D("250")  # the same answer
    assert (await _remaining(api, customer))["soon"] == "50.0"  # nothing moved again

    big = uuid.uuid4()
    assert await _consume(wallets, org, customer_id, big, "5000", now) == D("350")  # never more than held
    assert set((await _remaining(api, customer)).values()) == {"0.0", "999.0"}

    released = await _release(wallets, org, invoice, now)
    assert released["api_calls"].released_units == D("250") and released["api_calls"].lost_units == 0
    assert await _remaining(api, customer) == {"plain": "0.0", "soon": "150.0", "first": "100.0",
                                               "other metric": "999.0"}
    again = await _release(wallets, org, invoice, now)
    assert again["api_calls"].released_units == 0  # once
    assert await _consume(wallets, org, customer_id, invoice, "250", now) == 0  # released: applies nothing


async def test_expired_units_are_removed_and_never_come_back(api, wallets, org, clock):
    customer = await api.customer()
    now = clock.now()
    await _grant(api, customer, "100", reason="short", expiration_at=(now + timedelta(days=1)).isoformat())
    customer_id = await _customer_id(wallets, org, customer)
    invoice = uuid.uuid4()
    assert await _consume(wallets, org, customer_id, invoice, "40", now) == D("40")
    later = now + timedelta(days=2)
    assert await _consume(wallets, org, customer_id, uuid.uuid4(), "10", later) == 0  # expired: not usable
    async with wallets.database.sessionmaker() as session:
        assert await service.expire_due(session, later) >= 1
        await session.commit()
    page = await api.ok("GET", f"/api/v1/customers/{customer}/unit_credits", params={"status": "expired"})
    [expired] = page["unit_credits"]
    assert expired["remaining_units"] == "0.0" and expired["end_reason"] == "expired"
    released = await _release(wallets, org, invoice, later)
    assert released["api_calls"].released_units == 0 and released["api_calls"].lost_units == D("40")
    assert (await _remaining(api, customer))["short"] == "0.0"


async def test_sixteen_concurrent_invoices_consume_exactly_the_units(api, wallets, org, clock):
    customer = await api.customer()
    await _grant(api, customer, "100", reason="pool")
    customer_id = await _customer_id(wallets, org, customer)
    applied = await asyncio.gather(*(_consume(wallets, org, customer_id, uuid.uuid4(), "10", clock.now())
                                     for _ in range(16)))
    assert sum(applied) == D("100") and sorted(set(applied)) == [D(0), D(10)]
    assert (await _remaining(api, customer))["pool"] == "0.0"


async def test_the_database_refuses_what_the_unit_ledger_forbids(api, wallets, org, clock):
    customer = await api.customer()
    grant = await _grant(api, customer, "10", reason="guarded")
    grant_id = uuid.UUID(grant["lago_id"])
    sessionmaker = wallets.database.sessionmaker
    now = clock.now()
    row = {"organization_id": org, "kind": "consumption", "invoice_id": None, "created_at": now}

    async def refused(statement: str, params: dict, error=DBAPIError) -> None:
        async with sessionmaker() as session:
            with pytest.raises(error):
                await session.execute(text(statement), params)
                await session.commit()

    await refused("UPDATE unit_credit_grants SET remaining_units = 5 WHERE id = :id", {"id": grant_id})
    await refused("UPDATE unit_credit_entries SET units = 0 WHERE grant_id = :id", {"id": grant_id})
    await refused("DELETE FROM unit_credit_entries WHERE grant_id = :id", {"id": grant_id})
    movement = uuid.uuid4()
    insert = ("INSERT INTO unit_credit_entries (organization_id, movement_id, kind, account, grant_id, invoice_id, "
              "units, created_at) VALUES (:organization_id, :m, :kind, :account, :grant_id, :invoice_id, :units, "
              ":created_at)")
    # taking more than is left: the CHECK refuses at once
    await refused(insert, {**row, "m": movement, "account": "grant", "grant_id": grant_id, "units": D(-11)},
                  IntegrityError)
    # a movement that does not balance: refused at commit
    await refused(insert, {**row, "m": movement, "account": "grant", "grant_id": grant_id, "units": D(-3)})
    assert (await _remaining(api, customer))["guarded"] == "10.0"


@dataclass
class ModelGrant:
    id: uuid.UUID
    priority: int
    expires_day: int | None
    order: int
    left: Decimal
    ended: bool = False


grant_op = st.tuples(st.just("grant"), st.integers(1, 500), st.integers(1, 3), st.one_of(st.none(), st.integers(1, 5)))
consume_op = st.tuples(st.just("consume"), st.integers(1, 800))
release_op = st.tuples(st.just("release"), st.integers(0, 20))
void_op = st.tuples(st.just("void"), st.integers(0, 20))
advance_op = st.tuples(st.just("advance"), st.integers(1, 3))
histories = st.lists(st.one_of(grant_op, grant_op, consume_op, consume_op, release_op, void_op, advance_op),
                     min_size=1, max_size=12)


@given(ops=histories)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_random_histories_match_a_brute_force_model(api, wallets, org, clock, ops):
    clock.set(clock.now().replace(year=2026, month=3, day=15, hour=10))
    start = clock.now()
    customer = await api.customer()
    customer_id = await _customer_id(wallets, org, customer)
    sessionmaker = wallets.database.sessionmaker
    model: list[ModelGrant] = []
    invoices: list[tuple[uuid.UUID, dict[uuid.UUID, Decimal]]] = []
    day = 0

    def alive(g: ModelGrant) -> bool:
        return not g.ended and (g.expires_day is None or g.expires_day > day)

    for op in ops:
        now = start + timedelta(days=day)
        if op[0] == "grant":
            _, units, priority, expires = op
            expires_day = day + expires if expires is not None else None
            async with sessionmaker() as session:
                row = await service.grant(session, await customers.get(session, org, customer),
                                          metric_code="api_calls", units=D(units), reason="r", now=now,
                                          priority=priority,
                                          expiration_at=start + timedelta(days=expires_day) if expires_day else None)
                await session.commit()
            model.append(ModelGrant(row["id"], priority, expires_day, len(model), D(units)))
        elif op[0] == "consume":
            invoice = uuid.uuid4()
            applied = await _consume(wallets, org, customer_id, invoice, op[1], now)
            want, taken = D(op[1]), {}
            for g in sorted((g for g in model if alive(g) and g.left > 0),
                            key=lambda g: (g.priority, g.expires_day if g.expires_day is not None else 10**9,
                                           g.order)):
                take = min(g.left, want)
                if take > 0:
                    g.left -= take
                    want -= take
                    taken[g.id] = take
            assert applied == sum(taken.values(), D(0))
            invoices.append((invoice, taken))
        elif op[0] == "release" and invoices:
            invoice, taken = invoices[op[1] % len(invoices)]
            released = await _release(wallets, org, invoice, now)
            expected = D(0)
            for g in model:
                if g.id in taken and alive(g):
                    g.left += taken[g.id]
                    expected += taken[g.id]
            taken.clear()
            assert (released["api_calls"].released_units if "api_calls" in released else D(0)) == expected
        elif op[0] == "void" and model:
            g = model[op[1] % len(model)]
            if g.ended:
                with pytest.raises(MethodNotAllowed):
                    async with sessionmaker() as session:
                        await service.void(session, org, g.id, "r", now)
            else:
                async with sessionmaker() as session:
                    await service.void(session, org, g.id, "r", now)
                    await session.commit()
                g.ended, g.left = True, D(0)
        elif op[0] == "advance":
            day += op[1]
            async with sessionmaker() as session:
                while await service.expire_due(session, start + timedelta(days=day)):
                    pass
                await session.commit()
            for g in model:
                if not g.ended and g.expires_day is not None and g.expires_day <= day:
                    g.ended, g.left = True, D(0)
        remaining = {uuid.UUID(g["lago_id"]): D(g["remaining_units"]) for g in (await api.ok(
            "GET", f"/api/v1/customers/{customer}/unit_credits", params={"per_page": 100}))["unit_credits"]}
        assert remaining == {g.id: g.left for g in model}
        assert all(v >= 0 for v in remaining.values())


async def test_invoicing_offsets_units_once_and_a_void_gives_them_back(api, make_api, wallets, org, clock):
    """The call invoicing makes before pricing a charge (a `service` key), and the release its void sends."""
    from invora.events.contracts.invoicing import PrepaidCreditsReleaseRequested
    from wallets.applications import service as applications

    customer = await api.customer()
    await _grant(api, customer, "10000", reason="calls")
    invoicing = make_api(org, roles=("service",))
    invoice = str(uuid.uuid4())
    body = {"unit_credit_application": {"lago_invoice_id": invoice, "external_customer_id": customer,
                                        "billable_metric_code": "api_calls", "units": "12500"}}
    answer = (await invoicing.ok("POST", "/api/v1/unit_credits/applications", body))["unit_credit_application"]
    assert answer["applied_units"] == "10000.0" and answer["requested_units"] == "12500.0"
    again = (await invoicing.ok("POST", "/api/v1/unit_credits/applications", body))["unit_credit_application"]
    assert again["applied_units"] == "10000.0"  # a retry: the same answer
    assert (await _remaining(api, customer))["calls"] == "0.0"  # taken once

    tenant = make_api(org, roles=("tenant",), customer_id=str(uuid.uuid4()))
    await tenant.error("POST", "/api/v1/unit_credits/applications", body, status=403)
    bad = {"unit_credit_application": {**body["unit_credit_application"], "lago_invoice_id": "nope"}}
    await invoicing.error("POST", "/api/v1/unit_credits/applications", bad, status=422)

    async with wallets.database.sessionmaker() as session:  # only its prepaid credits abandoned: units kept
        await applications.release(session, org, PrepaidCreditsReleaseRequested(
            lago_invoice_id=uuid.UUID(invoice), external_customer_id=customer, reason="invoice_abandoned"),
            clock.now())
        await session.commit()
    assert (await _remaining(api, customer))["calls"] == "0.0"  # the finalized invoice priced what is left

    async with wallets.database.sessionmaker() as session:  # the invoice is voided
        await applications.release(session, org, PrepaidCreditsReleaseRequested(
            lago_invoice_id=uuid.UUID(invoice), external_customer_id=customer), clock.now())
        await session.commit()
    assert (await _remaining(api, customer))["calls"] == "10000.0"
