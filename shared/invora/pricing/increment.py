"""What one event adds to a charge paid in advance (Lago's `Charges::ApplyPayInAdvanceChargeModelService`).

The period's units before the event and after it are priced with the same properties and the
difference is the event's fee: a graduated charge bills each event at the tier its units fall in,
a package charge bills a new package when the event opens one, free units stay free. No
usage costs nothing (a graduated first tier's flat fee is billed by the event that opens it). The
difference is exact; the fee rounds it once, half-up. Successive events of one period chain
(each one's `before` is the previous one's `after`), so their exact amounts add up to the price
of the period's units.

`percentage` prices the event as one transaction (its rate, fixed amount, per-transaction minimum
and maximum); its free allowances (`free_units_per_events`, `free_units_per_total_aggregation`)
are not applied to events paid in advance (a documented difference from Lago).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invora.pricing.decimals import ZERO, finalize, pricing_context
from invora.pricing.engine import price_charge


def _billed(charge_model: str, properties: Mapping[str, Any], currency: str, units: Decimal) -> Decimal:
    """What `units` of the period cost; nothing before the first unit (a graduated first tier's flat fee is
    billed by the event that opens it, not by the period having started)."""
    if units <= 0:
        price_charge(charge_model, properties, currency, units=ZERO)  # refuse bad properties all the same
        return ZERO
    return price_charge(charge_model, properties, currency, units=units).precise_amount


@dataclass(frozen=True, slots=True)
class Increment:
    units: Decimal  # what the event added (after − before; a percentage's transaction)
    precise_amount: Decimal  # major units, exact
    amount_cents: int  # rounded once, half-up


def price_increment(charge_model: str, properties: Mapping[str, Any], currency: str, *, before: Decimal,
                    after: Decimal) -> Increment:
    """The fee of an event that took the period's units from `before` to `after` (never negative)."""
    with pricing_context():
        units = after - before
    if charge_model == "percentage":
        value = max(units, ZERO)
        result = price_charge(charge_model, properties, currency, units=value, event_values=[value])
        precise = result.precise_amount
    else:
        with pricing_context():
            precise = _billed(charge_model, properties, currency, after) - _billed(charge_model, properties,
                                                                                   currency, before)
    precise = max(precise, ZERO)
    return Increment(units=units, precise_amount=precise, amount_cents=finalize(precise, currency))
