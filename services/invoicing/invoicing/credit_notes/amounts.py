"""A credit note's amounts from its items (pure; property-tested against a brute-force sum).

Lago's rules: an item's `amount_cents` is the fee's amount credited, taxes excluded, at most what is left
of the fee after earlier credit notes. The fee's coupon discount is taken back pro rata
(`coupons_adjustment`: item × the fee's precise coupons ÷ the fee's amount); taxes are the fee's tax
rates on what is left, summed exactly per tax and rounded once per tax (half up), as the invoice did.
`total = sub_total_excluding_taxes + taxes`, `sub_total_excluding_taxes = Σ items − coupons_adjustment`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class FeeTax:
    code: str
    name: str
    rate: Decimal
    lago_tax_id: str | None = None


@dataclass(frozen=True, slots=True)
class CreditableFee:
    fee_id: uuid.UUID
    amount_cents: int
    precise_coupons_amount_cents: Decimal
    already_credited_cents: int
    taxes: tuple[FeeTax, ...] = ()

    @property
    def creditable_cents(self) -> int:
        return max(self.amount_cents - self.already_credited_cents, 0)


@dataclass(frozen=True, slots=True)
class TaxLine:
    code: str
    name: str
    rate: Decimal
    lago_tax_id: str | None
    base_amount_cents: Decimal
    amount_cents: int


@dataclass(frozen=True, slots=True)
class Amounts:
    items_amount_cents: int
    precise_coupons_adjustment_amount_cents: Decimal
    coupons_adjustment_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    precise_taxes_amount_cents: Decimal
    taxes_amount_cents: int
    total_amount_cents: int
    taxes_rate: Decimal
    taxes: list[TaxLine] = field(default_factory=list)


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def over_cap(fees: dict[uuid.UUID, CreditableFee], items: list[tuple[uuid.UUID, int]]) -> list[int]:
    """Indexes of the items asking more than their fee has left (the same fee twice counts once, summed)."""
    asked: dict[uuid.UUID, int] = defaultdict(int)
    wrong = []
    for index, (fee_id, amount) in enumerate(items):
        asked[fee_id] += amount
        if asked[fee_id] > fees[fee_id].creditable_cents:
            wrong.append(index)
    return wrong


def compute(fees: dict[uuid.UUID, CreditableFee], items: list[tuple[uuid.UUID, int]]) -> Amounts:
    coupons = Decimal(0)
    bases: dict[str, Decimal] = defaultdict(Decimal)
    described: dict[str, FeeTax] = {}
    for fee_id, amount in items:
        fee = fees[fee_id]
        share = (Decimal(amount) * fee.precise_coupons_amount_cents / Decimal(fee.amount_cents)
                 if fee.amount_cents else Decimal(0))
        coupons += share
        for tax in fee.taxes:
            bases[tax.code] += Decimal(amount) - share
            described[tax.code] = tax
    lines = [TaxLine(code, described[code].name, described[code].rate, described[code].lago_tax_id, base,
                     _cents(base * described[code].rate / HUNDRED)) for code, base in bases.items()]
    precise_taxes = sum((line.base_amount_cents * line.rate / HUNDRED for line in lines), Decimal(0))
    taxes = sum(line.amount_cents for line in lines)
    items_total = sum(amount for _, amount in items)
    coupons_cents = min(_cents(coupons), items_total)
    sub_total = items_total - coupons_cents
    rate = (Decimal(taxes) * HUNDRED / Decimal(sub_total)).quantize(Decimal("0.01"), ROUND_HALF_UP) if sub_total \
        else Decimal(0)
    return Amounts(items_amount_cents=items_total, precise_coupons_adjustment_amount_cents=coupons,
                   coupons_adjustment_amount_cents=coupons_cents, sub_total_excluding_taxes_amount_cents=sub_total,
                   precise_taxes_amount_cents=precise_taxes, taxes_amount_cents=taxes,
                   total_amount_cents=sub_total + taxes, taxes_rate=rate, taxes=lines)


def max_offsettable(total_cents: int, due: int) -> int:
    """Lago's cap of a note's offset part: what the invoice still owes, at most the note's total."""
    return max(min(total_cents, due), 0)


