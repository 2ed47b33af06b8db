"""The request pool replaces connections the server closed, without a per-checkout ping."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import text

from invora.db.engine import Database


async def test_connection_closed_by_the_server_is_replaced_at_checkout(create_database):
    database = Database(create_database("engine"))
    try:
        async with database.sessionmaker() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(database.asyncpg_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)  # the driver sees the socket close
        async with database.sessionmaker() as session:
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await database.dispose()
