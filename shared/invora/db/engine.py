"""Async SQLAlchemy engine on asyncpg and the once-per-request unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from invora.db.options import DatabaseConnectOptions


def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Checkout check: a connection the server closed (restart, terminated backend, idle timeout) is
    replaced by a fresh one. asyncpg sees the socket close by itself, so this costs no round trip,
    where `pool_pre_ping` costs three on every checkout (BEGIN, `;`, ROLLBACK with asyncpg)."""
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("connection closed by the server")


class Database:
    def __init__(self, url: str, pool_size: int = 10, options: DatabaseConnectOptions | None = None) -> None:
        self.url = url
        self.options = options or DatabaseConnectOptions()
        self.engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                                       connect_args=self.options.connect_args())
        event.listen(self.engine.sync_engine.pool, "checkout", _replace_if_closed)
        # a Session class of this database's own, so ORM event listeners (e.g. after_commit) attach
        # to this database's sessions only, not to every app in the process
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True,
                                               sync_session_class=self.session_class)

    @property
    def asyncpg_dsn(self) -> str:
        """The same database as a plain libpq URL, for raw asyncpg connections (relay, LISTEN), with
        the same TLS and statement timeout as the pool."""
        return self.options.dsn(self.engine.url.render_as_string(hide_password=False))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def session_dependency(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit once at the end, roll back on error.

    Registered with `Depends(..., scope="function")` (see `invora.web.deps.DbSession`) so the
    commit happens before the response is sent: a client never sees a 2xx for work that
    did not commit.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        hooks = request.scope.get("invora.before_commit", ())
        for hook in hooks:
            await hook(session)
        await session.commit()
