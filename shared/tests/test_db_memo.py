"""`invora.db.memo`: what a transaction remembers is gone in the next one (commit, rollback), savepoints share it."""

from __future__ import annotations

from sqlalchemy import text

from invora.db.engine import Database
from invora.db.memo import memo


async def test_a_memo_lives_exactly_as_long_as_its_transaction(create_database):
    database = Database(create_database("memo"))
    try:
        async with database.sessionmaker() as session:
            memo(session, "reads")["x"] = 1  # before any statement: the transaction it begins keeps it
            await session.execute(text("SELECT 1"))
            assert memo(session, "reads") == {"x": 1}
            assert memo(session, "other") == {}
            async with session.begin_nested():
                assert memo(session, "reads") == {"x": 1}  # a savepoint is part of the same transaction
                memo(session, "reads")["y"] = 2
            assert memo(session, "reads") == {"x": 1, "y": 2}
            await session.commit()
            assert memo(session, "reads") == {}  # a new transaction reads afresh
            memo(session, "reads")["z"] = 3
            await session.execute(text("SELECT 1"))
            await session.rollback()
            assert memo(session, "reads") == {}
        async with database.sessionmaker() as other:
            assert memo(other, "reads") == {}  # never shared between sessions
    finally:
        await database.dispose()
