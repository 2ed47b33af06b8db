"""The subscriptions' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound, ValidationFailed


class SubscriptionNotFound(NotFound):
    resource = "subscription"


class SubscriptionExternalIdTaken(FieldError):
    field, reason = "external_id", "value_already_exist"


class SubscriptionNotEditable(FieldError):
    field, reason = "status", "subscription_not_editable"


class SubscriptionAtNotUpdatable(FieldError):
    field, reason = "subscription_at", "cannot_be_updated"


class EndingAtInvalid(FieldError):
    field, reason = "ending_at", "invalid_date"


class StatusFilterInvalid(FieldError):
    field, reason = "status", "value_is_invalid"


class OverrideCurrencyMismatch(ValidationFailed):
    def __init__(self) -> None:
        super().__init__({"plan_overrides.amount_currency": ["currencies_does_not_match"]})


class ChargeNotFound(NotFound):
    resource = "charge"


class FixedChargeNotFound(NotFound):
    resource = "fixed_charge"


class ChargeFilterNotFound(NotFound):
    resource = "charge_filter"
