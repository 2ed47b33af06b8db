"""The billing entities' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class BillingEntityNotFound(NotFound):
    resource = "billing_entity"


class BillingEntityCodeTaken(FieldError):
    field, reason = "code", "value_already_exist"
