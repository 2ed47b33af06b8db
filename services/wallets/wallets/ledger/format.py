"""How credits and amounts are written in the API: decimal strings, never floats."""

from __future__ import annotations

from decimal import Decimal

from invora.money import to_decimal
from wallets.ledger.arithmetic import CREDITS_STEP


def credits_text(value: Decimal) -> str:
    """5 places at most, trailing zeros dropped, one decimal kept: "10.0", "0.33333"."""
    text = format(value.quantize(CREDITS_STEP), "f").rstrip("0")
    return text + "0" if text.endswith(".") else text


def amount_text(cents: int, currency: str) -> str:
    return format(to_decimal(cents, currency), "f")
