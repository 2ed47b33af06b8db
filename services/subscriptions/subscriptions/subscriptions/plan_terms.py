"""What a subscription sells: its plan version's prices with this subscription's overrides on top."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.errors import ValidationFailed
from invora.periods import yearly_amount_cents
from invora.pricing import clean_properties, validate_properties
from subscriptions.subscriptions.schemas import PlanOverrides


@dataclass(frozen=True)
class PlanTerms:
    plan: dict[str, Any]  # the plan as the catalog shows it now (code, lago_id, entitlements…)
    version: dict[str, Any]  # the immutable version sold
    overrides: dict[str, Any]

    @property
    def interval(self) -> str:
        return self.version["interval"]

    @property
    def amount_cents(self) -> int:
        overridden = self.overrides.get("amount_cents")  # a null stored before nulls were refused: not overridden
        return int(overridden if overridden is not None else self.version["amount_cents"])

    @property
    def currency(self) -> str:
        return self.overrides.get("amount_currency") or self.version["amount_currency"]

    @property
    def trial_period(self) -> Decimal | None:
        value = self.overrides.get("trial_period", self.version.get("trial_period"))
        return Decimal(str(value)) if value is not None else None

    @property
    def pay_in_advance(self) -> bool:
        return bool(self.version.get("pay_in_advance"))

    @property
    def yearly_amount_cents(self) -> int:
        return yearly_amount_cents(self.interval, self.amount_cents)


def check_overrides(version: dict[str, Any], overrides: PlanOverrides | None) -> None:
    """Overrides may only name charges and fixed charges the version has, and their prices must be valid.

    Override properties (and each override filter's) are checked by the pricing engine exactly as the
    catalog checks a plan's charges (`invora.pricing.validate_properties` on the cleaned properties,
    under the charge's own model), so what a subscription stores can always be priced.
    """
    if overrides is None:
        return
    errors: dict[str, list[str]] = {}
    for field, key in (("charges", "charges"), ("fixed_charges", "fixed_charges")):
        items = getattr(overrides, field) or []
        known = version.get(key, [])
        for index, item in enumerate(items):
            if item.id is None and item.code is None:
                _add(errors, f"plan_overrides.{field}", "value_is_mandatory")
                continue
            if (item.id is not None and str(item.id) not in {str(c["lago_id"]) for c in known}) or (
                    item.code is not None and item.code not in {c.get("code") for c in known}):
                _add(errors, f"plan_overrides.{field}", f"{field[:-1]}_not_found")
                continue
            # the usage path applies an override to every charge it names (by id or by code)
            models = {c.get("charge_model", "standard") for c in known
                      if (item.id is not None and str(c["lago_id"]) == str(item.id))
                      or (item.code is not None and c.get("code") == item.code)}
            where = f"plan_overrides.{field}.{index}"
            for model in sorted(models):
                if item.properties is not None:
                    _price_errors(errors, f"{where}.properties", model, item.properties)
                for filter_index, override_filter in enumerate(getattr(item, "filters", None) or []):
                    properties = override_filter.get("properties")
                    if properties is not None and not isinstance(properties, dict):
                        _add(errors, f"{where}.filters.{filter_index}.properties", "value_is_invalid")
                    elif properties:
                        _price_errors(errors, f"{where}.filters.{filter_index}.properties", model, properties)
    if errors:
        raise ValidationFailed(errors)


def _add(errors: dict[str, list[str]], field: str, code: str) -> None:
    codes = errors.setdefault(field, [])
    if code not in codes:
        codes.append(code)


def _price_errors(errors: dict[str, list[str]], field: str, model: str, properties: dict[str, Any]) -> None:
    for code in validate_properties(model, clean_properties(model, properties)):
        _add(errors, field, code)
