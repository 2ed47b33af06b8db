"""The customers' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class CustomerNotFound(NotFound):
    resource = "customer"


class MetadataKeyDuplicated(FieldError):
    field, reason = "metadata", "duplicated_key"


class CurrencyMismatch(FieldError):
    """The customer already bills in another currency (its subscriptions, or the plan asked for)."""

    field, reason = "currency", "currencies_does_not_match"
