"""Charge properties: which keys each model keeps, and their validation with Lago's error codes.

`clean_properties(model, raw)` keeps only the keys the model uses (as Lago does: a standard
charge sent with `volume_ranges` simply drops them) and `validate_properties(model, cleaned)`
returns the list of Lago error codes (`invalid_amount`, `invalid_graduated_ranges`, …) that the
catalog reports under `properties`. The pricing functions run the same validation, so a charge
the catalog accepted can always be priced.
"""

from __future__ import annotations

from typing import Any

from invora.pricing.decimals import PricingError

CHARGE_MODELS: tuple[str, ...] = (
    "standard", "graduated", "volume", "package", "percentage", "graduated_percentage", "dynamic",
)
FIXED_CHARGE_MODELS: tuple[str, ...] = ("standard", "graduated", "volume")

_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "standard": ("amount",),
    "graduated": ("graduated_ranges",),
    "volume": ("volume_ranges",),
    "package": ("amount", "free_units", "package_size"),
    "percentage": (
        "rate", "fixed_amount", "free_units_per_events", "free_units_per_total_aggregation",
        "per_transaction_min_amount", "per_transaction_max_amount",
    ),
    "graduated_percentage": ("graduated_percentage_ranges",),
    "dynamic": (),
}
_GROUPING_KEYS = ("pricing_group_keys", "presentation_group_keys")
MAX_GROUP_KEYS = 20
MAX_GROUP_KEY_LENGTH = 255


class InvalidProperties(PricingError):
    """Charge properties that do not describe a valid price; `codes` are Lago's error codes."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = list(dict.fromkeys(codes))
        super().__init__(", ".join(self.codes))


def clean_properties(charge_model: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the keys `charge_model` uses, plus the grouping keys (`grouped_by` becomes `pricing_group_keys`)."""
    raw = raw or {}
    keys = _MODEL_KEYS.get(charge_model, ())
    cleaned = {key: raw[key] for key in keys if key in raw}
    pricing_group_keys = raw.get("pricing_group_keys") or raw.get("grouped_by")
    if pricing_group_keys:
        cleaned["pricing_group_keys"] = (
            [key for key in pricing_group_keys if key != ""] if isinstance(pricing_group_keys, list)
            else pricing_group_keys
        )
    if raw.get("presentation_group_keys"):
        cleaned["presentation_group_keys"] = raw["presentation_group_keys"]
    return cleaned


def validate_properties(charge_model: str, properties: dict[str, Any]) -> list[str]:
    """Lago's error codes for these (cleaned) properties; an empty list when they are valid."""
    from invora.pricing import engine  # imported late: the model modules import this one

    if charge_model not in CHARGE_MODELS:
        return ["invalid_charge_model"]
    codes = _grouping_errors(properties)
    try:
        engine.parse(charge_model, properties)
    except InvalidProperties as exc:
        codes.extend(exc.codes)
    return list(dict.fromkeys(codes))


def _grouping_errors(properties: dict[str, Any]) -> list[str]:
    codes: list[str] = []
    keys = properties.get("pricing_group_keys")
    if keys is not None and not _string_list(keys):
        codes.append("invalid_pricing_group_keys")
    presentation = properties.get("presentation_group_keys")
    if presentation is not None:
        valid = isinstance(presentation, list) and len(presentation) <= MAX_GROUP_KEYS and all(
            isinstance(item, dict) and _short_string(item.get("value"))
            and isinstance(item.get("options", {}), dict)
            for item in presentation
        )
        if not valid:
            codes.append("invalid_presentation_group_keys")
    return codes


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= MAX_GROUP_KEYS and all(_short_string(v) for v in value)


def _short_string(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_GROUP_KEY_LENGTH
