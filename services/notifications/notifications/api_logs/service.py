"""Reading API logs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.web.pagination import PageParams, PaginationMeta, paginate
from notifications.api_logs import repository
from notifications.api_logs.errors import ApiLogNotFound
from notifications.api_logs.models import ApiLog
from notifications.api_logs.schemas import ApiLogObject


def _object(row: ApiLog) -> ApiLogObject:
    return ApiLogObject(
        request_id=row.request_id, api_version=row.api_version, client=row.client, http_method=row.http_method,
        http_status=row.http_status, request_origin=row.request_origin, request_path=row.request_path,
        request_body=row.request_body, principal=row.principal, service=row.service, logged_at=row.logged_at,
        created_at=row.created_at,
    )


async def list_api_logs(session: AsyncSession, principal: Principal, filters: repository.ApiLogFilters,
                        page: PageParams) -> tuple[list[ApiLogObject], PaginationMeta]:
    rows, meta = await paginate(session, repository.list_statement(principal.organization_id, filters), page)
    return [_object(row) for row in rows], meta


async def get_api_log(session: AsyncSession, principal: Principal, request_id: str) -> ApiLogObject:
    row = await repository.get(session, principal.organization_id, request_id)
    if row is None:
        raise ApiLogNotFound()
    return _object(row)
