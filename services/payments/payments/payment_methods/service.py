"""A customer's payment methods, as its provider holds them (the provider is their only source of truth).

A method's `lago_id` is derived from the connection and the provider's method id (UUIDv5), so it is
stable without a local copy. Every function reads what it needs in a short transaction of its own
and calls the provider after it ends: no provider call runs inside a database transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invora.service_client import ServiceClient
from invora.web.pagination import PageParams, PaginationMeta
from payments.customers import repository as customers_repository
from payments.customers import service as customers
from payments.errors import (
    CustomerHasNoProvider,
    PaymentMethodNotFound,
    ProviderRefused,
    ProviderUnavailable,
)
from payments.payment_methods.schemas import PaymentMethodObject
from payments.payment_providers import repository as providers_repository
from payments.providers.base import PaymentMethodInfo, ProviderError, ProviderUnreachable
from payments.providers.registry import AdapterFactory

METHOD_NAMESPACE = uuid.UUID("0b6f3a52-9c1e-4d8e-8f5a-2f4c6b7d9e10")


def method_id(provider_id: uuid.UUID, provider_method_id: str) -> uuid.UUID:
    return uuid.uuid5(METHOD_NAMESPACE, f"{provider_id}:{provider_method_id}")


async def _context(sessionmaker: async_sessionmaker[AsyncSession], subscriptions: ServiceClient,
                   organization_id: uuid.UUID, external_customer_id: str) -> tuple[dict, str | None]:
    async with sessionmaker() as session:
        # a customer created a moment ago is asked of subscriptions, and kept (the commit below)
        customer = await customers.get_or_fetch(session, subscriptions, organization_id, external_customer_id)
        provider = (await providers_repository.by_code(session, organization_id, customer["payment_provider_code"])
                    if customer["payment_provider_code"] else None)
        if provider is None:
            raise CustomerHasNoProvider("the customer has no payment provider")
        link = await customers_repository.link(session, customer["id"], provider.id)
        connection = provider.connection()
        await session.commit()
    provider_customer_id = (link["provider_customer_id"] if link and link["provider_customer_id"]
                            else customer["provider_customer_id"])
    return connection, provider_customer_id


def _render(connection: dict, method: PaymentMethodInfo, *, is_default: bool | None = None) -> PaymentMethodObject:
    return PaymentMethodObject(
        lago_id=method_id(connection["id"], method.provider_method_id),
        is_default=method.is_default if is_default is None else is_default,
        payment_provider_code=connection["code"], payment_provider_name=connection["name"],
        payment_provider_type=connection["provider_type"], provider_method_id=method.provider_method_id,
        type=method.type, brand=method.brand, last4=method.last4, expiration_month=method.expiration_month,
        expiration_year=method.expiration_year, created_at=method.created_at)


async def _call(coroutine):
    try:
        return await coroutine
    except ProviderUnreachable as exc:
        raise ProviderUnavailable(exc.message) from exc
    except ProviderError as exc:
        raise ProviderRefused(exc.message) from exc


async def list_methods(sessionmaker, adapters: AdapterFactory, subscriptions: ServiceClient, organization_id: uuid.UUID,
                       external_customer_id: str,
                       params: PageParams) -> tuple[list[PaymentMethodObject], PaginationMeta]:
    connection, provider_customer_id = await _context(sessionmaker, subscriptions, organization_id,
                                                      external_customer_id)
    if provider_customer_id is None:  # not at the provider yet: no method
        return [], params.meta(0)
    methods = await _call(adapters.for_connection(connection).list_payment_methods(provider_customer_id))
    rendered = sorted((_render(connection, m) for m in methods), key=lambda m: (not m.is_default, m.provider_method_id))
    return rendered[params.offset:params.offset + params.per_page], params.meta(len(rendered))


async def _find(sessionmaker, adapters, subscriptions, organization_id, external_customer_id,
                lago_id: uuid.UUID | None):
    connection, provider_customer_id = await _context(sessionmaker, subscriptions, organization_id,
                                                      external_customer_id)
    if provider_customer_id is None or lago_id is None:
        raise PaymentMethodNotFound()
    adapter = adapters.for_connection(connection)
    methods = await _call(adapter.list_payment_methods(provider_customer_id))
    method = next((m for m in methods if method_id(connection["id"], m.provider_method_id) == lago_id), None)
    if method is None:
        raise PaymentMethodNotFound()
    return connection, provider_customer_id, adapter, method


async def set_default(sessionmaker, adapters: AdapterFactory, subscriptions: ServiceClient, organization_id: uuid.UUID,
                      external_customer_id: str, lago_id: uuid.UUID | None) -> PaymentMethodObject:
    connection, provider_customer_id, adapter, method = await _find(sessionmaker, adapters, subscriptions,
                                                                     organization_id, external_customer_id, lago_id)
    await _call(adapter.set_default_payment_method(provider_customer_id, method.provider_method_id))
    return _render(connection, method, is_default=True)


async def delete(sessionmaker, adapters: AdapterFactory, subscriptions: ServiceClient, organization_id: uuid.UUID,
                 external_customer_id: str, lago_id: uuid.UUID | None) -> PaymentMethodObject:
    connection, provider_customer_id, adapter, method = await _find(sessionmaker, adapters, subscriptions,
                                                                     organization_id, external_customer_id, lago_id)
    await _call(adapter.detach_payment_method(provider_customer_id, method.provider_method_id))
    return _render(connection, method, is_default=False)
