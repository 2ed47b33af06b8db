"""HTTP routes for billing entities (`/api/v1/billing_entities`)."""

from __future__ import annotations

from fastapi import APIRouter, Path

from catalog.billing_entities import service
from catalog.billing_entities.schemas import (
    BillingEntitiesResponse,
    BillingEntityCreateBody,
    BillingEntityResponse,
    BillingEntityUpdateBody,
)
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination

router = APIRouter(prefix="/api/v1/billing_entities", tags=["billing_entities"])
CodePath = Path(description="Unique code of the billing entity.")


@router.get("", response_model=BillingEntitiesResponse, responses=LIST_ERRORS, summary="List all billing entities",
            description="Oldest first; the oldest is the default (`is_default`).")
async def list_billing_entities(session: DbSession, principal: Reader, page: Pagination) -> BillingEntitiesResponse:
    entities, meta = await service.list_entities(session, principal.organization_id, page)
    return BillingEntitiesResponse(billing_entities=entities, meta=meta)


@router.post("", response_model=BillingEntityResponse, responses=CREATE_ERRORS, summary="Create a billing entity",
             description="Defaults as Lago's: numbering `per_customer`, prefix from the name and id, USD, UTC, no "
                         "grace period or payment term, zero-amount invoices finalized. The first entity of an "
                         "organization is its default.")
async def create_billing_entity(body: BillingEntityCreateBody, session: DbSession,
                                principal: Writer) -> BillingEntityResponse:
    return BillingEntityResponse(billing_entity=await service.create(session, principal.organization_id,
                                                                     body.billing_entity))


@router.get("/{code}", response_model=BillingEntityResponse, responses=READ_ERRORS,
            summary="Retrieve a billing entity")
async def get_billing_entity(session: DbSession, principal: Reader, code: str = CodePath) -> BillingEntityResponse:
    return BillingEntityResponse(billing_entity=await service.read(session, principal.organization_id, code))


@router.put("/{code}", response_model=BillingEntityResponse, responses=WRITE_ERRORS,
            summary="Update a billing entity",
            description="Partial. `tax_codes` replaces the entity's taxes (apply and remove taxes); `null` clears a "
                        "nullable field.")
async def update_billing_entity(body: BillingEntityUpdateBody, session: DbSession, principal: Writer,
                                code: str = CodePath) -> BillingEntityResponse:
    return BillingEntityResponse(billing_entity=await service.update(session, principal.organization_id, code,
                                                                     body.billing_entity))
