"""A plan version missing from the projection, asked of the catalog over HTTP (instead of waiting forever).

The projection learns plan versions from `plan.created|updated`; a version created before this service
ran (or whose event is still on its way) is unknown. When an invoice needs one, the consumer asks the
catalog (`GET /plan_versions/{id}`, then `GET /plans/{code}` for the plan's names; a `service` key, the
service timeout and retries), stores it in its own transaction (a plan version never changes, so the
copy is final, and the event arriving later inserts nothing), and lets the event fail once: the platform
consumer retries it in place, and the retry finds the version. The catalog unreachable, or the version
unknown there too: nothing stored, the event is retried and parked with back-off as before.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.projections import repository
from invora.events.contracts.catalog import Plan, PlanVersion
from invora.logging import get_logger
from invora.service_client import ServiceClient, ServiceUnavailableError

log = get_logger(__name__)


async def fetch_plan_version(session: AsyncSession, catalog: ServiceClient, organization_id: uuid.UUID,
                             version_id: uuid.UUID) -> bool:
    """Stores the version (in a transaction of its own, on `session`'s engine); True when it is known now."""
    try:
        found = await catalog.get(organization_id, f"/api/v1/plan_versions/{version_id}")
        if found is None:
            log.warning("plan_version_unknown_to_the_catalog", plan_version_id=str(version_id))
            return False
        version = PlanVersion.model_validate(found["plan_version"])
        plan = await catalog.get(organization_id, f"/api/v1/plans/{quote(version.plan_code, safe='')}")
    except ServiceUnavailableError as exc:
        log.warning("catalog_unavailable_for_plan_version", plan_version_id=str(version_id), error=str(exc))
        return False
    names = (plan or {}).get("plan") or {}
    body = Plan.model_validate({
        **version.model_dump(mode="json", exclude={"lago_id", "lago_plan_id", "plan_code", "is_current"}),
        "lago_id": str(version.lago_plan_id), "code": version.plan_code, "name": names.get("name") or version.plan_code,
        "invoice_display_name": names.get("invoice_display_name"), "lago_plan_version_id": str(version.lago_id)})
    async with AsyncSession(session.bind, expire_on_commit=False) as own:
        await repository.remember_plan_version(own, organization_id, body)
        await own.commit()
    log.info("plan_version_fetched_from_catalog", plan_version_id=str(version_id))
    return True
