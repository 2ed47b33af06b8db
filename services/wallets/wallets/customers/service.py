"""The customers wallets knows: kept from the subscriptions service's `customer.*` events."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.deps import ensure_customer_access, is_staff
from invora.auth.principal import Principal
from invora.events.contracts.subscriptions import CustomerEvent
from invora.events.envelope import EventEnvelope
from invora.web.inputs import storable_key
from wallets.common.errors import CustomerNotFound
from wallets.customers import repository


async def apply_event(session: AsyncSession, envelope: EventEnvelope) -> bool:
    """Project one `customer.created|updated|deleted`; True if it changed the projection."""
    customer = CustomerEvent.model_validate(envelope.data).customer
    deleted_at = customer.deleted_at
    if envelope.type == "customer.deleted" and deleted_at is None:
        deleted_at = envelope.occurred_at
    return await repository.upsert(
        session, id=customer.lago_id, organization_id=envelope.organization_id, external_id=customer.external_id,
        name=customer.name, currency=customer.currency, deleted_at=deleted_at, sequence=envelope.sequence,
    )


async def find(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    if not storable_key(external_id):
        return None
    return await repository.by_external_id(session, organization_id, external_id)


async def get(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping:
    customer = await find(session, organization_id, external_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def ensure_external_customer_access(session: AsyncSession, principal: Principal,
                                          external_customer_id: str) -> None:
    """A tenant key names its customer by `lago_id`: the path's external id is resolved to the live customer
    holding it, which must be the key's (a deleted customer's external id may belong to a new customer)."""
    if is_staff(principal):
        return
    customer = await find(session, principal.organization_id, external_customer_id)
    ensure_customer_access(principal, customer["id"] if customer is not None else None)
