"""Plan entitlements: which features a plan grants, with a value for each privilege.

Entitlements are not prices: they are not versioned and a change applies to the plan at once
(subscriptions read them through the subscriptions service, which owns per-subscription
overrides). POST replaces every entitlement of the plan, PATCH merges, DELETE removes a feature
or one privilege value. Values are checked against the privilege's type: `integer` (a JSON
integer), `boolean`, `string` (≤ 255 characters) or `select` (one of the privilege's options).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.features import repository as feature_repository
from catalog.features.errors import FeatureNotFound, PrivilegeNotFound
from catalog.features.models import Feature
from catalog.features.service import live_by_codes as features_by_codes
from catalog.plans import render, repository
from catalog.plans.errors import EntitlementNotFound
from catalog.plans.models import Plan, PlanEntitlement
from catalog.plans.service import get_plan, publish_updated
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts

MAX_STRING_VALUE = 255
MAX_INTEGER_VALUE = 2**53


def check_value(privilege, value: Any) -> str | None:
    """Lago's error code for a privilege value of the wrong type, or None when it fits."""
    kind = privilege.value_type
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INTEGER_VALUE
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "select":
        if not isinstance(value, str):
            return "value_is_invalid"
        return None if value in (privilege.config or {}).get("select_options", []) else "value_not_in_select_options"
    else:
        ok = isinstance(value, str) and len(value) <= MAX_STRING_VALUE
    return None if ok else "value_is_invalid"


async def _entitlement_rows(session: AsyncSession, plan: Plan) -> list[PlanEntitlement]:
    return (await repository.entitlements(session, [plan.id]))[plan.id]


async def _objects(session: AsyncSession, rows: list[PlanEntitlement]) -> list[contracts.PlanEntitlement]:
    if not rows:
        return []
    features = await feature_repository.by_ids(session, {r.feature_id for r in rows})
    return [render.entitlement_object(r, features[r.feature_id]) for r in rows if r.feature_id in features]


async def list_entitlements(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str,
) -> list[contracts.PlanEntitlement]:
    plan = await get_plan(session, organization_id, plan_code)
    return await _objects(session, await _entitlement_rows(session, plan))


async def _resolve(
    session: AsyncSession, organization_id: uuid.UUID, values: dict[str, dict[str, Any]],
) -> dict[str, Feature]:
    """The features named in a body, with every privilege and value checked (404 / 422 as Lago)."""
    features = await features_by_codes(session, organization_id, set(values))
    if any(code not in features for code in values):
        raise FeatureNotFound()
    errors: dict[str, list[str]] = {}
    for code, privilege_values in values.items():
        privileges = {p.code: p for p in features[code].privileges}
        for privilege_code, value in privilege_values.items():
            privilege = privileges.get(privilege_code)
            if privilege is None:
                raise PrivilegeNotFound()
            problem = check_value(privilege, value)
            if problem:
                errors.setdefault(f"{privilege_code}_privilege_value", []).append(problem)
    if errors:
        raise ValidationFailed(errors)
    return features


async def replace_entitlements(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, values: dict[str, dict[str, Any]],
) -> list[contracts.PlanEntitlement]:
    plan = await get_plan(session, organization_id, plan_code, for_update=True)
    features = await _resolve(session, organization_id, values)
    await repository.delete_entitlements(session, plan.id)
    for code, privilege_values in values.items():
        session.add(PlanEntitlement(organization_id=organization_id, plan_id=plan.id,
                                    feature_id=features[code].id, privilege_values=dict(privilege_values)))
    await session.flush()
    await publish_updated(session, plan)
    return await _objects(session, await _entitlement_rows(session, plan))


async def merge_entitlements(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, values: dict[str, dict[str, Any]],
) -> list[contracts.PlanEntitlement]:
    plan = await get_plan(session, organization_id, plan_code, for_update=True)
    features = await _resolve(session, organization_id, values)
    existing = {row.feature_id: row for row in await _entitlement_rows(session, plan)}
    for code, privilege_values in values.items():
        row = existing.get(features[code].id)
        if row is None:
            session.add(PlanEntitlement(organization_id=organization_id, plan_id=plan.id,
                                        feature_id=features[code].id, privilege_values=dict(privilege_values)))
        else:
            row.privilege_values = {**row.privilege_values, **privilege_values}
    await session.flush()
    await publish_updated(session, plan)
    return await _objects(session, await _entitlement_rows(session, plan))


async def _one(session: AsyncSession, organization_id: uuid.UUID, plan: Plan, feature_code: str) -> PlanEntitlement:
    features = await features_by_codes(session, organization_id, {feature_code})
    feature = features.get(feature_code)
    if feature is None:
        raise FeatureNotFound()
    row = next((r for r in await _entitlement_rows(session, plan) if r.feature_id == feature.id), None)
    if row is None:
        raise EntitlementNotFound()
    return row


async def get_entitlement(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, feature_code: str,
) -> contracts.PlanEntitlement:
    plan = await get_plan(session, organization_id, plan_code)
    return (await _objects(session, [await _one(session, organization_id, plan, feature_code)]))[0]


async def delete_entitlement(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, feature_code: str,
) -> contracts.PlanEntitlement:
    plan = await get_plan(session, organization_id, plan_code, for_update=True)
    row = await _one(session, organization_id, plan, feature_code)
    removed = (await _objects(session, [row]))[0]
    await session.delete(row)
    await session.flush()
    await publish_updated(session, plan)
    return removed


async def delete_entitlement_privilege(
    session: AsyncSession, organization_id: uuid.UUID, plan_code: str, feature_code: str, privilege_code: str,
) -> contracts.PlanEntitlement:
    plan = await get_plan(session, organization_id, plan_code, for_update=True)
    row = await _one(session, organization_id, plan, feature_code)
    if privilege_code not in row.privilege_values:
        raise PrivilegeNotFound()
    row.privilege_values = {k: v for k, v in row.privilege_values.items() if k != privilege_code}
    await session.flush()
    await publish_updated(session, plan)
    return (await _objects(session, [row]))[0]
