"""A customer or coupon a request names but the projection does not hold yet, asked of its owner over HTTP.

The projections learn customers (`customer.*`) and coupons (`coupon.*`) from events, a moment after the owner
commits them; a client that creates a customer (or a coupon) and at once applies a coupon to it would get a
404 that Lago, answering from one database, never gives. On a miss the route asks the owner
(`GET /customers/{external_id}` of subscriptions, `GET /coupons/{code}` of the catalog; a `service` key, the
service timeout and retries) and stores the answer in the request's transaction exactly as the event would
(the customer newer-wins by `updated_at`, so the event arriving later changes nothing). The owner unreachable
or not knowing it either: no row, and the caller answers its 404 as before.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.projections import repository
from invoicing.projections.models import CouponProjection, CustomerProjection
from invora.events.contracts.catalog import Coupon
from invora.events.contracts.subscriptions import Customer
from invora.logging import get_logger
from invora.service_client import ServiceClient, ServiceUnavailableError

log = get_logger(__name__)


async def customer(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                   external_id: str) -> CustomerProjection | None:
    """The projected customer, fetched from subscriptions first when the projection lacks it."""
    found = await repository.customer_by_external_id(session, organization_id, external_id)
    if found is not None:
        return found
    try:
        answer = await subscriptions.get(organization_id, f"/api/v1/customers/{quote(external_id, safe='')}")
    except ServiceUnavailableError as exc:
        log.warning("subscriptions_unavailable_for_customer", error=str(exc))
        return None
    if answer is None:
        return None
    await repository.upsert_customer(session, organization_id, Customer.model_validate(answer["customer"]))
    log.info("customer_fetched_from_subscriptions")
    return await repository.customer_by_external_id(session, organization_id, external_id)


async def coupon(session: AsyncSession, catalog: ServiceClient, organization_id: uuid.UUID,
                 code: str) -> CouponProjection | None:
    """The projected coupon, fetched from the catalog first when the projection lacks it."""
    found = await repository.coupon(session, organization_id, code)
    if found is not None:
        return found
    try:
        answer = await catalog.get(organization_id, f"/api/v1/coupons/{quote(code, safe='')}")
    except ServiceUnavailableError as exc:
        log.warning("catalog_unavailable_for_coupon", error=str(exc))
        return None
    if answer is None:
        return None
    await repository.upsert_coupon(session, organization_id, Coupon.model_validate(answer["coupon"]), deleted=False)
    log.info("coupon_fetched_from_catalog")
    return await repository.coupon(session, organization_id, code)
