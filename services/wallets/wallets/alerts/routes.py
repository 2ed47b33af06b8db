"""HTTP routes for wallet alerts (`/api/v1/customers/{external_customer_id}/wallets/{wallet_code}/alerts`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from invora.auth.deps import ReaderOrTenant, Writer, ensure_customer_access
from invora.web.deps import DbSession
from invora.web.error_docs import CREATE_ERRORS, LIST_ERRORS, NOT_FOUND, READ_ERRORS, WRITE_ERRORS
from invora.web.pagination import Pagination
from wallets.alerts import service
from wallets.alerts.schemas import AlertCreateBody, AlertResponse, AlertsResponse, AlertUpdateBody
from wallets.errors import AlertMissing
from wallets.wallets import service as wallets

router = APIRouter(prefix="/api/v1/customers/{external_customer_id}/wallets/{wallet_code}/alerts",
                   tags=["wallets"])
ExternalCustomerId = Annotated[str, Path(description="The customer's external id.")]
WalletCode = Annotated[str, Path(description="The wallet's code, unique per customer.")]
Code = Annotated[str, Path(description="The alert's code, unique per wallet.")]
TYPES_DOC = ("Types: `wallet_balance_amount` and `wallet_ongoing_balance_amount` (thresholds in cents), "
             "`wallet_credits_balance` and `wallet_credits_ongoing_balance` (in credits); the ongoing figures "
             "are the balance minus the current unbilled usage. Alerts watch the value go down "
             "(`direction: decreasing`): a threshold is crossed when the value reaches it or falls below, and "
             "each crossing publishes `alert.triggered` once (evaluated by the scheduler). ")


@router.post("", responses={**CREATE_ERRORS, **NOT_FOUND}, summary="Create wallet alert(s)",
             description=TYPES_DOC + "Send `{\"alert\": {...}}` for one alert (answered `{\"alert\": {...}}`) or "
                                     "`{\"alerts\": [...]}` for up to 20, all or nothing (answered "
                                     "`{\"alerts\": [...]}`; errors keyed `alerts.<index>.<field>`).")
async def create_alerts(external_customer_id: ExternalCustomerId, wallet_code: WalletCode, body: AlertCreateBody,
                        session: DbSession, principal: Writer) -> Any:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code,
                                       lock=True)
    if body.alerts is not None:
        created = await service.create_many(session, wallet, body.alerts, batch=True)
        return {"alerts": [service.render(a, wallet["code"]) for a in created]}
    if body.alert is None:
        raise AlertMissing()
    [alert] = await service.create_many(session, wallet, [body.alert], batch=False)
    return {"alert": service.render(alert, wallet["code"])}


@router.get("", response_model=AlertsResponse, responses={**READ_ERRORS, **LIST_ERRORS},
            summary="List wallet alerts", description="Oldest first, paginated.")
async def list_alerts(external_customer_id: ExternalCustomerId, wallet_code: WalletCode, session: DbSession,
                      principal: ReaderOrTenant, page: Pagination) -> Any:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code)
    ensure_customer_access(principal, wallet["customer_id"])
    found, meta = await service.page(session, wallet, page)
    return {"alerts": [service.render(a, wallet["code"]) for a in found], "meta": meta.model_dump()}


@router.delete("", response_class=Response, responses=WRITE_ERRORS, summary="Delete all wallet alerts",
               description="Answers 200 with an empty body, as Lago does.")
async def delete_all_alerts(external_customer_id: ExternalCustomerId, wallet_code: WalletCode,
                            session: DbSession, principal: Writer) -> Response:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code,
                                       lock=True)
    await service.delete_all(session, wallet)
    return Response(status_code=200)


@router.get("/{code}", response_model=AlertResponse, responses=READ_ERRORS, summary="Retrieve a wallet alert")
async def get_alert(external_customer_id: ExternalCustomerId, wallet_code: WalletCode, code: Code,
                    session: DbSession, principal: ReaderOrTenant) -> Any:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code)
    ensure_customer_access(principal, wallet["customer_id"])
    return {"alert": service.render(await service.get(session, wallet, code), wallet["code"])}


@router.put("/{code}", response_model=AlertResponse, responses=WRITE_ERRORS, summary="Update a wallet alert",
            description="Changes the given fields: `code`, `name`, `thresholds` (a non-empty list replaces them "
                        "all). The last evaluated value is kept, so new thresholds apply from there.")
async def update_alert(external_customer_id: ExternalCustomerId, wallet_code: WalletCode, code: Code,
                       body: AlertUpdateBody, session: DbSession, principal: Writer) -> Any:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code)
    return {"alert": service.render(await service.update(session, wallet, code, body.alert), wallet["code"])}


@router.delete("/{code}", response_model=AlertResponse, responses=WRITE_ERRORS, summary="Delete a wallet alert")
async def delete_alert(external_customer_id: ExternalCustomerId, wallet_code: WalletCode, code: Code,
                       session: DbSession, principal: Writer) -> Any:
    wallet = await wallets.get_by_code(session, principal.organization_id, external_customer_id, wallet_code)
    return {"alert": service.render(await service.delete(session, wallet, code), wallet["code"])}
