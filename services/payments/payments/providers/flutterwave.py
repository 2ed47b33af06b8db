"""Flutterwave (API v3) through a small typed client (Flutterwave's Python library covers only its v2 API).

- Flutterwave v3 has no customer object: a customer is its email, which is what `create_customer`
  returns (a customer without an email cannot be charged there).
- A payment method is a card Flutterwave tokenized during a successful card payment (the hosted
  checkout from `setup_url`, `POST /payments`). Its id here is that transaction's id; the card token
  is read from `GET /transactions/{id}/verify` when charging. The most recent one is the default;
  Flutterwave keeps no default and deletes no token, so neither can be changed here.
- An off-session charge is `POST /tokenized-charges` whose `tx_ref` is our reference, found again
  with `GET /transactions/verify_by_reference?tx_ref=`. Flutterwave amounts are in major units: they
  are converted from our minor units exactly (the currency's exponent), never through arithmetic on floats.
- Refunds are `POST /transactions/{id}/refund` with our reference in `comments`; `find_refund` looks
  for it among `GET /refunds`.
- Chargebacks: Flutterwave's chargeback object (`id`, `transaction_id`, `tx_ref`, `flw_ref`, `amount`, `status`,
  `stage`, `comment`) posted to the webhook is recorded on the payment of its `transaction_id`: `initiated`/
  `pending` open it, `declined` (the merchant contests) keeps it open, `accepted` (the merchant accepted: the
  customer is refunded) or `lost` lose it, `won`/`reversed` win it.
- An invoice's or a top-up's hosted page is Flutterwave's checkout (`POST /payments`), its `tx_ref` naming what it
  pays (`providers/pages.py`), read back from the `charge.completed` webhook.
- Webhooks carry `verif-hash`: the secret hash set in Flutterwave's dashboard (the connection's
  `webhook_secret`), compared in constant time. Flutterwave advises verifying the transaction by API
  before trusting a webhook's status, which `parse_webhook` cannot do (it makes no calls): the status
  it reads is applied through the lifecycle, which only moves a payment forward.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from invora.money import exponent
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
from payments.providers.pages import page_metadata, page_reference

DEFAULT_API_BASE = "https://api.flutterwave.com/v3"
REFERENCE_KEY = "invora_reference"


def to_major(amount_cents: int, currency: str) -> int | float:
    """Flutterwave's amount field (a JSON number in major units) for an integer amount in minor units."""
    places = exponent(currency)
    if places == 0 or amount_cents % 10**places == 0:
        return amount_cents // 10**places
    exact = Decimal(amount_cents).scaleb(-places)
    wire = float(exact)
    if Decimal(repr(wire)) != exact:  # beyond 15 significant digits: no JSON number says it exactly
        raise ProviderError(f"amount {exact} {currency} cannot be sent exactly", code="invalid_amount")
    return wire


def to_minor(amount: Any, currency: str) -> int:
    return int(Decimal(str(amount)).scaleb(exponent(currency)).to_integral_value())


def charge_result(tx: dict[str, Any], amount_cents: int = 0) -> ChargeResult:
    """Our view of a Flutterwave transaction (an API answer's `data` or a webhook's)."""
    status = (tx.get("status") or "failed").lower()
    currency = tx.get("currency") or "USD"
    amount = to_minor(tx["amount"], currency) if tx.get("amount") is not None else amount_cents
    common = {"provider_payment_id": str(tx["id"]) if tx.get("id") is not None else None, "provider_status": status,
              "amount_cents": amount, "payment_method_id": None}
    if status in {"successful", "success", "completed"}:
        return ChargeResult(status="succeeded", **common)
    authorization = (tx.get("meta") or {}).get("authorization") or {}
    if status == "pending" and authorization.get("mode") == "redirect":
        return ChargeResult(status="requires_action",
                            next_action={"type": "redirect_to_url", "url": authorization.get("redirect")}, **common)
    if status in {"failed", "cancelled", "error"}:
        message = tx.get("processor_response") or tx.get("message") or "The charge was declined."
        code = code_from_text(message)
        return ChargeResult(status="failed", decline_category=categorize(code), failure_code=code,
                            failure_message=message, **common)
    return ChargeResult(status="processing", **common)


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = {"completed": "succeeded", "successful": "succeeded", "failed": "failed"}.get(
        (refund.get("status") or "").lower(), "pending")
    return RefundResult(status=status, provider_refund_id=str(refund["id"]) if refund.get("id") is not None else None,
                        failure_message=refund.get("message") if status == "failed" else None)


