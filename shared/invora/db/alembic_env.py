"""The body of every service's `migrations/env.py`: async Alembic against the service's database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def run_migrations(target_metadata: MetaData, default_url: Callable[[], str]) -> None:
    from alembic import context

    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or default_url()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run())
        return
    # called from inside an event loop (e.g. an async test): migrate on a thread of its own
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
