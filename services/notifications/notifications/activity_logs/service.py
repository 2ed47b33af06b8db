"""Reading activity logs."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams, PaginationMeta, paginate
from notifications.activity_logs import repository
from notifications.activity_logs.errors import ActivityLogNotFound
from notifications.activity_logs.models import ActivityLog
from notifications.activity_logs.schemas import ActivityLogObject


def _object(row: ActivityLog) -> ActivityLogObject:
    return ActivityLogObject(
        activity_id=row.id, user_email=row.user_email, activity_type=row.activity_type,
        activity_source=row.activity_source,  # type: ignore[arg-type]
        activity_object=row.activity_object, activity_object_changes=row.activity_object_changes,
        external_customer_id=row.external_customer_id, external_subscription_id=row.external_subscription_id,
        resource_id=row.resource_id, resource_type=row.resource_type, organization_id=row.organization_id,
        logged_at=row.logged_at, created_at=row.created_at,
    )


async def list_activities(session: AsyncSession, principal: Principal, filters: repository.ActivityFilters,
                          page: PageParams) -> tuple[list[ActivityLogObject], PaginationMeta]:
    rows, meta = await paginate(session, repository.list_statement(principal.organization_id, filters), page)
    return [_object(row) for row in rows], meta


async def get_activity(session: AsyncSession, principal: Principal, activity_id: uuid.UUID) -> ActivityLogObject:
    row = await repository.get(session, principal.organization_id, activity_id)
    if row is None:
        raise ActivityLogNotFound()
    return _object(row)
