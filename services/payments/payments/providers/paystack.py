"""Paystack through a small typed client (Paystack maintains no Python SDK).

- A provider customer is a Paystack customer (`POST /customer`, its `customer_code`); Paystack keys
  customers by email, so a customer without one cannot be created there.
- A payment method is a reusable card *authorization* Paystack keeps on the customer (made by a
  first payment through `setup_url`, Paystack's hosted checkout); the most recent reusable one is the
  default. Paystack has no default of its own to change.
- An off-session charge is `POST /transaction/charge_authorization` whose `reference` is our reference:
  Paystack refuses a second transaction with the same reference ("Duplicate Transaction Reference"), which
  is its idempotency, and `GET /transaction/verify/{reference}` finds it again.
- Refunds are `POST /refund` (Paystack takes no idempotency key: our reference goes into `merchant_note`,
  which is how `find_refund` recognises it among the transaction's refunds).
- Webhooks carry `x-paystack-signature`, the HMAC-SHA512 of the raw body keyed with the secret key.
  They have no event id: the event's name, the object's id and its status make one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

from payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    DisputeInfo,
    InvalidWebhook,
    PaymentMethodInfo,
    ProviderError,
    RefundResult,
    WebhookEvent,
)
from payments.providers.declines import categorize, code_from_text, refused_charge
from payments.providers.http import JsonClient, refusal

DEFAULT_API_BASE = "https://api.paystack.co"
SETUP_AMOUNT = 5_000  # what Paystack's checkout takes to tokenize a card when no amount is due (subunits)
_ACTION_STATUSES = {"send_otp", "send_pin", "send_phone", "send_birthday", "send_address", "open_url", "paused"}
_REFUND_STATUS = {"processed": "succeeded", "failed": "failed", "needs-attention": "pending"}


def charge_result(tx: dict[str, Any], amount_cents: int = 0) -> ChargeResult:
    """Our view of a Paystack transaction (an API answer's `data` or a webhook's)."""
    status = tx.get("status") or "failed"
    authorization = tx.get("authorization") or {}
    common = {"provider_payment_id": str(tx["id"]) if tx.get("id") is not None else None, "provider_status": status,
              "amount_cents": int(tx.get("amount") or amount_cents),
              "payment_method_id": authorization.get("authorization_code")}
    if status == "success":
        return ChargeResult(status="succeeded", **common)
    if status in _ACTION_STATUSES:
        url = tx.get("authorization_url") or tx.get("url")
        return ChargeResult(status="requires_action", next_action={"type": "redirect_to_url", "url": url}, **common)
    if status in {"failed", "abandoned", "reversed"}:
        message = tx.get("gateway_response") or tx.get("message") or "The charge was declined."
        code = code_from_text(message) if status == "failed" else status
        return ChargeResult(status="failed", decline_category=categorize(code), failure_code=code,
                            failure_message=message, **common)
    return ChargeResult(status="processing", **common)  # pending, ongoing, processing, queued


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = _REFUND_STATUS.get(refund.get("status") or "", "pending")
    return RefundResult(status=status, provider_refund_id=str(refund["id"]) if refund.get("id") is not None else None,
                        failure_message=refund.get("message") if status == "failed" else None)


def _marker(reference: str) -> str:
    return f"[invora:{reference}]"


class PaystackAdapter:
    provider_type = "paystack"

    def __init__(self, *, secret_key: str, api_base: str | None, timeout_seconds: float) -> None:
        self._secret_key = secret_key
        self._http = JsonClient(base_url=api_base or DEFAULT_API_BASE, timeout_seconds=timeout_seconds,
                                headers={"Authorization": f"Bearer {secret_key}"}, provider="paystack")

    async def aclose(self) -> None:
        """Close the HTTP client (the factory calls it when the connection changes, and at shutdown)."""
        await self._http.aclose()

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        if not email:
            raise ProviderError("Paystack needs the customer's email.", code="missing_email")
        first, _, last = (name or "").partition(" ")
        body = await self._http.ok("POST", "/customer", json={
            "email": email, "first_name": first or None, "last_name": last or None,
            "metadata": {"invora_customer_id": reference}})
        return body["data"]["customer_code"]  # Paystack answers the existing customer for a known email

    async def _customer(self, provider_customer_id: str) -> dict[str, Any]:
        return (await self._http.ok("GET", f"/customer/{quote(provider_customer_id, safe='')}"))["data"]

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        customer = await self._customer(provider_customer_id)
        body = await self._http.ok("POST", "/transaction/initialize", json={
            "email": customer["email"], "amount": SETUP_AMOUNT, "channels": ["card"],
            "callback_url": success_url, "metadata": {"invora_purpose": "payment_method_setup"}})
        return body["data"]["authorization_url"]

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """Paystack's hosted checkout for one payment (`transaction/initialize`); its `charge.success` webhook
        carries `metadata` back."""
        customer = await self._customer(provider_customer_id)
        body = await self._http.ok("POST", "/transaction/initialize", json={
            "email": customer["email"], "amount": amount_cents, "currency": currency.upper(),
            "callback_url": success_url, "metadata": {**metadata, "invora_description": description}})
        return body["data"]["authorization_url"]

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        customer = await self._customer(request.provider_customer_id)
        authorization = request.payment_method_id or _default_authorization(customer)
        if authorization is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The customer has no reusable card authorization at Paystack.")
        response = await self._http.request("POST", "/transaction/charge_authorization", json={
            "email": customer["email"], "amount": request.amount_cents, "currency": request.currency.upper(),
            "authorization_code": authorization, "reference": request.reference,
            "metadata": {**request.metadata, "invora_reference": request.reference}})
        if response.ok and isinstance(response.get("data"), dict):
            return charge_result(response.body["data"], request.amount_cents)
        if "duplicate" in str(response.get("message", "")).lower():
            found = await self.find_charge(reference=request.reference)  # the first call took it
            if found is not None:
                return found
        error = refusal("paystack", response)
        return refused_charge(request.amount_cents, authorization, error.message)

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        response = await self._http.request("GET", f"/transaction/verify/{quote(reference, safe='')}")
        if response.status in (400, 404):  # "Transaction reference not found"
            return None
        if not response.ok:
            raise refusal("paystack", response)
        return charge_result(response.body["data"])

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        response = await self._http.request("POST", "/refund", json={
            "transaction": provider_payment_id, "amount": amount_cents,
            "merchant_note": f"{reason[:400]} {_marker(reference)}"})
        if not response.ok:
            return RefundResult(status="failed", provider_refund_id=None,
                                failure_message=refusal("paystack", response).message)
        return refund_result(response.body["data"])

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        body = await self._http.ok("GET", "/refund", params={"transaction": provider_payment_id, "perPage": 100})
        found = [r for r in body.get("data") or [] if _marker(reference) in (r.get("merchant_note") or "")]
        return refund_result(found[0]) if found else None

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        customer = await self._customer(provider_customer_id)
        default = _default_authorization(customer)
        return [PaymentMethodInfo(
            provider_method_id=a["authorization_code"], type=a.get("channel") or "card",
            brand=a.get("brand") or a.get("card_type"), last4=a.get("last4"),
            expiration_month=_int(a.get("exp_month")), expiration_year=_int(a.get("exp_year")),
            is_default=a["authorization_code"] == default)
            for a in customer.get("authorizations") or [] if a.get("reusable")]

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Paystack has no default payment method: the most recent card is charged.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        await self._http.ok("POST", "/customer/authorization/deactivate",
                            json={"authorization_code": provider_method_id})

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        signature = headers.get("x-paystack-signature")
        if not signature:
            raise InvalidWebhook("missing x-paystack-signature")
        expected = hmac.new(self._secret_key.encode(), body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise InvalidWebhook("signature does not verify")
        try:
            event = json.loads(body)
            name, data = event["event"], event["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        object_id = data.get("id") or data.get("refund_reference") or data.get("reference")
        event_id = f"{name}:{object_id}:{data.get('status')}"
        if name.startswith("charge.dispute"):
            transaction = data.get("transaction") or {}
            # resolved: "declined" means the merchant's evidence won; "merchant-accepted" (or a refund) lost it
            resolution = data.get("resolution")
            outcome = "open" if name != "charge.dispute.resolve" or not resolution else \
                ("won" if resolution == "declined" else "lost")
            dispute = DisputeInfo(provider_dispute_id=str(data.get("id")),
                                  status=str(resolution or data.get("status") or name)[:30], outcome=outcome,
                                  reason=data.get("category"))
            return WebhookEvent(id=f"{name}:{data.get('id')}:{data.get('status')}:{resolution}", type=name,
                                kind="dispute", dispute=dispute,
                                provider_payment_id=str(transaction.get("id")) if transaction.get("id") else None)
        if name.startswith("charge."):
            metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            return WebhookEvent(id=event_id, type=name, kind="charge", provider_payment_id=str(data.get("id")),
                                reference=data.get("reference"), charge=charge_result(data),
                                metadata={k: str(v) for k, v in metadata.items()})
        if name.startswith("refund."):
            result = refund_result(data)
            return WebhookEvent(id=event_id, type=name, kind="refund", provider_refund_id=result.provider_refund_id,
                                refund_status=result.status)
        return WebhookEvent(id=event_id, type=name, kind="other")


def _default_authorization(customer: dict[str, Any]) -> str | None:
    reusable = [a for a in customer.get("authorizations") or [] if a.get("reusable")]
    return reusable[0]["authorization_code"] if reusable else None  # Paystack lists the newest first


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
