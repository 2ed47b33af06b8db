"""The retention pass of the activity and API logs: rows older than their setting are deleted, in batches.

It runs in every replica (`invora.background.repeat`); concurrent passes delete disjoint or already
deleted rows, so running twice is harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora import background
from notifications.activity_logs import repository as activity_repository
from notifications.api_logs import repository as api_repository
from notifications.runtime import NotificationsRuntime

BATCH = 5_000


async def prune_logs(sessionmaker: async_sessionmaker[AsyncSession], runtime: NotificationsRuntime) -> int:
    """Delete what is past retention (one transaction per batch); answers how many rows."""
    now = runtime.clock.now()
    settings = runtime.settings
    deleted = 0
    for prune, days in ((activity_repository.delete_older_than, settings.activity_log_retention_days),
                        (api_repository.delete_older_than, settings.api_log_retention_days)):
        cutoff = now - timedelta(days=days)
        while True:
            async with sessionmaker() as session:
                count = await prune(session, cutoff, BATCH)
                await session.commit()
            deleted += count
            if count < BATCH:
                break
    return deleted


def log_retention_lifespan(runtime: NotificationsRuntime):
    """A `ServiceDefinition.background` factory: the retention loop runs for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        passes = {"log_retention": lambda: prune_logs(app.state.database.sessionmaker, runtime)}
        async with background.repeat("notifications-log-retention", passes,
                                     lambda: runtime.settings.log_retention_interval_seconds):
            yield

    return lifespan
