"""Which charges Lago allows: properties per model, and the combinations of flags, metric and model.

A charge (usage-based):
* properties valid for its model (tiers from 0, contiguous, non-negative amounts… — see
  `invora.pricing`), in every filter too;
* `pay_in_advance` only for `count_agg`, `sum_agg` and `unique_count_agg` metrics, never `volume`;
* `invoiceable: false` only when paid in advance; `regroup_paid_fees` only when paid in advance and
  not invoiceable; `min_amount_cents` only when paid in arrears;
* `prorated` only on a recurring metric (not `weighted_sum_agg`): `standard` in advance, or
  `standard`, `volume`, `graduated` in arrears;
* `dynamic` only on `sum_agg`; `percentage` never on `latest_agg`;
* filter values are keys and values of the metric's filters (or `__ALL_FILTER_VALUES__`), no two
  filters with the same values.

A fixed charge: `standard`, `graduated` or `volume`; `volume` is never paid in advance; a
`graduated` one paid in advance is never prorated; its add-on is in the plan's currency.
"""

from __future__ import annotations

from typing import Any

from catalog.billable_metrics.models import BillableMetric
from catalog.plans.drafts import ChargeDraft, FixedChargeDraft
from invora.pricing import validate_properties

PAYABLE_IN_ADVANCE = frozenset({"count_agg", "sum_agg", "unique_count_agg"})
ALL_FILTER_VALUES = "__ALL_FILTER_VALUES__"

Errors = dict[str, list[str]]


def add(errors: Errors, field: str, code: str) -> None:
    codes = errors.setdefault(field, [])
    if code not in codes:
        codes.append(code)


def charge_errors(charge: ChargeDraft, metric: BillableMetric, prefix: str = "") -> Errors:
    errors: Errors = {}
    model, aggregation = charge.charge_model, metric.aggregation_type
    for code in validate_properties(model, charge.properties):
        add(errors, f"{prefix}properties", code)
    if model == "dynamic" and aggregation != "sum_agg":
        add(errors, f"{prefix}charge_model", "invalid_aggregation_type_or_charge_model")
    if model == "percentage" and aggregation == "latest_agg":
        add(errors, f"{prefix}billable_metric", "invalid_value")
    if charge.pay_in_advance and (model == "volume" or aggregation not in PAYABLE_IN_ADVANCE):
        add(errors, f"{prefix}pay_in_advance", "invalid_aggregation_type_or_charge_model")
    if not charge.invoiceable and not charge.pay_in_advance:
        add(errors, f"{prefix}invoiceable", "must_be_true_unless_pay_in_advance")
    if charge.regroup_paid_fees is not None and not (charge.pay_in_advance and not charge.invoiceable):
        add(errors, f"{prefix}regroup_paid_fees", "only_compatible_with_pay_in_advance_and_non_invoiceable")
    if charge.pay_in_advance and charge.min_amount_cents > 0:
        add(errors, f"{prefix}min_amount_cents", "not_compatible_with_pay_in_advance")
    if charge.prorated and not _may_prorate(charge, metric):
        add(errors, f"{prefix}prorated", "invalid_billable_metric_or_charge_model")
    _filter_errors(charge, metric, prefix, errors)
    return errors


def _may_prorate(charge: ChargeDraft, metric: BillableMetric) -> bool:
    if not metric.recurring or metric.aggregation_type == "weighted_sum_agg":
        return False
    if charge.pay_in_advance:
        return charge.charge_model == "standard"
    return charge.charge_model in ("standard", "volume", "graduated")


def _filter_errors(charge: ChargeDraft, metric: BillableMetric, prefix: str, errors: Errors) -> None:
    allowed = {f["key"]: set(f["values"]) for f in metric.filters}
    seen: list[dict[str, Any]] = []
    for index, charge_filter in enumerate(charge.filters):
        where = f"{prefix}filters.{index}"
        values = charge_filter["values"]
        if not values:
            add(errors, f"{where}.values", "value_is_mandatory")
        for key, items in values.items():
            if key not in allowed or any(v != ALL_FILTER_VALUES and v not in allowed[key] for v in items):
                add(errors, f"{where}.values", "invalid_filter_values")
        normalised = {k: sorted(v) for k, v in values.items()}
        if normalised in seen:
            add(errors, f"{prefix}filters", "duplicated_filter_values")
        seen.append(normalised)
        for code in validate_properties(charge.charge_model, charge_filter["properties"]):
            add(errors, f"{where}.properties", code)


def fixed_charge_errors(fixed_charge: FixedChargeDraft, prefix: str = "") -> Errors:
    errors: Errors = {}
    for code in validate_properties(fixed_charge.charge_model, fixed_charge.properties):
        add(errors, f"{prefix}properties", code)
    if fixed_charge.pay_in_advance and fixed_charge.charge_model == "volume":
        add(errors, f"{prefix}pay_in_advance", "invalid_charge_model")
    if fixed_charge.prorated and fixed_charge.pay_in_advance and fixed_charge.charge_model == "graduated":
        add(errors, f"{prefix}prorated", "invalid_charge_model")
    return errors
