"""Features: capabilities a plan can grant, each with typed privileges.

A privilege's `value_type` is `integer`, `boolean`, `string` (the default) or `select`, which
needs `config.select_options` (a non-empty list of distinct strings). Privilege codes are unique
within a feature. An update upserts the privileges it lists by code (the type of an existing
privilege never changes, as in Lago); DELETE on a privilege removes it from the feature and from
every plan entitlement. Deleting a feature removes it from every plan.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.events import publish
from catalog.features import repository
from catalog.features.errors import FeatureNotFound, PrivilegeNotFound
from catalog.features.models import Feature, FeaturePrivilege
from catalog.features.repository import find as find
from catalog.features.repository import live_by_codes as live_by_codes
from catalog.features.schemas import MAX_SELECT_OPTIONS, FeatureCreateInput, FeatureUpdateInput, PrivilegeInput
from catalog.plans import repository as plan_repository
from catalog.plans.service import publish_updated
from invora.db.flush import flush_unique
from invora.errors import ValidationFailed
from invora.events.contracts import catalog as contracts
from invora.web.pagination import PageParams, PaginationMeta


def to_object(feature: Feature) -> contracts.Feature:
    return contracts.Feature(
        lago_id=feature.id, code=feature.code, name=feature.name, description=feature.description,
        created_at=feature.created_at,
        privileges=[contracts.FeaturePrivilege(code=p.code, name=p.name, value_type=p.value_type, config=p.config)
                    for p in feature.privileges],
    )


async def get(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Feature:
    feature = await find(session, organization_id, code)
    if feature is None:
        raise FeatureNotFound()
    return feature


async def read(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Feature:
    return to_object(await get(session, organization_id, code))


async def list_features(
    session: AsyncSession, organization_id: uuid.UUID, page: PageParams, search_term: str | None = None,
) -> tuple[list[contracts.Feature], PaginationMeta]:
    rows, meta = await repository.page(session, organization_id, page, search_term)
    return [to_object(f) for f in rows], meta


def _config_errors(value_type: str, config: dict[str, Any] | None) -> list[str]:
    if value_type != "select":
        return []
    options = (config or {}).get("select_options")
    valid = (
        isinstance(options, list) and 0 < len(options) <= MAX_SELECT_OPTIONS
        and all(isinstance(o, str) and 0 < len(o) <= 255 for o in options) and len(set(options)) == len(options)
    )
    return [] if valid else ["invalid_select_options"]


def _privilege_errors(privileges: list[PrivilegeInput], existing: dict[str, FeaturePrivilege]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    codes = [p.code for p in privileges]
    if len(set(codes)) != len(codes):
        errors["privileges"] = ["duplicated_privilege_codes"]
    for index, privilege in enumerate(privileges):
        current = existing.get(privilege.code)
        value_type = current.value_type if current else (privilege.value_type or "string")
        config = privilege.config if privilege.config is not None else (current.config if current else None)
        if problems := _config_errors(value_type, config):
            errors[f"privileges.{index}.config"] = problems
    return errors


def _apply_privileges(feature: Feature, privileges: list[PrivilegeInput]) -> None:
    existing = {p.code: p for p in feature.privileges}
    for privilege in privileges:
        current = existing.get(privilege.code)
        if current is None:
            value_type = privilege.value_type or "string"
            feature.privileges.append(FeaturePrivilege(
                organization_id=feature.organization_id, code=privilege.code, name=privilege.name,
                value_type=value_type, config=_config(value_type, privilege.config),
            ))
            continue
        if privilege.given("name"):
            current.name = privilege.name
        if privilege.config is not None:
            current.config = _config(current.value_type, privilege.config)


def _config(value_type: str, config: dict[str, Any] | None) -> dict[str, Any]:
    if value_type == "select" and config:
        return {"select_options": list(config["select_options"])}
    return {}


async def _publish(session: AsyncSession, verb: str, feature: Feature) -> contracts.Feature:
    await session.refresh(feature, ["updated_at", "created_at", "privileges"])
    result = to_object(feature)
    await publish(session, feature.organization_id, f"feature.{verb}", feature.id,
                  contracts.FeatureEvent(feature=result))
    return result


async def create(session: AsyncSession, organization_id: uuid.UUID, data: FeatureCreateInput) -> contracts.Feature:
    errors = _privilege_errors(data.privileges or [], {})
    if await find(session, organization_id, data.code) is not None:
        errors["code"] = ["value_already_exist"]
    if errors:
        raise ValidationFailed(errors)
    feature = Feature(organization_id=organization_id, code=data.code, name=data.name, description=data.description,
                      privileges=[])
    _apply_privileges(feature, data.privileges or [])
    session.add(feature)
    await flush_unique(session)
    return await _publish(session, "created", feature)


async def update(
    session: AsyncSession, organization_id: uuid.UUID, code: str, data: FeatureUpdateInput,
) -> contracts.Feature:
    feature = await get(session, organization_id, code)
    errors = _privilege_errors(data.privileges or [], {p.code: p for p in feature.privileges})
    if errors:
        raise ValidationFailed(errors)
    for field in ("name", "description"):
        if data.given(field):
            setattr(feature, field, getattr(data, field))
    _apply_privileges(feature, data.privileges or [])
    feature.updated_at = datetime.now(UTC)
    await session.flush()
    result = await _publish(session, "updated", feature)
    await _publish_plans(session, feature)
    return result


async def delete(session: AsyncSession, organization_id: uuid.UUID, code: str) -> contracts.Feature:
    """Soft delete; the feature leaves every plan (their entitlements are removed)."""
    feature = await get(session, organization_id, code)
    plans = await plan_repository.plans_with_feature(session, feature.id)
    await repository.remove_from_plans(session, feature.id)
    feature.deleted_at = datetime.now(UTC)
    await session.flush()
    result = await _publish(session, "deleted", feature)
    await _publish_plans(session, feature, plans)
    return result


async def delete_privilege(
    session: AsyncSession, organization_id: uuid.UUID, code: str, privilege_code: str,
) -> contracts.Feature:
    feature = await get(session, organization_id, code)
    privilege = next((p for p in feature.privileges if p.code == privilege_code), None)
    if privilege is None:
        raise PrivilegeNotFound()
    feature.privileges.remove(privilege)
    rows = await repository.plan_entitlements(session, feature.id)
    for row in rows:
        if privilege_code in row.privilege_values:
            row.privilege_values = {k: v for k, v in row.privilege_values.items() if k != privilege_code}
    feature.updated_at = datetime.now(UTC)
    await session.flush()
    result = await _publish(session, "updated", feature)
    await _publish_plans(session, feature)
    return result


async def _publish_plans(session: AsyncSession, feature: Feature, plans=None) -> None:
    """Plans granting the feature show it in their entitlements: they publish `plan.updated` too."""
    for plan in plans if plans is not None else await plan_repository.plans_with_feature(session, feature.id):
        await publish_updated(session, plan)
