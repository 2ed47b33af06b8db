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
The cluster id published to is also recorded in the database (`outbox_broker`, one row), so a relay
that starts (a restart, a crash, `make run` again with its in-memory broker) and finds another cluster
than the recorded one replays too: a process that was down while the broker was replaced has no
earlier look of its own to compare with.

A bad row never blocks the others. When a batch cannot be published, its rows are published
one at a time; a row that still fails while others go through (or fails with an error no retry
can fix, such as a message over the broker's size limit) is *parked* (`invora.parking`, loop
`outbox-relay`: its error and failure count in `parked_items`, the `parked_items` gauge) and
retried on an exponential back-off. Per-aggregate order is kept: while a row is parked, the later
rows of its aggregate (same topic and message key) wait behind it; every other aggregate flows.
When every row fails alike (the broker is away) nothing is parked: the batch is retried whole.

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
import uuid

import asyncpg
from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError, RecordTooLargeError

from invora.bus.producer import OutgoingMessage, Publisher
from invora.logging import get_logger
from invora.observability.metrics import (
    OUTBOX_OLDEST_PENDING_SECONDS,
    OUTBOX_PENDING,
    OUTBOX_PUBLISH_LATENCY,
    OUTBOX_PUBLISHED,
)
from invora.outbox.writer import NOTIFY_CHANNEL
from invora.parking import Backoff, ParkingLot

log = get_logger(__name__)

RELAY_LOCK_KEY = 0x1F0B0C5  # one relay publishing per database at a time

RELAY_LOOP = "outbox-relay"
# a parked row (and its aggregate's later rows) is retried after 1 s, 2 s, 4 s... at most every 5 minutes
RELAY_BACKOFF = Backoff(initial=1.0, maximum=300.0)
# errors no retry of the same message can fix: park the row even when it is the only one in its batch
POISON_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, UnicodeError, ValueError, TypeError,
)

# rows of an aggregate with a parked row wait behind it; the parked row itself is claimed when due
_CLAIM = f"""
    SELECT position, event_id::text, topic, message_key, event_type, envelope::text,
           (envelope->>'organization_id') AS organization_id,
           extract(epoch FROM clock_timestamp() - created_at) AS age
    FROM outbox_events o
    WHERE published_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM parked_items p
        WHERE p.loop = '{RELAY_LOOP}' AND p.group_key = o.topic || '/' || o.message_key
          AND (p.item_key <> o.position::text OR p.next_attempt_at > clock_timestamp()))
    ORDER BY position
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""
_REPLAY = "UPDATE outbox_events SET published_at = NULL WHERE published_at IS NOT NULL"
_RECORDED_CLUSTER = "SELECT cluster_id FROM outbox_broker WHERE id = 1 FOR UPDATE"
_RECORD_CLUSTER = """
    INSERT INTO outbox_broker (id, cluster_id, recorded_at) VALUES (1, $1, clock_timestamp())
    ON CONFLICT (id) DO UPDATE SET cluster_id = excluded.cluster_id, recorded_at = excluded.recorded_at
