"""Fee adjustments on draft invoices (the brief's §6): preview, apply, remove.

An adjustment sets a fee's `units`, its unit price (`unit_precise_amount`, major units), or both; the fee's
amount becomes units × unit price, rounded once half-up to the currency's minor unit, and the invoice's
coupons, taxes and totals are computed again. The original values are kept in `amount_details.adjustment`
so removing the adjustment restores them. Only a draft invoice's fees can be adjusted. A refresh computes
the fees again from the period and drops adjustments (as a new computation would).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.fees.schemas import FeeAdjustment
from invoicing.invoices import lifecycle, repository, service
from invoicing.invoices.errors import InvoiceNotDraft
from invoicing.invoices.models import Fee, Invoice
from invora.errors import NotFound, ValidationFailed
from invora.money import exponent


class AdjustmentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("fee_adjustment")


def _adjusted(fee: Fee, adjustment: FeeAdjustment) -> dict[str, Any]:
    if adjustment.units is None and adjustment.unit_precise_amount is None:
        raise ValidationFailed(adjustment=["value_is_mandatory"])
    places = exponent(fee.amount_currency)
    units = adjustment.units if adjustment.units is not None else Decimal(fee.units)
    unit = adjustment.unit_precise_amount if adjustment.unit_precise_amount is not None else (
        Decimal(fee.precise_unit_amount) if Decimal(fee.units) else Decimal(0))
    precise = units * unit * (Decimal(10) ** places)
    return {"units": units, "precise_unit_amount": unit, "precise_amount_cents": precise,
            "amount_cents": int(precise.quantize(Decimal(1), ROUND_HALF_UP)),
            "unit_amount_cents": int((unit * (Decimal(10) ** places)).quantize(Decimal(1), ROUND_HALF_UP))}


async def _draft_of(session: AsyncSession, fee: Fee) -> Invoice:
    if fee.invoice_id is None:  # paid in advance and not invoiceable: no invoice to compute again
        raise InvoiceNotDraft("a fee no invoice carries cannot be adjusted")
    invoice = await service.load(session, fee.organization_id, fee.invoice_id, lock=True)
    lifecycle.ensure_draft(invoice)
    return invoice


def preview(fee: Fee, adjustment: FeeAdjustment) -> Fee:
    values = _adjusted(fee, adjustment)
    copy = Fee(**{c.key: getattr(fee, c.key) for c in Fee.__table__.columns})
    for key, value in values.items():
        setattr(copy, key, value)
    return copy


async def apply(session: AsyncSession, fee: Fee, adjustment: FeeAdjustment, now: datetime) -> Fee:
    invoice = await _draft_of(session, fee)
    values = _adjusted(fee, adjustment)
    original = fee.amount_details.get("adjustment", {}).get("original") or {
        "units": str(fee.units), "precise_unit_amount": str(fee.precise_unit_amount),
        "precise_amount_cents": str(fee.precise_amount_cents), "amount_cents": fee.amount_cents,
        "unit_amount_cents": fee.unit_amount_cents}
    for key, value in values.items():
        setattr(fee, key, value)
    fee.amount_details = {**fee.amount_details, "adjustment": {
        "original": original, "units": str(values["units"]), "unit_precise_amount": str(values["precise_unit_amount"]),
        "adjusted_at": now.isoformat()}}
    fee.updated_at = now
    await _recompute(session, invoice, now)
    return fee


async def remove(session: AsyncSession, fee: Fee, now: datetime) -> Fee:
    invoice = await _draft_of(session, fee)
    adjustment = fee.amount_details.get("adjustment")
    if not adjustment:
        raise AdjustmentNotFound()
    original = adjustment["original"]
    fee.units = Decimal(original["units"])
    fee.precise_unit_amount = Decimal(original["precise_unit_amount"])
    fee.precise_amount_cents = Decimal(original["precise_amount_cents"])
    fee.amount_cents = original["amount_cents"]
    fee.unit_amount_cents = original["unit_amount_cents"]
    fee.amount_details = {k: v for k, v in fee.amount_details.items() if k != "adjustment"}
    fee.updated_at = now
    await _recompute(session, invoice, now)
    return fee


async def _recompute(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    await session.flush()
    fees = (await repository.fees_of(session, [invoice.id]))[invoice.id]
    await service.apply_amounts(session, invoice, fees, now, consume_coupons=False)