def split_total(total_cents: int, credit_cents: int | None, refund_cents: int, offset_cents: int) -> int | None:
    """The credit part: given, or the total less the refund and offset parts. None when the three parts do
    not make the total (or the credit would be negative)."""
    credit = total_cents - refund_cents - offset_cents if credit_cents is None else credit_cents
    if credit < 0 or credit + refund_cents + offset_cents != total_cents:
        return None
    return credit


def max_refundable(total_cents: int, refundable_by_payment: dict[uuid.UUID, int]) -> int:
    """Lago's cap of a note's refund part: what the invoice's payments paid less what earlier notes asked back
    of them, at most the note's total. The refund is split over the payments (`refund_parts`)."""
    return max(min(total_cents, sum(max(left, 0) for left in refundable_by_payment.values())), 0)


def refund_parts(refundable_by_payment: dict[uuid.UUID, int], refund_cents: int) -> list[tuple[uuid.UUID, int]]:
    """The refund split over the payments in the mapping's order (newest payment first, as Lago refunds the
    latest payment): each part takes what is left of its payment until the refund is covered. Empty when the
    payments cannot cover it."""
    parts: list[tuple[uuid.UUID, int]] = []
    rest = refund_cents
    for payment_id, left in refundable_by_payment.items():
        if rest <= 0:
            break
        take = min(max(left, 0), rest)
        if take:
            parts.append((payment_id, take))
            rest -= take
    return parts if rest == 0 and refund_cents > 0 else []


def refund_status(part_statuses: list[str]) -> str:
    """A note's `refund_status` from its parts: `pending` while one is; then `failed` if one failed (the note's
    refund did not all go back), else `succeeded`."""
    if "pending" in part_statuses:
        return "pending"
    return "failed" if "failed" in part_statuses else "succeeded"


# -- the credit note of a termination or upgrade (Lago's `CreditNotes::CreateFromTermination`) -----------------

def unused_item_cents(*, plan_amount_cents: int, days_in_period: int, remaining_days: int,
                      creditable_cents: int) -> int:
    """The item of the unused days: day price × remaining days (rounded once, half up, to a minor unit: items are
    whole minor units here), at most what is left of the fee after earlier credit notes (Lago caps it at the fee
    and deducts earlier notes' items)."""
    if remaining_days <= 0 or days_in_period <= 0 or creditable_cents <= 0:
        return 0
    return min(_cents(Decimal(plan_amount_cents) * remaining_days / days_in_period), creditable_cents)


def paid_share(*, fee_total_precise_cents: Decimal, invoice_sub_total_including_taxes_cents: int,
               invoice_paid_cents: int) -> Decimal:
    """What the invoice's payments paid of this fee: the fee's share of the invoice (taxes included) × what was
    paid (Lago's `paid_amount_prorated_to_subscription`)."""
    if invoice_sub_total_including_taxes_cents <= 0 or invoice_paid_cents <= 0:
        return Decimal(0)
    share = fee_total_precise_cents * invoice_paid_cents / invoice_sub_total_including_taxes_cents
    return max(min(share, fee_total_precise_cents, Decimal(invoice_paid_cents)), Decimal(0))


def split_unused(total_cents: int, choice: str | None, *, refund_cap_cents: int,
                 offset_cap_cents: int) -> tuple[int, int, int]:
    """(credit, refund, offset) of the note by the subscription's `on_termination_credit_note` (Lago's):
    `credit` (or unset) credits it all; `refund` gives back what was paid for the unused days (`refund_cap`: the
    paid share less the used days' amount, within what payments can refund) and credits the rest; `offset` gives
    back the same and deducts the rest from what the invoice still owes (at most that: any rest is credited,
    where Lago would refuse the note). The three add up to the total."""
    if total_cents <= 0:
        return 0, 0, 0
    if choice not in ("refund", "offset"):
        return total_cents, 0, 0
    refund = min(max(refund_cap_cents, 0), total_cents)
    offset = min(total_cents - refund, max(offset_cap_cents, 0)) if choice == "offset" else 0
    return total_cents - refund - offset, refund, offset
