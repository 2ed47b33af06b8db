"""The body of every service's `migrations/env.py`: async Alembic against the service's database.

The URL comes from the Alembic config (set by `invora.db.migrate`) or the service's settings; TLS
come from the service's settings (`INVORA_DATABASE_SSL_*`), so
migrations connect the way the service does.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from invora import secrets
from invora.settings import ServiceSettings


def run_migrations(target_metadata: MetaData, settings: type[ServiceSettings]) -> None:
    from alembic import context

    config = context.config
    service_settings = settings()
    url = (config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
           or service_settings.database_url)
    if (ring := service_settings.secrets_keyring) is not None:
        secrets.configure(ring)  # data migrations that encrypt or decrypt stored secrets use it
    # TLS as the service connects; no statement timeout, which a long data migration would hit
    connect_args = replace(service_settings.database_options, statement_timeout_ms=0).connect_args()

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
        engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
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
