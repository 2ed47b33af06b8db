"""Adyen (Checkout API v71) through a small typed client, with the official `Adyen` library's HMAC check.

The official Python library builds its URLs from fixed Adyen hosts (no base URL to point at a test
server), so calls go through `http.JsonClient`; the webhook signature is checked with the library's
own `Adyen.util.is_valid_hmac_notification` (HMAC-SHA256 over the item's documented fields, keyed with
the hex HMAC key, in `additionalData.hmacSignature`).

- Adyen has no customer object: the provider customer is our `shopperReference` (our customer's id).
- Payment methods are the shopper's stored cards (`GET /storedPaymentMethods`, `DELETE` to remove);
  Adyen keeps no default, so the most recently stored one is charged.
- An off-session charge is `POST /payments` with the stored method, `shopperInteraction=ContAuth`,
  `recurringProcessingModel=UnscheduledCardOnFile`, our reference as `reference` and an
  `Idempotency-Key`. Adyen has no API to find a payment by reference: `find_charge` answers "not
  found" (unless Adyen's own id is known, which is not enough to read a payment either), and the
  charger sends the *same* request with the *same* key again, which Adyen answers with the first
  result instead of charging (keys are kept at least 7 days). An answer with `Authorised` counts
  as succeeded (captured automatically); the outcome that settles it is the `AUTHORISATION` webhook.
- Refunds are `POST /payments/{pspReference}/refunds` (idempotency key; answered `received`, settled
  by the `REFUND` or `REFUND_FAILED` webhook).
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

from Adyen.util import is_valid_hmac_notification

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
from payments.providers.declines import categorize, code_from_text
from payments.providers.http import JsonClient, refusal
from payments.providers.pages import page_metadata, page_reference

API_VERSION = "v71"
TEST_API_BASE = f"https://checkout-test.adyen.com/{API_VERSION}"
LIVE_API_BASE = "https://{prefix}-checkout-live.adyenpayments.com/checkout/" + API_VERSION

# Adyen's refusalReasonCode (https://docs.adyen.com/development-resources/refusal-reasons) in Stripe's vocabulary
REFUSAL_CODES = {
    "2": "generic_decline", "3": "call_issuer", "4": "processing_error", "5": "restricted_card", "6": "expired_card",
    "7": "invalid_amount", "8": "invalid_number", "9": "issuer_not_available", "10": "card_not_supported",
    "11": "payment_intent_authentication_failure", "12": "insufficient_funds", "14": "fraudulent",
    "15": "canceled", "16": "canceled", "20": "fraudulent", "22": "fraudulent", "23": "transaction_not_allowed",
    "24": "incorrect_cvc", "25": "restricted_card", "26": "revocation_of_authorization", "27": "do_not_honor",
    "28": "withdrawal_count_limit_exceeded", "29": "withdrawal_count_limit_exceeded", "31": "fraudulent",
    "38": "authentication_required", "42": "payment_intent_authentication_failure",
}
# Adyen's dispute notifications (https://docs.adyen.com/risk-management/disputes-api/dispute-notifications):
# the chargeback opens (or informs of) a dispute; a reversal or won pre-arbitration is won; a second chargeback or
# lost pre-arbitration is lost
DISPUTE_OUTCOMES: dict[str, Literal["open", "won", "lost"]] = {
    "NOTIFICATION_OF_CHARGEBACK": "open", "REQUEST_FOR_INFORMATION": "open", "CHARGEBACK": "open",
    "INFORMATION_SUPPLIED": "open", "CHARGEBACK_REVERSED": "won", "PREARBITRATION_WON": "won",
    "SECOND_CHARGEBACK": "lost", "PREARBITRATION_LOST": "lost",
}
_ACTION_CODES = {"RedirectShopper", "IdentifyShopper", "ChallengeShopper", "PresentToShopper"}


def _decline_code(refusal_code: Any, reason: str | None) -> str:
    return REFUSAL_CODES.get(str(refusal_code)) if refusal_code is not None and str(refusal_code) in REFUSAL_CODES \
        else code_from_text(reason)


def charge_result(answer: dict[str, Any], amount_cents: int, payment_method_id: str | None = None) -> ChargeResult:
    """Our view of Adyen's `/payments` answer."""
    code = answer.get("resultCode") or "Error"
    common = {"provider_payment_id": answer.get("pspReference"), "provider_status": code,
              "amount_cents": int((answer.get("amount") or {}).get("value") or amount_cents),
              "payment_method_id": payment_method_id}
    if code == "Authorised":
        return ChargeResult(status="succeeded", **common)
    if code in _ACTION_CODES:
        action = answer.get("action") or {}
        return ChargeResult(status="requires_action",
                            next_action={"type": action.get("type") or "redirect", "url": action.get("url")}, **common)
    if code == "Cancelled":
        return ChargeResult(status="canceled", **common)
    if code in {"Refused", "Error"}:
        reason = answer.get("refusalReason") or code
        decline = _decline_code(answer.get("refusalReasonCode"), reason) if code == "Refused" else "processing_error"
        return ChargeResult(status="failed", decline_category=categorize(decline), failure_code=decline,
                            failure_message=reason, **common)
    return ChargeResult(status="processing", **common)  # Pending, Received


