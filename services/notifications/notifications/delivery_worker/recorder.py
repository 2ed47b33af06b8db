"""Records attempt outcomes in batches: attempts, delivery states, endpoint health, automatic disables.

Outcomes are gathered for a few milliseconds and written in one transaction, which is what
lets one process sustain hundreds of deliveries per second on a small database. If the
process dies before a flush, the claimed rows' leases run out and they are attempted again.

Endpoint health: `failing_since` is the time of the first failure since the last success.
An endpoint answering `410 Gone` is disabled at once; one whose failures go back more than
`disable_after_failing_days` is disabled too. Both publish `webhook_endpoint.disabled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.ids import uuid7
from invora.logging import get_logger
from invora.observability.metrics import domain_counter
from notifications.delivery_worker import repository
from notifications.delivery_worker.jobs import AttemptOutcome
from notifications.delivery_worker.parking import DELIVERY_PARKING
from notifications.delivery_worker.schedule import clamp_retry_after, next_delay
from notifications.endpoints.disable import disable_endpoint
from notifications.runtime import NotificationsRuntime

log = get_logger(__name__)

ATTEMPTS = domain_counter("webhook_attempts_total", "Webhook delivery attempts by outcome", ("outcome",))
ENDPOINTS_DISABLED = domain_counter("webhook_endpoints_disabled_total", "Endpoints disabled automatically",
                                    ("reason",))


class OutcomeRecorder:
    def __init__(self, runtime: NotificationsRuntime, sessionmaker: async_sessionmaker[AsyncSession],
                 *, batch_window: float = 0.01, max_batch: int = 500,
                 on_due: Callable[[datetime], None] | None = None) -> None:
        self.runtime = runtime
        # told, after each commit, the earliest retry it wrote (the worker lowers its scan floor to it:
        # a retry written late, say after a database outage, is due already when it commits)
        self.on_due = on_due
        self.sessionmaker = sessionmaker
        self.batch_window = batch_window
        self.max_batch = max_batch
        self._pending: list[AttemptOutcome] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-outcome-recorder")

    async def stop(self) -> None:
        """Flush what is left, then stop."""
        self._stopping = True
        self._arrived.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)
        if self._pending:
            with contextlib.suppress(Exception):
                await self.flush()

    def add(self, outcome: AttemptOutcome) -> None:
        self._pending.append(outcome)
        self._idle.clear()
        self._arrived.set()

    async def drained(self) -> None:
        """Wait until everything added so far is written (tests, shutdown)."""
        await self._idle.wait()

    async def _run(self) -> None:
        delay = 0.1
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._idle.set()
                self._arrived.clear()
                await self._arrived.wait()
                continue
            if len(self._pending) < self.max_batch and not self._stopping:
                await asyncio.sleep(self.batch_window)  # let a batch gather
            try:
                await self.flush()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be away; keep the outcomes and retry
                log.warning("webhook_outcomes_not_recorded", error=repr(exc), pending=len(self._pending),
                            retry_in=delay)
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def flush(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        try:
            async with self.sessionmaker() as session:
                due = await self._write(session, batch)
                await session.commit()
            self._due(due)
        except IntegrityError:
            # a delivery vanished between the check and the insert (endpoint deleted): write one by one
            for outcome in batch:
                with contextlib.suppress(IntegrityError):
                    async with self.sessionmaker() as session:
                        due = await self._write(session, [outcome])
                        await session.commit()
                    self._due(due)
        except asyncio.CancelledError:
            self._pending[:0] = batch
            raise
        except Exception:
            if len(batch) == 1 or not await self._write_one_by_one(batch):
                self._pending[:0] = batch  # every outcome failed alike: the database is away; keep them
                raise
        for outcome in batch:
            ATTEMPTS.labels("notifications", outcome.error_class or "succeeded").inc()

    async def _write_one_by_one(self, batch: list[AttemptOutcome]) -> bool:
        """A batch that failed, written outcome by outcome: one that still fails while others are written
        is parked (its delivery deferred by its back-off) and dropped, so it cannot hold the others back.
        False when none could be written (an outage: nothing is parked)."""
        failed: list[tuple[AttemptOutcome, Exception]] = []
        written = 0
        for outcome in batch:
            try:
                async with self.sessionmaker() as session:
                    due = await self._write(session, [outcome])
                    await session.commit()
                self._due(due)
                written += 1
            except IntegrityError:
                written += 1  # the delivery is gone: nothing to record
            except Exception as exc:  # noqa: BLE001 - judged below
                failed.append((outcome, exc))
        if not written:
            return False
        for outcome, exc in failed:
            with contextlib.suppress(Exception):  # not parked: the lease brings the delivery back
                async with self.sessionmaker() as session:
                    failures = await DELIVERY_PARKING.park(session, outcome.job.delivery_id, exc,
                                                           organization_id=outcome.job.organization_id)
                    now = self.runtime.clock.now()
                    await repository.defer_crashed(
                        session, outcome.job.delivery_id, outcome.job.claim_token,
                        now + timedelta(seconds=DELIVERY_PARKING.backoff.delay(failures)), now)
                    await session.commit()
                    await DELIVERY_PARKING.refresh_metric(session)
        return True

    def _next_attempt_at(self, outcome: AttemptOutcome) -> datetime | None:
        settings = self.runtime.settings
        if outcome.gone:
            return None
        delay = next_delay(settings.retry_schedule_seconds, outcome.job.attempt_number, settings.retry_jitter,
                           self.runtime.rng)
        if delay is None:
            return None
        if outcome.retry_after_seconds is not None:
            delay = clamp_retry_after(outcome.retry_after_seconds, settings.retry_after_max_seconds)
        return outcome.finished_at + timedelta(seconds=delay)

    def _due(self, due: datetime | None) -> None:
        if due is not None and self.on_due is not None:
            self.on_due(due)

    async def _write(self, session: AsyncSession, batch: list[AttemptOutcome]) -> datetime | None:
        """Write the batch; returns the earliest retry time it set (None: no retry)."""
        successes = [o for o in batch if o.succeeded]
        failures = [(o, self._next_attempt_at(o)) for o in batch if not o.succeeded]
        attempts = [repository.attempt_row(o, uuid7(), None) for o in successes]
        attempts += [repository.attempt_row(o, uuid7(), next_at) for o, next_at in failures]
        await repository.insert_attempts(session, attempts)
        # an attempt that got this far did not crash: a delivery parked after a crash leaves the lot
        await DELIVERY_PARKING.release_many(session, [o.job.delivery_id for o in batch])
        await repository.mark_succeeded(session, successes)
        await repository.mark_failed(session, failures)

        # endpoint health follows each endpoint's latest outcome in the batch
        latest: dict[uuid.UUID, AttemptOutcome] = {}
        first_failure: dict[uuid.UUID, datetime] = {}
        for outcome in sorted(batch, key=lambda o: o.finished_at):
            latest[outcome.job.endpoint_id] = outcome
            if not outcome.succeeded:
                first_failure.setdefault(outcome.job.endpoint_id, outcome.attempted_at)
        recovered = [e for e, o in latest.items() if o.succeeded]
        failing = {e: first_failure[e] for e, o in latest.items() if not o.succeeded}
        await repository.endpoints_recovered(session, recovered)
        await repository.endpoints_failing(session, failing)

        now = self.runtime.clock.now()
        gone = sorted({o.job.endpoint_id for o in batch if o.gone})
        for endpoint in await repository.lock_enabled_endpoints(session, gone):
            await disable_endpoint(session, endpoint, reason="gone", now=now, publish=True)
            ENDPOINTS_DISABLED.labels("notifications", "gone").inc()
            log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason="gone")
        cutoff = now - timedelta(days=self.runtime.settings.disable_after_failing_days)
        for endpoint in await repository.failing_too_long(session, sorted(failing), cutoff):
            await disable_endpoint(session, endpoint, reason="failing", now=now, publish=True)
            ENDPOINTS_DISABLED.labels("notifications", "failing").inc()
            log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason="failing",
                        failing_since=endpoint.failing_since.isoformat() if endpoint.failing_since else None)
        return min((at for _, at in failures if at is not None), default=None)
