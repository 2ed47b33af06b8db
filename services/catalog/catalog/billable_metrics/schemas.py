"""Billable metrics in Lago's shapes (`{"billable_metric": {...}}`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from invora.events.contracts.catalog import AggregationType, BillableMetric
from invora.expressions import MAX_LENGTH as MAX_EXPRESSION
from invora.web.fields import Code, Description, RequiredName, Text
from invora.web.inputs import InputModel, StrictInt
from invora.web.pagination import PaginationMeta

MAX_FILTERS = 50
MAX_PROPERTIES = 100
MAX_PROPERTY_TEXT = 1000
MAX_FILTER_VALUES = 1000

RoundingFunction = Literal["round", "ceil", "floor"]
RoundingPrecision = Annotated[StrictInt, Field(ge=-15, le=15)]


class BillableMetricFilterInput(InputModel):
    key: Code
    values: Annotated[list[Code], Field(min_length=1, max_length=MAX_FILTER_VALUES)]


class _MetricFields(InputModel):
    description: Description | None = None
    field_name: RequiredName | None = None
    recurring: StrictBool | None = None
    rounding_function: RoundingFunction | None = None
    rounding_precision: RoundingPrecision | None = None
    weighted_interval: Literal["seconds"] | None = None
    expression: Annotated[Description, Field(max_length=MAX_EXPRESSION, description=(
        "Lago's expression over the event (`round((event.properties.ended_at - event.properties.started_at) "
        "* event.properties.units)`); evaluated at ingestion into `field_name`."))] | None = None
    filters: Annotated[list[BillableMetricFilterInput], Field(max_length=MAX_FILTERS)] | None = None


# checked in `service._rule_errors`: a field to aggregate unless counting; `recurring` only where it means something
_METRIC_RULES = {"allOf": [
    {"anyOf": [{"properties": {"aggregation_type": {"const": "count_agg"}}},
               {"properties": {"field_name": {"type": "string"}}, "required": ["field_name"]}]},
    {"anyOf": [{"properties": {"aggregation_type": {"enum": ["sum_agg", "unique_count_agg", "weighted_sum_agg"]}}},
               {"not": {"properties": {"recurring": {"const": True}}, "required": ["recurring"]}}]},
]}


class BillableMetricCreateInput(_MetricFields):
    """Filter keys must be unique."""

    model_config = ConfigDict(json_schema_extra=_METRIC_RULES)

    name: RequiredName
    code: Code
    aggregation_type: AggregationType


class BillableMetricUpdateInput(_MetricFields):
    name: RequiredName | None = None
    code: Code | None = None
    aggregation_type: AggregationType | None = None


class BillableMetricCreateBody(BaseModel):
    billable_metric: BillableMetricCreateInput


class BillableMetricUpdateBody(BaseModel):
    billable_metric: BillableMetricUpdateInput


class BillableMetricResponse(BaseModel):
    billable_metric: BillableMetric


class BillableMetricsResponse(BaseModel):
    billable_metrics: list[BillableMetric]
    meta: PaginationMeta


# -- POST /billable_metrics/evaluate_expression (Lago's shape) ---------------------------------------------

PropertyValue = Annotated[str, StringConstraints(max_length=MAX_PROPERTY_TEXT)] | StrictInt | float


class ExpressionEventInput(InputModel):
    code: Code  # a metric code: bounded like every code (the security tests found it unbounded)
    timestamp: StrictInt | Annotated[Text, StringConstraints(max_length=64)] | None = Field(
        None, description="Unix seconds (integer or text); now when absent.")
    properties: Annotated[dict[Annotated[str, StringConstraints(max_length=255)], PropertyValue],
                          Field(max_length=MAX_PROPERTIES)] = Field(default_factory=dict)


class EvaluateExpressionInput(InputModel):
    expression: Annotated[str, StringConstraints(max_length=MAX_EXPRESSION)]
    event: ExpressionEventInput


class ExpressionResult(BaseModel):
    value: str = Field(description="The result: a number as decimal text, or text (`concat`).")


class ExpressionResultResponse(BaseModel):
    expression_result: ExpressionResult
