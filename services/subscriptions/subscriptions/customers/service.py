"""Customer rules: upsert by `external_id` (Lago), reads, filters and deletion."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.flush import flush_loaded
from invora.events.contracts.subscriptions import Customer as CustomerObject
from invora.events.contracts.subscriptions import CustomerBillingState, CustomerEvent
from invora.ids import uuid7
from invora.outbox import add_event
from subscriptions.billing_entities import repository as billing_entities
from subscriptions.billing_entities.errors import BillingEntityNotFound
from subscriptions.customers import repository
from subscriptions.customers.errors import CurrencyMismatch, CustomerNotFound, MetadataKeyDuplicated
from subscriptions.customers.models import Customer
from subscriptions.customers.repository import CustomerFilters as CustomerFilters
from subscriptions.customers.repository import find as find
from subscriptions.customers.repository import list_customers as list_customers
from subscriptions.customers.schemas import CustomerInput

# plain columns an upsert copies when the client sends them
_SIMPLE_FIELDS = (
    "name", "firstname", "lastname", "legal_name", "legal_number", "email", "billing_email", "phone", "url",
    "logo_url", "address_line1", "address_line2", "city", "state", "zipcode", "country", "currency", "timezone",
    "tax_identification_number", "customer_type", "net_payment_term", "purchase_order_number",
    "billing_entity_code",
)


def _lock_key(organization_id: uuid.UUID) -> str:
    return f"customers:{organization_id}"


def billing_state_of(customer: Customer) -> CustomerBillingState:
    return CustomerBillingState(
        state=customer.billing_state, contract_mode=customer.contract_mode,
        grace_extension_days=customer.grace_extension_days, changed_at=customer.billing_state_changed_at,
    )


def render(customer: Customer) -> CustomerObject:
    configuration = dict(customer.billing_configuration or {})
    configuration["invoice_grace_period"] = customer.invoice_grace_period
    return CustomerObject(
        lago_id=customer.id,
        sequential_id=customer.sequential_id,
        slug=f"CUS-{customer.sequential_id:03d}",
        external_id=customer.external_id,
        applicable_timezone=customer.timezone or "UTC",
        tax_codes=list(customer.tax_codes or []),
        account_type=customer.account_type,
        invoice_grace_period=customer.invoice_grace_period,
        finalize_zero_amount_invoice=customer.finalize_zero_amount_invoice,
        skip_invoice_custom_sections=customer.skip_invoice_custom_sections,
        billing_configuration=configuration,
        shipping_address=customer.shipping_address or {},
        metadata=list(customer.metadata_items or []),
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        deleted_at=customer.deleted_at,
        billing_state=billing_state_of(customer),
        **{name: getattr(customer, name) for name in _SIMPLE_FIELDS},
    )


async def get(session: AsyncSession, organization_id: uuid.UUID, external_id: str, *,
              for_update: bool = False) -> Customer:
    customer = await find(session, organization_id, external_id, for_update=for_update)
    if customer is None:
        raise CustomerNotFound()
    return customer


def _merge_metadata(existing: list[dict], given: list, now: datetime) -> list[dict]:
    """Lago's metadata update: the given list replaces the old one; a kept key keeps its id."""
    keys = [item.key for item in given]
    if len(set(keys)) != len(keys):
        raise MetadataKeyDuplicated()
    by_key = {item["key"]: item for item in existing}
    by_id = {item["lago_id"]: item for item in existing}
    merged = []
    for item in given:
        previous = by_id.get(str(item.id)) if item.id else None
        previous = previous or by_key.get(item.key)
        merged.append({
            "lago_id": previous["lago_id"] if previous else str(uuid7()),
            "key": item.key,
            "value": item.value,
            "display_in_invoice": item.display_in_invoice,
            "created_at": previous["created_at"] if previous else now.isoformat(),
        })
    return merged


