"""HTTP routes of invoices (`/api/v1/invoices`, `/api/v1/customers/{external_id}/invoices`), the invoicing
settings and the billing check's findings."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invoicing.invoices import api, one_off, preview, preview_existing, repository, service
from invoicing.invoices.errors import InvoiceNotFound
from invoicing.invoices.schemas import (
    BillingCheckViolation,
    BillingCheckViolationResponse,
    BillingCheckViolationsResponse,
    InvoiceBatchResponse,
    InvoiceResponse,
    InvoiceSettings,
    InvoiceSettingsResponse,
    InvoicesResponse,
    InvoiceUpdateBody,
    OneOffInvoiceBody,
    PreviewInput,
    PreviewSubscriptionsInput,
)
from invoicing.projections.access import ensure_external_customer_access
from invora.auth.deps import ReaderOrTenant, Writer, is_staff
from invora.errors import MethodNotAllowed, ValidationFailed
from invora.money import CURRENCIES
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_FOUND, READ_ERRORS, WRITE_ERRORS, ApiError, response
from invora.web.inputs import Choice
from invora.web.pagination import Pagination

STATE_ERRORS = {**WRITE_ERRORS, 409: response(ApiError, "The invoice's state forbids it (e.g. "
                                                        "`invoice_already_finalized`, `customer_invoicing_parked`).")}
router = APIRouter(prefix="/api/v1", tags=["invoices"])
InvoiceId = Annotated[uuid.UUID, Path(description="The invoice's `lago_id`.")]
STATUSES = ("draft", "finalized", "voided", "failed", "pending", "closed")
PAYMENT_STATUSES = ("pending", "succeeded", "failed")
INVOICE_TYPES = ("subscription", "add_on", "credit", "one_off", "progressive_billing", "advance_charges")


def _filters(request: Request, principal, external_customer_id: str | None, currency: str | None,
             invoice_type: str | None, issuing_date_from: str | None, issuing_date_to: str | None,
             amount_from: int | None, amount_to: int | None, payment_overdue: bool | None,
             search_term: str | None) -> repository.InvoiceFilters:
    params = request.query_params
    statuses = params.getlist("statuses[]") + params.getlist("status")
    payment_statuses = params.getlist("payment_statuses[]") + params.getlist("payment_status")
    errors: dict[str, list[str]] = {}
    if any(s not in STATUSES for s in statuses):
        errors["statuses"] = ["value_is_invalid"]
    if any(s not in PAYMENT_STATUSES for s in payment_statuses):
        errors["payment_statuses"] = ["value_is_invalid"]
    if currency is not None and currency not in CURRENCIES:
        errors["currency"] = ["currency_code_invalid"]
    if invoice_type is not None and invoice_type not in INVOICE_TYPES:
        errors["invoice_type"] = ["value_is_invalid"]
    if search_term is not None and "\x00" in search_term:
        errors["search_term"] = ["invalid_characters"]
    dates: dict[str, date | None] = {}
    for name, value in (("issuing_date_from", issuing_date_from), ("issuing_date_to", issuing_date_to)):
        try:
            dates[name] = date.fromisoformat(value) if value else None
        except ValueError:
            errors[name] = ["invalid_date"]
    if errors:
        raise ValidationFailed(errors)
    return repository.InvoiceFilters(
        external_customer_id=external_customer_id,
        # a tenant key: its own customer's invoices, by internal id
        customer_id=None if is_staff(principal) else principal.customer_id,
        statuses=statuses, payment_statuses=payment_statuses,
        invoice_type=invoice_type, currency=currency, issuing_date_from=dates["issuing_date_from"],
        issuing_date_to=dates["issuing_date_to"], amount_from=amount_from, amount_to=amount_to,
        payment_overdue=payment_overdue, search_term=search_term)


async def _page(session, principal, filters, pagination, after: uuid.UUID | None) -> InvoicesResponse:
    cursor = None
    if after is not None:
        last = await repository.get_invoice(session, principal.organization_id, after)
        if last is None:
            raise InvoiceNotFound()
        cursor = (last.created_at, last.id)
    rows, total = await repository.list_invoices(session, principal.organization_id, filters,
                                                 limit=pagination.per_page, offset=pagination.offset, after=cursor)
    return InvoicesResponse(invoices=await service.full_many(session, rows, with_fees=False),
                            meta=pagination.meta(total))


Text = Annotated[str | None, Query(max_length=255)]
# a calendar date as written (`2026-04-01`): FastAPI's `date` would also read `0` as a Unix time
# (29 February is left out of the pattern, for it exists in some years only; the parser still takes it)
DateText = Annotated[str | None, Query(pattern=r"^[1-9][0-9]{3}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
                                               r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))$")]
Currency = Annotated[str | None, Choice(CURRENCIES, "currency_code_invalid"), Query()]
InvoiceType = Literal["subscription", "add_on", "credit", "one_off", "progressive_billing", "advance_charges"]


@router.get("/invoices", response_model=InvoicesResponse, responses={**LIST_ERRORS, **NOT_FOUND},
            summary="List invoices",
            description="Newest first. Filters (Lago): `external_customer_id`, `statuses[]`, `payment_statuses[]`, "
                        "`invoice_type`, `currency`, `issuing_date_from/to`, `amount_from/to` (total, cents), "
                        "`payment_overdue`, `search_term` (number or customer external id). Beyond Lago, "
                        "`after=<lago_id>` continues after that invoice (keyset: constant cost at any depth; "
                        "`page` is then ignored). A tenant key sees its own customer's invoices only.")
async def list_invoices(request: Request, session: DbSession, principal: ReaderOrTenant, pagination: Pagination,
                        external_customer_id: Text = None,
                        currency: Currency = None,
                        invoice_type: InvoiceType | None = None,
                        issuing_date_from: DateText = None, issuing_date_to: DateText = None,
                        amount_from: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                        amount_to: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                        payment_overdue: bool | None = None, search_term: Text = None,
                        after: uuid.UUID | None = None) -> InvoicesResponse:
    filters = _filters(request, principal, external_customer_id, currency, invoice_type, issuing_date_from,
                       issuing_date_to, amount_from, amount_to, payment_overdue, search_term)
    return await _page(session, principal, filters, pagination, after)


@router.get("/customers/{external_customer_id}/invoices", response_model=InvoicesResponse,
            responses={**LIST_ERRORS, **NOT_FOUND},
            summary="List a customer's invoices", description="The same filters as `GET /invoices`.")
async def customer_invoices(request: Request, session: DbSession, principal: ReaderOrTenant, pagination: Pagination,
                            external_customer_id: Annotated[str, Path(max_length=255)],
                            currency: Currency = None,
                            invoice_type: InvoiceType | None = None,
                            issuing_date_from: DateText = None, issuing_date_to: DateText = None,
                            amount_from: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                            amount_to: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                            payment_overdue: bool | None = None, search_term: Text = None,
                            after: uuid.UUID | None = None) -> InvoicesResponse:
    await ensure_external_customer_access(session, principal, external_customer_id)
    filters = _filters(request, principal, external_customer_id, currency, invoice_type, issuing_date_from,
                       issuing_date_to, amount_from, amount_to, payment_overdue, search_term)
    return await _page(session, principal, filters, pagination, after)


@router.post("/invoices", response_model=InvoiceResponse, responses={**WRITE_ERRORS},
             summary="Create a one-off invoice",
             description="Add-on fees for a customer (Lago's shape), finalized at once: `invoice.one_off_created`, "
                         "`invoice.created`, `invoice.finalized`. Send an `Idempotency-Key` to make a retry safe.")
async def create_one_off_invoice(body: OneOffInvoiceBody, session: DbSession, principal: Writer,
                                 request: Request) -> InvoiceResponse:
    invoice = await one_off.create(session, request.app.state.runtime.subscriptions, principal.organization_id,
                                   body.invoice, now(request))
    return InvoiceResponse(invoice=await service.full(session, invoice))


async def _not_allowed() -> None:
    raise MethodNotAllowed("this resource does not accept that method")


# `/invoices/preview`, `/invoices/finalize_all`, `/invoices/retry_all` would otherwise match the
# `/invoices/{lago_id}` routes' other methods (a 422 for a bad id); registered first, they answer 405
for _literal in ("preview", "finalize_all", "retry_all"):
    router.add_api_route(f"/invoices/{_literal}", _not_allowed, methods=["GET", "PUT", "DELETE", "PATCH"],
                         include_in_schema=False)


@router.post("/invoices/preview", response_model=InvoiceResponse,
             responses=CREATE_ERRORS | NOT_FOUND | {503: response(ApiError, "The subscriptions or wallets service did "
                                                                          "not answer (previews of subscriptions).")},
             summary="Preview an invoice",
             description="Lago's input. With `plan_code`: the first invoice a customer would get on that plan. With "
                         "`subscriptions.external_ids`: the customer's next invoice of those subscriptions if their "
                         "open periods ended now (usage read from the subscriptions service; coupons, taxes, "
                         "credits, prepaid credits); with `subscriptions.plan_code` (one subscription) the invoice "
                         "its upgrade (now) or downgrade (at the period's end) would make, the new plan's first fee "
                         "paid in advance included and an upgrade's unused advance fee credited; with "
                         "`subscriptions.terminated_at` (one subscription) its final invoice (usage so far, a fee in "
                         "arrears prorated, unused advance-paid days credited). Computed like a real invoice, "
                         "nothing written; its `lago_id` is the nil UUID. The subscriptions or wallets service "
                         "unreachable is 503.")
async def preview_invoice(body: PreviewInput | PreviewSubscriptionsInput, session: DbSession, principal: Writer,
                          request: Request) -> InvoiceResponse:
    if isinstance(body, PreviewSubscriptionsInput):
        return InvoiceResponse(invoice=await preview_existing.preview_existing(
            session, principal.organization_id, body, request.app.state.runtime, now(request)))
    return InvoiceResponse(invoice=await preview.preview(session, request.app.state.runtime.subscriptions,
                                                         principal.organization_id, body, now(request)))


@router.post("/invoices/finalize_all", response_model=InvoiceBatchResponse, responses=WRITE_ERRORS,
             summary="Finalize all drafts",
             description="Invora's batch: up to 500 of the organization's drafts, oldest first, finalized (a parked "
                         "customer's stay drafts); call again while it returns invoices.")
async def finalize_all(session: DbSession, principal: Writer, request: Request) -> InvoiceBatchResponse:
    done = await api.finalize_all(session, principal.organization_id, now(request))
    return InvoiceBatchResponse(invoices=await service.full_many(session, done, with_fees=False))


@router.post("/invoices/retry_all", response_model=InvoiceBatchResponse, responses=WRITE_ERRORS,
             summary="Retry all failed invoices",
             description="Invora's batch: up to 500 of the organization's failed invoices computed again (each "
                         "finalized, a draft, or failed again).")
async def retry_all(session: DbSession, principal: Writer, request: Request) -> InvoiceBatchResponse:
    done = await api.retry_all(session, principal.organization_id, now(request))
    return InvoiceBatchResponse(invoices=await service.full_many(session, done, with_fees=False))


@router.get("/invoices/{lago_id}", response_model=InvoiceResponse, responses=READ_ERRORS,
            summary="Retrieve an invoice",
            description="With its fees, applied taxes, coupons (`credits`) and customer.")
async def get_invoice(lago_id: InvoiceId, session: DbSession, principal: ReaderOrTenant) -> InvoiceResponse:
    invoice = await api.visible(session, principal, lago_id)
    return InvoiceResponse(invoice=await service.full(session, invoice))


@router.put("/invoices/{lago_id}", response_model=InvoiceResponse, responses=WRITE_ERRORS,
            summary="Update an invoice",
            description="`metadata` (replaces the list; an entry with `id` keeps its id) and `payment_status` "
                        "(publishes `invoice.payment_status_updated`; the payments service sets it once it exists).")
async def update_invoice(lago_id: InvoiceId, body: InvoiceUpdateBody, session: DbSession, principal: Writer,
                         request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.update(session, principal, lago_id, body.invoice, now(request)))


@router.delete("/invoices/{lago_id}", response_model=InvoiceResponse, responses=STATE_ERRORS,
               summary="Delete a draft invoice",
               description="Lago's: only a `draft` can be deleted (405 `invoice_not_draft` otherwise; void a finalized "
                           "one). It is removed entirely and never had a number. Customer and unit credits it took "
                           "are given back. Each subscription period it covered is recorded as a billing-check "
                           "`gap` (the customer is parked until it is resolved) so no period goes unbilled "
                           "silently.")
async def delete_invoice(lago_id: InvoiceId, session: DbSession, principal: Writer,
                         request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.delete(session, principal, lago_id, now(request)))


@router.put("/invoices/{lago_id}/finalize", response_model=InvoiceResponse, responses=STATE_ERRORS,
            summary="Finalize a draft invoice",
            description="Coupons consumed, the number assigned (gapless), `invoice.created` and `invoice.finalized` "
                        "published. 405 `invoice_not_draft` for an invoice that is not a draft.")
async def finalize_invoice(lago_id: InvoiceId, session: DbSession, principal: Writer,
                           request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.finalize(session, principal, lago_id, now(request)))


@router.post("/invoices/{lago_id}/void", response_model=InvoiceResponse, responses=STATE_ERRORS,
             summary="Void an invoice",
             description="A finalized invoice that is not paid becomes `voided` and keeps its number "
                         "(`invoice.voided`). Credit notes for it are not built yet.")
async def void_invoice(lago_id: InvoiceId, session: DbSession, principal: Writer, request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.void(session, principal, lago_id, now(request)))


@router.put("/invoices/{lago_id}/lose_dispute", response_model=InvoiceResponse, responses=STATE_ERRORS,
            summary="Mark an invoice payment dispute as lost (PUT, as Lago's official clients send it)",
            description="The same as `POST`: Lago's OpenAPI document says POST, its clients send PUT.")
@router.post("/invoices/{lago_id}/lose_dispute", response_model=InvoiceResponse, responses=STATE_ERRORS,
             summary="Mark an invoice payment dispute as lost",
             description="Sets `payment_dispute_lost_at` on a finalized invoice and publishes "
                         "`invoice.payment_dispute_lost` (Lago), once: asked again, the invoice is answered unchanged. "
                         "The payments service does the same when the provider reports a lost dispute. 405 "
                         "`not_disputable` when the invoice is not finalized.")
async def lose_dispute(lago_id: InvoiceId, session: DbSession, principal: Writer, request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.lose_dispute(session, principal, lago_id, now(request)))


@router.put("/invoices/{lago_id}/refresh", response_model=InvoiceResponse, responses=STATE_ERRORS,
            summary="Refresh a draft invoice",
            description="Computed again from its period's usage with today's customer, plan version, taxes and "
                        "coupons.")
async def refresh_invoice(lago_id: InvoiceId, session: DbSession, principal: Writer,
                          request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.refresh(session, principal, lago_id, now(request)))


@router.post("/invoices/{lago_id}/retry", response_model=InvoiceResponse, responses=STATE_ERRORS,
             summary="Retry a failed invoice",
             description="Computed again; finalized when its grace period is over, else a draft.")
async def retry_invoice(lago_id: InvoiceId, session: DbSession, principal: Writer, request: Request) -> InvoiceResponse:
    return InvoiceResponse(invoice=await api.retry(session, principal, lago_id, now(request)))


@router.get("/invoice_settings", response_model=InvoiceSettingsResponse, responses=READ_ERRORS,
            tags=["invoice_settings"], summary="The organization's settings as invoicing applies them",
            description="Read-only: the catalog owns them (`PUT /organizations`); invoicing keeps them from "
                        "`organization.updated`. `document_numbering` (`per_organization`: PREFIX-YYYYMM-NNNNN, "
                        "`per_customer`: PREFIX-<customer>-NNN), `document_number_prefix`, `invoice_grace_period` and "
                        "`net_payment_term` (days; a customer's own values win), `finalize_zero_amount_invoice`, "
                        "`timezone`, `default_currency`.")
async def get_settings(session: DbSession, principal: Writer) -> InvoiceSettingsResponse:
    row = await repository.settings_of(session, principal.organization_id)
    return InvoiceSettingsResponse(invoice_settings=InvoiceSettings(**api.settings_view(row)))


@router.get("/billing_check_violations", response_model=BillingCheckViolationsResponse, responses=READ_ERRORS,
            tags=["invoice_settings"], summary="Periods billed twice or missed",
            description="The billing check's findings, newest first. A customer with an unresolved finding has its "
                        "invoices held in draft.")
async def list_violations(session: DbSession, principal: Writer) -> BillingCheckViolationsResponse:
    rows = await repository.violations(session, principal.organization_id)
    return BillingCheckViolationsResponse(billing_check_violations=[_violation(v) for v in rows])


def _violation(v) -> BillingCheckViolation:
    return BillingCheckViolation(
        lago_violation_id=v.id, lago_customer_id=v.customer_id, lago_subscription_id=v.subscription_id, kind=v.kind,
        period_start=v.period_start, period_end=v.period_end, detail=v.detail,
        resolved_at=v.resolved_at.isoformat() if v.resolved_at else None)


@router.post("/billing_check_violations/{lago_id}/resolve", response_model=BillingCheckViolationResponse,
             responses=WRITE_ERRORS,
             tags=["invoice_settings"], summary="Mark a finding resolved",
             description="When the customer has no other open finding, its held drafts become due for finalization.")
async def resolve_violation(lago_id: Annotated[uuid.UUID, Path()], session: DbSession, principal: Writer,
                            request: Request) -> BillingCheckViolationResponse:
    row = await api.resolve_violation(session, principal.organization_id, lago_id, now(request))
    return BillingCheckViolationResponse(billing_check_violation=_violation(row))
