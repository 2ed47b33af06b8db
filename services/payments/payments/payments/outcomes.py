"""Provider answers recorded several to a transaction (the charger's step 4, batched).

Each answer is recorded through `lifecycle.apply_charge_result` on its payment, locked, exactly as one at a
time would be (a webhook that recorded it first wins; the later one changes nothing). What changes is the
transaction around them: the answers that arrive while one batch is being written are written together in
the next one (the payments locked in one statement, in id order; their events written after the last
outcome, two statements for all of them (`invora.outbox.writer.add_events`); then the receipts of the
successes, each organization's counter taken once, right before the commit; one commit). A batch
that fails is retried one answer per transaction, so one bad outcome cannot keep the others unrecorded.
`record` returns once its answer is committed; an answer that cannot be recorded raises there, and the
attempt's lease runs out and it is reconciled at the provider, as when the process dies at that point.

The charger hands its answers over with `submit` instead, which returns at once, so a call slot is free
for the next attempt while the answer waits for its batch (at most `backlog` answers wait unrecorded: past
that, `submit` waits for its own); it holds the attempt's lease until then, and `flush` (the end of a
pass) waits for every answer handed over. An answer that cannot be recorded is logged
(`charge_outcome_not_recorded`) and reconciled after its lease, as above.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.logging import get_logger
from payments.payments import lifecycle, repository
from payments.providers.base import ChargeResult

log = get_logger(__name__)
MAX_BATCH = 64


async def record_one(sessionmaker: async_sessionmaker[AsyncSession], payment_id: uuid.UUID, result: ChargeResult,
                     clock: Any) -> None:
    async with sessionmaker() as session:
        payment = await repository.lock(session, payment_id)
        await lifecycle.apply_charge_result(session, payment, result, clock.now())
        await session.commit()


class Recorder:
    """One per charger pass."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Any, *, backlog: int = MAX_BATCH
                 ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._backlog = backlog
        self._unrecorded = 0
        self._waiting: list[tuple[uuid.UUID, ChargeResult, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, payment_id: uuid.UUID, result: ChargeResult) -> None:
        """Returns once the answer is committed (raises if it could not be)."""
        await asyncio.shield(self._enqueue(payment_id, result))  # a canceled caller does not cancel the batch

    async def submit(self, payment_id: uuid.UUID, result: ChargeResult) -> None:
        """Hands the answer over and returns at once, or once it is recorded when `backlog` answers wait."""
        done = self._enqueue(payment_id, result)
        done.add_done_callback(lambda future, payment_id=payment_id: _report(future, payment_id))
        if self._unrecorded > self._backlog:
            await asyncio.wait([done])

    async def flush(self) -> None:
        """Waits until every answer handed over is recorded (or failed to be)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def _enqueue(self, payment_id: uuid.UUID, result: ChargeResult) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        self._unrecorded += 1
        done.add_done_callback(self._recorded)
        self._waiting.append((payment_id, result, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return done

    def _recorded(self, _: asyncio.Future) -> None:
        self._unrecorded -= 1

    async def _write(self) -> None:
        while self._waiting:
            batch: list[tuple[uuid.UUID, ChargeResult, asyncio.Future]] = []
            later: list[tuple[uuid.UUID, ChargeResult, asyncio.Future]] = []
            for entry in self._waiting:  # one answer per payment in a batch
                (later if len(batch) >= MAX_BATCH or any(entry[0] == b[0] for b in batch) else batch).append(entry)
            self._waiting = later
            try:
                await self._write_batch(batch)
            except Exception as exc:  # noqa: BLE001 - each answer again, alone
                log.warning("charge_outcomes_batch_failed", payments=len(batch), error=repr(exc))
                for payment_id, result, done in batch:
                    try:
                        await record_one(self._sessionmaker, payment_id, result, self._clock)
                    except Exception as alone:  # noqa: BLE001 - handed to the caller
                        _settle(done, alone)
                    else:
                        _settle(done, None)
            else:
                for _, _, done in batch:
                    _settle(done, None)

    async def _write_batch(self, batch: list[tuple[uuid.UUID, ChargeResult, asyncio.Future]]) -> None:
        async with self._sessionmaker() as session:
            payments = await repository.lock_many(session, [payment_id for payment_id, _, _ in batch])
            deferred = lifecycle.Deferred()
            now = self._clock.now()
            for payment_id, result, _ in batch:
                await lifecycle.apply_charge_result(session, payments[payment_id], result, now, deferred=deferred)
            await lifecycle.write_deferred(session, deferred)
            await session.commit()


def _report(done: asyncio.Future, payment_id: uuid.UUID) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("charge_outcome_not_recorded", payment_id=str(payment_id), error=repr(done.exception()))


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
