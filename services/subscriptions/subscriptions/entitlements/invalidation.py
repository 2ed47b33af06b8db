"""Wiring of the entitlement cache: its LISTEN connection and the commit hook of this replica's writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy import event
from sqlalchemy.orm import Session

from invora.db.engine import Database
from invora.db.listen import ChannelListener
from subscriptions.access.models import CustomerEntitlementOverride, GracePeriod
from subscriptions.customers.models import Customer
from subscriptions.entitlements.cache import CHANNEL, EntitlementCache
from subscriptions.subscriptions.models import PlanEntitlementsProjection, Subscription

_PENDING = "invora.entitlements_changed"
_BY_CUSTOMER_ID = (Subscription, CustomerEntitlementOverride, GracePeriod)


def _changed_customers(session: Session) -> set[uuid.UUID | None]:
    changed: set[uuid.UUID | None] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Customer):
            changed.add(instance.id)
        elif isinstance(instance, _BY_CUSTOMER_ID):
            changed.add(instance.customer_id)
        elif isinstance(instance, PlanEntitlementsProjection):
            changed.add(None)
    return changed


def _install_commit_hooks(database: Database, cache: EntitlementCache) -> list[tuple[str, object]]:
    def after_flush(session: Session, _context: object) -> None:
        changed = _changed_customers(session)  # still the pre-flush lists here
        if changed:
            session.info.setdefault(_PENDING, set()).update(changed)

    def after_commit(session: Session) -> None:
        for customer_id in session.info.pop(_PENDING, ()):
            cache.invalidate(customer_id)

    def after_rollback(session: Session) -> None:
        session.info.pop(_PENDING, None)

    hooks = [("after_flush", after_flush), ("after_commit", after_commit), ("after_rollback", after_rollback)]
    for name, hook in hooks:
        event.listen(database.session_class, name, hook)
    return hooks


def entitlement_cache_lifespan(app: FastAPI):
    """Background piece of the app: the cache, fed by LISTEN, or None when disabled in settings."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        runtime = app.state.runtime
        settings = runtime.settings
        if not settings.entitlement_cache_enabled:
            runtime.entitlement_cache = None
            yield
            return
        database: Database = app.state.database
        cache = EntitlementCache(max_entries=settings.entitlement_cache_max_customers,
                                 ttl_seconds=settings.entitlement_cache_seconds)
        listener = ChannelListener(database.asyncpg_dsn, CHANNEL, cache.on_notify, cache.set_live)
        hooks = _install_commit_hooks(database, cache)
        runtime.entitlement_cache = cache
        runtime.entitlement_listener = listener
        await listener.start()
        try:
            yield
        finally:
            await listener.stop()
            for name, hook in hooks:
                event.remove(database.session_class, name, hook)

    return running()


def cache_of(request: Request) -> EntitlementCache | None:
    return request.app.state.runtime.entitlement_cache
