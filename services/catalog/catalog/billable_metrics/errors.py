"""The billable metrics' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class BillableMetricNotFound(NotFound):
    resource = "billable_metric"


class BillableMetricAttachedToLivePlans(FieldError):
    field, reason = "billable_metric", "attached_to_live_plans"
