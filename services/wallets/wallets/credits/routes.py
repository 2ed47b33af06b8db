"""HTTP routes for a customer's credits: manual credits (operations console), the credit view, the balance history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from invora.auth.deps import ReaderOrTenant, Writer
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, NOT_FOUND, READ_ERRORS
from wallets.credits import service
from wallets.credits.schemas import CreditsView, HistoryPage, ManualCreditBody, ManualCreditResponse, UsageCreditsBody
from wallets.customers import service as customers
from wallets.runtime import Subscriptions
from wallets.transactions.schemas import WalletTransactionResponse

router = APIRouter(prefix="/api/v1/customers/{external_customer_id}", tags=["credits"])
ExternalCustomerId = Annotated[str, Path(description="The customer's external id.")]


@router.post("/credits", response_model=ManualCreditResponse, responses={**CREATE_ERRORS, **NOT_FOUND, **NOT_ALLOWED},
             summary="Issue a manual credit (operations console)")
async def issue_credit(body: ManualCreditBody, request: Request, session: DbSession, principal: Writer, now: Now,
                       external_customer_id: ExternalCustomerId, subscriptions: Subscriptions) -> ManualCreditResponse:
    return await service.manual_credit(
        session, subscriptions, principal.organization_id, external_customer_id, body.credit, now=now,
        actor=principal.subject,
        limit_cents=request.app.state.runtime.settings.manual_credit_max_cents)


@router.post("/usage_credits", response_model=WalletTransactionResponse, responses={**CREATE_ERRORS, **NOT_FOUND},
             summary="Add usage credits (pending until the payment succeeds)")
async def add_usage_credits(body: UsageCreditsBody, request: Request, session: DbSession, principal: Writer, now: Now,
                            external_customer_id: ExternalCustomerId,
                            subscriptions: Subscriptions) -> WalletTransactionResponse:
    settings = request.app.state.runtime.settings
    return WalletTransactionResponse(wallet_transaction=await service.add_usage_credits(
        session, subscriptions, principal.organization_id, external_customer_id, body.usage_credits, now=now,
        actor=principal.subject, bounds=(settings.usage_credits_min_cents, settings.usage_credits_max_cents)))


@router.get("/credits", response_model=CreditsView, responses=READ_ERRORS,
            summary="The customer's credits: available, pending, expiring within 30 days")
async def credits_view(session: DbSession, principal: ReaderOrTenant, now: Now,
                       external_customer_id: ExternalCustomerId, subscriptions: Subscriptions) -> CreditsView:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    return await service.view(session, subscriptions, principal.organization_id, external_customer_id, now)


@router.get("/balance_history", response_model=HistoryPage, responses={**READ_ERRORS, **LIST_ERRORS},
            summary="Every credit movement, newest first (keyset pagination)")
async def balance_history(
    session: DbSession, principal: ReaderOrTenant, external_customer_id: ExternalCustomerId,
    subscriptions: Subscriptions,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    wallet_id: Annotated[uuid.UUID | None, Query()] = None,
    transaction_type: Annotated[Literal["inbound", "outbound"] | None, Query()] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
) -> HistoryPage:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    return await service.history(session, subscriptions, principal.organization_id, external_customer_id,
                                 limit=limit, cursor=cursor, wallet_id=wallet_id, transaction_type=transaction_type,
                                 created_after=created_after, created_before=created_before)
