"""What ingestion needs to know about a subscription's plan: its billable metrics.

The plan-version snapshot cached from the catalog names each charge's metric (id and code) but not
its aggregation, so the metric itself is read once from the catalog
(`GET /api/v1/billable_metrics/{code}`) and kept in memory and in `cached_billable_metrics`. The
catalog locks a charged metric's code, aggregation type, field name, recurring flag and weighted
interval, so the cached definition stays right for every plan version that charges it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.plans import repository
from subscriptions.plans.client import CatalogClient
from subscriptions.plans.errors import CatalogUnavailable

NUMERIC_AGGREGATIONS = frozenset({"sum_agg", "max_agg", "latest_agg", "weighted_sum_agg"})
MEMORY_CACHE_SIZE = 8192


@dataclass(frozen=True, slots=True)
class Metric:
    id: uuid.UUID
    code: str
    aggregation_type: str
    field_name: str | None
    recurring: bool
    rounding_function: str | None
    rounding_precision: int | None
    filters: dict[str, frozenset[str]] = field(default_factory=dict)
    name: str = ""
    expression: str | None = None  # evaluated into `field_name` at ingestion (`invora.expressions`)

    @classmethod
    def of(cls, body: dict[str, Any]) -> Metric:
        return cls(id=uuid.UUID(str(body["lago_id"])), code=body["code"], aggregation_type=body["aggregation_type"],
                   field_name=body.get("field_name"), recurring=bool(body.get("recurring")),
                   rounding_function=body.get("rounding_function"), rounding_precision=body.get("rounding_precision"),
                   filters={f["key"]: frozenset(str(v) for v in f.get("values") or [])
                            for f in body.get("filters") or []},
                   name=body.get("name") or body["code"], expression=(body.get("expression") or "").strip() or None)

    @property
    def needs_number(self) -> bool:
        return self.aggregation_type in NUMERIC_AGGREGATIONS

    @property
    def needs_field(self) -> bool:
        return self.aggregation_type != "count_agg"


class MetricCache:
    """Per app: metric definitions by (organization, metric id)."""

    def __init__(self) -> None:
        self._metrics: OrderedDict[tuple[uuid.UUID, uuid.UUID], Metric] = OrderedDict()

    def remember(self, organization_id: uuid.UUID, metric: Metric) -> None:
        self._metrics[(organization_id, metric.id)] = metric
        if len(self._metrics) > MEMORY_CACHE_SIZE:
            self._metrics.popitem(last=False)

    def forget(self, organization_id: uuid.UUID, metric_id: uuid.UUID) -> None:
        self._metrics.pop((organization_id, metric_id), None)

    async def metric(self, session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                     metric_id: uuid.UUID, code: str) -> Metric:
        key = (organization_id, metric_id)
        cached = self._metrics.get(key)
        if cached is not None:
            return cached
        body = await repository.cached_metric(session, organization_id, metric_id)
        if body is None:
            answer = await catalog._get(organization_id, f"/api/v1/billable_metrics/{quote(code, safe='')}")
            if answer is None or str(answer["billable_metric"]["lago_id"]) != str(metric_id):
                raise CatalogUnavailable("the catalog does not know a metric this plan charges")
            body = answer["billable_metric"]
            await repository.cache_metric(session, organization_id, metric_id, code, body)
        metric = Metric.of(body)
        self.remember(organization_id, metric)
        return metric


async def plan_metrics(session: AsyncSession, catalog: CatalogClient, cache: MetricCache,
                       organization_id: uuid.UUID, plan_version_id: uuid.UUID) -> dict[str, Metric]:
    """Metric code → definition, for every metric the plan version charges."""
    version = await catalog.plan_version(session, organization_id, plan_version_id)
    metrics: dict[str, Metric] = {}
    for charge in version.get("charges") or []:
        code = charge["billable_metric_code"]
        if code not in metrics:
            metrics[code] = await cache.metric(session, catalog, organization_id,
                                               uuid.UUID(str(charge["lago_billable_metric_id"])), code)
    return metrics


def metric_cache_of(app: FastAPI) -> MetricCache:
    return app.state.runtime.metric_cache
