"""Billing entities: create, update (taxes applied by `tax_codes`), read; each change publishes the whole entity.

Invoicing issues a customer's invoices under its entity (numbering, grace period, payment term,
zero-amount rule, taxes) from `billing_entity.*`; subscriptions checks a customer's
`billing_entity_code` and takes the entity's timezone from the same events.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billing_entities import repository
from catalog.billing_entities.errors import BillingEntityCodeTaken, BillingEntityNotFound
from catalog.billing_entities.models import BillingEntity
from catalog.billing_entities.schemas import BillingEntityCreateInput, BillingEntityFields, BillingEntityUpdateInput
from catalog.events import publish
from catalog.taxes import service as taxes
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta, paginate

NULLABLE = ("legal_name", "legal_number", "tax_identification_number", "email", "address_line1", "address_line2",
            "city", "state", "zipcode", "country", "logo_url", "phone")
VALUED = ("default_currency", "document_numbering", "net_payment_term", "timezone", "finalize_zero_amount_invoice",
          "eu_tax_management")
CONFIGURATION = ("document_locale", "invoice_grace_period", "subscription_invoice_issuing_date_anchor",
                 "subscription_invoice_issuing_date_adjustment")


def default_prefix(name: str, entity_id: uuid.UUID) -> str:
    """Lago's default: the name's first three letters and the id's last four characters, in capitals."""
    letters = re.sub(r"[^A-Za-z0-9]", "", name)[:3] or "ENT"
    return f"{letters}-{entity_id.hex[-4:]}".upper()


def to_object(entity: BillingEntity, tax_objects: list[contracts.Tax]) -> contracts.BillingEntity:
    return contracts.BillingEntity(
        lago_id=entity.id, code=entity.code, name=entity.name, default_currency=entity.default_currency,
        document_locale=entity.document_locale, document_numbering=entity.document_numbering,
        document_number_prefix=entity.document_number_prefix,
        finalize_zero_amount_invoice=entity.finalize_zero_amount_invoice, invoice_footer=entity.invoice_footer,
        invoice_grace_period=entity.invoice_grace_period,
        subscription_invoice_issuing_date_anchor=entity.subscription_invoice_issuing_date_anchor,
        subscription_invoice_issuing_date_adjustment=entity.subscription_invoice_issuing_date_adjustment,
        is_default=entity.is_default, net_payment_term=entity.net_payment_term,
        address_line1=entity.address_line1, address_line2=entity.address_line2, city=entity.city,
        state=entity.state, country=entity.country, zipcode=entity.zipcode, email=entity.email, phone=entity.phone,
        legal_name=entity.legal_name, legal_number=entity.legal_number,
        tax_identification_number=entity.tax_identification_number, timezone=entity.timezone,
        email_settings=list(entity.email_settings), eu_tax_management=entity.eu_tax_management,
        logo_url=entity.logo_url, taxes=tax_objects, created_at=entity.created_at, updated_at=entity.updated_at,
    )


async def _render(session: AsyncSession, entity: BillingEntity) -> contracts.BillingEntity:
    known = await taxes.by_codes(session, entity.organization_id, entity.tax_codes)
    return to_object(entity, taxes.render(entity.tax_codes, known))


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str, *,
              for_update: bool = False) -> BillingEntity:
    entity = await repository.find(session, organization_id, code, for_update=for_update)
    if entity is None:
        raise BillingEntityNotFound()
    return entity


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.BillingEntity:
    return await _render(session, await get(session, organization_id, code))


async def list_entities(session: AsyncSession, organization_id: uuid.UUID,
                        page: PageParams) -> tuple[list[contracts.BillingEntity], PaginationMeta]:
    rows, meta = await paginate(session, repository.listing(organization_id), page)
    return [await _render(session, row) for row in rows], meta


def _apply(entity: BillingEntity, data: BillingEntityFields) -> None:
    for field in NULLABLE:
        if data.given(field):
            setattr(entity, field, getattr(data, field))
    for field in VALUED:
        if getattr(data, field) is not None:
            setattr(entity, field, getattr(data, field))
    if data.document_number_prefix is not None:
        entity.document_number_prefix = data.document_number_prefix.upper()
    if data.email_settings is not None:
        entity.email_settings = list(dict.fromkeys(data.email_settings))
    if data.tax_codes is not None:
        entity.tax_codes = list(data.tax_codes)
    config = data.billing_configuration
    if config is not None:
        for field in CONFIGURATION:
            if getattr(config, field) is not None:
                setattr(entity, field, getattr(config, field))
        if config.given("invoice_footer"):
            entity.invoice_footer = config.invoice_footer


async def _check_taxes(session: AsyncSession, organization_id: uuid.UUID, data: BillingEntityFields) -> None:
    errors: dict[str, list[str]] = await taxes.check_codes(session, organization_id, data.tax_codes)
    if errors:
        raise ValidationFailed(errors)


async def create(session: AsyncSession, organization_id: uuid.UUID,
                 data: BillingEntityCreateInput) -> contracts.BillingEntity:
    await _check_taxes(session, organization_id, data)
    await repository.lock_organization(session, organization_id)
    if await repository.find(session, organization_id, data.code) is not None:
        raise BillingEntityCodeTaken()
    entity_id = uuid7()
    entity = BillingEntity(
        id=entity_id, organization_id=organization_id, code=data.code, name=data.name,
        is_default=not await repository.has_any(session, organization_id),
        document_number_prefix=default_prefix(data.name, entity_id), document_numbering="per_customer",
        default_currency="USD", timezone="UTC", net_payment_term=0, invoice_grace_period=0, document_locale="en",
        finalize_zero_amount_invoice=True, email_settings=[], eu_tax_management=False, tax_codes=[],
        subscription_invoice_issuing_date_anchor="next_period_start",
        subscription_invoice_issuing_date_adjustment="align_with_finalization_date",
    )
    _apply(entity, data)
    session.add(entity)
    await flush_unique(session, BillingEntityCodeTaken)
    await session.refresh(entity)
    result = await _render(session, entity)
    await publish(session, organization_id, "billing_entity.created", entity.id,
                  contracts.BillingEntityEvent(billing_entity=result))
    return result


async def update(session: AsyncSession, organization_id: uuid.UUID, code: str,
                 data: BillingEntityUpdateInput) -> contracts.BillingEntity:
    await _check_taxes(session, organization_id, data)
    entity = await get(session, organization_id, code, for_update=True)
    if data.name is not None:
        entity.name = data.name
    _apply(entity, data)
    await session.flush()
    await session.refresh(entity)
    result = await _render(session, entity)
    await publish(session, organization_id, "billing_entity.updated", entity.id,
                  contracts.BillingEntityEvent(billing_entity=result))
    return result


