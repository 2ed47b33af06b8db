"""One subscription's charges and fixed charges, and overriding one of them (Lago's
`GET/PUT /subscriptions/{external_id}/charges[/{code}]` and `.../fixed_charges[/{code}]`).

What a subscription sells is its plan version's charges with its `plan_overrides` on top (the same
overrides `PUT /subscriptions/{id}` with `plan_overrides.charges` writes, read by current usage,
snapshots and invoicing). A PUT here changes one charge's override — merged into the stored one,
checked by the pricing engine under the charge's model exactly like the subscription's own
overrides — and publishes `subscription.updated`; the plan and its other subscriptions are untouched
(no new plan version). A charge keeps its plan `lago_id`; `lago_parent_id` stays null.
"""

from __future__ import annotations

import copy
import math
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import ValidationFailed
from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import lifecycle
from subscriptions.subscriptions.errors import (
    ChargeFilterNotFound,
    ChargeNotFound,
    FixedChargeNotFound,
    SubscriptionNotEditable,
)
from subscriptions.subscriptions.models import Subscription
from subscriptions.subscriptions.plan_terms import check_overrides
from subscriptions.subscriptions.repository import find_by_external_id
from subscriptions.subscriptions.schemas import PlanOverrides

# the fields an override may set, per kind (Lago's ChargeOverridableInput / FixedChargeOverridableInput)
CHARGE_FIELDS = ("invoice_display_name", "min_amount_cents", "properties", "filters", "tax_codes")
FIXED_CHARGE_FIELDS = ("invoice_display_name", "units", "properties", "tax_codes")


def _matches(override: dict[str, Any], item: dict[str, Any]) -> bool:
    return override.get("id") == str(item["lago_id"]) or (
        override.get("code") is not None and override.get("code") == item.get("code"))


def effective(items: list[dict[str, Any]], overrides: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict]:
    """The version's items with this subscription's overrides applied (the first override naming an item)."""
    result = []
    for item in items:
        shown = copy.deepcopy(item)
        override = next((o for o in overrides if _matches(o, item)), None)
        if override is not None:
            for field in fields:
                # as usage and invoicing read an override: empty properties or filters fall back to the plan's
                value = override.get(field)
                if value is not None and (value or field not in ("properties", "filters")):
                    shown[field] = copy.deepcopy(value)
        result.append(shown)
    return result


def page_of(items: list[dict], page: PageParams) -> tuple[list[dict], PaginationMeta]:
    total = len(items)
    pages = max(1, math.ceil(total / page.per_page)) if total else 0
    start = (page.page - 1) * page.per_page
    return items[start:start + page.per_page], PaginationMeta(
        current_page=page.page, next_page=page.page + 1 if page.page < pages else None,
        prev_page=page.page - 1 if page.page > 1 else None, total_pages=pages, total_count=total)


async def _context(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                   status: str | None, for_update: bool = False) -> tuple[Subscription, dict[str, Any]]:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status,
                                             for_update=for_update)
    version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
    return subscription, version


async def list_items(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                     status: str | None, kind: str) -> list[dict]:
    subscription, version = await _context(session, catalog, organization_id, external_id, status)
    fields = CHARGE_FIELDS if kind == "charges" else FIXED_CHARGE_FIELDS
    return effective(version.get(kind) or [], (subscription.plan_overrides or {}).get(kind) or [], fields)


async def read_item(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                    status: str | None, kind: str, code: str) -> dict:
    for item in await list_items(session, catalog, organization_id, external_id, status, kind):
        if item.get("code") == code:
            return item
    raise ChargeNotFound() if kind == "charges" else FixedChargeNotFound()


async def override_item(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                        external_id: str, status: str | None, kind: str, code: str, given: dict[str, Any],
                        now: datetime) -> dict:
    """Merge `given` (only the fields sent) into the subscription's override of the item with `code`."""
    subscription, version = await _context(session, catalog, organization_id, external_id, status, for_update=True)
    if subscription.status not in ("active", "pending"):
        raise SubscriptionNotEditable()
    items = version.get(kind) or []
    if not any(item.get("code") == code for item in items):
        raise ChargeNotFound() if kind == "charges" else FixedChargeNotFound()
    stored = copy.deepcopy(subscription.plan_overrides or {})
    overrides: list[dict[str, Any]] = stored.get(kind) or []
    item = next(i for i in items if i.get("code") == code)
    index = next((n for n, o in enumerate(overrides) if _matches(o, item)), None)
    merged = {**(overrides[index] if index is not None else {"code": code}), **given}
    try:  # the same checks as the subscription's own overrides (the charge exists, its prices are valid)
        check_overrides(version, PlanOverrides.model_validate({kind: [merged]}))
    except ValidationFailed as failure:
        prefix = f"plan_overrides.{kind}.0."
        details = {field.removeprefix(prefix): codes for field, codes in failure.details.items()}
        raise ValidationFailed(details) from None
    if index is None:
        overrides.append(merged)
    else:
        overrides[index] = merged
    stored[kind] = overrides
    subscription.plan_overrides = stored
    subscription.updated_at = now
    await lifecycle.publish(session, subscription, "subscription.updated")
    fields = CHARGE_FIELDS if kind == "charges" else FIXED_CHARGE_FIELDS
    return effective([item], overrides, fields)[0]


async def edit_filter(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                      status: str | None, code: str, filter_id: uuid.UUID | None, given: dict[str, Any] | None,
                      now: datetime) -> dict:
    """Add (`filter_id` None), change (`given`) or remove (`given` None) one filter of the subscription's
    charge: the charge's current filters, so edited, become its override's `filters`. Returns the filter."""
    subscription, version = await _context(session, catalog, organization_id, external_id, status)
    charges = effective(version.get("charges") or [], (subscription.plan_overrides or {}).get("charges") or [],
                        CHARGE_FIELDS)
    charge = next((c for c in charges if c.get("code") == code), None)
    if charge is None:
        raise ChargeNotFound()
    filters = [dict(f) for f in charge.get("filters") or []]
    if filter_id is None:
        target = {"lago_id": str(uuid7()), "invoice_display_name": None, **(given or {})}
        filters.append(target)
    else:
        index = next((n for n, f in enumerate(filters) if str(f.get("lago_id")) == str(filter_id)), None)
        if index is None:
            raise ChargeFilterNotFound()
        if given is None:
            target = filters.pop(index)
            if not filters and version_has_filters(version, code):
                # an empty override list means "the plan's filters" to usage and invoicing: refuse, not mislead
                raise ValidationFailed(filters=["cannot_remove_last_filter"])
        else:
            target = filters[index] = {**filters[index], **given}
    await override_item(session, catalog, organization_id, external_id, status, "charges", code,
                        {"filters": filters}, now)
    return target


async def read_filters(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                       status: str | None, code: str) -> list[dict]:
    return list((await read_item(session, catalog, organization_id, external_id, status, "charges", code))
                .get("filters") or [])


async def read_filter(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                      status: str | None, code: str, filter_id: uuid.UUID) -> dict:
    for item in await read_filters(session, catalog, organization_id, external_id, status, code):
        if str(item.get("lago_id")) == str(filter_id):
            return item
    raise ChargeFilterNotFound()


def version_has_filters(version: dict[str, Any], code: str) -> bool:
    return any(c.get("code") == code and c.get("filters") for c in version.get("charges") or [])
