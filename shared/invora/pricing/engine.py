"""Dispatch by charge model: parse properties, price units. Pure: no I/O, no clock, no floats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from invora.pricing import dynamic, graduated, graduated_percentage, package, percentage, standard, volume
from invora.pricing.decimals import PricingError
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
    """Price `units` under any charge model.

    `event_values` are the per-event values for `percentage` (transaction amounts) and, for
    `dynamic`, the events' own amounts in precise minor units; other models ignore them.
    """
    if charge_model not in CHARGE_MODELS:
        raise PricingError(f"unknown charge model: {charge_model!r}")
    if charge_model == "percentage":
        return percentage.price(units, properties, currency, event_values)
    if charge_model == "dynamic":
        return dynamic.price(units, event_values or (), currency, properties)
    module = {"standard": standard, "graduated": graduated, "volume": volume, "package": package,
              "graduated_percentage": graduated_percentage}[charge_model]
    return module.price(units, properties, currency)
