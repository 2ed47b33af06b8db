"""HTTP routes of credit notes (`/api/v1/credit_notes`, Lago's)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from invoicing.credit_notes import repository, service
from invoicing.credit_notes.schemas import (
    CreditNoteBody,
    CreditNoteResponse,
    CreditNotesResponse,
    CreditNoteUpdateBody,
    EstimateBody,
    EstimateResponse,
    MetadataBody,
    MetadataResponse,
    Reason,
)
from invora import metadata as item_metadata
from invora.auth.deps import ReaderOrTenant, Writer, is_staff
from invora.errors import MethodNotAllowed
from invora.runtime import now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_FOUND, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1", tags=["credit_notes"])


async def _not_allowed() -> None:
    raise MethodNotAllowed("this resource does not accept that method")


# `/credit_notes/estimate` would otherwise match `/credit_notes/{lago_id}`'s other methods (a 422 for a bad id);
# registered first, it answers 405
router.add_api_route("/credit_notes/estimate", _not_allowed, methods=["GET", "PUT", "DELETE", "PATCH"],
                     include_in_schema=False)


@router.post("/credit_notes", response_model=CreditNoteResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
             summary="Create a credit note",
             description="On a finalized invoice: items per fee (taxes excluded), at most what each fee has left "
                         "after earlier credit notes; taxes and coupons pro rata per fee; the total at most what "
                         "is left of the invoice; `credit + refund + offset` = the total. The credit part is "
                         "consumed by the customer's next invoices, the refund part goes back through payments "
                         "(at most what was paid), the offset part is deducted from what the invoice still owes "
                         "(at most that; the invoice is paid when nothing is left). Publishes "
                         "`credit_note.created`; `credit_note.generated` follows once its PDF is rendered (in the "
                         "background, or by `POST /credit_notes/{id}/download`). Send an `Idempotency-Key` to "
                         "make a retry safe.")
async def create_credit_note(body: CreditNoteBody, session: DbSession, principal: Writer,
                             request: Request) -> CreditNoteResponse:
    note = await service.create(session, principal.organization_id, body.credit_note, now(request))
    return CreditNoteResponse(credit_note=(await service.render_many(session, [note]))[0])


@router.post("/credit_notes/estimate", response_model=EstimateResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
             summary="Estimate a credit note", description="The amounts a credit note with these items would have "
                                                           "(Lago's estimate); nothing is written.")
async def estimate_credit_note(body: EstimateBody, session: DbSession, principal: Writer) -> EstimateResponse:
    return EstimateResponse(estimated_credit_note=await service.estimate(session, principal.organization_id,
                                                                         body.credit_note))


@router.get("/credit_notes", response_model=CreditNotesResponse, responses=LIST_ERRORS, summary="List credit notes",
            description="Newest first; filters `external_customer_id`, `invoice_id`, `reason`. A tenant key sees "
                        "its own customer's.")
async def list_credit_notes(session: DbSession, principal: ReaderOrTenant, pagination: Pagination,
                            external_customer_id: Annotated[str | None, Query(max_length=255)] = None,
                            invoice_id: uuid.UUID | None = None, reason: Reason | None = None) -> CreditNotesResponse:
    return await _page(session, principal, pagination, external_customer_id, invoice_id, reason)


@router.get("/customers/{external_customer_id}/credit_notes", response_model=CreditNotesResponse,
            responses=LIST_ERRORS, summary="List a customer's credit notes")
async def list_customer_credit_notes(external_customer_id: Annotated[str, Path(max_length=255)], session: DbSession,
                                     principal: ReaderOrTenant, pagination: Pagination,
                                     invoice_id: uuid.UUID | None = None,
                                     reason: Reason | None = None) -> CreditNotesResponse:
    return await _page(session, principal, pagination, external_customer_id, invoice_id, reason)


async def _page(session, principal, pagination, external_customer_id, invoice_id, reason) -> CreditNotesResponse:  # noqa: ANN001
    customer_id = None if is_staff(principal) else principal.customer_id
    rows, total = await repository.page(session, principal.organization_id, customer_id=customer_id,
                                        external_customer_id=external_customer_id, invoice_id=invoice_id,
                                        reason=reason, limit=pagination.per_page, offset=pagination.offset)
    return CreditNotesResponse(credit_notes=await service.render_many(session, rows), meta=pagination.meta(total))


@router.get("/credit_notes/{lago_id}", response_model=CreditNoteResponse, responses=READ_ERRORS,
            summary="Retrieve a credit note")
async def get_credit_note(lago_id: Annotated[uuid.UUID, Path()], session: DbSession,
                          principal: ReaderOrTenant) -> CreditNoteResponse:
    note = await service.get(session, principal, lago_id)
    return CreditNoteResponse(credit_note=(await service.render_many(session, [note]))[0])


@router.put("/credit_notes/{lago_id}", response_model=CreditNoteResponse, responses=WRITE_ERRORS,
            summary="Update a credit note",
            description="Lago's `refund_status` (only a note with a refund part has one) and `metadata` (merged: "
                        "the given keys added or overwritten, the others kept).")
async def update_credit_note(lago_id: Annotated[uuid.UUID, Path()], body: CreditNoteUpdateBody, session: DbSession,
                             principal: Writer, request: Request) -> CreditNoteResponse:
    note = await service.update(session, principal, lago_id, body.credit_note, now(request))
    return CreditNoteResponse(credit_note=(await service.render_many(session, [note]))[0])


@router.put("/credit_notes/{lago_id}/void", response_model=CreditNoteResponse, responses=WRITE_ERRORS,
            summary="Void a credit note",
            description="What is left of its credit is removed (what invoices consumed stays consumed).")
async def void_credit_note(lago_id: Annotated[uuid.UUID, Path()], session: DbSession, principal: Writer,
                           request: Request) -> CreditNoteResponse:
    note = await service.void(session, principal, lago_id, now(request))
    return CreditNoteResponse(credit_note=(await service.render_many(session, [note]))[0])


# -- metadata (Lago's key-value object; the rules are `invora.metadata`'s) ----------------------------------

CreditNoteId = Annotated[uuid.UUID, Path(description="The credit note's `lago_id`.")]


@router.post("/credit_notes/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
             summary="Replace credit note metadata",
             description="Replaces the note's metadata with the given keys (at most 50; keys up to 100 characters, "
                         "values up to 255 or null); `{}` or null removes it.")
async def replace_metadata(lago_id: CreditNoteId, body: MetadataBody, session: DbSession, principal: Writer,
                           request: Request) -> MetadataResponse:
    return MetadataResponse(metadata=await service.change_metadata(
        session, principal, lago_id, now(request), lambda _current: item_metadata.replaced(body.metadata)))


@router.patch("/credit_notes/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
              summary="Merge credit note metadata",
              description="The given keys are added or overwritten, the others kept; at most 50 keys after the "
                          "merge (422 `too_many_keys`).")
async def merge_metadata(lago_id: CreditNoteId, body: MetadataBody, session: DbSession, principal: Writer,
                         request: Request) -> MetadataResponse:
    return MetadataResponse(metadata=await service.change_metadata(
        session, principal, lago_id, now(request), lambda current: item_metadata.merged(current, body.metadata)))


@router.delete("/credit_notes/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
               summary="Delete all credit note metadata")
async def delete_metadata(lago_id: CreditNoteId, session: DbSession, principal: Writer,
                          request: Request) -> MetadataResponse:
    return MetadataResponse(metadata=await service.change_metadata(
        session, principal, lago_id, now(request), lambda _current: item_metadata.replaced(None)))


@router.delete("/credit_notes/{lago_id}/metadata/{key}", response_model=MetadataResponse, responses=WRITE_ERRORS,
               summary="Delete a metadata key",
               description="A key the metadata does not hold changes nothing; a note without metadata: 404 "
                           "`metadata_not_found` (Lago's).")
async def delete_metadata_key(lago_id: CreditNoteId, key: Annotated[str, Path(max_length=100)], session: DbSession,
                              principal: Writer, request: Request) -> MetadataResponse:
    return MetadataResponse(metadata=await service.change_metadata(
        session, principal, lago_id, now(request), lambda current: item_metadata.without_key(current, key)))
