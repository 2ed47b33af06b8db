"""HTTP routes of fees (`/api/v1/fees`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invoicing.fees import adjustments, service
from invoicing.fees.schemas import FeeAdjustmentBody, FeeResponse, FeesResponse, FeeUpdateBody
from invoicing.invoices import repository
from invoicing.invoices.render import render_fee
from invora.auth.deps import ReaderOrTenant, Writer
from invora.money import CURRENCIES
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.inputs import Choice
from invora.web.pagination import Pagination
from invora.web.timestamps import TimestampInput

router = APIRouter(prefix="/api/v1/fees", tags=["fees"])
FeeId = Annotated[uuid.UUID, Path(description="The fee's `lago_id`.")]
Text = Annotated[str | None, Query(max_length=255)]
Timestamp = Annotated[datetime | None, TimestampInput(1970, 2999), Query()]


@router.get("", response_model=FeesResponse, responses=LIST_ERRORS, summary="List fees",
            description="Newest first. Filters (Lago): `external_customer_id`, `external_subscription_id`, "
                        "`fee_type`, `billable_metric_code`, `currency`, `payment_status`, `created_at_from/to`.")
async def list_fees(session: DbSession, principal: ReaderOrTenant, pagination: Pagination,
                    external_customer_id: Text = None, external_subscription_id: Text = None,
                    fee_type: Literal["charge", "fixed_charge", "add_on", "subscription", "credit",
                                      "commitment"] | None = None,
                    billable_metric_code: Text = None,
                    currency: Annotated[str | None, Choice(CURRENCIES, "currency_code_invalid"), Query()] = None,
                    payment_status: Literal["pending", "succeeded", "failed", "refunded"] | None = None,
                    created_at_from: Timestamp = None, created_at_to: Timestamp = None) -> FeesResponse:
    filters = repository.FeeFilters(
        external_customer_id=external_customer_id, external_subscription_id=external_subscription_id,
        fee_type=fee_type, billable_metric_code=billable_metric_code, currency=currency, payment_status=payment_status,
        created_at_from=created_at_from, created_at_to=created_at_to)
    rows, total = await service.list_fees(session, principal, filters, limit=pagination.per_page,
                                          offset=pagination.offset)
    return FeesResponse(fees=[render_fee(f) for f in rows], meta=pagination.meta(total))


@router.get("/{lago_id}", response_model=FeeResponse, responses=READ_ERRORS, summary="Retrieve a fee")
async def get_fee(lago_id: FeeId, session: DbSession, principal: ReaderOrTenant) -> FeeResponse:
    return FeeResponse(fee=render_fee(await service.visible(session, principal, lago_id)))


@router.put("/{lago_id}", response_model=FeeResponse, responses=WRITE_ERRORS, summary="Update a fee",
            description="`payment_status` (Lago: for fees paid in advance and not invoiced; here any fee).")
async def update_fee(lago_id: FeeId, body: FeeUpdateBody, session: DbSession, principal: Writer,
                     request: Request) -> FeeResponse:
    return FeeResponse(fee=render_fee(await service.update(session, principal, lago_id, body.fee.payment_status,
                                                           now(request))))


@router.delete("/{lago_id}", response_model=FeeResponse, responses=WRITE_ERRORS, summary="Delete a fee",
               description="Lago's: a fee not yet invoiced (a charge paid in advance that no invoice carries) is "
                           "deleted and returned; a fee on an invoice: 405 `invoiced_fee`.")
async def delete_fee(lago_id: FeeId, session: DbSession, principal: Writer) -> FeeResponse:
    fee = await service.delete(session, principal, lago_id)
    return FeeResponse(fee=render_fee(fee))


@router.post("/{lago_id}/adjustment/preview", response_model=FeeResponse, responses=WRITE_ERRORS,
             summary="Preview a fee adjustment",
             description="The fee as the adjustment would make it (`units`, `unit_precise_amount` in major units); "
                         "nothing is saved. Taxes and coupons are computed when it is applied.")
async def preview_adjustment(lago_id: FeeId, body: FeeAdjustmentBody, session: DbSession,
                             principal: Writer) -> FeeResponse:
    fee = await service.visible(session, principal, lago_id)
    return FeeResponse(fee=render_fee(adjustments.preview(fee, body.adjustment)))


@router.post("/{lago_id}/adjustment", response_model=FeeResponse, responses=WRITE_ERRORS,
             summary="Adjust a fee of a draft invoice",
             description="Sets the fee's units and/or unit price; its invoice's coupons, taxes and totals are "
                         "computed again. 405 `invoice_not_draft` once the invoice is finalized.")
async def apply_adjustment(lago_id: FeeId, body: FeeAdjustmentBody, session: DbSession, principal: Writer,
                           request: Request) -> FeeResponse:
    fee = await service.visible(session, principal, lago_id, lock=True)
    return FeeResponse(fee=render_fee(await adjustments.apply(session, fee, body.adjustment, now(request))))


@router.delete("/{lago_id}/adjustment", response_model=FeeResponse, responses=WRITE_ERRORS,
               summary="Remove a fee adjustment", description="The fee's computed values come back.")
async def remove_adjustment(lago_id: FeeId, session: DbSession, principal: Writer, request: Request) -> FeeResponse:
    fee = await service.visible(session, principal, lago_id, lock=True)
    return FeeResponse(fee=render_fee(await adjustments.remove(session, fee, now(request))))
