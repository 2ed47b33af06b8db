"""Provider calls in flight are bounded per provider connection, across processes (`PROVIDER_CONCURRENCY`): the
charger's claim takes a connection's attempts only while fewer than its limit are leased. A fake provider counts
the calls in flight at each connection; the charger, the claim and the database are the real ones."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from invora.events.envelope import EventEnvelope
from payments.app import create_app
from payments.customers import service as customers
from payments.payments import charger
from payments.providers.base import ChargeResult
from payments.settings import PaymentsSettings
from services.payments.tests.conftest import customer_object


class FakeProvider:
    """Answers every charge after `delay` seconds; counts calls in flight per connection (and in all), their
    peaks, and the charges per reference (a second call for an attempt would show)."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.in_flight: Counter = Counter()
        self.most: Counter = Counter()
        self.total, self.most_total = 0, 0
        self.charges: Counter = Counter()

    def for_connection(self, connection):
        return _FakeAdapter(self, connection["id"])


class _FakeAdapter:
    def __init__(self, provider: FakeProvider, connection_id) -> None:
        self._provider, self._connection = provider, connection_id

    async def charge(self, request):
        provider = self._provider
        provider.in_flight[self._connection] += 1
        provider.total += 1
        provider.most[self._connection] = max(provider.most[self._connection], provider.in_flight[self._connection])
        provider.most_total = max(provider.most_total, provider.total)
        try:
            await asyncio.sleep(provider.delay)
            provider.charges[request.reference] += 1
            return ChargeResult(status="succeeded", provider_payment_id=f"fake_{request.reference}",
                                provider_status="succeeded", amount_cents=request.amount_cents)
        finally:
            provider.in_flight[self._connection] -= 1
            provider.total -= 1


async def _connect(stage, provider_type: str) -> tuple[uuid.UUID, str]:
    code = f"{provider_type}_{uuid.uuid4().hex[:6]}"
    fields = {"provider_type": provider_type, "code": code, "name": provider_type,
              "secret_key": "sk_" + uuid.uuid4().hex}
    if provider_type == "stripe":
        fields["webhook_secret"] = "whsec_" + uuid.uuid4().hex
    created = await stage.ok("POST", "/api/v1/payment_providers", {"payment_provider": fields})
    return uuid.UUID(created["payment_provider"]["lago_id"]), code


async def _customer(stage, provider_type: str, code: str) -> dict:
    """A customer linked to the connection `code` (its provider customer id known, so no provider call but the
    charge)."""
    provider_customer_id = f"{provider_type}_cus_{uuid.uuid4().hex[:8]}"
    obj = customer_object(f"cus_{uuid.uuid4().hex[:8]}", lago_id=uuid.uuid4(), provider_code=code,
                          provider_customer_id=provider_customer_id)
    obj["billing_configuration"]["payment_provider"] = provider_type
    envelope = EventEnvelope(type="customer.created", source="subscriptions", organization_id=stage.org,
                             aggregate_type="customer", aggregate_id=obj["lago_id"], sequence=1,
                             data={"customer": obj})
    async with stage.service.database.sessionmaker() as session:
        await customers.apply_event(session, envelope)
        await session.commit()
    return {**obj, "provider_customer_id": provider_customer_id}


async def _attempts(stage, customer: dict, count: int, base: int) -> list[uuid.UUID]:
    ids = []
    for i in range(count):
        _, payment_id = await stage.finalize(customer, base + i)
        assert payment_id is not None
        ids.append(payment_id)
    return ids


def _runtime_with(payments, provider: FakeProvider, **settings):
    """A runtime of its own (a process's): the service's settings with `settings`, the fake provider."""
    runtime = copy.copy(payments.app.state.runtime)
    runtime.settings = runtime.settings.model_copy(update=settings)
    runtime.adapters = provider
    return runtime


async def _charge_until_done(payments, runtime) -> None:
    while await charger.run_once(runtime, payments.database.sessionmaker):
        pass


async def _statuses(payments, ids: list[uuid.UUID]) -> Counter:
    async with payments.database.sessionmaker() as session:
        rows = (await session.execute(text("SELECT payment_status FROM payments WHERE id = ANY(:ids)"),
                                      {"ids": ids})).scalars().all()
    return Counter(rows)


async def test_each_connection_is_bounded_by_its_type_while_another_proceeds_at_its_own(payments, stage):
    """Paystack at 2 and Stripe at 3: neither connection ever has more in flight, both are charged at once (5
    together, while the process has 16 call slots), and every attempt is charged once."""
    paystack_id, paystack_code = await _connect(stage, "paystack")
    stripe_id, stripe_code = await _connect(stage, "stripe")
    slow = await _attempts(stage, await _customer(stage, "paystack", paystack_code), 8, 1_000)
    fast = await _attempts(stage, await _customer(stage, "stripe", stripe_code), 12, 2_000)
    provider = FakeProvider()
    runtime = _runtime_with(payments, provider, charger_concurrency=16,
                            provider_concurrency={"paystack": 2, "stripe": 3})

    await _charge_until_done(payments, runtime)

    assert provider.most[paystack_id] == 2  # bounded, and the bound used
    assert provider.most[stripe_id] == 3  # its own limit, not the other's
    assert provider.most_total == 5  # both at their limits at the same time: one does not wait for the other
    assert await _statuses(payments, slow + fast) == Counter({"succeeded": 20})
    references = [str(payment_id) for payment_id in slow + fast]
    assert all(provider.charges[reference] == 1 for reference in references)
    assert sum(provider.charges[reference] for reference in references) == 20


