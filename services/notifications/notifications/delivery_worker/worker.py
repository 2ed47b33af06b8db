"""The delivery worker: claims due deliveries from the database and sends them, many at a time.

The database is the queue, so a restart loses nothing: what was due is still due, and what
was in flight becomes due again when its lease runs out. Several replicas can run workers
on one database (claims use `FOR UPDATE SKIP LOCKED`).

One loop claims; each claimed delivery is sent by its own task, bounded by
`worker_concurrency` overall and `per_endpoint_concurrency` per endpoint; outcomes go to
the batching recorder. The loop wakes on NOTIFY (fan-out, manual retries and recoveries
send one at commit), when capacity frees up, and on a poll for scheduled retries. Each
claim searches the due rows from a floor (`scan_floor.py`) so that an endpoint at its cap,
however large its backlog, costs the other endpoints' claims nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from invora.logging import get_logger
from notifications.delivery_worker import repository
from notifications.delivery_worker.jobs import ClaimedDelivery
from notifications.delivery_worker.limits import EndpointLimiter
from notifications.delivery_worker.parking import DELIVERY_PARKING
from notifications.delivery_worker.recorder import OutcomeRecorder
from notifications.delivery_worker.scan_floor import ScanFloor
from notifications.delivery_worker.sender import DeliverySender
from notifications.runtime import WAKE_CHANNEL, NotificationsRuntime

log = get_logger(__name__)

_HOUSEKEEPING_EVERY = 300.0
_MIN_CLAIM = 16  # below this many free slots (or an eighth of them), wait for more before a claim round trip
_GATHER_SECONDS = 0.003


class DeliveryWorker:
    def __init__(self, runtime: NotificationsRuntime, database, *, stop_grace: float = 5.0) -> None:
        self.runtime = runtime
        self.database = database
        self.settings = runtime.settings
        # its own small pool without the per-checkout ping: the loop claims many times a second, and a
        # connection lost with the database fails one round, which the loop survives
        self.engine = create_async_engine(database.url, pool_size=4, max_overflow=4, pool_pre_ping=False,
                                          pool_recycle=600, connect_args=database.options.connect_args())
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.sender = DeliverySender(runtime)
        self.scan_floor = ScanFloor()
        self.parking = DELIVERY_PARKING
        self.recorder = OutcomeRecorder(runtime, self.sessionmaker, on_due=self.scan_floor.lower)
        self.limiter = EndpointLimiter(self.settings.per_endpoint_concurrency)
        self.stop_grace = stop_grace
        self._wake = asyncio.Event()
        self._tasks: dict[uuid.UUID, asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None
        self._listen: asyncpg.Connection | None = None
        self._stopping = False
        self._starved = False  # the last claim was cut short by capacity: a finishing attempt should wake us
        # endpoints the last claim left due deliveries of (at their cap, or rate-limited)
        self._waiting_for_slots: set[uuid.UUID] = set()
        self._last_housekeeping = 0.0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        self.runtime.wake_event = self._wake
        await self.recorder.start()
        self._loop_task = asyncio.create_task(self._run(), name="webhook-delivery-worker")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        if self._tasks:
            # attempts still running after the grace are abandoned: their leases bring them back later
            _done, pending = await asyncio.wait(list(self._tasks.values()), timeout=self.stop_grace)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        await self.recorder.stop()
        await self.sender.close()
        await self._close_listener()
        await self.engine.dispose()
        if self.runtime.wake_event is self._wake:
            self.runtime.wake_event = None

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is in flight and every outcome is recorded (tests)."""
        deadline = time.monotonic() + timeout
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
        await asyncio.wait_for(self.recorder.drained(), max(0.1, deadline - time.monotonic()))

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._ensure_listener()
                more = await self._claim_round()
                await self._housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker outlives database outages
                log.warning("webhook_worker_error", error=repr(exc))
                await self._close_listener()
                await asyncio.sleep(min(self.settings.worker_poll_interval_seconds, 1.0))
                continue
            if more:
                continue
            timeout = self.settings.worker_poll_interval_seconds
            if (token_wait := self.limiter.next_token_in()) is not None:
                timeout = min(timeout, max(token_wait, 0.005))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                continue
            await asyncio.sleep(_GATHER_SECONDS)  # woken: let a few more commits land, claim them together

    async def _claim_round(self) -> bool:
        """Claim and start what is due; True when more is probably waiting."""
        free = self.settings.worker_concurrency - len(self._tasks)
        if free < max(1, min(_MIN_CLAIM, self.settings.worker_concurrency // 8)) and self._tasks:
            self._starved = True  # a finishing attempt wakes the loop
            return False
        limit = min(free, self.settings.worker_batch_size)
        blocked = self.limiter.blocked()
        plan = self.scan_floor.plan(self.runtime.clock.now(), blocked)
        async with self.sessionmaker() as session:
            claim = await repository.claim_due(
                session,
                now=plan.now,
                lease_seconds=self.settings.worker_lease_seconds,
                limit=limit,
                blocked=blocked,
                in_flight=list(self._tasks),
                allowance=self.limiter.allowance,
                since=plan.since,
                catch_up=plan.catch_up,
                per_endpoint=self.limiter.cap,
            )
        self.scan_floor.update(plan, claim, blocked)
        self._waiting_for_slots = claim.capped | set(blocked)
        jobs = claim.jobs
        for job in jobs:
            self.limiter.acquire(job.endpoint_id)
            self._tasks[job.delivery_id] = asyncio.create_task(self._attempt(job))
        self._starved = len(jobs) >= limit
        return len(jobs) >= limit

    async def _attempt(self, job: ClaimedDelivery) -> None:
        try:
            outcome = await self.sender.send(job)
            self.recorder.add(outcome)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug here must not kill the worker: park the delivery
            log.error("webhook_attempt_crashed", delivery_id=str(job.delivery_id), error=repr(exc))
            await self._park(job, exc)
        finally:
            self.limiter.release(job.endpoint_id)
            self._tasks.pop(job.delivery_id, None)
            # a freed slot matters if the last claim was short of slots, or had to leave some of this
            # endpoint's due deliveries behind; then claim again once half its slots are free
            if self._starved or (
                job.endpoint_id in self._waiting_for_slots
                and self.limiter.in_flight.get(job.endpoint_id, 0) <= self.limiter.cap // 2
            ):
                self._wake.set()

    async def _park(self, job: ClaimedDelivery, exc: BaseException) -> None:
        """A delivery whose attempt crashed (not a failed request: a bug, bad stored data) is parked with its
        error and not attempted again before its back-off (30 s doubling to an hour), so it never spins."""
        try:
            async with self.sessionmaker() as session:
                failures = await self.parking.park(session, job.delivery_id, exc, organization_id=job.organization_id)
                now = self.runtime.clock.now()
                await repository.defer_crashed(session, job.delivery_id, job.claim_token,
                                               now + timedelta(seconds=self.parking.backoff.delay(failures)), now)
                await session.commit()
                await self.parking.refresh_metric(session)
        except Exception as park_error:  # noqa: BLE001 - then the lease brings it back, as before
            log.warning("webhook_attempt_not_parked", delivery_id=str(job.delivery_id), error=repr(park_error))

    async def _housekeeping(self) -> None:
        if time.monotonic() - self._last_housekeeping < _HOUSEKEEPING_EVERY:
            return
        self._last_housekeeping = time.monotonic()
        cutoff = self.runtime.clock.now() - timedelta(days=self.settings.message_retention_days)
        async with self.sessionmaker() as session:
            deleted = await repository.delete_finished_messages(session, cutoff)
            await session.commit()
        if deleted:
            log.info("webhook_messages_deleted", count=deleted)

    # -- NOTIFY --------------------------------------------------------------------------------
    async def _ensure_listener(self) -> None:
        if self._listen is not None and not self._listen.is_closed():
            return
        self._listen = await asyncpg.connect(self.database.asyncpg_dsn)
        await self._listen.add_listener(WAKE_CHANNEL, self._on_notify)
        self.scan_floor.reset()  # notifications sent while nobody listened are lost

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.scan_floor.lower(datetime.fromisoformat(payload))
        except ValueError:  # not ours, or an older replica's empty payload: search everything
            self.scan_floor.reset()
        self._wake.set()

    async def _close_listener(self) -> None:
        if self._listen is not None:
            with contextlib.suppress(Exception):
                await self._listen.close()
        self._listen = None


def delivery_worker_lifespan(runtime: NotificationsRuntime):
    """A `ServiceDefinition.background` factory: the worker runs for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not runtime.settings.worker_enabled:
            yield
            return
        worker = DeliveryWorker(runtime, app.state.database)
        app.state.delivery_worker = worker
        await worker.start()
        try:
            yield
        finally:
            await worker.stop()

    return lifespan
