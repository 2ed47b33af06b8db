"""The usage reads' and alerts' named errors (usage reads also answer `subscriptions.errors.SubscriptionNotFound`)."""

from __future__ import annotations

from invora.errors import BadRequest, FieldError, NotFound


class AlertNotFound(NotFound):
    resource = "alert"


class AlertCodeTaken(FieldError):
    field, reason = "code", "value_already_exist"


class AlertMissing(BadRequest):
    """Lago's answer to a body without its `alert` root."""

    code = "missing_param"

    def __init__(self) -> None:
        super().__init__("param is missing or the value is empty: alert")


class ChargeNotFound(NotFound):
    """`current_usage` filtered by a charge the subscription's plan does not have."""

    resource = "charge"


class BillableMetricNotFound(NotFound):
    resource = "billable_metric"


class FullUsageNotBuilt(FieldError):
    """`full_usage=true` over a metric whose rollups do not add up across periods (recurring, unique count,
    weighted sum): refused, never answered wrong."""

    field, reason = "full_usage", "not_supported_for_aggregation"


class UsageFilterMissing(FieldError):
    field, reason = "full_usage", "charge_or_group_filter_required"
