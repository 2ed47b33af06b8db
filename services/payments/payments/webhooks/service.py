"""Provider webhooks: verified by the connection's adapter, deduplicated through the inbox, applied through the
payment lifecycle (so a webhook that arrives after the charger recorded the outcome changes nothing)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.errors import BadRequest
from invora.ids import parse_uuid
from invora.logging import get_logger
from payments.disputes import service as disputes
from payments.errors import PaymentProviderNotFound
from payments.payment_providers import repository as providers_repository
from payments.payment_urls import service as payment_urls
from payments.payments import lifecycle
from payments.payments import repository as payments_repository
from payments.providers.base import InvalidWebhook, WebhookEvent, parse_webhooks
from payments.providers.registry import AdapterFactory
from payments.refunds import service as refunds

log = get_logger(__name__)
WEBHOOK_NAMESPACE = uuid.UUID("6f1c2d1e-3f7a-4c55-9a1e-0b8e5e2a7c41")


class InvalidWebhookSignature(BadRequest):
    code = "invalid_webhook_signature"


async def handle(session: AsyncSession, adapters: AdapterFactory, *, provider_type: str, organization_id: uuid.UUID,
                 code: str, body: bytes, headers: dict[str, str], now: datetime) -> list[str]:
    """What became of each event of the webhook (one for most providers; GoCardless and Adyen batch them).

    Every event is verified before any is applied (one bad signature refuses the whole webhook), and
    each goes through the inbox on its own, so a redelivered batch changes nothing twice."""
    provider = await providers_repository.by_code(session, organization_id, code)
    if provider is None or provider.provider_type != provider_type:
        raise PaymentProviderNotFound()
    try:
        events = parse_webhooks(adapters.for_connection(provider), body, headers)
    except InvalidWebhook as exc:
        raise InvalidWebhookSignature(str(exc)) from exc
    return [await _apply(session, provider, organization_id, event, now) for event in events]


async def _apply(session: AsyncSession, provider, organization_id: uuid.UUID, event: WebhookEvent,
                 now: datetime) -> str:
    consumer = f"webhook:{provider.id}"
    if not await _record(session, consumer, event.id, event.type, provider.provider_type):
        return "duplicate"
    if event.kind == "charge" and event.charge is not None:
        outcome = await _apply_charge(session, provider, organization_id, event, now)
        if event.provider_order_id and event.provider_payment_id and event.charge.status == "succeeded":
            await payments_repository.set_provider_order_id(session, provider.id, event.provider_payment_id,
                                                            event.provider_order_id)
        return outcome
    if event.kind == "dispute" and event.dispute is not None:
        return await disputes.apply(session, provider.id, event.provider_payment_id, event.dispute, now,
                                    provider_order_id=event.provider_order_id)
    if event.kind == "refund" and event.provider_refund_id and event.refund_status:
        return await refunds.apply_provider_status(session, provider.id, event.provider_refund_id,
                                                   event.refund_status, now)
    return "ignored"


async def _apply_charge(session: AsyncSession, provider, organization_id: uuid.UUID, event: WebhookEvent,
                        now: datetime) -> str:
    """A charge's news: on the payment it names (by the provider's id, else our reference), else a page's payment."""
    assert event.charge is not None
    payment = None
    if event.provider_payment_id:
        payment = await payments_repository.lock_by_provider_payment_id(session, provider.id,
                                                                       event.provider_payment_id)
    if payment is None and (reference := parse_uuid(event.reference)) is not None:
        payment = await payments_repository.lock(session, reference, organization_id)
        if payment is not None and payment["payment_provider_id"] != provider.id:
            payment = None
    if payment is None:
        hosted = await payment_urls.record_hosted_topup(session, provider, event.provider_payment_id,
                                                        event.metadata, event.charge, now)
        if hosted is None:
            hosted = await payment_urls.record_hosted_payment(session, provider, event.provider_payment_id,
                                                              event.metadata, event.charge, now)
        if hosted is not None:
            return hosted
        log.info("webhook_for_unknown_payment", type=event.type, provider_payment_id=event.provider_payment_id)
        return "unknown_payment"
    moved = await lifecycle.apply_charge_result(session, payment, event.charge, now)
    return "applied" if moved else "no_change"


async def _record(session: AsyncSession, consumer: str, provider_event_id: str, event_type: str, topic: str) -> bool:
    from payments.webhooks import repository

    return await repository.record(session, consumer=consumer,
                                   event_id=uuid.uuid5(WEBHOOK_NAMESPACE, provider_event_id),
                                   event_type=event_type, topic=f"webhook:{topic}")