def _apply(customer: Customer, data: CustomerInput, now: datetime) -> None:
    for name in _SIMPLE_FIELDS:
        if data.given(name):
            setattr(customer, name, getattr(data, name))
    if data.given("tax_codes"):
        customer.tax_codes = list(dict.fromkeys(data.tax_codes or []))
    for name, default in (("account_type", "customer"), ("finalize_zero_amount_invoice", "inherit"),
                          ("skip_invoice_custom_sections", False)):
        if data.given(name):
            setattr(customer, name, getattr(data, name) if getattr(data, name) is not None else default)
    configuration = data.billing_configuration
    if data.given("billing_configuration") and configuration is not None:
        merged = dict(customer.billing_configuration or {})
        merged.update(configuration.model_dump(exclude_unset=True, exclude={"invoice_grace_period"}))
        customer.billing_configuration = merged
        if configuration.given("invoice_grace_period"):
            customer.invoice_grace_period = configuration.invoice_grace_period
    if data.given("invoice_grace_period"):
        customer.invoice_grace_period = data.invoice_grace_period
    if data.given("shipping_address"):
        customer.shipping_address = (
            data.shipping_address.model_dump(exclude_unset=True) if data.shipping_address else {}
        )
    if data.given("metadata"):
        customer.metadata_items = _merge_metadata(list(customer.metadata_items or []), data.metadata or [], now)


async def upsert(session: AsyncSession, organization_id: uuid.UUID, data: CustomerInput,
                 now: datetime) -> tuple[Customer, bool]:
    """Create the customer, or update the live one with this `external_id`; only sent fields change."""
    # one writer per organization at a time: sequential ids and external ids stay unique under races
    await repository.lock_organization(session, _lock_key(organization_id))
    if data.given("billing_entity_code") and data.billing_entity_code is not None and \
            not await billing_entities.exists(session, organization_id, data.billing_entity_code):
        raise BillingEntityNotFound()  # Lago: 404 billing_entity_not_found, nothing written
    customer = await find(session, organization_id, data.external_id, for_update=True)
    created = customer is None
    if customer is None:
        next_id = await repository.next_sequential_id(session, organization_id)
        customer = Customer(
            id=uuid7(), organization_id=organization_id, external_id=data.external_id, sequential_id=next_id,
            account_type="customer", finalize_zero_amount_invoice="inherit", skip_invoice_custom_sections=False,
            billing_state="active", contract_mode="standard", grace_extension_days=0,
            tax_codes=[], billing_configuration={}, shipping_address={}, metadata_items=[],
            created_at=now, updated_at=now,
        )
        session.add(customer)
    elif data.given("currency") and customer.currency and data.currency != customer.currency:
        await _ensure_currency_changeable(session, customer)
    _apply(customer, data, now)
    customer.updated_at = now
    await flush_loaded(session, customer)
    await _publish(session, customer, "customer.created" if created else "customer.updated")
    return customer, created


async def _ensure_currency_changeable(session: AsyncSession, customer: Customer) -> None:
    """Lago: a customer billed in one currency keeps it while it has subscriptions."""
    from subscriptions.subscriptions.repository import has_live_subscriptions  # late: subscriptions import customers

    if await has_live_subscriptions(session, customer.id):
        raise CurrencyMismatch()


async def _publish(session: AsyncSession, customer: Customer, event_type: str) -> None:
    await add_event(
        session, type=event_type, organization_id=customer.organization_id, aggregate_type="customer",
        aggregate_id=customer.id, data=CustomerEvent(customer=render(customer)),
    )


async def publish_updated(session: AsyncSession, customer: Customer) -> None:
    await _publish(session, customer, "customer.updated")


async def delete(session: AsyncSession, organization_id: uuid.UUID, external_id: str, now: datetime) -> Customer:
    """Soft-delete the customer (its id can be reused) and terminate its subscriptions (Lago)."""
    from subscriptions.subscriptions.terminate import terminate_customer_subscriptions

    customer = await get(session, organization_id, external_id, for_update=True)
    await terminate_customer_subscriptions(session, customer, now)
    customer.deleted_at = now
    customer.updated_at = now
    await flush_loaded(session, customer)
    await _publish(session, customer, "customer.deleted")
    return customer