def _marker(reference: str) -> str:
    return f"[invora:{reference}]"


class FlutterwaveAdapter:
    provider_type = "flutterwave"

    def __init__(self, *, secret_key: str, webhook_secret: str | None, api_base: str | None,
                 timeout_seconds: float) -> None:
        self._webhook_secret = webhook_secret
        self._http = JsonClient(base_url=api_base or DEFAULT_API_BASE, timeout_seconds=timeout_seconds,
                                headers={"Authorization": f"Bearer {secret_key}"}, provider="flutterwave")

    async def aclose(self) -> None:
        """Close the HTTP client (the factory calls it when the connection changes, and at shutdown)."""
        await self._http.aclose()

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        if not email:
            raise ProviderError("Flutterwave identifies customers by email; this customer has none.",
                                code="missing_email")
        return email

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        """Flutterwave's hosted checkout for a small card payment, which tokenizes the card."""
        body = await self._http.ok("POST", "/payments", json={
            # tx_ref is unique per transaction at Flutterwave: a nonce lets the customer add another card later
            "tx_ref": f"setup-{uuid.uuid4().hex}", "amount": 1, "currency": "NGN", "payment_options": "card",
            "redirect_url": success_url, "customer": {"email": provider_customer_id},
            "meta": {"invora_purpose": "payment_method_setup"}})
        return body["data"]["link"]

    async def _cards(self, email: str) -> list[dict[str, Any]]:
        body = await self._http.ok("GET", "/transactions", params={"customer_email": email, "status": "successful"})
        cards = [t for t in body.get("data") or [] if t.get("payment_type") == "card" and t.get("card")]
        newest_first = sorted(cards, key=lambda t: (t.get("created_at") or "", t.get("id") or 0), reverse=True)
        seen: set[tuple] = set()
        distinct = []  # every payment on a card shows it: one method per card, from its newest payment
        for transaction in newest_first:
            card = transaction["card"]
            key = (card.get("first_6digits"), card.get("last_4digits"), card.get("expiry"))
            if key not in seen:
                seen.add(key)
                distinct.append(transaction)
        return distinct

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """Flutterwave's hosted checkout (`POST /payments`) for one payment; its `tx_ref` names what is paid (a
        webhook's status is trusted once its hash matches, as for every Flutterwave webhook here)."""
        body = await self._http.ok("POST", "/payments", json={
            "tx_ref": page_reference(metadata), "amount": to_major(amount_cents, currency),
            "currency": currency.upper(), "redirect_url": success_url, "customer": {"email": provider_customer_id},
            "customizations": {"title": description[:100]}, "meta": metadata})
        return body["data"]["link"]

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        method = request.payment_method_id
        if method is None:
            cards = await self._cards(request.provider_customer_id)
            method = str(cards[0]["id"]) if cards else None
        token = None
        if method is not None:
            verified = (await self._http.ok("GET", f"/transactions/{quote(method, safe='')}/verify"))["data"]
            token = (verified.get("card") or {}).get("token")
        if token is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The customer has no tokenized card at Flutterwave.")
        response = await self._http.request("POST", "/tokenized-charges", json={
            "token": token, "currency": request.currency.upper(),
            "amount": to_major(request.amount_cents, request.currency), "email": request.provider_customer_id,
            "tx_ref": request.reference, "narration": request.description,
            "meta": {**request.metadata, REFERENCE_KEY: request.reference}})
        data = response.get("data")
        if isinstance(data, dict) and data.get("status"):
            return dataclasses.replace(charge_result(data, request.amount_cents), payment_method_id=method)
        if "duplicate" in str(response.get("message", "")).lower():
            found = await self.find_charge(reference=request.reference)
            if found is not None:
                return found
        error = refusal("flutterwave", response)
        return refused_charge(request.amount_cents, method, error.message)

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        response = await self._http.request("GET", "/transactions/verify_by_reference", params={"tx_ref": reference})
        if response.status in (400, 404):  # "No transaction was found for this id"
            return None
        if not response.ok:
            raise refusal("flutterwave", response)
        return charge_result(response.body["data"])

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        verified = (await self._http.ok("GET", f"/transactions/{quote(provider_payment_id, safe='')}/verify"))["data"]
        response = await self._http.request(
            "POST", f"/transactions/{quote(provider_payment_id, safe='')}/refund",
            json={"amount": to_major(amount_cents, verified.get("currency") or "USD"),
                  "comments": f"{reason[:400]} {_marker(reference)}"})
        if not response.ok:
            return RefundResult(status="failed", provider_refund_id=None,
                                failure_message=refusal("flutterwave", response).message)
        return refund_result(response.body["data"])

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        body = await self._http.ok("GET", "/refunds", params={"id": provider_payment_id})
        found = [r for r in body.get("data") or []
                 if str(r.get("tx_id")) == provider_payment_id and _marker(reference) in (r.get("comments") or "")]
        return refund_result(found[0]) if found else None

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        methods = []
        for index, tx in enumerate(await self._cards(provider_customer_id)):
            card = tx["card"]
            month, _, year = (card.get("expiry") or "").partition("/")
            methods.append(PaymentMethodInfo(
                provider_method_id=str(tx["id"]), type="card", brand=(card.get("type") or "").lower() or None,
                last4=card.get("last_4digits"), expiration_month=int(month) if month.isdigit() else None,
                expiration_year=2000 + int(year) if year.isdigit() and len(year) == 2 else None,
                is_default=index == 0))
        return methods

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Flutterwave keeps no default card: the most recently tokenized one is charged.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Flutterwave cannot delete a card token.", code="not_supported")

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        given = headers.get("verif-hash")
        if not self._webhook_secret or not given:
            raise InvalidWebhook("missing verif-hash or webhook secret")
        if not hmac.compare_digest(given.encode(), self._webhook_secret.encode()):
            raise InvalidWebhook("verif-hash does not match")
        try:
            event = json.loads(body, parse_float=Decimal)
            name, data = event["event"], event["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        event_id = f"{name}:{data.get('id')}:{data.get('status')}"
        if "chargeback" in name.lower() or ("stage" in data and "transaction_id" in data):
            return _chargeback(name, data)
        if name == "charge.completed":
            return WebhookEvent(id=event_id, type=name, kind="charge", provider_payment_id=str(data.get("id")),
                                reference=data.get("tx_ref"), charge=charge_result(data),
                                metadata=page_metadata(data.get("tx_ref")))
        if name.startswith("refund."):
            result = refund_result(data)
            return WebhookEvent(id=event_id, type=name, kind="refund", provider_refund_id=result.provider_refund_id,
                                refund_status=result.status)
        return WebhookEvent(id=event_id, type=name, kind="other")


_CHARGEBACK_OUTCOMES = {"initiated": "open", "pending": "open", "declined": "open", "accepted": "lost",
                        "lost": "lost", "won": "won", "reversed": "won"}


def _chargeback(name: str, data: dict[str, Any]) -> WebhookEvent:
    """A Flutterwave chargeback, recorded on the payment of its `transaction_id`."""
    status = str(data.get("status") or "initiated").lower()
    dispute = DisputeInfo(provider_dispute_id=str(data.get("id")), status=status[:30],
                          outcome=_CHARGEBACK_OUTCOMES.get(status, "open"), reason=data.get("comment"))
    transaction_id = data.get("transaction_id")
    return WebhookEvent(id=f"chargeback:{data.get('id')}:{status}:{data.get('stage')}", type=name, kind="dispute",
                        dispute=dispute, provider_payment_id=str(transaction_id) if transaction_id else None)
