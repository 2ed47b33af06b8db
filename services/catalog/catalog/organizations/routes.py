"""HTTP routes for the organization's settings (`/api/v1/organizations`)."""

from __future__ import annotations

from fastapi import APIRouter

from catalog.organizations import service
from catalog.organizations.schemas import OrganizationResponse, OrganizationUpdateBody
from invora.auth.deps import Reader, Writer
from invora.web.deps import DbSession
from invora.web.error_docs import READ_ERRORS, WRITE_ERRORS

router = APIRouter(prefix="/api/v1/organizations", tags=["organizations"])


@router.get("", response_model=OrganizationResponse, responses=READ_ERRORS, summary="Retrieve your organization",
            description="Invora's addition (Lago shows the organization only in `PUT`'s answer): the settings, "
                        "defaults until first updated, and the taxes applied to the organization.")
async def get_organization(session: DbSession, principal: Reader) -> OrganizationResponse:
    return OrganizationResponse(organization=await service.read(session, principal.organization_id))


@router.put("", response_model=OrganizationResponse, responses=WRITE_ERRORS, summary="Update your organization",
            description="Partial: absent fields keep their value, `null` clears a nullable one. Publishes "
                        "`organization.updated` (internal): invoicing applies the numbering, grace period, payment "
                        "term, `finalize_zero_amount_invoice` and timezone from it; a `webhook_url` becomes a "
                        "webhook endpoint in notifications.")
async def update_organization(body: OrganizationUpdateBody, session: DbSession,
                              principal: Writer) -> OrganizationResponse:
    return OrganizationResponse(organization=await service.update(session, principal.organization_id,
                                                                  body.organization))
