"""Prepaid credits on an invoice: what each fee asks of the wallets, and the totals once they answered.

- `credit_lines`: the invoice's amount due (taxes included, after coupons and credit notes: an integer
  number of cents) shared among its fees in proportion to each fee's exact due amount (its amount − its
  coupon share + its exact taxes), largest remainder first. The lines add up to the amount due exactly,
  so the wallets can never be asked for more than the invoice owes (taxes are rounded once per rate per
  invoice, so per-fee rounding would not add up).
- `with_prepaid_credit`: the total once wallets answered: the credits are capped at the amount due
  (never above it, whatever the answer says) and subtracted; nothing else moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext


def credit_lines(dues: Sequence[Decimal], amount_due: int) -> list[int]:
    if amount_due <= 0 or not dues:
        return [0] * len(dues)
    weights = [d if d > 0 else Decimal(0) for d in dues]
    total = sum(weights, Decimal(0))
    if total == 0:  # only reachable through rounding (e.g. fees of 0.4 cents): the first line carries it
        return [amount_due] + [0] * (len(dues) - 1)
    with localcontext() as context:
        context.prec = 80
        exact = [Decimal(amount_due) * w / total for w in weights]
    shares = [int(e) for e in exact]  # floors: every exact share is ≥ 0
    order = sorted(range(len(dues)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:amount_due - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True, slots=True)
class Settled:
    prepaid_credit_amount_cents: int
    total_amount_cents: int


def with_prepaid_credit(*, sub_total_including_taxes: int, credit_notes: int, applied: int) -> Settled:
    due = max(sub_total_including_taxes - credit_notes, 0)
    credit = min(max(applied, 0), due)
    return Settled(credit, due - credit)
