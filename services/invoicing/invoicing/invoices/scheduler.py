"""Background passes: finalize drafts whose grace period is over; ask wallets again for the prepaid credits of
a pending invoice whose answer has not come; flag overdue invoices once.

Exactly once across replicas: rows are claimed `FOR UPDATE SKIP LOCKED`, re-read under the lock,
and the effect is guarded by the row's own state (a finalized invoice is not finalized again; the
overdue flag is set with its event), each batch in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicing.invoices import lifecycle, repository
from invoicing.prepaid_credits import repository as prepaid_repository
from invoicing.prepaid_credits import service as prepaid_credits
from invora import background
from invora.errors import InvoraError
from invora.logging import get_logger

log = get_logger(__name__)


async def finalize_due(sessionmaker: async_sessionmaker[AsyncSession], now: datetime, batch: int = 200) -> int:
    done = 0
    while True:
        async with sessionmaker() as session, session.begin():
            drafts = await repository.due_drafts(session, now, batch)
            for invoice in drafts:
                try:
                    async with session.begin_nested():
                        await lifecycle.finalize(session, invoice, now)
                        done += 1
                except InvoraError as exc:  # parked customer: stays a draft, not picked again
                    invoice.finalize_at = None
                    log.warning("draft_not_finalized", invoice_id=str(invoice.id), error=exc.code)
        if len(drafts) < batch:
            return done


async def resend_prepaid_requests(sessionmaker: async_sessionmaker[AsyncSession], now: datetime,
                                  after_seconds: float, batch: int = 200, abandon_after_seconds: float | None = None,
                                  ) -> int:
    """Pending invoices whose request had no answer within `after_seconds` (lost, or wallets was down): the same
    request again, keyed by the invoice (wallets applies once and answers every copy the same). One pending
    for longer than `abandon_after_seconds` since it asked first is finalized without credits and a release
    sent (`lifecycle.abandon_prepaid_credits`)."""
    sent = 0
    while True:
        async with sessionmaker() as session, session.begin():
            pending = await prepaid_repository.stale_pending(session, now - timedelta(seconds=after_seconds), batch)
            fees = await repository.fees_of(session, [i.id for i in pending])
            for invoice in pending:
                # `updated_at` is the instant it went pending (a resend moves only `prepaid_credits_requested_at`)
                if abandon_after_seconds is not None and \
                        invoice.updated_at <= now - timedelta(seconds=abandon_after_seconds):
                    await lifecycle.abandon_prepaid_credits(session, invoice, now)
                else:
                    await prepaid_credits.send_request(session, invoice, fees[invoice.id], now)
                    log.warning("prepaid_credits_request_resent", invoice_id=str(invoice.id))
                sent += 1
        if len(pending) < batch:
            return sent


async def flag_overdue(sessionmaker: async_sessionmaker[AsyncSession], now: datetime, batch: int = 200) -> int:
    flagged = 0
    while True:
        async with sessionmaker() as session, session.begin():
            invoices = await repository.overdue_candidates(session, now.date(), batch)
            for invoice in invoices:
                await lifecycle.mark_overdue(session, invoice, now)
                flagged += 1
        if len(invoices) < batch:
            return flagged


def scheduler(interval_seconds: Callable[[FastAPI], float]):
    def scheduler_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
        @contextlib.asynccontextmanager
        async def running() -> AsyncIterator[None]:
            settings = app.state.settings
            if not settings.scheduler_enabled:
                yield
                return

            def now() -> datetime:
                return app.state.runtime.clock.now()

            def database() -> async_sessionmaker[AsyncSession]:
                return app.state.database.sessionmaker

            passes = {
                "finalize_due": lambda: finalize_due(database(), now()),
                "prepaid_credits_resend": lambda: resend_prepaid_requests(
                    database(), now(), settings.prepaid_credits_resend_after_seconds,
                    abandon_after_seconds=settings.prepaid_credits_abandon_after_seconds),
                "flag_overdue": lambda: flag_overdue(database(), now()),
            }
            async with background.repeat("invoicing-scheduler", passes, lambda: interval_seconds(app)):
                yield

        return running()

    return scheduler_lifespan