async def test_a_connection_at_its_limit_is_not_claimed_while_another_one_is(payments, stage):
    """The claim itself: a connection with its limit leased gets nothing; the other still gets its free slots."""
    from datetime import timedelta

    from payments.payments import repository

    full_id, full_code = await _connect(stage, "paystack")
    open_id, open_code = await _connect(stage, "stripe")
    full = await _attempts(stage, await _customer(stage, "paystack", full_code), 3, 100)
    other = await _attempts(stage, await _customer(stage, "stripe", open_code), 3, 200)
    limits = {"paystack": 2, "stripe": 2}
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=30)
    async with payments.database.sessionmaker() as session:
        first = await repository.claim_due(session, now, lease, 100, limits)
        await session.commit()
    mine = [row for row in first if row["id"] in set(full + other)]
    assert Counter(row["payment_provider_id"] for row in mine) == Counter({full_id: 2, open_id: 2})
    assert {row["id"] for row in mine} == {*full[:2], *other[:2]}  # oldest first
    # one answer recorded at the Stripe connection frees one of its slots; Paystack's stay leased
    async with payments.database.sessionmaker() as session:
        await session.execute(text("UPDATE payments SET lease_until = NULL, payment_status = 'succeeded', "
                                   "paid_at = now() WHERE id = :id"), {"id": other[0]})
        await session.commit()
        second = await repository.claim_due(session, now, lease, 100, limits)
        await session.rollback()
    assert [row["id"] for row in second if row["id"] in set(full + other)] == [other[2]]
    # a lease that ran out is no longer in flight: its attempt is due again and counts as free
    later = lease + timedelta(seconds=1)
    async with payments.database.sessionmaker() as session:
        third = await repository.claim_due(session, later, later + timedelta(seconds=30), 100, limits)
        await session.rollback()
    assert Counter(row["payment_provider_id"] for row in third if row["id"] in set(full + other)) == Counter(
        {full_id: 2, open_id: 2})


async def test_two_processes_at_once_keep_a_connection_within_its_limit(payments, stage):
    """Two chargers (each its own runtime and sessions, 8 call slots each) on one connection limited to 3: the
    bound holds across them (within the documented overshoot of one claim's worth), and each attempt is
    charged once."""
    connection_id, code = await _connect(stage, "stripe")
    ids = await _attempts(stage, await _customer(stage, "stripe", code), 24, 3_000)
    provider = FakeProvider(delay=0.03)
    one = _runtime_with(payments, provider, charger_concurrency=8, provider_concurrency={"stripe": 3})
    two = _runtime_with(payments, provider, charger_concurrency=8, provider_concurrency={"stripe": 3})

    await asyncio.gather(_charge_until_done(payments, one), _charge_until_done(payments, two))

    assert 3 <= provider.most[connection_id] <= 2 * 3  # unbounded per connection, two processes would reach 16
    assert await _statuses(payments, ids) == Counter({"succeeded": 24})
    assert all(provider.charges[str(payment_id)] == 1 for payment_id in ids)


def test_the_limits_are_read_from_the_environment_by_provider_type(monkeypatch):
    monkeypatch.setenv("INVORA_PAYMENTS_PROVIDER_CONCURRENCY", '{"stripe": 32, "adyen": 5}')
    monkeypatch.setenv("INVORA_PAYMENTS_PROVIDER_CONCURRENCY_DEFAULT", "20")
    limits = PaymentsSettings(database_url="postgresql+asyncpg://u@localhost/payments").provider_limits()
    assert limits["stripe"] == 32 and limits["adyen"] == 5
    assert limits["paystack"] == 20 and limits["moneyhash"] == 20  # the types not named
    monkeypatch.delenv("INVORA_PAYMENTS_PROVIDER_CONCURRENCY")
    monkeypatch.delenv("INVORA_PAYMENTS_PROVIDER_CONCURRENCY_DEFAULT")
    defaults = PaymentsSettings(database_url="postgresql+asyncpg://u@localhost/payments").provider_limits()
    assert defaults["stripe"] == 10  # Stripe's built-in figure (its documented rate limits), unless named
    assert defaults["gocardless"] == 64


@pytest.mark.parametrize("value", ['{"strype": 3}', '{"stripe": 0}', '{"stripe": "many"}', '[3]', 'not json'])
def test_a_bad_limit_is_refused_when_the_service_starts(monkeypatch, value):
    monkeypatch.setenv("INVORA_PAYMENTS_DATABASE_URL", "postgresql+asyncpg://u@localhost/payments")
    monkeypatch.setenv("INVORA_PAYMENTS_PROVIDER_CONCURRENCY", value)
    with pytest.raises((ValidationError, ValueError)) as refused:
        create_app()
    assert "provider_concurrency" in str(refused.value).lower()
