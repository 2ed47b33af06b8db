"""`/api/v1/activity_logs`: who changed what through the API (Lago's shapes). Staff keys only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from invora.auth.deps import require_roles
from invora.auth.principal import Principal
from invora.web.deps import DbSession
from invora.web.pagination import Pagination
from notifications.activity_logs import service
from notifications.activity_logs.repository import ActivityFilters
from notifications.activity_logs.schemas import ActivityLogList, ActivityLogResponse, ActivitySource
from notifications.logs_inputs import Day, FilterText, day_bounds

router = APIRouter(prefix="/api/v1/activity_logs", tags=["activity_logs"])
Staff = Annotated[Principal, Depends(require_roles("admin", "billing_admin"))]


def _filters(
    from_date: Annotated[Day | None, Query(description="From this UTC day (inclusive), YYYY-MM-DD")] = None,
    to_date: Annotated[Day | None, Query(description="Up to this UTC day (inclusive), YYYY-MM-DD")] = None,
    activity_types: Annotated[list[FilterText] | None, Query(alias="activity_types[]")] = None,
    activity_sources: Annotated[list[ActivitySource] | None, Query(alias="activity_sources[]")] = None,
    user_emails: Annotated[list[FilterText] | None, Query(alias="user_emails[]")] = None,
    external_customer_id: Annotated[FilterText | None, Query()] = None,
    external_subscription_id: Annotated[FilterText | None, Query()] = None,
    resource_ids: Annotated[list[FilterText] | None, Query(alias="resource_ids[]")] = None,
    resource_types: Annotated[list[FilterText] | None, Query(alias="resource_types[]",
                                                             description="e.g. BillableMetric")] = None,
) -> ActivityFilters:
    start, end = day_bounds(from_date, to_date)
    return ActivityFilters(
        logged_from=start, logged_before=end, activity_types=tuple(activity_types or ()),
        activity_sources=tuple(activity_sources or ()), user_emails=tuple(user_emails or ()),
        external_customer_id=external_customer_id, external_subscription_id=external_subscription_id,
        resource_ids=tuple(resource_ids or ()), resource_types=tuple(resource_types or ()),
    )


@router.get("", response_model=ActivityLogList, summary="List activity logs")
async def list_activity_logs(session: DbSession, principal: Staff, page: Pagination,
                             filters: Annotated[ActivityFilters, Depends(_filters)]) -> ActivityLogList:
    rows, meta = await service.list_activities(session, principal, filters, page)
    return ActivityLogList(activity_logs=rows, meta=meta)


@router.get("/{activity_id}", response_model=ActivityLogResponse, summary="Retrieve an activity log")
async def get_activity_log(activity_id: uuid.UUID, session: DbSession, principal: Staff) -> ActivityLogResponse:
    return ActivityLogResponse(activity_log=await service.get_activity(session, principal, activity_id))
