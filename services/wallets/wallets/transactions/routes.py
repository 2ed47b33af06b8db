"""HTTP routes for wallet transactions (`/api/v1/wallet_transactions`, `/api/v1/wallets/{id}/wallet_transactions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from invora.auth.deps import ReaderOrTenant, Writer, ensure_customer_access
from invora.runtime import Now
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_ALLOWED, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination
from wallets.errors import CONFLICT_DOC
from wallets.transactions import operations
from wallets.transactions.render import render
from wallets.transactions.schemas import (
    ConsumptionsPage,
    FundingsPage,
    StatusFilter,
    TransactionStatusFilter,
    TypeFilter,
    VoidBody,
    WalletTransactionCreateBody,
    WalletTransactionResponse,
    WalletTransactionsPage,
    WalletTransactionsResponse,
)
from wallets.wallets import service as wallets

router = APIRouter(prefix="/api/v1/wallet_transactions", tags=["wallet_transactions"])
wallet_router = APIRouter(prefix="/api/v1/wallets", tags=["wallet_transactions"])

TransactionId = Annotated[str, Path(description="The wallet transaction's lago_id.")]


@router.post("", response_model=WalletTransactionsResponse, responses={**CREATE_ERRORS, **NOT_ALLOWED, **CONFLICT_DOC},
             summary="Top up a wallet (paid, granted or voided credits)")
async def create_transactions(body: WalletTransactionCreateBody, session: DbSession, principal: Writer,
                              now: Now) -> WalletTransactionsResponse:
    rows = await operations.create(session, principal.organization_id, body.wallet_transaction, now=now,
                                   actor=principal.subject)
    return WalletTransactionsResponse(wallet_transactions=rows)


async def _readable(session, principal, lago_id: str):
    transaction = await operations.get_row(session, principal.organization_id, lago_id)
    wallet = await wallets.get_row(session, principal.organization_id, transaction["wallet_id"])
    ensure_customer_access(principal, wallet["customer_id"])
    return transaction, wallet


@router.get("/{lago_id}", response_model=WalletTransactionResponse, responses=READ_ERRORS,
            summary="Retrieve a wallet transaction")
async def get_transaction(session: DbSession, principal: ReaderOrTenant,
                          lago_id: TransactionId) -> WalletTransactionResponse:
    transaction, wallet = await _readable(session, principal, lago_id)
    return WalletTransactionResponse(wallet_transaction=render(transaction, wallet["currency"]))


@router.post("/{lago_id}/void", response_model=WalletTransactionResponse, responses={**WRITE_ERRORS, **CONFLICT_DOC},
             summary="Void a credit grant (what is left of it)")
async def void_transaction(body: VoidBody, session: DbSession, principal: Writer, now: Now,
                           lago_id: TransactionId) -> WalletTransactionResponse:
    return WalletTransactionResponse(wallet_transaction=await operations.void_grant(
        session, principal.organization_id, lago_id, body.wallet_transaction.reason, now=now,
        actor=principal.subject))


@router.get("/{lago_id}/consumptions", response_model=ConsumptionsPage, responses={**READ_ERRORS, **LIST_ERRORS},
            summary="What an inbound transaction's credits paid for")
async def consumptions(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                       lago_id: TransactionId) -> ConsumptionsPage:
    transaction, wallet = await _readable(session, principal, lago_id)
    items, meta = await operations.links(session, transaction, wallet["currency"], page, consumptions=True)
    return ConsumptionsPage(wallet_transaction_consumptions=items, meta=meta)


@router.get("/{lago_id}/fundings", response_model=FundingsPage, responses={**READ_ERRORS, **LIST_ERRORS},
            summary="Which inbound transactions paid for an outbound one")
async def fundings(session: DbSession, principal: ReaderOrTenant, page: Pagination,
                   lago_id: TransactionId) -> FundingsPage:
    transaction, wallet = await _readable(session, principal, lago_id)
    items, meta = await operations.links(session, transaction, wallet["currency"], page, consumptions=False)
    return FundingsPage(wallet_transaction_fundings=items, meta=meta)


@wallet_router.get("/{lago_id}/wallet_transactions", response_model=WalletTransactionsPage,
                   responses={**READ_ERRORS, **LIST_ERRORS},
                   summary="List a wallet's transactions")
async def list_transactions(
    session: DbSession, principal: ReaderOrTenant, page: Pagination, lago_id: Annotated[str, Path()],
    status: Annotated[StatusFilter | None, Query()] = None,
    transaction_status: Annotated[TransactionStatusFilter | None, Query()] = None,
    transaction_type: Annotated[TypeFilter | None, Query()] = None,
) -> WalletTransactionsPage:
    wallet = await wallets.get_row(session, principal.organization_id, lago_id)
    ensure_customer_access(principal, wallet["customer_id"])
    items, meta = await operations.list_of_wallet(session, wallet, page, status=status,
                                                  transaction_status=transaction_status,
                                                  transaction_type=transaction_type)
    return WalletTransactionsPage(wallet_transactions=items, meta=meta)
