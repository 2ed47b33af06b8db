"""The entitlement check's in-memory inputs: invalidated at commit on this replica, by NOTIFY from any
other writer, never stored when a load raced a change, and not used while LISTEN is down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from subscriptions.entitlements.cache import CustomerSnapshot, EntitlementCache

CONSUMERS = True

NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
KEY = (uuid.uuid4(), "cus")


def snapshot(customer_id: uuid.UUID, *, as_of: datetime = NOW, state: str = "active") -> CustomerSnapshot:
    return CustomerSnapshot(customer_id=customer_id, billing_state=state, subscription_entitlements=[], quotas={},
                            features={}, grace=[], as_of=as_of)


def live_cache(**kwargs) -> EntitlementCache:
    cache = EntitlementCache(**kwargs)
    cache.set_live(True)
    return cache


# -- the cache on its own ---------------------------------------------------------------------------------

def test_a_load_that_raced_a_change_of_its_customer_is_not_stored():
    cache, customer = live_cache(), uuid.uuid4()
    token = cache.token()
    cache.invalidate(customer)  # committed while the load was reading
    assert cache.store(KEY, snapshot(customer), token) is False
    assert cache.get(KEY, NOW) is None
    token = cache.token()
    cache.invalidate(uuid.uuid4())  # someone else's change does not matter
    assert cache.store(KEY, snapshot(customer), token) is True
    assert cache.get(KEY, NOW).customer_id == customer


def test_a_global_change_or_a_lost_history_refuses_the_load():
    cache, customer = live_cache(history=3), uuid.uuid4()
    token = cache.token()
    cache.invalidate(None)
    assert cache.store(KEY, snapshot(customer), token) is False
    token = cache.token()
    for _ in range(4):  # more changes than the history remembers: cannot tell, so refuse
        cache.invalidate(uuid.uuid4())
    assert cache.store(KEY, snapshot(customer), token) is False


def test_invalidation_by_customer_and_by_notify_payload():
    cache, customer = live_cache(), uuid.uuid4()
    assert cache.store(KEY, snapshot(customer), cache.token())
    cache.on_notify(str(uuid.uuid4()))
    assert cache.get(KEY, NOW) is not None
    cache.on_notify(str(customer))
    assert cache.get(KEY, NOW) is None
    assert cache.store(KEY, snapshot(customer), cache.token())
    cache.on_notify("*")
    assert len(cache) == 0
    assert cache.store(KEY, snapshot(customer), cache.token())
    cache.on_notify("not-a-uuid")  # unknown payloads forget everything rather than nothing
    assert len(cache) == 0


def test_nothing_is_served_or_stored_while_not_live():
    cache, customer = live_cache(), uuid.uuid4()
    assert cache.store(KEY, snapshot(customer), cache.token())
    token = cache.token()
    cache.set_live(False)
    assert cache.get(KEY, NOW) is None and len(cache) == 0
    assert cache.store(KEY, snapshot(customer), cache.token()) is False
    cache.set_live(True)
    assert cache.store(KEY, snapshot(customer), token) is False  # loaded before the connection came back


def test_expiry_clock_and_size_bounds(monkeypatch):
    cache, customer = live_cache(ttl_seconds=10, max_entries=2), uuid.uuid4()
    assert cache.store(KEY, snapshot(customer, as_of=NOW), cache.token())
    assert cache.get(KEY, NOW - timedelta(seconds=1)) is None  # read for an earlier time than it was loaded
    assert cache.get(KEY, NOW + timedelta(days=1)) is not None
    import subscriptions.entitlements.cache as module
    real = module.time.monotonic
    monkeypatch.setattr(module.time, "monotonic", lambda: real() + 11)
    assert cache.get(KEY, NOW) is None
    monkeypatch.undo()
    keys = [(KEY[0], f"c{i}") for i in range(3)]
    ids = [uuid.uuid4() for _ in keys]
    for key, customer_id in zip(keys, ids, strict=True):
        cache.store(key, snapshot(customer_id), cache.token())
    assert len(cache) == 2 and cache.get(keys[0], NOW) is None and cache.get(keys[2], NOW) is not None
    cache.invalidate(ids[0])  # the evicted customer's id no longer points anywhere
    assert len(cache) == 2


# -- the cache inside the service --------------------------------------------------------------------------

@pytest.fixture
async def plan_with_seats(plans, api):
    await plans.feature("seats")
    plan = await plans.plan()
    await plans.entitle(plan["code"], {"seats": {"max": 10}})
    await api.ok("POST", "/api/v1/subscriptions", {"subscription": {
        "external_customer_id": "cus", "plan_code": plan["code"], "external_id": "sub"}})
    return plan


async def check(api, customer: str = "cus") -> dict:
    return (await api.ok("GET", f"/api/v1/customers/{customer}/entitlements/seats"))["entitlement"]


async def sql(subs, statement: str, *args) -> None:
    """A write by someone else (another replica, a migration, a DBA): only NOTIFY tells this replica."""
    connection = await asyncpg.connect(subs.app.state.database.asyncpg_dsn)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def eventually(api, predicate, seconds: float = 3.0) -> dict:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check(api)
        if predicate(result) or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.02)


@pytest.fixture
def cache(subs) -> EntitlementCache:
    cache = subs.app.state.runtime.entitlement_cache
    assert cache is not None
    return cache


async def wait_live(subs) -> None:
    assert await subs.app.state.runtime.entitlement_listener.wait_connected(10)


async def cached(api, cache: EntitlementCache, org: uuid.UUID) -> None:
    """Check until the answer stays in memory (the catalog's plan events may still be landing)."""
    for _ in range(300):
        hits = cache.hits
        for _ in range(3):
            await check(api)
        if cache.hits == hits + 3 and cache.get((org, "cus"), NOW + timedelta(days=1)) is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the check never answered from memory")


async def test_checks_are_answered_from_memory(subs, api, org, cache, plan_with_seats):
    await wait_live(subs)
    await cached(api, cache, org)
    assert (await check(api))["limit"] == 10


async def test_this_replicas_writes_are_read_back_at_once_without_notify(subs, api, make_api, org, cache,
                                                                        plan_with_seats, monkeypatch):
    await wait_live(subs)
    await cached(api, cache, org)
    monkeypatch.setattr(subs.app.state.runtime.entitlement_listener, "on_notify", lambda payload: None)
    assert (await check(api))["limit"] == 10
    await api.ok("PUT", "/api/v1/customers/cus/entitlement_overrides", {"entitlement_overrides": {
        "quotas": {"seats": 25}}})
    assert (await check(api))["limit"] == 25
    await api.ok("POST", "/api/v1/customers/cus/grace_periods", {"grace_period": {
        "metric": "seats", "extra_allowance": 5, "duration_hours": 2}})
    assert (await check(api))["limit"] == 30
    await make_api(org, roles=["billing_admin"]).ok("POST", "/api/v1/customers/cus/billing_state/overrides", {
        "billing_state_override": {"force_state": "suspended", "reason": "card declined"}})
    assert (await check(api))["reason"] == "customer_suspended"
    # proof that memory is what answered: a write this replica did not make is not seen without NOTIFY
    await sql(subs, "UPDATE customer_entitlement_overrides SET quotas = '{\"seats\": 99}' "
                    "WHERE organization_id = $1", org)
    await make_api(org, roles=["billing_admin"]).ok("POST", "/api/v1/customers/cus/billing_state/overrides", {
        "billing_state_override": {"force_state": "active", "reason": "paid"}})
    assert (await check(api))["limit"] == 104  # reloaded by the override's commit: 99 + 5 grace


async def test_other_writers_are_seen_through_notify(subs, api, org, cache, plan_with_seats):
    await wait_live(subs)
    await cached(api, cache, org)
    assert (await check(api))["allowed"] is True
    await sql(subs, "UPDATE customers SET billing_state = 'suspended' WHERE organization_id = $1", org)
    assert (await eventually(api, lambda r: not r["allowed"]))["reason"] == "customer_suspended"
    await sql(subs, "UPDATE customers SET billing_state = 'active' WHERE organization_id = $1", org)
    assert (await eventually(api, lambda r: r["allowed"]))["allowed"] is True
    await sql(subs, "UPDATE subscriptions SET status = 'terminated' WHERE organization_id = $1", org)
    assert (await eventually(api, lambda r: r["reason"] == "not_entitled"))["reason"] == "not_entitled"
    await sql(subs, "UPDATE subscriptions SET status = 'active' WHERE organization_id = $1", org)
    await eventually(api, lambda r: r["allowed"])
    await sql(subs, "UPDATE plan_entitlements SET entitlements = jsonb_set(entitlements, '{0,privileges,0,value}', "
                    "'7') WHERE organization_id = $1", org)
    assert (await eventually(api, lambda r: r["limit"] == 7))["limit"] == 7


async def test_losing_the_listen_connection_falls_back_to_the_database(subs, api, org, cache, plan_with_seats):
    await wait_live(subs)
    await cached(api, cache, org)
    listener = subs.app.state.runtime.entitlement_listener
    connection = await asyncpg.connect(subs.app.state.database.asyncpg_dsn)
    try:
        # notifications may be missed from here: the cache must empty and stop answering
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", listener.backend_pid)
        for _ in range(100):
            if not cache.live:
                break
            await asyncio.sleep(0.01)
        assert not cache.live and len(cache) == 0
        await connection.execute("UPDATE customers SET billing_state = 'suspended' WHERE organization_id = $1", org)
        if not cache.live:  # it may already be back, in which case it started empty
            assert (await check(api))["reason"] == "customer_suspended"
        assert await listener.wait_connected(10)
        assert (await check(api))["reason"] == "customer_suspended"
        await connection.execute("UPDATE customers SET billing_state = 'active' WHERE organization_id = $1", org)
        assert (await eventually(api, lambda r: r["allowed"]))["allowed"] is True
    finally:
        await connection.close()
