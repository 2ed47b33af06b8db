"""The claim search against PostgreSQL: a blocked endpoint's backlog is left unread, and caught up when it has slots.

Each test has a fresh database and no running worker, so the claims made here are the only ones.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from invora import secrets
from invora.db.engine import Database
from invora.secrets.column import context_of
from notifications.delivery_worker import repository
from notifications.delivery_worker.repository import _CANDIDATES, _CATCH_UP, BEGINNING

T0 = datetime.now(UTC).replace(microsecond=0)
ORG = uuid.uuid4()


@pytest.fixture
async def queue(migrated_database):
    database = Database(migrated_database("notifications"))
    try:
        yield database
    finally:
        await database.dispose()


async def add_endpoint(database: Database) -> uuid.UUID:
    endpoint_id = uuid.uuid4()
    async with database.sessionmaker() as session:
        await session.execute(text(
            "INSERT INTO webhook_endpoints (id, organization_id, webhook_url, signature_algo, enabled, secret) "
            "VALUES (:id, :org, :url, 'hmac', true, :secret)"), {
                "id": endpoint_id, "org": ORG, "url": f"https://example.com/{endpoint_id}",
                "secret": secrets.encrypt("whsec_x", context_of("webhook_endpoints", "secret"))})
        await session.commit()
    return endpoint_id


async def add_due(database: Database, endpoint_id: uuid.UUID, times: list[datetime]) -> list[uuid.UUID]:
    """Pending deliveries due at `times` (one message for all of them)."""
    message_id = uuid.uuid4()
    ids = [uuid.uuid4() for _ in times]
    async with database.sessionmaker() as session:
        await session.execute(text(
            "INSERT INTO webhook_messages (id, organization_id, event_id, event_type, object_type, aggregate_id, "
            "sequence, payload, occurred_at, created_at) VALUES (:id, :org, :event, 'invoice.created', 'invoice', "
            "'i', 1, '{}', :t, :t)"), {"id": message_id, "org": ORG, "event": uuid.uuid4(), "t": T0})
        await session.execute(text(
            "INSERT INTO webhook_deliveries (id, organization_id, message_id, endpoint_id, event_type, status, "
            "attempt_count, next_attempt_at, created_at, updated_at) VALUES (:id, :org, :m, :e, 'invoice.created', "
            "'pending', 0, :at, :at, :at)"),
            [{"id": i, "org": ORG, "m": message_id, "e": endpoint_id, "at": at}
             for i, at in zip(ids, times, strict=True)])
        await session.commit()
    return ids


async def claim(database: Database, *, now: datetime, blocked=(), since=BEGINNING, catch_up=(), allowances=None,
                limit: int = 100) -> repository.ClaimRound:
    async with database.sessionmaker() as session:
        return await repository.claim_due(
            session, now=now, lease_seconds=60, limit=limit, blocked=list(blocked), in_flight=[],
            allowance=lambda endpoint_id, _rate: (allowances or {}).get(endpoint_id, 32), since=since,
            catch_up=list(catch_up), per_endpoint=32,
        )


async def test_a_search_from_the_floor_does_not_read_a_blocked_endpoints_backlog(queue):
    hanging, healthy = await add_endpoint(queue), await add_endpoint(queue)
    await add_due(queue, hanging, [T0 - timedelta(seconds=600) + timedelta(milliseconds=100 * i) for i in range(3000)])
    await add_due(queue, healthy, [T0] * 3)

    fetched = text("SELECT idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'webhook_deliveries'")

    async def rows_read(since: datetime) -> int:
        """Rows the search fetched through the due index (this backend's not yet flushed statistics)."""
        async with queue.sessionmaker() as session:
            await session.execute(text("SET LOCAL enable_seqscan = off"))  # a large table's plan, whatever the stats
            before = (await session.execute(fetched)).scalar_one()
            found = (await session.execute(_CANDIDATES, {
                "now": T0 + timedelta(seconds=1), "since": since, "blocked": [hanging], "in_flight": [],
                "limit": 100})).all()
            assert {row.endpoint_id for row in found} == {healthy} and len(found) == 3
            read = (await session.execute(fetched)).scalar_one() - before
            await session.rollback()
            return read

    assert await rows_read(BEGINNING) >= 3000  # from the oldest row: the whole backlog, on every claim
    assert await rows_read(T0 - timedelta(seconds=2)) <= 10


async def test_catching_up_one_endpoint_does_not_read_anothers_older_backlog(queue):
    """With real statistics the planner may prefer the time-ordered due index for "oldest 32 rows of endpoint X"
    (the LIMIT looks cheap), and walk past every older row of a hanging endpoint to find X's few."""
    hanging, healthy = await add_endpoint(queue), await add_endpoint(queue)
    await add_due(queue, hanging, [T0 - timedelta(seconds=600) + timedelta(milliseconds=20 * i) for i in range(30000)])
    mine = await add_due(queue, healthy, [T0 - timedelta(milliseconds=3000 - 100 * i) for i in range(5)])
    async with queue.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text("VACUUM ANALYZE webhook_deliveries"))
    fetched = text("SELECT idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'webhook_deliveries'")
    async with queue.sessionmaker() as session:
        before = (await session.execute(fetched)).scalar_one()
        rows = (await session.execute(_CATCH_UP, {"endpoints": [healthy], "beginning": BEGINNING, "since": T0,
                                                  "in_flight": [], "per_endpoint": 32})).all()
        read = (await session.execute(fetched)).scalar_one() - before
        await session.rollback()
    assert [row.id for row in rows] == mine
    assert read <= 10, read


