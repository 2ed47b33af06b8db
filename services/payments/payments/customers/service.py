"""The customers payments knows (from `customer.*` events), and their link to a provider, made on demand."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.auth.deps import ensure_customer_access, is_staff
from invora.auth.principal import Principal
from invora.events.contracts.payments import CustomerPaymentProviderEvent, ProviderCustomer, ProviderError
from invora.events.contracts.subscriptions import Customer, CustomerEvent
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.web.inputs import storable_key
from payments.customers import repository
from payments.errors import CustomerNotFound
from payments.events import publish
from payments.providers.base import PaymentProviderAdapter
from payments.providers.base import ProviderError as AdapterError


def _values(organization_id: uuid.UUID, customer: Customer, *, deleted_at: datetime | None,
            sequence: int) -> dict:
    billing = customer.billing_configuration
    return {
        "id": customer.lago_id, "organization_id": organization_id, "external_id": customer.external_id,
        "name": customer.name, "email": customer.billing_email or customer.email, "currency": customer.currency,
        "payment_provider": billing.payment_provider, "payment_provider_code": billing.payment_provider_code,
        "provider_customer_id": billing.provider_customer_id, "deleted_at": deleted_at, "last_sequence": sequence,
    }


async def apply_event(session: AsyncSession, envelope: EventEnvelope) -> bool:
    """Project one `customer.created|updated|deleted`; True if it changed the projection."""
    customer = CustomerEvent.model_validate(envelope.data).customer
    deleted_at = customer.deleted_at
    if envelope.type == "customer.deleted" and deleted_at is None:
        deleted_at = envelope.occurred_at
    return await repository.upsert(session, _values(envelope.organization_id, customer, deleted_at=deleted_at,
                                                    sequence=envelope.sequence))


async def remember(session: AsyncSession, organization_id: uuid.UUID, customer: Customer) -> None:
    """A customer seen inside an invoice before its own event arrived: kept until a `customer.*` event replaces it."""
    await repository.insert_if_absent(session, _values(organization_id, customer, deleted_at=None, sequence=0))


async def find(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    if not storable_key(external_id):
        return None
    return await repository.by_external_id(session, organization_id, external_id)


async def get(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping:
    customer = await find(session, organization_id, external_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


def _event(customer: RowMapping, provider: RowMapping, provider_customer_id: str | None,
           error: ProviderError | None = None) -> CustomerPaymentProviderEvent:
    return CustomerPaymentProviderEvent(
        customer=ProviderCustomer(lago_customer_id=customer["id"], external_customer_id=customer["external_id"],
                                  payment_provider=provider["provider_type"], payment_provider_code=provider["code"],
                                  provider_customer_id=provider_customer_id, provider_error=error))


async def ensure_provider_customer(sessionmaker: async_sessionmaker[AsyncSession], adapter: PaymentProviderAdapter,
                                   customer: RowMapping, provider: RowMapping) -> str:
    """The customer's id at the provider, created there the first time (never inside a transaction).

    The link row is reserved and committed first; its id is the provider call's idempotency key, so
    two processes racing create one customer at a provider that honours the key, and only the first
    id is ever stored (`complete_link` sets it once). Raises the adapter's ProviderError after
    publishing `customer.payment_provider_error`.
    """
    organization_id = customer["organization_id"]
    async with sessionmaker() as session:
        link = await repository.link(session, customer["id"], provider["id"])
        if link is None:
            given = customer["provider_customer_id"]
            await repository.reserve_link(session, id=uuid7(), organization_id=organization_id,
                                          customer_id=customer["id"], provider_id=provider["id"],
                                          provider_customer_id=given)
            link = await repository.link(session, customer["id"], provider["id"])
            if given and link["provider_customer_id"] == given:
                await publish(session, organization_id, "customer.payment_provider_created", customer["id"],
                              _event(customer, provider, given))
        await session.commit()
    if link["provider_customer_id"]:
        return link["provider_customer_id"]
    try:
        created = await adapter.create_customer(reference=str(customer["id"]), email=customer["email"],
                                                name=customer["name"], idempotency_key=f"customer-{link['id']}")
    except AdapterError as exc:
        async with sessionmaker() as session:
            await publish(session, organization_id, "customer.payment_provider_error", customer["id"],
                          _event(customer, provider, None, ProviderError(message=exc.message, error_code=exc.code)))
            await session.commit()
        raise
    async with sessionmaker() as session:
        if await repository.complete_link(session, link["id"], created):
            await publish(session, organization_id, "customer.payment_provider_created", customer["id"],
                          _event(customer, provider, created))
        stored = (await repository.link(session, customer["id"], provider["id"]))["provider_customer_id"]
        await session.commit()
    return stored


async def ensure_external_customer_access(session: AsyncSession, principal: Principal,
                                          external_customer_id: str) -> None:
    """A tenant key names its customer by `lago_id`: the path's external id is resolved to the live customer
    holding it (this service's projection), which must be the key's."""
    if is_staff(principal):
        return
    customer = await repository.by_external_id(session, principal.organization_id, external_customer_id)
    ensure_customer_access(principal, customer["id"] if customer is not None else None)
