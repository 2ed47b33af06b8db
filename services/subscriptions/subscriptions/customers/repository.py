"""The SQL of customers: lookups, the per-organization writer lock, sequential ids and the filtered list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, func, not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.customers.models import Customer


async def find(session: AsyncSession, organization_id: uuid.UUID, external_id: str, *,
               for_update: bool = False) -> Customer | None:
    if not storable_key(external_id):
        return None
    statement = select(Customer).where(
        Customer.organization_id == organization_id, Customer.external_id == external_id,
        Customer.deleted_at.is_(None),
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_organization(session: AsyncSession, key: str) -> None:
    """One customer writer per organization at a time (a transaction-scoped advisory lock)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


async def next_sequential_id(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return (await session.execute(
        select(func.coalesce(func.max(Customer.sequential_id), 0) + 1)
        .where(Customer.organization_id == organization_id)
    )).scalar_one()


@dataclass
class CustomerFilters:
    search_term: str | None = None
    countries: list[str] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    zipcodes: list[str] = field(default_factory=list)
    account_types: list[str] = field(default_factory=list)
    billing_entity_codes: list[str] = field(default_factory=list)
    customer_type: str | None = None
    has_customer_type: bool | None = None
    has_tax_identification_number: bool | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(statement: Select, filters: CustomerFilters) -> Select:
    if filters.search_term:
        pattern = f"%{_escape_like(filters.search_term)}%"
        statement = statement.where(or_(*(
            column.ilike(pattern, escape="\\") for column in (
                Customer.name, Customer.firstname, Customer.lastname, Customer.legal_name, Customer.external_id,
                Customer.email,
            )
        )))
    for column, values in ((Customer.country, filters.countries), (Customer.currency, filters.currencies),
                           (Customer.state, filters.states), (Customer.zipcode, filters.zipcodes),
                           (Customer.account_type, filters.account_types),
                           (Customer.billing_entity_code, filters.billing_entity_codes)):
        if values:
            statement = statement.where(column.in_(values))
    if filters.customer_type:
        statement = statement.where(Customer.customer_type == filters.customer_type)
    if filters.has_customer_type is not None:
        condition = Customer.customer_type.is_not(None)
        statement = statement.where(condition if filters.has_customer_type else not_(condition))
    if filters.has_tax_identification_number is not None:
        condition = and_(Customer.tax_identification_number.is_not(None), Customer.tax_identification_number != "")
        statement = statement.where(condition if filters.has_tax_identification_number else not_(condition))
    for key, value in filters.metadata.items():
        if value == "":  # Lago: an empty value finds customers without this key
            statement = statement.where(not_(Customer.metadata_items.contains([{"key": key}])))
        else:
            statement = statement.where(Customer.metadata_items.contains([{"key": key, "value": value}]))
    return statement


async def list_customers(session: AsyncSession, organization_id: uuid.UUID, filters: CustomerFilters,
                         page: PageParams) -> tuple[list[Customer], PaginationMeta]:
    statement = select(Customer).where(Customer.organization_id == organization_id, Customer.deleted_at.is_(None))
    statement = _filtered(statement, filters).order_by(Customer.created_at.desc(), Customer.id.desc())
    return await paginate(session, statement, page)
