"""Parked items: how a background loop keeps one bad item from blocking the others.

Every background loop (the subscriptions scheduler and its passes, the outbox relay, every
Kafka consumer, the webhook delivery worker) handles its items in isolation, each in its own
transaction. An item that fails is *parked*: a row in `parked_items` (one table per service
database, created by the platform migrations) records the loop, the item's key, the error, how
many times it failed and when it is next due; the loop goes on with the others. A parked item is
retried when due, on an exponential back-off capped at a maximum
(`initial * 2^(failures-1)`, at most `maximum`), and its row is deleted when it succeeds.

The `parked_items{service, loop}` gauge shows how many items each loop has parked (refreshed by
the loop after each pass); `items_parked_total{service, loop}` counts parkings. An operator finds
the items, their organization and their error in the table; repairing the cause (or waiting for
a dependency to come back) lets the next retry through.

The statements are written once, with `:name` parameters, and run either through a SQLAlchemy
session or (the relay) a raw asyncpg connection.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger
from invora.observability.metrics import ITEMS_PARKED, PARKED_ITEMS

log = get_logger(__name__)
T = TypeVar("T")

ERROR_MAX_LENGTH = 2000
KEY_MAX_LENGTH = 200
GROUP_MAX_LENGTH = 400

_PARK = """
    INSERT INTO parked_items AS p (loop, item_key, group_key, organization_id, error, attempts,
                                   first_parked_at, last_failed_at, next_attempt_at, payload)
    VALUES (:loop, :item_key, :group_key, :organization_id, :error, 1,
            coalesce(:now, clock_timestamp()), coalesce(:now, clock_timestamp()),
            coalesce(:now, clock_timestamp()) + make_interval(secs => :initial), CAST(:payload AS jsonb))
    ON CONFLICT (loop, item_key) DO UPDATE SET
        error = excluded.error,
        attempts = p.attempts + 1,
        last_failed_at = excluded.last_failed_at,
        next_attempt_at = excluded.last_failed_at
            + make_interval(secs => least(:maximum, :initial * power(2, least(p.attempts, 40)))),
        group_key = coalesce(excluded.group_key, p.group_key),
        organization_id = coalesce(excluded.organization_id, p.organization_id),
        payload = coalesce(excluded.payload, p.payload)
    RETURNING attempts, next_attempt_at
"""
_RELEASE = "DELETE FROM parked_items WHERE loop = :loop AND item_key = :item_key"
_RELEASE_MANY = "DELETE FROM parked_items WHERE loop = :loop AND item_key = ANY(CAST(:item_keys AS text[]))"
_DUE = """
    SELECT item_key, group_key, organization_id, error, attempts, payload::text AS payload
    FROM parked_items
    WHERE loop = :loop AND next_attempt_at <= coalesce(:now, clock_timestamp())
    ORDER BY next_attempt_at, item_key
    LIMIT :limit
"""
_COUNT = "SELECT count(*) FROM parked_items WHERE loop = :loop"
_GROUPS = "SELECT DISTINCT group_key FROM parked_items WHERE loop = :loop AND group_key IS NOT NULL"
_NAME = re.compile(r"(?<!:):([a-z_]+)")


def _asyncpg(statement: str) -> tuple[str, list[str]]:
    """The statement with `$n` placeholders for asyncpg, and the parameter names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAME.sub(number, statement), names


@dataclass(frozen=True)
class Backoff:
    """Seconds before the first retry, doubling per further failure up to `maximum`."""

    initial: float = 30.0
    maximum: float = 3600.0

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.initial * 2 ** max(0, min(failures - 1, 40)))


@dataclass(frozen=True)
class ParkedItem:
    item_key: str
    group_key: str | None
    organization_id: uuid.UUID | None
    error: str
    attempts: int
    payload: Any


Executor = AsyncSession | asyncpg.Connection