"""
_MARK = "UPDATE outbox_events SET published_at = clock_timestamp() WHERE position = ANY($1::bigint[])"
# published rows leave the parking lot (a PK lookup each; the table is empty when all is well)
_RELEASE = f"DELETE FROM parked_items WHERE loop = '{RELAY_LOOP}' AND item_key = ANY($1::text[])"
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
        self._recorded_cluster: str | None = None  # the cluster id this relay last found in `outbox_broker`
        self.parking = ParkingLot(service, RELAY_LOOP, RELAY_BACKOFF)

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
            published, claimed = await self._publish_batch()
            total += published
            if claimed < self.batch_size:
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

    async def _publish_batch(self) -> tuple[int, int]:
        """One batch: (rows published, rows claimed)."""
        if self._conn is None:
            await self._connect()
        conn = self._conn
        assert conn is not None
        await self._replay_if_broker_replaced(conn)
        parked = 0
        async with conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK_KEY):
                return 0, 0
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0, 0
            try:
                await self.producer.publish([_message(r) for r in rows])
                published = list(rows)
            except Exception as exc:  # noqa: BLE001 - find the rows at fault, or re-raise an outage
                published, parked = await self._publish_one_by_one(conn, rows, exc)
            await conn.execute(_MARK, [r["position"] for r in published])
            released = await conn.execute(_RELEASE, [str(r["position"]) for r in published])
            if parked or released != "DELETE 0":
                await self.parking.refresh_metric(conn)
        for r in published:
            OUTBOX_PUBLISH_LATENCY.labels(self.service).observe(float(r["age"]))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(published))
        return len(published), len(rows)

    async def _publish_one_by_one(self, conn: asyncpg.Connection, rows: list, batch_error: Exception) -> tuple[
            list, int]:
        """Publish `rows` singly in order; park those at fault. Raises when every row fails alike (an outage)."""
        published: list = []
        failed: list[tuple[asyncpg.Record, Exception]] = []
        held: set[str] = set()  # aggregates with a failed row: their later rows wait (order)
        for row in rows:
            group = f"{row['topic']}/{row['message_key']}"
            if group in held:
                continue
            try:
                await self.producer.publish([_message(row)])
                published.append(row)
            except Exception as exc:  # noqa: BLE001 - judged below
                failed.append((row, exc))
                held.add(group)
        at_fault = [(r, e) for r, e in failed if published or isinstance(e, POISON_ERRORS)]
        if failed and not at_fault:
            raise batch_error  # nothing went through: the broker (or the link) is away, not a row
        for row, exc in at_fault:
            organization = row["organization_id"]
            await self.parking.park(conn, row["position"], exc, group_key=f"{row['topic']}/{row['message_key']}",
                                    organization_id=uuid.UUID(organization) if organization else None)
        return published, len(at_fault)

    async def _replay_if_broker_replaced(self, conn: asyncpg.Connection) -> None:
        """Republish everything the outbox holds when the broker lost events: this process saw it replaced or
        emptied (the epoch moved), or the cluster it answers for is not the one recorded as published to."""
        epoch = getattr(self.producer, "epoch", None)
        cluster = getattr(self.producer, "cluster_id", None)  # None until the link's first look
        epoch_moved = epoch is not None and epoch != self._broker_epoch
        if not epoch_moved and (cluster is None or cluster == self._recorded_cluster):
            return
        replayed: int | None = None
        async with conn.transaction():
            # waits for a batch another relay of this database is publishing, so none is marked after us
            await conn.execute("SELECT pg_advisory_xact_lock($1)", RELAY_LOCK_KEY)
            recorded = await conn.fetchval(_RECORDED_CLUSTER)
            if epoch_moved or (cluster is not None and recorded is not None and recorded != cluster):
                replayed = int((await conn.execute(_REPLAY)).split()[-1])
            if cluster is not None and cluster != recorded:
                await conn.execute(_RECORD_CLUSTER, cluster)
        self._broker_epoch = epoch
        self._recorded_cluster = cluster
        if replayed is not None:
            log.warning("outbox_replay_after_broker_loss", rows=replayed, epoch=epoch, cluster_id=cluster,
                        recorded_cluster_id=recorded)

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
        await self.parking.refresh_metric(self._conn)
        pending, oldest = await self._conn.fetchrow(_STATS)
        OUTBOX_PENDING.labels(self.service).set(pending)
        OUTBOX_OLDEST_PENDING_SECONDS.labels(self.service).set(float(oldest))


def _message(row: asyncpg.Record) -> OutgoingMessage:
    return OutgoingMessage(topic=row["topic"], key=row["message_key"], value=row["envelope"].encode(),
                           event_type=row["event_type"], event_id=row["event_id"])
