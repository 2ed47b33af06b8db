"""The pricing engine: charge models that turn aggregated units into money, to the cent.

Pure (no I/O), `Decimal` throughout, rounding once at the end, half-up to the currency's
exponent. One function per charge model, each documented with its exact rule in its module:

    price_standard(units, properties, currency)
    price_graduated(units, properties, currency)
    price_volume(units, properties, currency)
    price_package(units, properties, currency)
    price_percentage(units, properties, currency, event_values)
    price_graduated_percentage(units, properties, currency)
    price_dynamic(units, event_amounts_cents, currency)

`properties` are Lago's charge properties (`{"amount": "0.05"}`, `{"graduated_ranges": [...]}`)
or the model's parsed dataclass. Each returns a `ChargeResult`: `amount_cents` (rounded),
`precise_amount` (exact), `units` and printable `lines` (one per tier, package, fee…).
`invora.pricing.proration` scales prices by days used; `docs/pricing.md` has the whole story.
"""

from invora.pricing.decimals import PricingError
from invora.pricing.dynamic import price as price_dynamic
from invora.pricing.engine import parse, price_charge
from invora.pricing.graduated import price as price_graduated
from invora.pricing.graduated_percentage import price as price_graduated_percentage
from invora.pricing.increment import Increment, price_increment
from invora.pricing.package import price as price_package
from invora.pricing.percentage import price as price_percentage
from invora.pricing.properties import (
    CHARGE_MODELS,
    FIXED_CHARGE_MODELS,
    InvalidProperties,
    clean_properties,
    validate_properties,
)
from invora.pricing.result import ChargeResult, PriceLine
from invora.pricing.standard import price as price_standard
from invora.pricing.volume import price as price_volume

__all__ = [
    "CHARGE_MODELS", "FIXED_CHARGE_MODELS", "ChargeResult", "Increment", "InvalidProperties", "PriceLine",
    "PricingError",
    "clean_properties", "parse", "price_charge", "price_dynamic", "price_graduated", "price_graduated_percentage",
    "price_increment", "price_package", "price_percentage", "price_standard", "price_volume", "validate_properties",
]
