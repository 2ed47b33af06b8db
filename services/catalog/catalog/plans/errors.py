"""The plans' named errors: plans, versions, charges, fixed charges, filters, entitlements, metadata."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class PlanNotFound(NotFound):
    resource = "plan"


class PlanVersionNotFound(NotFound):
    resource = "plan_version"


class ChargeNotFound(NotFound):
    resource = "charge"


class FixedChargeNotFound(NotFound):
    resource = "fixed_charge"


class ChargeFilterNotFound(NotFound):
    resource = "charge_filter"


class EntitlementNotFound(NotFound):
    resource = "entitlement"


class FilterValuesMissing(FieldError):
    field, reason = "values", "value_is_mandatory"
