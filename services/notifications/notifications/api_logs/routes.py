"""`/api/v1/api_logs`: the suite's mutating API requests (Lago's shapes). Staff keys only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import StringConstraints

from invora.auth.deps import require_roles
from invora.auth.principal import Principal
from invora.web.deps import DbSession
from invora.web.pagination import Pagination
from notifications.api_logs import service
from notifications.api_logs.repository import ApiLogFilters
from notifications.api_logs.schemas import ApiLogList, ApiLogResponse
from notifications.logs_inputs import Day, FilterText, day_bounds

router = APIRouter(prefix="/api/v1/api_logs", tags=["api_logs"])
Staff = Annotated[Principal, Depends(require_roles("admin", "billing_admin"))]
HttpMethod = Literal["post", "put", "patch", "delete"]
HttpStatus = Annotated[str, StringConstraints(pattern=r"^(succeeded|failed|[1-5][0-9]{2})$")]


def _status(value: str) -> int | str:
    return value if value in ("succeeded", "failed") else int(value)


def _filters(
    from_date: Annotated[Day | None, Query(description="From this UTC day (inclusive), YYYY-MM-DD")] = None,
    to_date: Annotated[Day | None, Query(description="Up to this UTC day (inclusive), YYYY-MM-DD")] = None,
    http_methods: Annotated[list[HttpMethod] | None, Query(alias="http_methods[]")] = None,
    http_statuses: Annotated[list[HttpStatus] | None, Query(
        alias="http_statuses[]", description="`succeeded`, `failed` or a status code (100-599)")] = None,
    api_version: Annotated[FilterText | None, Query()] = None,
    request_paths: Annotated[list[FilterText] | None, Query(
        alias="request_paths[]", description="Path prefixes, e.g. /billable_metrics")] = None,
) -> ApiLogFilters:
    start, end = day_bounds(from_date, to_date)
    statuses = [_status(value) for value in http_statuses or ()]
    return ApiLogFilters(
        logged_from=start, logged_before=end, http_methods=tuple(http_methods or ()),
        http_statuses=tuple(s for s in statuses if isinstance(s, int)),
        generic_statuses=tuple(s for s in statuses if isinstance(s, str)),
        api_version=api_version, request_paths=tuple(request_paths or ()),
    )


@router.get("", response_model=ApiLogList, summary="List API logs")
async def list_api_logs(session: DbSession, principal: Staff, page: Pagination,
                        filters: Annotated[ApiLogFilters, Depends(_filters)]) -> ApiLogList:
    rows, meta = await service.list_api_logs(session, principal, filters, page)
    return ApiLogList(api_logs=rows, meta=meta)


@router.get("/{request_id}", response_model=ApiLogResponse, summary="Retrieve an API log")
async def get_api_log(request_id: Annotated[FilterText, Path(max_length=128)], session: DbSession,
                      principal: Staff) -> ApiLogResponse:
    return ApiLogResponse(api_log=await service.get_api_log(session, principal, request_id))
