"""The outbox relay: publishes committed outbox rows to Kafka.

Each batch runs in one transaction that
  1. takes a transaction-level advisory lock, so with several relay processes only one
     publishes at a time (others stand by) and per-aggregate order is kept;
  2. selects unpublished rows `FOR UPDATE SKIP LOCKED` in position order;
  3. publishes them and waits for the broker's acks;
  4. marks them published and commits.

There is no "last position seen" watermark: every batch asks for *all* rows still
unpublished, so a transaction that commits after a later-numbered one is picked up by
the next batch rather than skipped. A relay killed after publishing but before its
commit leaves the rows unpublished; they are published again (at-least-once; consumers
de-duplicate by event id).

It wakes on NOTIFY (sent by `add_event` at commit) and polls as a fallback.

When the broker is found replaced or emptied (`BrokerConnection.epoch` moved: a new cluster id, or
its topics gone), events published before may never have been consumed. The relay then marks every
row its outbox still holds (published ones are kept `retention_seconds`) unpublished again, under
the relay lock, and publishes them anew in position order; consumers de-duplicate by event id.

Every few seconds it also keeps the platform tables small: published outbox rows older than
`retention_seconds` are deleted, and inbox rows (event ids consumers have processed) older than
`inbox_retention_seconds`, at most `INBOX_PRUNE_LIMIT` a pass in batches, through the
`processed_at` index. An event redelivered after its inbox row is gone would take effect again,
so the inbox retention must exceed how long the broker keeps events (a consumer group whose
offsets were lost starts again from the oldest event the topic still holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

from invora.bus.producer import OutgoingMessage, Publisher
from invora.logging import get_logger
from invora.observability.metrics import (
    OUTBOX_OLDEST_PENDING_SECONDS,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_LATENCY,
    OUTBOX_PUBLISHED,
)
from invora.outbox.writer import NOTIFY_CHANNEL

log = get_logger(__name__)

RELAY_LOCK_KEY = 0x1F0B0C5  # one relay publishing per database at a time

_CLAIM = """
    SELECT position, event_id::text, topic, message_key, event_type, envelope::text,
           extract(epoch FROM clock_timestamp() - created_at) AS age
    FROM outbox_events
    WHERE published_at IS NULL
    ORDER BY position
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""
_REPLAY = "UPDATE outbox_events SET published_at = NULL WHERE published_at IS NOT NULL"
_MARK = "UPDATE outbox_events SET published_at = clock_timestamp() WHERE position = ANY($1::bigint[])"
_CLEANUP = "DELETE FROM outbox_events WHERE published_at < clock_timestamp() - make_interval(secs => $1)"
_PRUNE_INBOX = """
    DELETE FROM inbox_events WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM inbox_events WHERE processed_at < clock_timestamp() - make_interval(secs => $1) LIMIT $2))
"""
INBOX_PRUNE_BATCH = 5_000
INBOX_PRUNE_LIMIT = 200_000  # rows a housekeeping pass deletes at most (the next pass goes on)
_STATS = """
    SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)
    FROM outbox_events WHERE published_at IS NULL
"""


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        producer: Publisher,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retention_seconds: float = 86_400.0,
        inbox_retention_seconds: float = 30 * 86_400.0,
    ) -> None:
        self.dsn = dsn
        self.producer = producer
        self.service = service
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention_seconds = retention_seconds
        self.inbox_retention_seconds = inbox_retention_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._conn: asyncpg.Connection | None = None
        self._listen_conn: asyncpg.Connection | None = None
        # the broker epoch this outbox was published to (a BrokerConnection starts at 0; other publishers: None)
        self._broker_epoch: int | None = getattr(producer, "epoch", None)

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for conn in (self._listen_conn, self._conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._conn = self._listen_conn = None

    async def publish_pending(self) -> int:
        """Publish until nothing is pending (or another relay holds the lock). Returns rows published."""
        total = 0
        while True:
            published = await self._publish_batch()
            total += published
            if published < self.batch_size:
                return total

    # -- internals -------------------------------------------------------------------------
    async def _run(self) -> None:
        last_cleanup = 0.0
        while not self._stopping:
            # cleared before publishing: a NOTIFY arriving mid-batch must trigger another pass
            self._wake.clear()
            try:
                await self._connect()
                await self.publish_pending()
                if time.monotonic() - last_cleanup > 5:
                    await self._housekeeping()
                    last_cleanup = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the relay must outlive broker/db outages
                log.warning("outbox_relay_error", error=repr(exc))
                await self._drop_connections()
                await asyncio.sleep(min(self.poll_interval, 1.0))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _connect(self) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn)
        if self._listen_conn is None or self._listen_conn.is_closed():
            self._listen_conn = await asyncpg.connect(self.dsn)
            await self._listen_conn.add_listener(NOTIFY_CHANNEL, self._on_notify)

    async def _drop_connections(self) -> None:
        for conn in (self._listen_conn, self._conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._conn = self._listen_conn = None

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def _publish_batch(self) -> int:
        if self._conn is None:
            await self._connect()
        conn = self._conn
        assert conn is not None
        await self._replay_if_broker_replaced(conn)
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_KEY):
                return 0
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0
            await self.producer.publish(
                [
                    OutgoingMessage(
                        topic=r["topic"], key=r["message_key"], value=r["envelope"].encode(),
                        event_type=r["event_type"], event_id=r["event_id"],
                    )
                    for r in rows
                ]
            )
            await conn.execute(_MARK, [r["position"] for r in rows])
        for r in rows:
            OUTBOX_PUBLISH_LATENCY.labels(self.service).observe(float(r["age"]))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _replay_if_broker_replaced(self, conn: asyncpg.Connection) -> None:
        epoch = getattr(self.producer, "epoch", None)
        if epoch is None or epoch == self._broker_epoch:
            return
        async with conn.transaction():
            # waits for a batch another relay of this database is publishing, so none is marked after us
            await conn.execute("SELECT pg_advisory_xact_lock($1)", RELAY_LOCK_KEY)
            status = await conn.execute(_REPLAY)
        self._broker_epoch = epoch
        log.warning("outbox_replay_after_broker_loss", rows=int(status.split()[-1]), epoch=epoch)

    async def _housekeeping(self) -> None:
        assert self._conn is not None
        await self._conn.execute(_CLEANUP, self.retention_seconds)
        pruned = 0
        while pruned < INBOX_PRUNE_LIMIT:
            deleted = int((await self._conn.execute(_PRUNE_INBOX, self.inbox_retention_seconds,
                                                    INBOX_PRUNE_BATCH)).split()[-1])
            pruned += deleted
            if deleted < INBOX_PRUNE_BATCH:
                break
        if pruned:
            log.info("inbox_pruned", rows=pruned)
        pending, oldest = await self._conn.fetchrow(_STATS)
        OUTBOX_PENDING.labels(self.service).set(pending)
        OUTBOX_OLDEST_PENDING_SECONDS.labels(self.service).set(float(oldest))
