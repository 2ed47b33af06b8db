"""Tap Payments (API v2) through a small typed client (Tap maintains no Python SDK).

- A provider customer is a Tap customer (`POST /v2/customers`, its `cus_…` id).
- A payment method is a card Tap saved on the customer (`GET /v2/card/{customer_id}`, newest first), saved by
  a first customer-present charge (`setup_url`); the newest is the default; Tap has no default to change.
  Removed by `DELETE /v2/card/{customer_id}/{card_id}`.
- An off-session charge is a merchant-initiated transaction: a token for the saved card
  (`POST /v2/tokens` with `saved_card`), then `POST /v2/charges` with `customer_initiated: false`,
  `threeDSecure: false` and the card's `payment_agreement.id`. `reference.idempotent` is the idempotency key
  (Tap answers a repeated request with the first charge for 24 hours), `reference.transaction`/`order` our
  reference. Tap has no look-up by our reference: `find_charge` reads a charge by its `chg_…` id, and a
  charger whose answer was lost repeats the call with the same idempotent string.
- Statuses: `CAPTURED` succeeded; `INITIATED` with `transaction.url` needs the customer (3-D Secure);
  `DECLINED`, `FAILED`, `RESTRICTED`, `CANCELLED`, `VOID`, `TIMEDOUT`, `ABANDONED` failed, with the decline
  words of `response.message`.
- Refunds are `POST /v2/refunds` (`reference.idempotent` = the refund's idempotency key; settled by webhook, or
  read back by its `re_…` id, `GET /v2/refunds/{id}`, when the webhook does not come).
- Webhooks go to the `post.url` given in each request (the connection's `webhook_url`). Each carries a
  `hashstring` header: the hex HMAC-SHA256, keyed with the secret key, of
  `x_id{id}x_amount{amount}x_currency{currency}x_gateway_reference{reference.gateway}`
  `x_payment_reference{reference.payment}x_status{status}x_created{transaction.created}`, the amount written
  with the currency's decimals. Only those fields are signed: the rest of the body is not trusted beyond them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from invora.money import exponent
from payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    InvalidWebhook,
    PaymentMethodInfo,
    ProviderError,
    RefundResult,
    WebhookEvent,
)
from payments.providers.declines import categorize, code_from_text, refused_charge
from payments.providers.flutterwave import to_major, to_minor
from payments.providers.http import JsonClient, refusal

DEFAULT_API_BASE = "https://api.tap.company/v2"
REFERENCE_KEY = "invora_reference"
_FAILED = {"DECLINED", "FAILED", "RESTRICTED", "CANCELLED", "VOID", "TIMEDOUT", "ABANDONED", "UNKNOWN"}
_REFUND_STATUS = {"REFUNDED": "succeeded", "SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELLED": "failed",
                  "DECLINED": "failed", "RESTRICTED": "failed"}  # PENDING, ACCEPTED...: still pending


def charge_result(charge: dict[str, Any], amount_cents: int = 0) -> ChargeResult:
    """Our view of a Tap charge (an API answer or a webhook's body)."""
    status = charge.get("status") or "UNKNOWN"
    currency = charge.get("currency") or "SAR"
    card = charge.get("card") or {}
    common = {"provider_payment_id": charge.get("id"), "provider_status": status.lower(),
              "amount_cents": to_minor(charge["amount"], currency) if charge.get("amount") is not None
              else amount_cents, "payment_method_id": card.get("id")}
    if status == "CAPTURED":
        return ChargeResult(status="succeeded", **common)
    if status == "INITIATED" and (charge.get("transaction") or {}).get("url"):
        return ChargeResult(status="requires_action",
                            next_action={"type": "redirect_to_url", "url": charge["transaction"]["url"]}, **common)
    if status in _FAILED:
        message = (charge.get("response") or {}).get("message") or "The charge was declined."
        code = code_from_text(message)
        return ChargeResult(status="failed", decline_category=categorize(code), failure_code=code,
                            failure_message=message, **common)
    return ChargeResult(status="processing", **common)  # INITIATED without a page, IN_PROGRESS, AUTHORIZED


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = _REFUND_STATUS.get(refund.get("status") or "", "pending")
    return RefundResult(status=status, provider_refund_id=refund.get("id"),
                        failure_message=(refund.get("response") or {}).get("message") if status == "failed" else None)


def hashstring(secret_key: str, obj: dict[str, Any]) -> str:
    """Tap's webhook signature over the fields it signs."""
    currency = str(obj.get("currency") or "")
    amount = Decimal(str(obj.get("amount") if obj.get("amount") is not None else 0))
    places = exponent(currency) if currency else 2
    reference = obj.get("reference") or {}
    created = (obj.get("transaction") or {}).get("created") or obj.get("created") or ""
    text = (f"x_id{obj.get('id') or ''}x_amount{amount:.{places}f}x_currency{currency}"
            f"x_gateway_reference{reference.get('gateway') or ''}x_payment_reference{reference.get('payment') or ''}"
            f"x_status{obj.get('status') or ''}x_created{created}")
    return hmac.new(secret_key.encode(), text.encode(), hashlib.sha256).hexdigest()


class TapAdapter:
    provider_type = "tap"

    def __init__(self, *, secret_key: str, webhook_url: str | None, api_base: str | None,
                 timeout_seconds: float) -> None:
        self._secret_key = secret_key
        self._post = {"post": {"url": webhook_url}} if webhook_url else {}
        self._http = JsonClient(base_url=api_base or DEFAULT_API_BASE, timeout_seconds=timeout_seconds,
                                headers={"Authorization": f"Bearer {secret_key}"}, provider="tap")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        first, _, last = (name or (email or "customer").split("@")[0]).partition(" ")
        body = await self._http.ok("POST", "/customers", json={
            "first_name": first, "last_name": last or None, "email": email,
            "metadata": {"invora_customer_id": reference}})
        return body["id"]

    async def _cards(self, provider_customer_id: str) -> list[dict[str, Any]]:
        body = await self._http.ok("GET", f"/card/{quote(provider_customer_id, safe='')}")
        return list(body.get("data") or [])

    async def _hosted(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                      success_url: str | None, metadata: dict[str, str], save_card: bool) -> str:
        body = await self._http.ok("POST", "/charges", json={
            "amount": to_major(amount_cents, currency), "currency": currency.upper(), "customer_initiated": True,
            "threeDSecure": True, "save_card": save_card, "description": description[:255],
            "customer": {"id": provider_customer_id}, "source": {"id": "src_all"}, "metadata": metadata,
            "redirect": {"url": success_url or "https://invora.invalid/paid"}, **self._post})
        return body["transaction"]["url"]

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        """A small customer-present charge that saves the card (Tap saves cards only on a charge)."""
        return await self._hosted(provider_customer_id=provider_customer_id, amount_cents=100, currency="SAR",
                                  description="Card verification", success_url=success_url,
                                  metadata={"invora_purpose": "payment_method_setup"}, save_card=True)

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """Tap's hosted page for one charge (`source: src_all`); its webhook carries `metadata` back."""
        return await self._hosted(provider_customer_id=provider_customer_id, amount_cents=amount_cents,
                                  currency=currency, description=description, success_url=success_url,
                                  metadata=metadata, save_card=False)

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        cards = await self._cards(request.provider_customer_id)
        card = next((c for c in cards if c.get("id") == request.payment_method_id), None) \
            if request.payment_method_id else (cards[0] if cards else None)
        if card is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The customer has no saved card at Tap.")
        token = await self._http.ok("POST", "/tokens", json={
            "saved_card": {"card_id": card["id"], "customer_id": request.provider_customer_id}})
        agreement = (card.get("payment_agreement") or {}).get("id")
        response = await self._http.request("POST", "/charges", json={
            "amount": to_major(request.amount_cents, request.currency), "currency": request.currency.upper(),
            "customer_initiated": False, "threeDSecure": False, "save_card": False,
            "payment_agreement": {"id": agreement} if agreement else None,
            "description": (request.description or f"Payment {request.reference}")[:255],
            "customer": {"id": request.provider_customer_id}, "source": {"id": token["id"]},
            "reference": {"transaction": request.reference, "order": request.reference,
                          "idempotent": request.idempotency_key},
            "metadata": {**request.metadata, REFERENCE_KEY: request.reference},
            "redirect": {"url": "https://invora.invalid/authenticated"}, **self._post})
        if response.ok and isinstance(response.body, dict) and response.get("id"):
            return charge_result(response.body, request.amount_cents)
        error = _refusal(response)
        return refused_charge(request.amount_cents, card["id"], error.message)

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        if not provider_payment_id:
            return None  # no look-up by our reference: the charger repeats the call with the same idempotent string
        found = await self._http.find(f"/charges/{quote(provider_payment_id, safe='')}", refused=_refusal)
        return charge_result(found) if found is not None else None

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        if not currency:
            raise ProviderError("Tap needs the refund's currency.", code="missing_currency")
        response = await self._http.request("POST", "/refunds", json={
            "charge_id": provider_payment_id, "amount": to_major(amount_cents, currency),
            "currency": currency.upper(), "reason": reason[:255] or "requested_by_customer",
            "reference": {"merchant": reference, "idempotent": idempotency_key},
            "metadata": {REFERENCE_KEY: reference}, **self._post})
        if not response.ok:
            return RefundResult(status="failed", provider_refund_id=None, failure_message=_refusal(response).message)
        return refund_result(response.body)

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        if not provider_refund_id:
            return None  # no look-up by our reference: the refunder repeats the call with the same idempotent string
        found = await self._http.find(f"/refunds/{quote(provider_refund_id, safe='')}", refused=_refusal)
        return refund_result(found) if found is not None else None

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        cards = await self._cards(provider_customer_id)
        return [PaymentMethodInfo(
            provider_method_id=c["id"], type="card", brand=c.get("brand") or c.get("scheme"),
            last4=c.get("last_four"), expiration_month=_int(c.get("exp_month")),
            expiration_year=_int(c.get("exp_year")), is_default=i == 0) for i, c in enumerate(cards)]

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Tap has no default card: the most recent saved card is charged.", code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        """`DELETE /v2/card/{customer_id}/{card_id}`: the card is no longer charged (the next newest becomes the one
        charged, Tap's own order)."""
        response = await self._http.request(
            "DELETE", f"/card/{quote(provider_customer_id, safe='')}/{quote(provider_method_id, safe='')}")
        if not response.ok:
            raise _refusal(response)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        given = headers.get("hashstring")
        if not given:
            raise InvalidWebhook("missing hashstring")
        try:
            obj = json.loads(body, parse_float=Decimal)
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise TypeError
            expected = hashstring(self._secret_key, obj)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        if not hmac.compare_digest(expected, given.strip().lower()):
            raise InvalidWebhook("signature does not verify")
        object_id, status = obj["id"], str(obj.get("status"))
        event_id = f"tap:{object_id}:{status}"
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if object_id.startswith("chg_"):
            return WebhookEvent(id=event_id, type=f"charge.{status.lower()}", kind="charge",
                                provider_payment_id=object_id, reference=metadata.get(REFERENCE_KEY),
                                charge=charge_result(obj), metadata={k: str(v) for k, v in metadata.items()})
        if object_id.startswith("re_"):
            result = refund_result(obj)
            return WebhookEvent(id=event_id, type=f"refund.{status.lower()}", kind="refund",
                                provider_refund_id=object_id, refund_status=result.status)
        return WebhookEvent(id=event_id, type=status.lower(), kind="other")


def _refusal(response) -> ProviderError:
    errors = response.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return ProviderError(str(errors[0].get("description") or "Tap refused the request"),
                             code=str(errors[0].get("code")) if errors[0].get("code") is not None else None)
    return refusal("tap", response)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
