"""The organization's `webhook_url` (catalog's `PUT /organizations`) becomes a webhook endpoint here.

Lago keeps one webhook URL on the organization and turns it into an endpoint; the catalog owns the
organization, so notifications learns the URL from `organization.updated` and registers it like
`POST /webhook_endpoints` would (every event type, Lago's default signature), once: an URL that
already has an endpoint is left as it is, so a redelivered or repeated event changes nothing. An URL
the SSRF policy refuses, or one over the endpoint limit, is logged and skipped (retrying would never
succeed); the organization's admins see it missing from `GET /webhook_endpoints`.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.catalog import OrganizationEvent
from invora.events.envelope import EventEnvelope
from notifications.endpoints import repository
from notifications.endpoints.errors import WebhookUrlRefused
from notifications.endpoints.service import DEFAULT_SIGNATURE_ALGO, validate_url
from notifications.runtime import NotificationsRuntime
from notifications.signing.secrets import generate_secret

log = structlog.get_logger(__name__)


async def register_organization_webhook(session: AsyncSession, event: EventEnvelope,
                                        runtime: NotificationsRuntime) -> None:
    organization = OrganizationEvent.model_validate(event.data).organization
    url = organization.webhook_url
    if not url:
        return
    try:
        url = await validate_url(url, runtime)
    except WebhookUrlRefused as refused:
        log.warning("organization_webhook_url_refused", organization_id=str(event.organization_id),
                    reason=refused.details.get("webhook_url"))
        return
    count = await repository.count_of_organization(session, event.organization_id)
    if count >= runtime.settings.max_endpoints_per_organization:
        log.warning("organization_webhook_over_limit", organization_id=str(event.organization_id))
        return
    now = runtime.clock.now()
    await repository.insert_if_absent(
        session, organization_id=event.organization_id, webhook_url=url, signature_algo=DEFAULT_SIGNATURE_ALGO,
        name="Organization webhook", event_types=None, enabled=True, secret=generate_secret(), created_at=now,
        updated_at=now,
    )
