"""The usage alerts' named errors (usage reads answer `subscriptions.errors.SubscriptionNotFound`)."""

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