class AdyenAdapter:
    provider_type = "adyen"

    def __init__(self, *, api_key: str, hmac_key: str | None, merchant_account: str, live_prefix: str | None,
                 api_base: str | None, timeout_seconds: float) -> None:
        base = api_base or (LIVE_API_BASE.format(prefix=live_prefix) if live_prefix else TEST_API_BASE)
        self._merchant_account = merchant_account
        self._hmac_key = hmac_key
        self._http = JsonClient(base_url=base, timeout_seconds=timeout_seconds, provider="adyen",
                                headers={"X-API-Key": api_key})

    async def aclose(self) -> None:
        """Close the HTTP client (the factory calls it when the connection changes, and at shutdown)."""
        await self._http.aclose()

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        return reference  # Adyen knows a shopper by the reference we give it

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        """An Adyen payment link that stores the card for later off-session charges (zero amount)."""
        body = await self._http.ok("POST", "/paymentLinks", json={
            "amount": {"value": 0, "currency": "EUR"}, "merchantAccount": self._merchant_account,
            "reference": f"setup-{provider_customer_id}", "shopperReference": provider_customer_id,
            "storePaymentMethodMode": "enabled", "recurringProcessingModel": "UnscheduledCardOnFile",
            "returnUrl": success_url})
        return body["url"]

    async def _stored(self, shopper_reference: str) -> list[dict[str, Any]]:
        body = await self._http.ok("GET", "/storedPaymentMethods", params={
            "merchantAccount": self._merchant_account, "shopperReference": shopper_reference})
        return list((body or {}).get("storedPaymentMethods") or [])

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """An Adyen payment link for one payment; its `reference` (the payment's `merchantReference`, which the
        notification's HMAC covers) names what is paid."""
        body = await self._http.ok("POST", "/paymentLinks", json={
            "amount": {"value": amount_cents, "currency": currency.upper()}, "merchantAccount": self._merchant_account,
            "reference": page_reference(metadata), "shopperReference": provider_customer_id,
            "description": description[:280], "returnUrl": success_url, "metadata": metadata})
        return body["url"]

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        method = request.payment_method_id
        if method is None:
            stored = await self._stored(request.provider_customer_id)
            method = stored[-1]["id"] if stored else None  # Adyen lists them oldest first
        if method is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The shopper has no stored payment method at Adyen.")
        response = await self._http.request("POST", "/payments", headers={"Idempotency-Key": request.idempotency_key},
                                            json={
            "amount": {"value": request.amount_cents, "currency": request.currency.upper()},
            "reference": request.reference, "merchantAccount": self._merchant_account,
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": method},
            "shopperReference": request.provider_customer_id, "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile", "metadata": dict(request.metadata)})
        if response.ok:
            return charge_result(response.body, request.amount_cents, method)
        error = refusal("adyen", response)
        if error.code == "704":  # the same key is still being processed: no answer yet, look again later
            raise ProviderError(error.message, code="request_in_progress", retryable=True)
        if error.code == "800":  # "Contract not found": the stored method is gone
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="refused",
                                amount_cents=request.amount_cents, payment_method_id=method,
                                decline_category="hard", failure_code="no_payment_method",
                                failure_message=error.message)
        raise error

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        return None  # Adyen offers no look-up: the charger repeats the call with the same idempotency key

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        if not currency:
            raise ProviderError("Adyen needs the refund's currency.", code="missing_currency")
        response = await self._http.request(
            "POST", f"/payments/{quote(provider_payment_id, safe='')}/refunds",
            headers={"Idempotency-Key": idempotency_key},
            json={"merchantAccount": self._merchant_account, "reference": reference,
                  "amount": {"value": amount_cents, "currency": currency.upper()}})
        if not response.ok:
            return RefundResult(status="failed", provider_refund_id=None,
                                failure_message=refusal("adyen", response).message)
        return RefundResult(status="pending", provider_refund_id=response.get("pspReference"))

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        return None  # as for charges: the refunder repeats the call with the same idempotency key

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        stored = await self._stored(provider_customer_id)
        return [PaymentMethodInfo(
            provider_method_id=m["id"], type="card" if m.get("type") == "scheme" else (m.get("type") or "card"),
            brand=m.get("brand"), last4=m.get("lastFour"), expiration_month=_int(m.get("expiryMonth")),
            expiration_year=_int(m.get("expiryYear")), is_default=index == len(stored) - 1)
            for index, m in enumerate(stored)][::-1]

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Adyen keeps no default payment method: the most recently stored one is charged.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        """`DELETE /storedPaymentMethods/{id}?shopperReference=…&merchantAccount=…` (Checkout API v71, 204): the token
        can no longer be charged; the newest stored method left becomes the one charged."""
        response = await self._http.request(
            "DELETE", f"/storedPaymentMethods/{quote(provider_method_id, safe='')}",
            params={"shopperReference": provider_customer_id, "merchantAccount": self._merchant_account})
        if not response.ok:
            raise refusal("adyen", response)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        events = self.parse_webhooks(body, headers)
        return events[0]

    def parse_webhooks(self, body: bytes, headers: dict[str, str]) -> list[WebhookEvent]:
        if not self._hmac_key:
            raise InvalidWebhook("no HMAC key on the connection")
        try:
            items = [entry["NotificationRequestItem"] for entry in json.loads(body)["notificationItems"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        if not items:
            raise InvalidWebhook("no notification item")
        events = []
        for item in items:
            try:
                valid = bool((item.get("additionalData") or {}).get("hmacSignature")) and \
                    is_valid_hmac_notification(item, self._hmac_key)
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidWebhook(f"signature cannot be checked: {exc}") from exc
            if not valid:
                raise InvalidWebhook("hmacSignature does not verify")
            events.append(_event(item))
        return events


def _event(item: dict[str, Any]) -> WebhookEvent:
    code, psp, success = item.get("eventCode"), item.get("pspReference"), str(item.get("success")).lower() == "true"
    event_id = f"{code}:{psp}:{success}"
    amount = int((item.get("amount") or {}).get("value") or 0)
    if code == "AUTHORISATION":
        if success:
            result = ChargeResult(status="succeeded", provider_payment_id=psp, provider_status="Authorised",
                                  amount_cents=amount)
        else:
            reason = item.get("reason") or "Refused"
            decline = _decline_code((item.get("additionalData") or {}).get("refusalReasonCode"), reason)
            result = ChargeResult(status="failed", provider_payment_id=psp, provider_status="Refused",
                                  amount_cents=amount, decline_category=categorize(decline), failure_code=decline,
                                  failure_message=reason)
        return WebhookEvent(id=event_id, type=code, kind="charge", provider_payment_id=psp,
                            reference=item.get("merchantReference"), charge=result,
                            metadata=page_metadata(item.get("merchantReference")))
    if code in {"REFUND", "REFUND_FAILED", "REFUNDED_REVERSED"}:
        status = "succeeded" if code == "REFUND" and success else "failed"
        return WebhookEvent(id=event_id, type=code, kind="refund", provider_refund_id=psp,
                            provider_payment_id=item.get("originalReference"), refund_status=status)
    if code in DISPUTE_OUTCOMES:
        # a dispute notification names the disputed payment (`originalReference`, else its own `pspReference`)
        payment = item.get("originalReference") or psp
        dispute = DisputeInfo(provider_dispute_id=f"chargeback-{payment}", status=code.lower()[:30],
                              outcome=DISPUTE_OUTCOMES[code], reason=item.get("reason") or None)
        return WebhookEvent(id=event_id, type=code, kind="dispute", provider_payment_id=payment, dispute=dispute)
    return WebhookEvent(id=event_id, type=code or "unknown", kind="other")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