class ParkingLot:
    """The parked items of one loop (`loop`: a stable name such as `scheduler`, `outbox-relay`)."""

    def __init__(self, service: str, loop: str, backoff: Backoff | None = None) -> None:
        self.service = service
        self.loop = loop
        self.backoff = backoff or Backoff()

    async def _run(self, executor: Executor, statement: str, params: dict[str, Any], fetch: str):
        if isinstance(executor, asyncpg.Connection):
            sql, names = _asyncpg(statement)
            args = [params[n] for n in names]
            if fetch == "rows":
                return [dict(r) for r in await executor.fetch(sql, *args)]
            if fetch == "row":
                row = await executor.fetchrow(sql, *args)
                return dict(row) if row is not None else None
            if fetch == "value":
                return await executor.fetchval(sql, *args)
            await executor.execute(sql, *args)
            return None
        result = await executor.execute(text(statement), params)
        if fetch == "rows":
            return [dict(r._mapping) for r in result]  # noqa: SLF001
        if fetch == "row":
            row = result.first()
            return dict(row._mapping) if row is not None else None  # noqa: SLF001
        if fetch == "value":
            return result.scalar_one()
        return None

    async def park(
        self,
        executor: Executor,
        item_key: str | uuid.UUID | int,
        error: BaseException | str,
        *,
        group_key: str | None = None,
        organization_id: uuid.UUID | None = None,
        payload: Any = None,
        now: datetime | None = None,
    ) -> int:
        """Record a failure of `item_key` (a new parked row, or one more failure); returns the failure count.

        Runs in the caller's transaction, which must be a fresh one: the failed attempt's is gone.
        `now`: the loop's clock when it has an injectable one (the scheduler), else the database's.
        """
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        row = await self._run(executor, _PARK, {
            "loop": self.loop, "item_key": str(item_key)[:KEY_MAX_LENGTH],
            "group_key": group_key[:GROUP_MAX_LENGTH] if group_key is not None else None,
            "organization_id": organization_id, "error": message[:ERROR_MAX_LENGTH].replace("\x00", ""),
            "now": now, "initial": float(self.backoff.initial), "maximum": float(self.backoff.maximum),
            "payload": json.dumps(payload) if payload is not None else None,
        }, "row")
        ITEMS_PARKED.labels(self.service, self.loop).inc()
        log.error("item_parked", loop=self.loop, item=str(item_key), attempts=row["attempts"],
                  next_attempt_at=row["next_attempt_at"].isoformat(), error=message[:500])
        return int(row["attempts"])

    async def release(self, executor: Executor, item_key: str | uuid.UUID | int) -> None:
        """The item succeeded: forget it (in the transaction of its success)."""
        await self._run(executor, _RELEASE, {"loop": self.loop, "item_key": str(item_key)[:KEY_MAX_LENGTH]}, "none")

    async def release_many(self, executor: Executor, item_keys: Sequence[str | uuid.UUID | int]) -> None:
        """Forget these items (one statement; nothing when none is parked)."""
        if item_keys:
            await self._run(executor, _RELEASE_MANY, {
                "loop": self.loop, "item_keys": [str(k)[:KEY_MAX_LENGTH] for k in item_keys]}, "none")

    async def due(self, executor: Executor, limit: int = 100, now: datetime | None = None) -> list[ParkedItem]:
        rows = await self._run(executor, _DUE, {"loop": self.loop, "now": now, "limit": limit}, "rows")
        return [ParkedItem(r["item_key"], r["group_key"], r["organization_id"], r["error"], r["attempts"],
                           json.loads(r["payload"]) if r["payload"] is not None else None) for r in rows]

    async def groups(self, executor: Executor) -> set[str]:
        """The group keys (e.g. aggregates) that have a parked item."""
        return {r["group_key"] for r in await self._run(executor, _GROUPS, {"loop": self.loop}, "rows")}

    async def refresh_metric(self, executor: Executor) -> int:
        count = int(await self._run(executor, _COUNT, {"loop": self.loop}, "value"))
        PARKED_ITEMS.labels(self.service, self.loop).set(count)
        return count

    async def isolated(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        item_key: str | uuid.UUID | int,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        organization_id: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> tuple[bool, T | None]:
        """Run `work(session)` for one item in its own transaction: (True, result) when it committed.

        A failure rolls that transaction back and parks the item in a fresh one, then returns
        (False, None): nothing of the failed attempt (ORM objects included) is touched again, so the
        item's identity must be a plain value taken before the attempt (`item_key`, `organization_id`).
        """
        try:
            async with sessionmaker() as session, session.begin():
                result = await work(session)
                await self.release(session, item_key)
            return True, result
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
            async with sessionmaker() as session, session.begin():
                await self.park(session, item_key, exc, organization_id=organization_id, now=now)
            return False, None

    async def each_due(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        due: Callable[[AsyncSession, uuid.UUID, int], Awaitable[Sequence[Any]]],
        work: Callable[[AsyncSession, uuid.UUID], Awaitable[T]],
        *,
        batch_size: int,
        now: datetime | None = None,
        refresh_metric: bool = True,
    ) -> list[T]:
        """A pass of a background loop: every item `due(session, after, limit)` lists, as (id, organization id)
        rows in id order after `after`, read `batch_size` at a time, handled by `work(session, id)` in its own
        transaction (`isolated`: a failing one is parked, the others go on). The results of the items that
        committed; with `refresh_metric`, the `parked_items` gauge is refreshed at the end."""
        results: list[T] = []
        after = uuid.UUID(int=0)
        while True:
            async with sessionmaker() as session:
                rows = await due(session, after, batch_size)
            for item_id, organization_id in rows:
                done, result = await self.isolated(sessionmaker, item_id,
                                                   lambda session, item=item_id: work(session, item),
                                                   organization_id=organization_id, now=now)
                if done:
                    results.append(result)  # type: ignore[arg-type]
            if len(rows) < batch_size:
                break
            after = rows[-1][0]
        if refresh_metric:
            async with sessionmaker() as session:
                await self.refresh_metric(session)
        return results

    def not_parked(self, key_sql: str, now: datetime | None = None) -> TextClause:
        """A WHERE condition: the item whose key is the SQL expression `key_sql` is not parked, or is due again."""
        return text(
            "NOT EXISTS (SELECT 1 FROM parked_items pi WHERE pi.loop = :parking_loop "
            f"AND pi.item_key = ({key_sql})::text "
            "AND pi.next_attempt_at > coalesce(CAST(:parking_now AS timestamptz), clock_timestamp()))"
        ).bindparams(parking_loop=self.loop, parking_now=now)


def keys(items: Sequence[ParkedItem]) -> list[str]:
    return [i.item_key for i in items]
