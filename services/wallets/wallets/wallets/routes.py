"""HTTP routes for wallets: `/api/v1/wallets` (by lago_id) and `/api/v1/customers/{external_customer_id}/wallets`
(by code), as Lago serves both."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from invora.auth.deps import ReaderOrTenant, Writer, ensure_customer_access
from invora.auth.principal import Principal
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, NOT_FOUND, READ_ERRORS, WRITE_ERRORS
from invora.web.fields import Currency
from invora.web.pagination import Pagination
from wallets.customers import service as customers
from wallets.runtime import Subscriptions, get_runtime
from wallets.wallets import service
from wallets.wallets.render import render
from wallets.wallets.schemas import (
    CustomerWalletCreateBody,
    MetadataBody,
    MetadataResponse,
    WalletCreateBody,
    WalletResponse,
    WalletsResponse,
    WalletUpdateBody,
)

router = APIRouter(prefix="/api/v1/wallets", tags=["wallets"])
CREATE_DOCS = {**CREATE_ERRORS, **NOT_FOUND, **NOT_ALLOWED}
LIST_DOCS = {**LIST_ERRORS, **NOT_FOUND}
customer_router = APIRouter(prefix="/api/v1/customers/{external_customer_id}/wallets", tags=["wallets"])

WalletId = Annotated[str, Path(description="The wallet's lago_id.")]
ExternalCustomerId = Annotated[str, Path(description="The customer's external id.")]
WalletCode = Annotated[str, Path(description="The wallet's code, unique per customer.")]


async def _readable(session, principal: Principal, wallet_id: str):
    wallet = await service.get_row(session, principal.organization_id, wallet_id)
    ensure_customer_access(principal, wallet["customer_id"])
    return wallet


@router.post("", response_model=WalletResponse, responses=CREATE_DOCS, summary="Create a wallet")
async def create_wallet(body: WalletCreateBody, session: DbSession, principal: Writer, now: Now,
                        request: Request) -> WalletResponse:
    return WalletResponse(wallet=await service.create(session, principal.organization_id, body.wallet, now=now,
                                                      actor=principal.subject,
                                                      subscriptions=get_runtime(request).subscriptions))


@router.get("", response_model=WalletsResponse, responses=LIST_DOCS, summary="List a customer's wallets")
async def list_wallets(session: DbSession, principal: ReaderOrTenant, page: Pagination, subscriptions: Subscriptions,
                       external_customer_id: Annotated[str, Query(max_length=255)],
                       currency: Annotated[Currency | None, Query()] = None) -> WalletsResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    wallets, meta = await service.list_wallets(session, subscriptions, principal.organization_id, external_customer_id,
                                               currency, page)
    return WalletsResponse(wallets=wallets, meta=meta)


@router.get("/{lago_id}", response_model=WalletResponse, responses=READ_ERRORS, summary="Retrieve a wallet")
async def get_wallet(session: DbSession, principal: ReaderOrTenant, lago_id: WalletId) -> WalletResponse:
    return WalletResponse(wallet=render(await _readable(session, principal, lago_id)))


@router.put("/{lago_id}", response_model=WalletResponse, responses=WRITE_ERRORS, summary="Update a wallet")
async def update_wallet(body: WalletUpdateBody, session: DbSession, principal: Writer, now: Now,
                        lago_id: WalletId) -> WalletResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return WalletResponse(wallet=await service.update(session, wallet, body.wallet, now=now))


@router.delete("/{lago_id}", response_model=WalletResponse, responses=WRITE_ERRORS, summary="Terminate a wallet")
async def terminate_wallet(session: DbSession, principal: Writer, now: Now, lago_id: WalletId) -> WalletResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return WalletResponse(wallet=await service.terminate(session, wallet, now=now, actor=principal.subject))


@router.post("/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
             summary="Replace wallet metadata")
async def replace_metadata(body: MetadataBody, session: DbSession, principal: Writer,
                           lago_id: WalletId) -> MetadataResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, body.metadata, merge=False))


@router.patch("/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
              summary="Merge wallet metadata")
async def merge_metadata(body: MetadataBody, session: DbSession, principal: Writer,
                         lago_id: WalletId) -> MetadataResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, body.metadata, merge=True))


@router.delete("/{lago_id}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
               summary="Delete all wallet metadata")
async def delete_metadata(session: DbSession, principal: Writer, lago_id: WalletId) -> MetadataResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, None, merge=False))


@router.delete("/{lago_id}/metadata/{key}", response_model=MetadataResponse, responses=WRITE_ERRORS,
               summary="Delete a metadata key")
async def delete_metadata_key(session: DbSession, principal: Writer, lago_id: WalletId,
                              key: Annotated[str, Path(max_length=100)]) -> MetadataResponse:
    wallet = await service.get_row(session, principal.organization_id, lago_id, lock=True)
    return MetadataResponse(metadata=await service.delete_metadata_key(session, wallet, key))


# -- the customer's wallets, by code ------------------------------------------------------------------------

@customer_router.post("", response_model=WalletResponse, responses=CREATE_DOCS,
                      summary="Create a wallet for a customer")
async def create_customer_wallet(body: CustomerWalletCreateBody, session: DbSession, principal: Writer, now: Now,
                                 external_customer_id: ExternalCustomerId, request: Request) -> WalletResponse:
    data = body.wallet.model_copy(update={"external_customer_id": external_customer_id})
    return WalletResponse(wallet=await service.create(session, principal.organization_id, data, now=now,
                                                      actor=principal.subject,
                                                      subscriptions=get_runtime(request).subscriptions))


@customer_router.get("", response_model=WalletsResponse, responses=LIST_DOCS, summary="List a customer's wallets")
async def list_customer_wallets(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                                subscriptions: Subscriptions,
                                external_customer_id: ExternalCustomerId) -> WalletsResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    wallets, meta = await service.list_wallets(session, subscriptions, principal.organization_id, external_customer_id,
                                               None, page)
    return WalletsResponse(wallets=wallets, meta=meta)


@customer_router.get("/{code}", response_model=WalletResponse, responses=READ_ERRORS, summary="Retrieve a wallet")
async def get_customer_wallet(session: DbSession, principal: ReaderOrTenant, external_customer_id: ExternalCustomerId,
                              code: WalletCode) -> WalletResponse:
    await customers.ensure_external_customer_access(session, principal, external_customer_id)
    return WalletResponse(wallet=render(await service.get_by_code(session, principal.organization_id,
                                                                  external_customer_id, code)))


@customer_router.put("/{code}", response_model=WalletResponse, responses=WRITE_ERRORS, summary="Update a wallet")
async def update_customer_wallet(body: WalletUpdateBody, session: DbSession, principal: Writer, now: Now,
                                 external_customer_id: ExternalCustomerId, code: WalletCode) -> WalletResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return WalletResponse(wallet=await service.update(session, wallet, body.wallet, now=now))


@customer_router.delete("/{code}", response_model=WalletResponse, responses=WRITE_ERRORS,
                        summary="Terminate a wallet")
async def terminate_customer_wallet(session: DbSession, principal: Writer, now: Now,
                                    external_customer_id: ExternalCustomerId, code: WalletCode) -> WalletResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return WalletResponse(wallet=await service.terminate(session, wallet, now=now, actor=principal.subject))


@customer_router.post("/{code}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
                      summary="Replace wallet metadata")
async def replace_customer_wallet_metadata(body: MetadataBody, session: DbSession, principal: Writer,
                                           external_customer_id: ExternalCustomerId,
                                           code: WalletCode) -> MetadataResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, body.metadata, merge=False))


@customer_router.patch("/{code}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
                       summary="Merge wallet metadata")
async def merge_customer_wallet_metadata(body: MetadataBody, session: DbSession, principal: Writer,
                                         external_customer_id: ExternalCustomerId,
                                         code: WalletCode) -> MetadataResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, body.metadata, merge=True))


@customer_router.delete("/{code}/metadata", response_model=MetadataResponse, responses=WRITE_ERRORS,
                        summary="Delete all wallet metadata")
async def delete_customer_wallet_metadata(session: DbSession, principal: Writer,
                                          external_customer_id: ExternalCustomerId,
                                          code: WalletCode) -> MetadataResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return MetadataResponse(metadata=await service.set_metadata(session, wallet, None, merge=False))


@customer_router.delete("/{code}/metadata/{key}", response_model=MetadataResponse, responses=WRITE_ERRORS,
                        summary="Delete a metadata key")
async def delete_customer_wallet_metadata_key(session: DbSession, principal: Writer,
                                              external_customer_id: ExternalCustomerId, code: WalletCode,
                                              key: Annotated[str, Path(max_length=100)]) -> MetadataResponse:
    wallet = await service.get_by_code(session, principal.organization_id, external_customer_id, code, lock=True)
    return MetadataResponse(metadata=await service.delete_metadata_key(session, wallet, key))
