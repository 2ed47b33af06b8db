"""Taxes: exact per fee, rounded once per rate per invoice.

    fee tax (precise)   = Σ_rate (fee amount − its coupon share) × rate / 100      (never rounded)
    invoice tax of rate = round_half_up(Σ_fees of that rate (fee amount − coupon share) × rate / 100)
    invoice taxes       = Σ_rate invoice tax of rate

Amounts are in minor units, so rounding to the currency's exponent is rounding to a whole minor unit.
Which rates apply to a fee: its own (a charge's or an add-on's), else the plan's, else the customer's,
else the organization's defaults (`precedence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from invora.pricing.decimals import pricing_context

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class TaxRate:
    code: str
    name: str
    rate: Decimal  # percent: 20 for 20 %
    id: str | None = None
    description: str | None = None


def precedence(*levels: Sequence[TaxRate] | None) -> tuple[TaxRate, ...]:
    """The first non-empty level (fee → plan → customer → organization), one rate per code."""
    for level in levels:
        if level:
            unique: dict[str, TaxRate] = {}
            for tax in level:
                unique.setdefault(tax.code, tax)
            return tuple(unique.values())
    return ()


def fee_tax(base_cents: Decimal, rates: Sequence[TaxRate]) -> Decimal:
    with pricing_context():
        return sum((base_cents * tax.rate / HUNDRED for tax in rates), Decimal(0))


@dataclass(frozen=True, slots=True)
class InvoiceTax:
    tax: TaxRate
    base_cents: Decimal
    amount_cents: int


def invoice_taxes(fees: Sequence[tuple[Decimal, Sequence[TaxRate]]]) -> list[InvoiceTax]:
    """Per tax code: the taxable base of the fees it applies to and the tax, rounded once (half-up)."""
    bases: dict[str, Decimal] = {}
    taxes: dict[str, TaxRate] = {}
    with pricing_context():
        for base, rates in fees:
            for tax in rates:
                taxes.setdefault(tax.code, tax)
                bases[tax.code] = bases.get(tax.code, Decimal(0)) + base
        return [InvoiceTax(taxes[code], bases[code],
                           int((bases[code] * taxes[code].rate / HUNDRED).quantize(Decimal(1), ROUND_HALF_UP)))
                for code in sorted(bases)]
