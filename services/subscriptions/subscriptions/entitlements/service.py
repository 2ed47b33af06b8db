"""Entitlement rules: subscription overrides (Lago), customer overrides, grace periods and the hot-path check."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from invora.auth.errors import ForbiddenCustomer
from invora.auth.principal import Principal
from invora.db.flush import flush_loaded
from invora.errors import ValidationFailed
from invora.ids import uuid7
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta
from subscriptions.access.models import CustomerEntitlementOverride, GracePeriod
from subscriptions.customers import service as customers
from subscriptions.customers.errors import CustomerNotFound
from subscriptions.customers.models import Customer
from subscriptions.entitlements import repository, values
from subscriptions.entitlements.cache import CustomerSnapshot, EntitlementCache
from subscriptions.entitlements.errors import EntitlementNotFound, GracePeriodNotFound, PrivilegeNotFound
from subscriptions.entitlements.schemas import (
    EntitlementOverridesInput,
    EntitlementOverridesObject,
    GracePeriodInput,
    GracePeriodObject,
)
from subscriptions.plans.client import CatalogClient
from subscriptions.plans.errors import FeatureNotFound
from subscriptions.subscriptions import lifecycle
from subscriptions.subscriptions.models import Subscription
from subscriptions.subscriptions.repository import find_by_external_id

# -- subscription entitlements (Lago) --------------------------------------------------------------------


async def _plan_entitlements(session: AsyncSession, subscription: Subscription) -> list[dict[str, Any]]:
    return await repository.plan_entitlements(session, subscription.organization_id, subscription.plan_id)


async def list_for_subscription(session: AsyncSession, organization_id: uuid.UUID, external_id: str,
                                status: str | None) -> list[dict[str, Any]]:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status)
    return values.subscription_entitlements(await _plan_entitlements(session, subscription),
                                            subscription.entitlement_overrides or {},
                                            subscription.removed_entitlements or [])


async def update_for_subscription(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                                  external_id: str, status: str | None, changes: dict[str, dict[str, Any]],
                                  now: datetime) -> list[dict[str, Any]]:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status, for_update=True)
    plan = {e["code"]: e for e in await _plan_entitlements(session, subscription)}
    overrides = {code: dict(item) for code, item in (subscription.entitlement_overrides or {}).items()}
    removed = [code for code in subscription.removed_entitlements or [] if code not in changes]
    errors: dict[str, list[str]] = {}
    for feature_code, new_values in changes.items():
        definition = plan.get(feature_code) or (overrides.get(feature_code) or {}).get("feature")
        if definition is None:
            if not storable_key(feature_code):
                raise FeatureNotFound()
            definition = await catalog.feature(organization_id, feature_code)
        privileges = {p["code"]: p for p in definition.get("privileges", [])}
        for privilege_code, value in new_values.items():
            privilege = privileges.get(privilege_code)
            if privilege is None:
                errors.setdefault(f"{feature_code}.{privilege_code}", []).append("privilege_not_found")
            elif (problem := values.check_value(privilege, value)) is not None:
                errors.setdefault(f"{feature_code}.{privilege_code}", []).append(problem)
        entry = overrides.get(feature_code, {})
        entry["values"] = {**entry.get("values", {}), **new_values}
        if feature_code not in plan:
            entry["feature"] = {"code": definition["code"], "name": definition.get("name"),
                                "description": definition.get("description"),
                                "privileges": list(privileges.values())}
        overrides[feature_code] = entry
    if errors:
        raise ValidationFailed(errors)
    subscription.entitlement_overrides = overrides
    subscription.removed_entitlements = removed
    subscription.updated_at = now
    await lifecycle.publish(session, subscription, "subscription.updated")
    return values.subscription_entitlements(list(plan.values()), overrides, removed)


async def remove_from_subscription(session: AsyncSession, organization_id: uuid.UUID, external_id: str,
                                   status: str | None, feature_code: str, privilege_code: str | None,
                                   now: datetime) -> dict[str, Any]:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status, for_update=True)
    plan = await _plan_entitlements(session, subscription)
    overrides = {code: dict(item) for code, item in (subscription.entitlement_overrides or {}).items()}
    removed = list(subscription.removed_entitlements or [])
    current = {e["code"]: e for e in values.subscription_entitlements(plan, overrides, removed)}
    if feature_code not in current:
        raise EntitlementNotFound()
    if privilege_code is None:
        overrides.pop(feature_code, None)
        if any(e["code"] == feature_code for e in plan):
            removed.append(feature_code)
    else:
        if privilege_code not in {p["code"] for p in current[feature_code]["privileges"]}:
            raise PrivilegeNotFound()
        entry = overrides.get(feature_code, {})
        entry["values"] = {k: v for k, v in entry.get("values", {}).items() if k != privilege_code}
        if feature_code in overrides:
            overrides[feature_code] = entry
    subscription.entitlement_overrides = overrides
    subscription.removed_entitlements = removed
    subscription.updated_at = now
    await lifecycle.publish(session, subscription, "subscription.updated")
    after = {e["code"]: e for e in values.subscription_entitlements(plan, overrides, removed)}
    return after.get(feature_code, current[feature_code])


# -- customer overrides ----------------------------------------------------------------------------------

def render_overrides(customer: Customer, row: CustomerEntitlementOverride | None) -> EntitlementOverridesObject:
    return EntitlementOverridesObject(
        lago_customer_id=customer.id, external_customer_id=customer.external_id,
        quotas=dict(row.quotas) if row else {}, features=dict(row.features) if row else {},
        reason=row.reason if row else None, updated_by=row.updated_by if row else None,
        updated_at=row.updated_at if row else None,
    )


async def _override_row(session: AsyncSession, customer: Customer) -> CustomerEntitlementOverride | None:
    return await repository.override_row(session, customer.id)


async def get_overrides(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str):
    customer = await customers.get(session, organization_id, external_customer_id)
    return customer, await _override_row(session, customer)


async def set_overrides(session: AsyncSession, principal: Principal, external_customer_id: str,
                        data: EntitlementOverridesInput, now: datetime):
    customer = await customers.get(session, principal.organization_id, external_customer_id, for_update=True)
    row = await _override_row(session, customer)
    if row is None:
        row = CustomerEntitlementOverride(id=uuid7(), organization_id=customer.organization_id,
                                          customer_id=customer.id, created_at=now)
        session.add(row)
    row.quotas, row.features = dict(data.quotas), dict(data.features)
    row.reason, row.updated_by, row.updated_at = data.reason, principal.subject, now
    await flush_loaded(session, row)
    return customer, row


async def clear_overrides(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str):
    customer = await customers.get(session, organization_id, external_customer_id, for_update=True)
    row = await _override_row(session, customer)
    if row is not None:
        await session.delete(row)
    return customer


# -- grace periods ---------------------------------------------------------------------------------------

def render_grace(customer: Customer, row: GracePeriod, now: datetime) -> GracePeriodObject:
    return GracePeriodObject(
        lago_id=row.id, lago_customer_id=customer.id, external_customer_id=customer.external_id, metric=row.metric,
        extra_allowance=row.extra_allowance, starts_at=row.starts_at, expires_at=row.expires_at,
        active=row.revoked_at is None and row.starts_at <= now < row.expires_at, reason=row.reason,
        created_by=row.created_by, revoked_at=row.revoked_at,
    )


async def add_grace(session: AsyncSession, principal: Principal, external_customer_id: str,
                    data: GracePeriodInput, now: datetime):
    customer = await customers.get(session, principal.organization_id, external_customer_id)
    row = GracePeriod(id=uuid7(), organization_id=customer.organization_id, customer_id=customer.id,
                      metric=data.metric, extra_allowance=data.extra_allowance, starts_at=now,
                      expires_at=now + timedelta(hours=data.duration_hours), reason=data.reason,
                      created_by=principal.subject, created_at=now, updated_at=now)
    session.add(row)
    await flush_loaded(session, row)
    return customer, row


async def list_grace(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str, now: datetime,
                     include_expired: bool, page: PageParams) -> tuple[Customer, list[GracePeriod], PaginationMeta]:
    customer = await customers.get(session, organization_id, external_customer_id)
    rows, meta = await repository.grace_periods(session, organization_id, customer.id, now, include_expired, page)
    return customer, rows, meta


async def revoke_grace(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str,
                       grace_id: uuid.UUID, now: datetime):
    customer = await customers.get(session, organization_id, external_customer_id)
    row = await repository.grace_period(session, customer.id, grace_id)
    if row is None:
        raise GracePeriodNotFound()
    if row.revoked_at is None:
        row.revoked_at = now
        row.updated_at = now
    await flush_loaded(session, row)
    return customer, row


# -- the check: from memory, or one round trip ----------------------------------------------------------

async def _load_inputs(engine: AsyncEngine, organization_id: uuid.UUID, external_customer_id: str,
                       now: datetime) -> CustomerSnapshot | None:
    row = await repository.check_inputs(engine, organization_id, external_customer_id, now)
    if row is None:
        return None
    return CustomerSnapshot(
        customer_id=row.id, billing_state=row.billing_state,
        subscription_entitlements=[values.subscription_entitlements(plan or [], overrides or {}, removed or [])
                                   for plan, overrides, removed in row.subscriptions],
        quotas=row.quotas or {}, features=row.features or {},
        grace=[(metric, int(extra), datetime.fromisoformat(starts), datetime.fromisoformat(expires))
               for metric, extra, starts, expires in row.grace],
        as_of=now,
    )


def ensure_customer_id_of(limited_to: uuid.UUID | None, customer_id: uuid.UUID | None) -> None:
    if limited_to is not None and customer_id != limited_to:
        raise ForbiddenCustomer()


async def check(engine: AsyncEngine, cache: EntitlementCache | None, organization_id: uuid.UUID,
                external_customer_id: str, feature_code: str, now: datetime, privilege: str | None,
                used: int | None, *, limited_to: uuid.UUID | None = None) -> dict[str, Any]:
    """`limited_to`: a tenant key's customer (`lago_id`); another customer, or none, is 403."""
    if not storable_key(external_customer_id):
        ensure_customer_id_of(limited_to, None)
        raise CustomerNotFound()
    if not storable_key(feature_code):
        raise FeatureNotFound()
    key = (organization_id, external_customer_id)
    snapshot = cache.get(key, now) if cache is not None else None
    if snapshot is None:
        token = cache.token() if cache is not None else 0
        snapshot = await _load_inputs(engine, organization_id, external_customer_id, now)
        if snapshot is None:
            ensure_customer_id_of(limited_to, None)
            raise CustomerNotFound()
        if cache is not None:
            cache.store(key, snapshot, token)
    ensure_customer_id_of(limited_to, snapshot.customer_id)
    grace = [(metric, extra, expires) for metric, extra, starts, expires in snapshot.grace
             if metric == feature_code and starts <= now < expires]
    return values.check(values.CheckInputs(
        feature_code=feature_code, billing_state=snapshot.billing_state,
        subscription_entitlements=snapshot.subscription_entitlements, quotas=snapshot.quotas,
        features=snapshot.features, grace=grace, privilege=privilege, used=used,
    ))
