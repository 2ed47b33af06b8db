"""The customers payments knows (from `customer.*` events), and their link to a provider, made on demand."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.customer_projection import service as projection
from invora.events.contracts.payments import (
    CustomerPaymentProviderEvent,
    ProviderBillingConfiguration,
    ProviderCustomer,
    ProviderError,
)
from invora.events.contracts.subscriptions import Customer
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.service_client import ServiceClient
from payments.customers import repository
from payments.events import publish
from payments.providers.base import PaymentProviderAdapter
from payments.providers.base import ProviderError as AdapterError


def provider_columns(customer: Customer) -> dict:
    billing = customer.billing_configuration
    return {
        "email": customer.billing_email or customer.email,
        "payment_provider": billing.payment_provider, "payment_provider_code": billing.payment_provider_code,
        "provider_customer_id": billing.provider_customer_id,
    }


async def apply_event(session: AsyncSession, envelope: EventEnvelope) -> bool:
    """Project one `customer.created|updated|deleted` (the shared rules, with payments' own columns)."""
    return await projection.apply_event(session, envelope, provider_columns)


async def remember(session: AsyncSession, organization_id: uuid.UUID, customer: Customer) -> None:
    """A customer seen inside an invoice before its own event arrived: kept until a `customer.*` event replaces it."""
    await repository.insert_if_absent(session, projection.values(organization_id, customer, deleted_at=None,
                                                                 sequence=0, extra=provider_columns))


async def remember_many(session: AsyncSession, customers: list[tuple[uuid.UUID, Customer]]) -> None:
    """`remember` for several (organization id, customer) at once (a consumed batch)."""
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    rows = []
    for organization_id, customer in customers:
        if (organization_id, customer.lago_id) not in seen:
            seen.add((organization_id, customer.lago_id))
            rows.append(projection.values(organization_id, customer, deleted_at=None, sequence=0,
                                          extra=provider_columns))
    await repository.insert_if_absent_many(session, rows)


find = projection.find
get = projection.get


async def get_or_fetch(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                       external_id: str) -> RowMapping:
    """The live customer; asked of subscriptions (the runtime's client) when the projection does not hold it
    yet (created a moment ago, its `customer.created` still on its way; Lago, one database, never answers 404
    there), stored with payments' columns (e-mail, provider code, provider customer id) from its
    `billing_configuration`. Subscriptions not knowing it either or not answering: 404 `customer_not_found`."""
    return await projection.get_fresh(session, organization_id, external_id, subscriptions, provider_columns)
ensure_external_customer_access = projection.ensure_external_customer_access


def _event(customer: RowMapping, provider: RowMapping, provider_customer_id: str | None,
           error: ProviderError | None = None) -> CustomerPaymentProviderEvent:
    return CustomerPaymentProviderEvent(customer=ProviderCustomer(
        lago_id=customer["id"], external_id=customer["external_id"], name=customer["name"], email=customer["email"],
        billing_configuration=ProviderBillingConfiguration(
            payment_provider=provider["provider_type"], payment_provider_code=provider["code"],
            provider_customer_id=provider_customer_id),
        lago_customer_id=customer["id"], external_customer_id=customer["external_id"],
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
