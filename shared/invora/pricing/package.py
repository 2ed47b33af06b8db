"""Package: free units first, then every started package of `package_size` units costs `amount`.

    paid_units = max(units − free_units, 0)
    packages   = ceil(paid_units / package_size)
    amount     = packages × amount

At 5.00 per 100 units with 100 free units, 201 units are 101 paid units, 2 packages: 10.00.
The amount is a step function of the units: it only moves when a new package is started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import ZERO, as_units, ceil_div, fmt, parse_amount, parse_count, pricing_context
from invora.pricing.properties import InvalidProperties
from invora.pricing.result import ChargeResult, line

MODEL = "package"


@dataclass(frozen=True, slots=True)
class PackageProperties:
    amount: Decimal
    package_size: int
    free_units: int = 0

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PackageProperties:
        errors = []
        amount = parse_amount(raw.get("amount"))
        if amount is None:
            errors.append("invalid_amount")
        raw_free = raw.get("free_units")
        free_units = 0 if raw_free is None else parse_count(raw_free)
        if free_units is None:
            errors.append("invalid_free_units")
        package_size = parse_count(raw.get("package_size"), minimum=1)
        if package_size is None:
            errors.append("invalid_package_size")
        if errors:
            raise InvalidProperties(errors)
        return cls(amount, package_size, free_units)  # type: ignore[arg-type]


def price(units: Any, properties: Mapping[str, Any] | PackageProperties, currency: str) -> ChargeResult:
    props = properties if isinstance(properties, PackageProperties) else PackageProperties.parse(properties)
    total_units = as_units(units)
    with pricing_context():
        free = min(total_units, Decimal(props.free_units))
        paid = total_units - free
    packages = ceil_div(paid, Decimal(props.package_size)) if paid else ZERO
    lines = []
    if free:
        lines.append(line("free", f"{fmt(free)} free units", free, ZERO))
    if paid:
        lines.append(line("packages", f"{fmt(packages)} × {props.package_size} units at {fmt(props.amount)}",
                          packages, props.amount))
    details = {"free_units": fmt(free), "paid_units": fmt(paid), "packages": fmt(packages),
               "package_size": props.package_size}
    return ChargeResult.build(MODEL, currency, total_units, lines, details=details)
