"""HTTP routes for provider-hosted pages (Lago API v1): `POST /api/v1/invoices/{lago_id}/payment_url`,
`POST /api/v1/wallet_transactions/{lago_id}/payment_url` and
`POST /api/v1/customers/{external_customer_id}/checkout_url`.

They call the provider, so they take the database's sessionmaker rather than the request's session.
Staff keys, and a tenant key for its own customer (the customer pays, or adds a card, itself).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from invora.auth.deps import WRITE_ROLES, require_roles
from invora.auth.principal import Principal
from invora.ids import parse_uuid
from invora.runtime import Now
from invora.web.error_docs import NOT_FOUND, UNPROCESSABLE, WRITE_ERRORS, ApiError, response
from payments.payment_urls import service
from payments.payment_urls.schemas import (
    CustomerCheckoutUrlResponse,
    InvoicePaymentUrlResponse,
    WalletTransactionPaymentUrlResponse,
)
from payments.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["payment_urls"])
WriterOrTenant = Annotated[Principal, Depends(require_roles(*WRITE_ROLES, "tenant"))]
PROVIDER_ERRORS = {400: response(ApiError, "The provider refused (`payment_provider_error`)."),
                   503: response(ApiError, "The provider did not answer (`payment_provider_unavailable`).")}


def _sessionmaker(request: Request):
    return request.app.state.database.sessionmaker


Sessions = Annotated[object, Depends(_sessionmaker)]


@router.post("/invoices/{lago_id}/payment_url", response_model=InvoicePaymentUrlResponse,
             summary="Generate a payment URL",
             description="A page hosted by the customer's payment provider (Stripe Checkout) where the invoice's "
                         "amount still due is paid once; the payment is recorded from the provider's webhook. 422 "
                         "`invoice_not_payable` (not finalized, nothing due), `payment_in_progress` (a charge of "
                         "the invoice is under way), `no_linked_payment_provider`.",
             responses={**WRITE_ERRORS, **NOT_FOUND, **UNPROCESSABLE, **PROVIDER_ERRORS})
async def invoice_payment_url(sessions: Sessions, runtime: Runtime, principal: WriterOrTenant,
                              lago_id: Annotated[str, Path(description="The invoice's lago_id.")]
                              ) -> InvoicePaymentUrlResponse:
    details = await service.invoice_payment_url(sessions, runtime.adapters, principal, parse_uuid(lago_id))
    return InvoicePaymentUrlResponse(invoice_payment_details=details)


@router.post("/wallet_transactions/{lago_id}/payment_url", response_model=WalletTransactionPaymentUrlResponse,
             summary="Generate a payment URL",
             description="A page hosted by the customer's payment provider where a pending paid top-up is paid "
                         "once; its payment settles the top-up (wallets grants the credits). Only top-ups created "
                         "with `payment_method.payment_method_type: manual` have one (the others are charged "
                         "off-session). The same page is given again while it may still be paid. 404 when payments "
                         "was asked to collect no such top-up; 422 `wallet_transaction_not_payable` (paid or "
                         "failed), `payment_in_progress` (charged off-session, or a page being made), "
                         "`no_linked_payment_provider`.",
             responses={**WRITE_ERRORS, **NOT_FOUND, **UNPROCESSABLE, **PROVIDER_ERRORS})
async def wallet_transaction_payment_url(sessions: Sessions, runtime: Runtime, principal: WriterOrTenant, now: Now,
                                         lago_id: Annotated[str, Path(description="The wallet transaction's "
                                                                                  "lago_id.")]
                                         ) -> WalletTransactionPaymentUrlResponse:
    details = await service.wallet_transaction_payment_url(sessions, runtime.adapters, principal,
                                                           parse_uuid(lago_id), now)
    return WalletTransactionPaymentUrlResponse(wallet_transaction_payment_details=details)


@router.post("/customers/{external_customer_id}/checkout_url", response_model=CustomerCheckoutUrlResponse,
             summary="Generate a Customer Payment Provider Checkout URL",
             description="A page hosted by the customer's payment provider (Stripe Checkout in setup mode) where "
                         "the customer adds a payment method, which becomes its default. The customer is created "
                         "at the provider first when needed. 422 `no_linked_payment_provider`.",
             responses={**WRITE_ERRORS, **NOT_FOUND, **UNPROCESSABLE, **PROVIDER_ERRORS})
async def customer_checkout_url(sessions: Sessions, runtime: Runtime, principal: WriterOrTenant,
                                external_customer_id: Annotated[str, Path(max_length=255)]
                                ) -> CustomerCheckoutUrlResponse:
    customer = await service.customer_checkout_url(sessions, runtime.adapters, runtime.subscriptions, principal,
                                                   external_customer_id)
    return CustomerCheckoutUrlResponse(customer=customer)
