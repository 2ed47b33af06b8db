"""The rules of a customers projection: apply a `customer.*` event, find a live customer, the tenant-key rule."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.deps import ensure_customer_access, is_staff
from invora.auth.principal import Principal
from invora.bus.consumer import ConsumerSpec
from invora.customer_projection import repository
from invora.errors import NotFound
from invora.events.contracts.subscriptions import Customer, CustomerEvent
from invora.events.envelope import EventEnvelope, topic_for
from invora.logging import get_logger
from invora.service_client import ServiceClient, ServiceUnavailableError
from invora.web.inputs import storable_key

log = get_logger(__name__)

CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated", "customer.deleted"})

# a service's own columns of the projection, from the event's customer
ExtraColumns = Callable[[Customer], dict[str, Any]]


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("customer")


def values(organization_id: uuid.UUID, customer: Customer, *, deleted_at: datetime | None, sequence: int,
           extra: ExtraColumns | None = None) -> dict[str, Any]:
    return {
        "id": customer.lago_id, "organization_id": organization_id, "external_id": customer.external_id,
        "name": customer.name, "currency": customer.currency, "deleted_at": deleted_at, "last_sequence": sequence,
        **(extra(customer) if extra else {}),
    }


async def apply_event(session: AsyncSession, envelope: EventEnvelope, extra: ExtraColumns | None = None) -> bool:
    """Project one `customer.created|updated|deleted`; True if it changed the projection (a newer event)."""
    customer = CustomerEvent.model_validate(envelope.data).customer
    deleted_at = customer.deleted_at
    if envelope.type == "customer.deleted" and deleted_at is None:
        deleted_at = envelope.occurred_at
    return await repository.upsert(session, values(envelope.organization_id, customer, deleted_at=deleted_at,
                                                   sequence=envelope.sequence, extra=extra))


async def find(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping | None:
    """The live customer holding `external_id` (None for text the database could not hold)."""
    if not storable_key(external_id):
        return None
    return await repository.by_external_id(session, organization_id, external_id)


async def get(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> RowMapping:
    customer = await find(session, organization_id, external_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def get_fresh(session: AsyncSession, organization_id: uuid.UUID, external_id: str, owner: ServiceClient,
                    extra: ExtraColumns | None = None) -> RowMapping:
    """`get`, asking the subscriptions service (`owner`, `GET /customers/{external_id}`) when the projection
    does not hold the customer yet: a customer created a moment ago whose `customer.created` is still on its
    way (Lago, one database, never answers 404 there). The answer is stored as its event would be, with
    sequence 0 so that every event still applies over it; subscriptions unreachable or not knowing it: 404."""
    customer = await find(session, organization_id, external_id)
    if customer is None and storable_key(external_id):
        try:
            answer = await owner.get(organization_id, f"/api/v1/customers/{quote(external_id, safe='')}")
        except ServiceUnavailableError as exc:
            log.warning("subscriptions_unavailable_for_customer", error=str(exc))
            answer = None
        if answer is not None:
            fetched = Customer.model_validate(answer["customer"])
            await repository.insert_if_absent(session, values(organization_id, fetched, deleted_at=fetched.deleted_at,
                                                              sequence=0, extra=extra))
            log.info("customer_fetched_from_subscriptions")
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


AfterChange = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


def customers_consumer(extra: ExtraColumns | None = None, after_change: AfterChange | None = None) -> ConsumerSpec:
    """The `customers` consumer (topic `invora.customer`): one transaction per event with its inbox row;
    `after_change` runs in the same transaction when the event changed the projection."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        if await apply_event(session, envelope, extra) and after_change is not None:
            await after_change(session, envelope)

    return ConsumerSpec(name="customers", topics=(topic_for("customer"),), handler=handle,
                        event_types=CUSTOMER_EVENTS)
