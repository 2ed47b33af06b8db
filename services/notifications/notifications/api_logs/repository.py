"""SQL of the API logs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.bulk import insert_new
from notifications.api_logs.models import ApiLog

_ROWS_PER_STATEMENT = 1000


@dataclass(frozen=True)
class ApiLogFilters:
    logged_from: datetime | None = None
    logged_before: datetime | None = None
    http_methods: tuple[str, ...] = ()
    http_statuses: tuple[int, ...] = ()
    generic_statuses: tuple[str, ...] = ()  # `succeeded` (< 400), `failed` (>= 400)
    api_version: str | None = None
    request_paths: tuple[str, ...] = ()


async def insert_api_logs(session: AsyncSession, rows: list[dict]) -> int:
    """Insert, skipping events already recorded (redelivery) and request ids already logged."""
    return len(await insert_new(session, ApiLog, rows, per_statement=_ROWS_PER_STATEMENT))


def list_statement(organization_id: uuid.UUID, filters: ApiLogFilters) -> Select:
    statement = select(ApiLog).where(ApiLog.organization_id == organization_id)
    if filters.logged_from is not None:
        statement = statement.where(ApiLog.logged_at >= filters.logged_from)
    if filters.logged_before is not None:
        statement = statement.where(ApiLog.logged_at < filters.logged_before)
    if filters.http_methods:
        statement = statement.where(ApiLog.http_method.in_(filters.http_methods))
    status_terms = []
    if filters.http_statuses:
        status_terms.append(ApiLog.http_status.in_(filters.http_statuses))
    if "succeeded" in filters.generic_statuses:
        status_terms.append(ApiLog.http_status < 400)
    if "failed" in filters.generic_statuses:
        status_terms.append(ApiLog.http_status >= 400)
    if status_terms:
        statement = statement.where(or_(*status_terms))
    if filters.api_version is not None:
        statement = statement.where(ApiLog.api_version == filters.api_version)
    if filters.request_paths:
        statement = statement.where(or_(*(ApiLog.request_path.startswith(path, autoescape=True)
                                          for path in filters.request_paths)))
    return statement.order_by(ApiLog.logged_at.desc(), ApiLog.id.desc())


async def get(session: AsyncSession, organization_id: uuid.UUID, request_id: str) -> ApiLog | None:
    return (await session.execute(select(ApiLog).where(
        ApiLog.organization_id == organization_id, ApiLog.request_id == request_id))).scalar_one_or_none()


async def delete_older_than(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    doomed = select(ApiLog.id).where(ApiLog.logged_at < cutoff).limit(limit).scalar_subquery()
    result = await session.execute(delete(ApiLog).where(ApiLog.id.in_(doomed)))
    return result.rowcount or 0