async def test_an_endpoint_with_slots_again_is_caught_up_oldest_first(queue):
    slow, healthy = await add_endpoint(queue), await add_endpoint(queue)
    backlog = await add_due(queue, slow, [T0 - timedelta(seconds=60) + timedelta(seconds=i) for i in range(50)])
    first = await add_due(queue, healthy, [T0] * 3)

    full = await claim(queue, now=T0, blocked=[slow])  # the slow endpoint is at its cap
    assert sorted(j.delivery_id for j in full.jobs) == sorted(first) and full.complete

    floor = T0 - timedelta(seconds=2)
    later = await add_due(queue, healthy, [T0 + timedelta(seconds=1)] * 2)
    round_two = await claim(queue, now=T0 + timedelta(seconds=1), blocked=[slow], since=floor)
    assert sorted(j.delivery_id for j in round_two.jobs) == sorted(later) and round_two.complete

    # it has five slots again: its five oldest rows, though all of them lie below the floor
    caught = await claim(queue, now=T0 + timedelta(seconds=2), since=floor, catch_up=[slow], allowances={slow: 5})
    assert [j.delivery_id for j in caught.jobs] == backlog[:5]
    assert slow in caught.capped and slow not in caught.caught_up

    more = await claim(queue, now=T0 + timedelta(seconds=3), since=floor, catch_up=[slow])  # all 32 slots free
    assert [j.delivery_id for j in more.jobs] == backlog[5:37]
    # it got as many as were asked for, so there may be more: capped, so that its finishing attempts wake the
    # worker to claim again (not being marked so left the worker idle until its next poll, a second later)
    assert slow in more.capped and slow not in more.caught_up

    rest = await claim(queue, now=T0 + timedelta(seconds=4), since=floor, catch_up=[slow])
    assert [j.delivery_id for j in rest.jobs] == backlog[37:]
    assert slow in rest.caught_up and slow not in rest.capped  # nothing of it left below the floor

    nothing = await claim(queue, now=T0 + timedelta(seconds=5))
    assert nothing.jobs == [] and nothing.complete


async def test_rows_below_the_floor_are_found_by_a_full_search(queue):
    """What the periodic full search is for: a row stamped long before it was committed."""
    endpoint = await add_endpoint(queue)
    late = await add_due(queue, endpoint, [T0 - timedelta(minutes=5)])
    assert (await claim(queue, now=T0, since=T0 - timedelta(seconds=2))).jobs == []
    assert [j.delivery_id for j in (await claim(queue, now=T0)).jobs] == late


async def test_a_search_cut_short_by_its_limit_says_how_far_it_read(queue):
    endpoint = await add_endpoint(queue)
    times = [T0 - timedelta(seconds=10 - i) for i in range(5)]
    ids = await add_due(queue, endpoint, times)
    first = await claim(queue, now=T0, limit=2)
    assert [j.delivery_id for j in first.jobs] == ids[:2]
    assert not first.complete and first.searched_to == times[1]  # the floor may move there, not further
    rest = await claim(queue, now=T0, since=first.searched_to)
    assert [j.delivery_id for j in rest.jobs] == ids[2:] and rest.complete and rest.searched_to == T0
