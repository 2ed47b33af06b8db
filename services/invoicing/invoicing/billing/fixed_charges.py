"""Fixed charges of one period (Lago's plan `fixed_charges`): an add-on sold a number of units per period.

- Units: the plan version's, or the subscription's override (`plan_overrides.fixed_charges`, matched by id
  or code, as the subscriptions service shows them), constant over the period; likewise the override's
  properties and invoice display name.
- Priced with `invora.pricing` under the charge's model (`standard`, `graduated`, `volume`) for those units.
- `prorated`: the amount × days billed / days of the full period (Lago prorates units by the days they were
  held; with units constant over the period this is the same for `standard`); not prorated: the full
  amount whatever part of the period is billed.
- Paid in advance: billed for a period when it starts (the subscription's start, an upgrade, the previous
  period's end); in arrears: when it closes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from invora.money import exponent
from invora.pricing import price_charge
from invora.pricing.decimals import pricing_context


@dataclass(slots=True)
class FixedChargeFeeLine:
    fixed_charge: Mapping[str, Any]
    units: Decimal
    amount_cents: int
    precise_amount_cents: Decimal
    ratio: Decimal
    amount_details: dict[str, Any] = field(default_factory=dict)


def effective_fixed_charges(version: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The version's fixed charges with the subscription's overrides of units, properties and display name."""
    result = []
    for item in version.get("fixed_charges") or []:
        shown = dict(item)
        for override in overrides.get("fixed_charges") or []:
            if override.get("id") == str(item["lago_id"]) or (
                    override.get("code") is not None and override.get("code") == item.get("code")):
                if override.get("units") is not None:
                    shown["units"] = override["units"]
                if override.get("properties"):
                    shown["properties"] = override["properties"]
                if override.get("invoice_display_name") is not None:
                    shown["invoice_display_name"] = override["invoice_display_name"]
                break
        result.append(shown)
    return result


def fixed_charge_fees(version: Mapping[str, Any], overrides: Mapping[str, Any], currency: str, *,
                      in_advance: bool, days_billed: int, days_in_period: int) -> list[FixedChargeFeeLine]:
    """The fees of the fixed charges paid in advance (`in_advance`) or in arrears for one (partial) period."""
    lines = []
    for fixed_charge in effective_fixed_charges(version, overrides):
        if bool(fixed_charge.get("pay_in_advance")) != in_advance:
            continue
        units = Decimal(str(fixed_charge.get("units") or 0))
        result = price_charge(fixed_charge["charge_model"], fixed_charge.get("properties") or {}, currency,
                              units=units)
        full = result.precise_amount.scaleb(exponent(currency))
        ratio = Decimal(1)
        if fixed_charge.get("prorated") and days_in_period > 0 and days_billed < days_in_period:
            ratio = Decimal(max(days_billed, 0)) / Decimal(days_in_period)
        with pricing_context():
            precise = full * ratio
        amount = int(precise.quantize(Decimal(1), ROUND_HALF_UP))
        lines.append(FixedChargeFeeLine(fixed_charge, units, amount, precise, ratio, {
            **result.as_dict(), "days_billed": days_billed, "days_in_period": days_in_period,
            "prorated": bool(fixed_charge.get("prorated"))}))
    return lines
