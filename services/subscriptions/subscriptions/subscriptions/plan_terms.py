"""What a subscription sells: its plan version's prices with this subscription's overrides on top."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.errors import ValidationFailed
from subscriptions.periods import yearly_amount_cents
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
        return int(self.overrides.get("amount_cents", self.version["amount_cents"]))

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
    """Overrides may only name charges and fixed charges the version has."""
    if overrides is None:
        return
    errors: dict[str, list[str]] = {}
    for field, key in (("charges", "charges"), ("fixed_charges", "fixed_charges")):
        items = getattr(overrides, field) or []
        known_ids = {str(item["lago_id"]) for item in version.get(key, [])}
        known_codes = {item.get("code") for item in version.get(key, [])}
        for item in items:
            if item.id is None and item.code is None:
                errors.setdefault(f"plan_overrides.{field}", []).append("value_is_mandatory")
            elif (item.id is not None and str(item.id) not in known_ids) or (
                    item.code is not None and item.code not in known_codes):
                errors.setdefault(f"plan_overrides.{field}", []).append(f"{field[:-1]}_not_found")
    if errors:
        raise ValidationFailed(errors)
