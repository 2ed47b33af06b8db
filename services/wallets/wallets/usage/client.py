"""A customer's current unbilled usage, asked of the subscriptions service (`invora.service_client`).

For each active subscription of the customer: Lago's `GET /customers/{id}/current_usage` (the open
period, priced, with taxes). What counts for a wallet: the subscriptions in its currency, and only
what the wallet may pay (`applies_to`): with billable metric codes, those charges' amounts (before
taxes); with fee types that leave out `charge`, nothing (usage is charges); otherwise the usage's
total with taxes, as Lago's ongoing balance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import RowMapping

from invora.service_client import ServiceClient
from wallets.settings import WalletsSettings


def usage_client(settings: WalletsSettings, transport=None) -> ServiceClient:
    return ServiceClient(base_url=settings.subscriptions_url, subject="service:wallets", issuer=settings.auth_issuer,
                         signing_key=settings.service_signing_key, api_key=settings.subscriptions_api_key,
                         timeout=settings.subscriptions_timeout_seconds, retries=settings.subscriptions_retries,
                         transport=transport)


async def current_usages(client: ServiceClient, organization_id: uuid.UUID,
                         external_customer_id: str) -> list[dict[str, Any]]:
    """The current usage (`customer_usage`) of each active subscription of the customer.
    Raises `ServiceUnavailableError` when subscriptions does not answer."""
    customer = quote(external_customer_id, safe="")
    listed = await client.get(organization_id, f"/api/v1/customers/{customer}/subscriptions",
                              params={"status[]": "active", "per_page": 100})
    usages = []
    for subscription in (listed or {}).get("subscriptions", []):
        body = await client.get(organization_id, f"/api/v1/customers/{customer}/current_usage",
                                params={"external_subscription_id": subscription["external_id"]})
        if body is not None:
            usages.append(body["customer_usage"])
    return usages


def wallet_usage_cents(wallet: RowMapping | dict, usages: Sequence[dict[str, Any]]) -> int:
    """What of the customer's current usage the wallet would pay (see the module's doc)."""
    fee_types, metric_codes = list(wallet["applies_to_fee_types"]), list(wallet["applies_to_metric_codes"])
    if fee_types and "charge" not in fee_types:
        return 0
    total = 0
    for usage in usages:
        if usage["currency"] != wallet["currency"]:
            continue
        if metric_codes:
            total += sum(c["amount_cents"] for c in usage["charges_usage"]
                         if c["billable_metric"]["code"] in metric_codes)
        elif fee_types:
            total += usage["amount_cents"]
        else:
            total += usage["total_amount_cents"]
    return max(total, 0)
