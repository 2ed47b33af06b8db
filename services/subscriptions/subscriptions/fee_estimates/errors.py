"""The fee estimates' named errors."""

from __future__ import annotations

from invora.errors import NotFound, ValidationFailed


class BillableMetricNotFound(NotFound):
    """The subscription's plan version charges no metric with that code."""

    resource = "billable_metric"


class NoChargePaidInAdvance(ValidationFailed):
    """No charge of the metric is paid in advance (instant estimates: none `standard` or `percentage`)."""

    def __init__(self) -> None:
        super().__init__({"code": ["does_not_match_an_instant_charge"]})
