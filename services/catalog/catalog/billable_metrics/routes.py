"""HTTP routes for billable metrics (`/api/v1/billable_metrics`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from catalog.billable_metrics import service
from catalog.billable_metrics.schemas import (
    BillableMetricCreateBody,
    BillableMetricResponse,
    BillableMetricsResponse,
    BillableMetricUpdateBody,
    EvaluateExpressionInput,
    ExpressionResult,
    ExpressionResultResponse,
)
from invora.auth.deps import Reader, Writer
from invora.events.contracts.catalog import AggregationType
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/billable_metrics", tags=["billable_metrics"])
CodePath = Path(description="Code of the billable metric.")


@router.post("", response_model=BillableMetricResponse, responses=CREATE_ERRORS, summary="Create a billable metric")
async def create_billable_metric(
    body: BillableMetricCreateBody, session: DbSession, principal: Writer,
) -> BillableMetricResponse:
    metric = await service.create(session, principal.organization_id, body.billable_metric)
    return BillableMetricResponse(billable_metric=metric)


@router.post("/evaluate_expression", response_model=ExpressionResultResponse, responses=CREATE_ERRORS,
             summary="Evaluate an expression for an event",
             description="What a metric's `expression` gives for one event (writes nothing). Lago's shape.")
async def evaluate_expression(body: EvaluateExpressionInput, principal: Reader) -> ExpressionResultResponse:
    value = service.evaluate_expression(body, datetime.now(UTC))
    return ExpressionResultResponse(expression_result=ExpressionResult(value=value))


@router.get("", response_model=BillableMetricsResponse, responses=LIST_ERRORS, summary="List billable metrics")
async def list_billable_metrics(
    session: DbSession, principal: Reader, page: Pagination,
    aggregation_types: Annotated[list[AggregationType] | None, Query(
        alias="aggregation_types[]", description="Only metrics with these aggregation types.")] = None,
    plan_code: Annotated[str | None, Query(max_length=255,
                                           description="Only metrics charged by this plan's current version.")] = None,
) -> BillableMetricsResponse:
    metrics, meta = await service.list_metrics(
        session, principal.organization_id, page, aggregation_types=aggregation_types, plan_code=plan_code,
    )
    return BillableMetricsResponse(billable_metrics=metrics, meta=meta)


@router.get("/{code}", response_model=BillableMetricResponse, responses=READ_ERRORS,
            summary="Retrieve a billable metric")
async def get_billable_metric(session: DbSession, principal: Reader, code: str = CodePath) -> BillableMetricResponse:
    return BillableMetricResponse(billable_metric=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=BillableMetricResponse, responses=WRITE_ERRORS,
            summary="Update a billable metric")
async def update_billable_metric(
    body: BillableMetricUpdateBody, session: DbSession, principal: Writer, code: str = CodePath,
) -> BillableMetricResponse:
    metric = await service.update(session, principal.organization_id, code, body.billable_metric)
    return BillableMetricResponse(billable_metric=metric)


@router.delete("/{code}", response_model=BillableMetricResponse, responses=WRITE_ERRORS,
               summary="Delete a billable metric")
async def delete_billable_metric(session: DbSession, principal: Writer, code: str = CodePath) -> BillableMetricResponse:
    return BillableMetricResponse(billable_metric=await service.delete(session, principal.organization_id, code))
