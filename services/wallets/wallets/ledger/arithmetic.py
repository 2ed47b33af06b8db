"""Ledger arithmetic, pure: the consumption order and how an amount splits over credit blocks.

A *block* is what one inbound transaction left in a wallet (a grant, a settled purchase, a
manual credit): its own remaining credits and cents, expiry, priority and category. Every
debit takes from blocks in one total order (`consumption_key`):

1. the wallet's priority (1 first), then the older wallet, then the wallet id;
2. the block's priority (1 first);
3. the soonest expiry (blocks that never expire last);
4. granted before purchased;
5. the oldest block, then the block id (so the order is total and deterministic).

Credits and money are both kept exactly: a block holds `remaining_cents` (integer minor units)
and `remaining_credits` (a decimal with 5 places). Taking a whole block takes both exactly;
taking part converts with the wallet's rate (1 credit = `rate` major units), rounded half-up,
never more than what is left, so a block's two figures reach zero together.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from invora.money import exponent

CREDITS_PLACES = 5
CREDITS_STEP = Decimal(1).scaleb(-CREDITS_PLACES)
FAR_FUTURE = datetime.max

Category = Literal["granted", "purchased"]
CATEGORY_RANK = {"granted": 0, "purchased": 1}


def quantize_credits(value: Decimal) -> Decimal:
    return value.quantize(CREDITS_STEP, rounding=ROUND_HALF_UP)


def credits_to_cents(credits: Decimal, rate: Decimal, currency: str) -> int:
    """Credits at `rate` major units each, in the currency's minor units (half-up)."""
    minor = (credits * rate).scaleb(exponent(currency))
    return int(minor.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_to_credits(cents: int, rate: Decimal, currency: str) -> Decimal:
    """Minor units as credits at `rate` (half-up to 5 places)."""
    return quantize_credits(Decimal(cents).scaleb(-exponent(currency)) / rate)


@dataclass(frozen=True, slots=True)
class Block:
    id: Hashable
    wallet_id: Hashable
    wallet_priority: int
    wallet_created_at: datetime
    priority: int
    expiration_at: datetime | None
    category: Category
    created_at: datetime
    remaining_cents: int
    remaining_credits: Decimal
    rate: Decimal
    currency: str


def consumption_key(block: Block) -> tuple:
    expiry = block.expiration_at.replace(tzinfo=None) if block.expiration_at else FAR_FUTURE
    return (block.wallet_priority, block.wallet_created_at, str(block.wallet_id), block.priority,
            block.expiration_at is None, expiry, CATEGORY_RANK[block.category], block.created_at, str(block.id))


def in_consumption_order(blocks: Iterable[Block]) -> list[Block]:
    return sorted(blocks, key=consumption_key)


def credits_for_cents(block: Block, cents: int) -> Decimal:
    """The credits that `cents` taken from `block` are worth (all of them when the block empties)."""
    if cents >= block.remaining_cents:
        return block.remaining_credits
    return min(block.remaining_credits, cents_to_credits(cents, block.rate, block.currency))


def cents_for_credits(block: Block, credits: Decimal) -> int:
    """The cents that `credits` taken from `block` are worth (all of them when the block empties)."""
    if credits >= block.remaining_credits:
        return block.remaining_cents
    return min(block.remaining_cents, credits_to_cents(credits, block.rate, block.currency))


@dataclass(frozen=True, slots=True)
class Debit:
    block: Block
    cents: int
    credits: Decimal


@dataclass(frozen=True, slots=True)
class Line:
    """An amount credits may pay, restricted to wallets that apply to its fee type / metric."""

    fee_type: str
    billable_metric_code: str | None
    amount_cents: int


@dataclass(frozen=True, slots=True)
class AppliesTo:
    fee_types: frozenset[str] = frozenset()
    billable_metric_codes: frozenset[str] = frozenset()

    def covers(self, line: Line) -> bool:
        """No restriction: every fee. Otherwise the listed fee types, and charges of the listed metrics."""
        if not self.fee_types and not self.billable_metric_codes:
            return True
        if line.fee_type in self.fee_types:
            return True
        return line.fee_type == "charge" and line.billable_metric_code in self.billable_metric_codes


@dataclass(slots=True)
class Application:
    debits: list[Debit] = field(default_factory=list)
    applied_per_line: list[int] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(d.cents for d in self.debits)


def allocate_lines(lines: Sequence[Line], blocks: Iterable[Block],
                   applies_to: dict[Hashable, AppliesTo]) -> Application:
    """Pay `lines` from `blocks` in consumption order; each block pays only lines its wallet covers.

    A block pays the lines it covers in their order; the total never exceeds the lines' total nor
    any block's remaining cents. `applies_to` maps wallet id → its restriction (absent: none).
    """
    due = [max(0, line.amount_cents) for line in lines]
    result = Application(applied_per_line=[0] * len(lines))
    for block in in_consumption_order(blocks):
        if block.remaining_cents <= 0:
            continue
        scope = applies_to.get(block.wallet_id, AppliesTo())
        available = block.remaining_cents
        taken = 0
        for index, line in enumerate(lines):
            if available == 0:
                break
            if due[index] == 0 or not scope.covers(line):
                continue
            take = min(available, due[index])
            due[index] -= take
            result.applied_per_line[index] += take
            available -= take
            taken += take
        if taken:
            result.debits.append(Debit(block, taken, credits_for_cents(block, taken)))
    return result


def allocate_credits(credits: Decimal, blocks: Iterable[Block]) -> list[Debit]:
    """Take `credits` (or as many as there are) from `blocks` in consumption order (voids)."""
    wanted = credits
    debits: list[Debit] = []
    for block in in_consumption_order(blocks):
        if wanted <= 0:
            break
        if block.remaining_credits <= 0:
            continue
        take = min(wanted, block.remaining_credits)
        debits.append(Debit(block, cents_for_credits(block, take), take))
        wanted -= take
    return debits
