"""Customer billing state: admin overrides (contract mode, forced state, grace extension) with an audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.auth.principal import Principal
from invora.db.flush import flush_loaded
from invora.events.contracts.subscriptions import CustomerBillingStateChanged
from invora.ids import uuid7
from invora.outbox import add_event
from invora.web.pagination import PageParams, PaginationMeta
from subscriptions.access import repository
from subscriptions.access.errors import GraceExtensionOutOfRange, NoChangesRequested
from subscriptions.access.models import BillingStateAudit
from subscriptions.access.schemas import (
    MAX_GRACE_EXTENSION_DAYS,
    BillingStateAuditObject,
    BillingStateObject,
    BillingStateOverrideInput,
)
from subscriptions.customers import service as customers
from subscriptions.customers.models import Customer


def render_state(customer: Customer) -> BillingStateObject:
    return BillingStateObject(lago_customer_id=customer.id, external_customer_id=customer.external_id,
                              **customers.billing_state_of(customer).model_dump())


def render_audit(audit: BillingStateAudit, customer: Customer) -> BillingStateAuditObject:
    return BillingStateAuditObject(
        lago_id=audit.id, lago_customer_id=customer.id, external_customer_id=customer.external_id,
        action=audit.action, actor=audit.actor, actor_roles=list(audit.actor_roles), reason=audit.reason,
        changes=audit.changes, created_at=audit.created_at,
    )


async def override(session: AsyncSession, principal: Principal, external_customer_id: str,
                   data: BillingStateOverrideInput, now: datetime) -> Customer:
    if data.contract_mode is None and data.force_state is None and data.grace_extension_days is None:
        raise NoChangesRequested()
    customer = await customers.get(session, principal.organization_id, external_customer_id, for_update=True)
    previous = customers.billing_state_of(customer)
    changes: dict[str, dict] = {}
    if data.contract_mode is not None and data.contract_mode != customer.contract_mode:
        changes["contract_mode"] = {"from": customer.contract_mode, "to": data.contract_mode}
        customer.contract_mode = data.contract_mode
    if data.force_state is not None and data.force_state != customer.billing_state:
        changes["state"] = {"from": customer.billing_state, "to": data.force_state}
        customer.billing_state = data.force_state
    if data.grace_extension_days is not None:
        extended = customer.grace_extension_days + data.grace_extension_days
        if extended > MAX_GRACE_EXTENSION_DAYS:
            raise GraceExtensionOutOfRange()
        changes["grace_extension_days"] = {"from": customer.grace_extension_days, "to": extended}
        customer.grace_extension_days = extended
    customer.billing_state_changed_at = now
    customer.updated_at = now
    # an override that changes nothing is still an admin decision worth its audit row
    audit = BillingStateAudit(
        id=uuid7(), organization_id=customer.organization_id, customer_id=customer.id, actor=principal.subject,
        actor_roles=sorted(principal.roles), action="override", reason=data.reason,
        changes=changes or {"requested": data.model_dump(exclude_none=True, exclude={"reason"})},
        created_at=now, updated_at=now,
    )
    session.add(audit)
    await flush_loaded(session, customer, audit)
    await add_event(
        session, type="customer.billing_state_changed", organization_id=customer.organization_id,
        aggregate_type="customer", aggregate_id=customer.id,
        data=CustomerBillingStateChanged(
            lago_customer_id=customer.id, external_customer_id=customer.external_id, previous=previous,
            current=customers.billing_state_of(customer), reason=data.reason, actor=principal.subject,
            lago_audit_id=audit.id,
        ),
    )
    return customer


async def audit_log(session: AsyncSession, principal: Principal, external_customer_id: str,
                    page: PageParams) -> tuple[Customer, list[BillingStateAudit], PaginationMeta]:
    customer = await customers.get(session, principal.organization_id, external_customer_id)
    rows, meta = await repository.billing_state_audits(session, principal.organization_id, customer.id, page)
    return customer, rows, meta
