"""Dispatch by charge model: parse properties, price units. Pure: no I/O, no clock, no floats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from invora.pricing import dynamic, graduated, graduated_percentage, package, percentage, standard, volume
from invora.pricing.decimals import ZERO, PricingError, as_units
from invora.pricing.properties import CHARGE_MODELS
from invora.pricing.result import ChargeResult

_PARSERS = {
    "standard": standard.StandardProperties.parse,
    "graduated": graduated.GraduatedProperties.parse,
    "volume": volume.VolumeProperties.parse,
    "package": package.PackageProperties.parse,
    "percentage": percentage.PercentageProperties.parse,
    "graduated_percentage": graduated_percentage.GraduatedPercentageProperties.parse,
    "dynamic": lambda _raw: None,
}


def parse(charge_model: str, properties: Mapping[str, Any]):
    """Typed properties of `charge_model`; raises `InvalidProperties` with Lago's error codes."""
    try:
        parser = _PARSERS[charge_model]
    except KeyError as exc:
        raise PricingError(f"unknown charge model: {charge_model!r}") from exc
    return parser(properties)


def price_charge(
    charge_model: str, properties: Mapping[str, Any], currency: str, *, units: Any,
    event_values: Iterable[Any] | None = None,
) -> ChargeResult:
    """Price `units` under any charge model; negative units or a negative amount give 0 (Lago).

    `event_values` are the per-event values for `percentage` (transaction amounts) and, for
    `dynamic`, the events' own amounts in precise minor units; other models ignore them.
    """
    if charge_model not in CHARGE_MODELS:
        raise PricingError(f"unknown charge model: {charge_model!r}")
    if as_units(units, allow_negative=True) < 0:
        parse(charge_model, properties)  # invalid properties are refused whatever the units
        return floored(charge_model, currency)
    if charge_model == "percentage":
        result = percentage.price(units, properties, currency, event_values)
    elif charge_model == "dynamic":
        result = dynamic.price(units, event_values or (), currency, properties)
    else:
        module = {"standard": standard, "graduated": graduated, "volume": volume, "package": package,
                  "graduated_percentage": graduated_percentage}[charge_model]
        result = module.price(units, properties, currency)
    if result.precise_amount < 0 or result.units < 0:
        return floored(charge_model, currency, result.events_count)
    return result


def floored(charge_model: str, currency: str, events_count: int | None = None) -> ChargeResult:
    """What a charge whose units or amount came out negative bills: nothing, with 0 units (Lago's
    `Fees::ChargeService#init_fee` floors both; a fee never credits — credit notes do)."""
    return ChargeResult.build(charge_model, currency, ZERO, [], events_count=events_count,
                              details={"floored_at_zero": True})
