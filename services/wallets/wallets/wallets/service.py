"""Wallets: create (with initial paid/granted credits), update, read, list, terminate, metadata."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora import metadata as item_metadata
from invora.errors import ValidationFailed
from invora.events.contracts.wallets import Wallet, WalletEvent
from invora.ids import parse_uuid, uuid7
from invora.service_client import ServiceClient
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta
from wallets.customers import service as customers
from wallets.errors import CurrencyMismatch, WalletCodeTaken, WalletNotActive, WalletNotFound
from wallets.events import publish
from wallets.ledger import service as ledger
from wallets.ledger.arithmetic import Debit, credits_to_cents
from wallets.transactions import service as transactions
from wallets.wallets import repository
from wallets.wallets.render import render, rules_to_store
from wallets.wallets.schemas import CustomerWalletCreateInput, WalletUpdateInput, check_top_up_bounds


async def get_row(session: AsyncSession, organization_id: uuid.UUID, wallet_id: str | uuid.UUID, *,
                  lock: bool = False) -> RowMapping:
    parsed = wallet_id if isinstance(wallet_id, uuid.UUID) else parse_uuid(wallet_id)
    row = await repository.by_id(session, organization_id, parsed, lock=lock) if parsed else None
    if row is None:
        raise WalletNotFound()
    return row


async def get_by_code(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str, code: str, *,
                      lock: bool = False) -> RowMapping:
    customer = await customers.get(session, organization_id, external_customer_id)
    row = await repository.by_code(session, organization_id, customer["id"], code) if storable_key(code) else None
    if row is None:
        raise WalletNotFound()
    return await get_row(session, organization_id, row["id"], lock=True) if lock else row


def _check_paid_limits(wallet: RowMapping | dict, credits: Decimal | None, field: str) -> None:
    if credits is None:
        return
    cents = credits_to_cents(credits, wallet["rate_amount"], wallet["currency"])
    low, high = wallet["paid_top_up_min_amount_cents"], wallet["paid_top_up_max_amount_cents"]
    if (low is not None and cents < low) or (high is not None and cents > high):
        raise ValidationFailed({field: ["amount_not_within_paid_top_up_limits"]})


async def create(session: AsyncSession, organization_id: uuid.UUID, data: CustomerWalletCreateInput, *, now: datetime,
                 actor: str, subscriptions: ServiceClient) -> Wallet:
    """A wallet; a customer the projection does not hold yet is asked of subscriptions."""
    if data.external_customer_id is None:
        raise ValidationFailed(external_customer_id=["value_is_mandatory"])
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, data.external_customer_id)
    if customer["currency"] and customer["currency"] != data.currency:
        raise CurrencyMismatch()
    if data.expiration_at is not None and data.expiration_at <= now:
        raise ValidationFailed(expiration_at=["invalid_date"])
    check_top_up_bounds(data.paid_top_up_min_amount_cents, data.paid_top_up_max_amount_cents)
    wallet_id = uuid7()
    code = data.code or f"wallet_{wallet_id.hex[-12:]}"
    if await repository.code_taken(session, organization_id, customer["id"], code, wallet_id):
        raise WalletCodeTaken()
    applies_to = data.applies_to
    values = {
        "id": wallet_id, "organization_id": organization_id, "customer_id": customer["id"],
        "external_customer_id": customer["external_id"], "code": code, "name": data.name, "currency": data.currency,
        "rate_amount": data.rate_amount, "priority": data.priority or 50, "status": "active",
        "expiration_at": data.expiration_at,
        "invoice_requires_successful_payment": bool(data.invoice_requires_successful_payment),
        "applies_to_fee_types": list(applies_to.fee_types or []) if applies_to else [],
        "applies_to_metric_codes": list(applies_to.billable_metric_codes or []) if applies_to else [],
        "paid_top_up_min_amount_cents": data.paid_top_up_min_amount_cents,
        "paid_top_up_max_amount_cents": data.paid_top_up_max_amount_cents,
        "metadata": data.metadata, "purchase_order_number": data.purchase_order_number,
        "recurring_transaction_rules": rules_to_store(data.recurring_transaction_rules or [], [], now),
        "created_at": now, "updated_at": now,
    }
    if not data.ignore_paid_top_up_limits_on_creation:
        _check_paid_limits(values, data.paid_credits, "paid_credits")
    row = await repository.insert(session, values)
    await publish(session, organization_id, "wallet.created", wallet_id, WalletEvent(wallet=render(row)))
    metadata = [m.model_dump() for m in data.transaction_metadata or []]
    if data.paid_credits:
        await transactions.add_block(
            session, row, credits=data.paid_credits, category="purchased", now=now, name=data.transaction_name,
            metadata=metadata, description="Purchased credits", actor=actor,
            settled=not row["invoice_requires_successful_payment"],
            invoice_requires_successful_payment=row["invoice_requires_successful_payment"])
    if data.granted_credits:
        await transactions.add_block(
            session, row, credits=data.granted_credits, category="granted", now=now, name=data.transaction_name,
            metadata=metadata, description="Granted credits", actor=actor)
    return render(await get_row(session, organization_id, wallet_id))


async def update(session: AsyncSession, wallet: RowMapping, data: WalletUpdateInput, *, now: datetime) -> Wallet:
    if wallet["status"] != "active":
        raise WalletNotActive("a terminated wallet cannot change")
    values: dict = {}
    for field in ("name", "priority", "invoice_requires_successful_payment", "purchase_order_number"):
        if data.given(field) and (getattr(data, field) is not None or field in ("name", "purchase_order_number")):
            values[field] = getattr(data, field)
    if data.given("code") and data.code is not None and data.code != wallet["code"]:
        if await repository.code_taken(session, wallet["organization_id"], wallet["customer_id"], data.code,
                                       wallet["id"]):
            raise WalletCodeTaken()
        values["code"] = data.code
    if data.given("expiration_at"):
        if data.expiration_at is not None and data.expiration_at <= now:
            raise ValidationFailed(expiration_at=["invalid_date"])
        values["expiration_at"] = data.expiration_at
    if data.given("applies_to"):
        values["applies_to_fee_types"] = list(data.applies_to.fee_types or []) if data.applies_to else []
        values["applies_to_metric_codes"] = list(data.applies_to.billable_metric_codes or []) if data.applies_to else []
    for field in ("paid_top_up_min_amount_cents", "paid_top_up_max_amount_cents"):
        if data.given(field):
            values[field] = getattr(data, field)
    check_top_up_bounds(values.get("paid_top_up_min_amount_cents", wallet["paid_top_up_min_amount_cents"]),
                        values.get("paid_top_up_max_amount_cents", wallet["paid_top_up_max_amount_cents"]))
    if data.given("recurring_transaction_rules"):
        values["recurring_transaction_rules"] = rules_to_store(data.recurring_transaction_rules or [],
                                                               wallet["recurring_transaction_rules"], now)
    if data.given("metadata"):
        values["metadata"] = data.metadata
    row = await repository.update_fields(session, wallet["id"], values) if values else wallet
    result = render(row)
    await publish(session, wallet["organization_id"], "wallet.updated", wallet["id"], WalletEvent(wallet=result))
    return result


async def terminate(session: AsyncSession, wallet: RowMapping, *, now: datetime, reason: str = "terminated",
                    actor: str | None = None) -> Wallet:
    """Terminate a wallet (idempotent): what is left is voided through the ledger, then the status changes."""
    if wallet["status"] == "terminated":
        return render(wallet)
    blocks = await ledger.blocks_with_credits(session, [wallet["id"]])
    debits = [Debit(b, b.remaining_cents, b.remaining_credits) for b in blocks]
    description = "Wallet expired: remaining credits removed" if reason == "expired" else \
        "Wallet terminated: remaining credits voided"
    await transactions.remove(session, wallet, debits, now=now, kind="expiry" if reason == "expired" else "void",
                              source="expiration" if reason == "expired" else "manual", description=description,
                              actor=actor, recharge=False)
    row = await repository.update_fields(session, wallet["id"], {"status": "terminated", "terminated_at": now})
    result = render(row)
    await publish(session, wallet["organization_id"], "wallet.terminated", wallet["id"], WalletEvent(wallet=result))
    return result


async def list_wallets(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                       external_customer_id: str, currency: str | None,
                       page: PageParams) -> tuple[list[Wallet], PaginationMeta]:
    """A customer's wallets (none yet: an empty page, as Lago's, also for a customer created a moment ago)."""
    customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
    rows, meta = await repository.page_of_customer(session, organization_id, customer["id"], currency, page)
    return [render(r) for r in rows], meta


async def set_metadata(session: AsyncSession, wallet: RowMapping, metadata: dict | None, *, merge: bool) -> dict | None:
    """Lago's replace (`merge=False`; `None` deletes it all) or merge: the rules are `invora.metadata`'s."""
    value = item_metadata.merged(wallet["metadata"], metadata) if merge else item_metadata.replaced(metadata)
    return await _store_metadata(session, wallet, value)


async def delete_metadata_key(session: AsyncSession, wallet: RowMapping, key: str) -> dict | None:
    return await _store_metadata(session, wallet, item_metadata.without_key(wallet["metadata"], key))


async def _store_metadata(session: AsyncSession, wallet: RowMapping, metadata: dict | None) -> dict | None:
    row = await repository.update_fields(session, wallet["id"], {"metadata": metadata})
    await publish(session, wallet["organization_id"], "wallet.updated", wallet["id"], WalletEvent(wallet=render(row)))
    return row["metadata"]
