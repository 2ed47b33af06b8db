"""MoneyHash (API v1.1) through a small typed client (MoneyHash maintains no Python SDK).

The calls are the ones Lago makes (getlago/lago-api, `PaymentProviders::Moneyhash::*`):

- A provider customer is a MoneyHash customer (`POST /api/v1.1/customers/`, its id in `data.id`).
- A payment method is a card token MoneyHash keeps for the customer (saved by a customer-present intent with
  `tokenize_card: true`: `setup_url`); the adapter lists them (`GET /api/v1.1/tokens/cards/?customer=`), newest
  first, the newest is the default; MoneyHash has no default to change; a token is deleted by
  `DELETE /api/v1.1/tokens/cards/{id}/` (not verified against MoneyHash's sandbox, like the listing).
- An off-session charge is a merchant-initiated intent (`POST /api/v1.1/payments/intent/`) with the card token,
  `merchant_initiated: true`, `payment_type: UNSCHEDULED`, `recurring_data.agreement_id` (our customer id), the
  connection's `flow_id` and `webhook_url`, our reference in `merchant_reference` and in `custom_fields`.
  MoneyHash honours `X-Idempotency-Key` (a v4 UUID; the same key and API key answer the first response for 24 h):
  ours is a v4-shaped UUID derived from our idempotency key, so the charger reconciling a lost answer repeats the
  call and gets the first intent. There is no look-up by our reference: `find_charge` reads an intent by its id.
- Statuses: an intent `PROCESSED` (its active transaction `SUCCESSFUL`) succeeded; a transaction `FAILED` failed,
  with the decline words of its last operation's `latest_status.message`; `PENDING_AUTHENTICATION` needs the
  customer (the intent's `embed_url`); `PENDING` is processing.
- Refunds: `POST /api/v1.1/payments/intent/{id}/refund/` (idempotency key as above; settled by the
  `transaction.refund.*` webhook; no look-up by our reference: a lost answer is repeated with the same key; a
  refund MoneyHash answered is read back as an operation of the intent's transaction, `GET …/intent/{id}/`).
- Webhooks carry `MoneyHash-Signature: t=…,v1=…,v2=…,v3=…`; v3 is the hex HMAC-SHA256, keyed with the account's
  webhook signature key, of base64(body) followed by `t` (Lago's `ValidateIncomingWebhookService`). Events read:
  `transaction.purchase.successful|failed|pending_authentication`, `intent.processed`, `intent.time_expired`,
  `transaction.refund.*`. A webhook has no event id: the type, the intent and the operation make one.

Amounts are major units with at most two decimals (MoneyHash's limit); one that needs more is refused before the
call. Lago sends `amount_cents.div(100)` (dropping the cents); here the amount is converted exactly.
"""

from __future__ import annotations

import base64
import hashlib
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
    InvalidWebhook,
    PaymentMethodInfo,
    ProviderError,
    RefundResult,
    WebhookEvent,
)
from payments.providers.declines import categorize, code_from_text, refused_charge
from payments.providers.flutterwave import to_minor
from payments.providers.http import JsonClient, Response

DEFAULT_API_BASE = "https://web.moneyhash.io"
REFERENCE_KEY = "invora_reference"
SIGNATURE_HEADER = "moneyhash-signature"
_REFUND_STATUS = {"successful": "succeeded", "failed": "failed", "pending": "pending"}


def idempotency_uuid(key: str) -> str:
    """MoneyHash accepts only v4 UUIDs as idempotency keys: one derived from ours, the same every time."""
    return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))


def to_major(amount_cents: int, currency: str) -> Decimal:
    """MoneyHash's amount (major units, at most two decimals) for an amount in minor units."""
    exact = Decimal(amount_cents).scaleb(-exponent(currency))
    if exact != exact.quantize(Decimal("0.01")):
        raise ProviderError(f"MoneyHash takes at most two decimals: {exact} {currency} cannot be sent",
                            code="invalid_amount")
    return exact


def _wire(value: Any) -> Any:
    """JSON for httpx: Decimal amounts as numbers written exactly (never through a float)."""
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)  # two decimals: exact as a float
    return value


def signature(signature_key: str, body: bytes, timestamp: str) -> str:
    payload = base64.b64encode(body) + timestamp.encode()
    return hmac.new(signature_key.encode(), payload, hashlib.sha256).hexdigest()


def _last_status(transaction: dict[str, Any]) -> dict[str, Any]:
    operations = [op for op in transaction.get("operations") or [] if isinstance(op, dict)]
    purchases = [op for op in operations if op.get("type") == "purchase"] or operations
    return (purchases[-1].get("latest_status") or {}) if purchases else {}


def _amount(intent: dict[str, Any], fallback: int) -> int:
    amount = intent.get("amount")
    if isinstance(amount, dict):  # transaction webhooks: {"value", "currency"}
        value, currency = amount.get("value"), amount.get("currency")
    else:
        value, currency = amount, intent.get("amount_currency")
    if value is None or not currency:
        return fallback
    return to_minor(value, str(currency))


def charge_result(intent: dict[str, Any], transaction: dict[str, Any] | None = None,
                  amount_cents: int = 0) -> ChargeResult:
    """Our view of a MoneyHash intent (an API answer's `data`, or a webhook's intent with its transaction)."""
    transaction = transaction if transaction is not None else (intent.get("active_transaction") or {})
    intent_status = str(intent.get("status") or "").upper()
    status = str(transaction.get("status") or "").upper().removeprefix("PURCHASE.")
    card = transaction.get("paying_card_token") or {}
    common = {"provider_payment_id": intent.get("id"), "amount_cents": _amount(intent, amount_cents),
              "payment_method_id": card.get("id") if isinstance(card, dict) else None}
    if intent_status == "PROCESSED" or status == "SUCCESSFUL":
        return ChargeResult(status="succeeded", provider_status="processed", **common)
    if status == "FAILED":
        latest = _last_status(transaction)
        message = latest.get("message") or latest.get("provider_error_message") or "The charge was declined."
        code = code_from_text(message)
        return ChargeResult(status="failed", provider_status="failed", decline_category=categorize(code),
                            failure_code=code, failure_message=message, **common)
    if intent_status in {"TIME_EXPIRED", "EXPIRED", "CLOSED"}:
        return ChargeResult(status="failed", provider_status=intent_status.lower(), decline_category="hard",
                            failure_code="expired", failure_message="The MoneyHash intent expired unpaid.", **common)
    if status == "PENDING_AUTHENTICATION" and intent.get("embed_url"):
        return ChargeResult(status="requires_action", provider_status="pending_authentication",
                            next_action={"type": "redirect_to_url", "url": intent["embed_url"]}, **common)
    return ChargeResult(status="processing", provider_status=(status or intent_status or "pending").lower(), **common)


async def fetch_signature_key(*, api_key: str, api_base: str | None, timeout_seconds: float) -> str:
    """The account's webhook signature key, which MoneyHash gives for the API key (Lago reads it so when a
    connection is made: `GET /api/v1/organizations/get-webhook-signature-key/`)."""
    client = JsonClient(base_url=(api_base or DEFAULT_API_BASE).rstrip("/") + "/api/v1",
                        timeout_seconds=timeout_seconds, provider="moneyhash", headers={"X-Api-Key": api_key})
    try:
        response = await client.request("GET", "/organizations/get-webhook-signature-key/")
    finally:
        await client.aclose()
    key = (response.get("data") or {}).get("webhook_signature_secret") if response.ok else None
    if not isinstance(key, str) or not key:
        raise _refusal(response)
    return key


class MoneyhashAdapter:
    provider_type = "moneyhash"

    def __init__(self, *, api_key: str, signature_key: str | None, flow_id: str | None, webhook_url: str | None,
                 api_base: str | None, timeout_seconds: float) -> None:
        self._signature_key = signature_key
        self._flow = {"flow_id": flow_id} if flow_id else {}
        self._webhook = {"webhook_url": webhook_url} if webhook_url else {}
        self._http = JsonClient(base_url=(api_base or DEFAULT_API_BASE).rstrip("/") + "/api/v1.1",
                                timeout_seconds=timeout_seconds, provider="moneyhash",
                                headers={"x-Api-Key": api_key, "Content-Type": "application/json"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, Any], idempotency_key: str | None) -> Response:
        headers = {"X-Idempotency-Key": idempotency_uuid(idempotency_key)} if idempotency_key else None
        return await self._http.request("POST", path, json=_wire(body), headers=headers)

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        first, _, last = (name or "").partition(" ")
        response = await self._post("/customers/", {
            "email": email, "first_name": first or None, "last_name": last or None,
            "contact_person_name": name or None, "custom_fields": {"invora_customer_id": reference}},
            idempotency_key)
        if not response.ok:
            raise _refusal(response)
        return str(response.get("data")["id"])

    async def _cards(self, provider_customer_id: str) -> list[dict[str, Any]]:
        response = await self._http.request("GET", "/tokens/cards/", params={"customer": provider_customer_id})
        if not response.ok:
            raise _refusal(response)
        data = response.get("data")
        return [c for c in data if isinstance(c, dict)] if isinstance(data, list) else []

    async def _hosted(self, *, provider_customer_id: str, amount_cents: int, currency: str, success_url: str | None,
                      custom_fields: dict[str, str], tokenize: bool) -> str:
        body = {"amount": to_major(amount_cents, currency), "amount_currency": currency.upper(), **self._flow,
                "customer": provider_customer_id, **self._webhook, "merchant_initiated": False,
                "tokenize_card": tokenize, "custom_fields": custom_fields}
        if tokenize:
            body.update(payment_type="UNSCHEDULED", recurring_data={"agreement_id": provider_customer_id})
        if success_url:
            body["successful_redirect_url"] = success_url
        response = await self._post("/payments/intent/", body, None)
        if not response.ok:
            raise _refusal(response)
        return response.get("data")["embed_url"]

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        """A small customer-present intent that tokenizes the card (Lago's checkout URL)."""
        return await self._hosted(provider_customer_id=provider_customer_id, amount_cents=500, currency="USD",
                                  success_url=success_url, custom_fields={"invora_purpose": "payment_method_setup"},
                                  tokenize=True)

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """MoneyHash's embedded page for one intent; its `intent.processed` webhook carries `metadata` back."""
        return await self._hosted(provider_customer_id=provider_customer_id, amount_cents=amount_cents,
                                  currency=currency, success_url=success_url, custom_fields=dict(metadata),
                                  tokenize=False)

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        cards = await self._cards(request.provider_customer_id)
        card = next((c for c in cards if c.get("id") == request.payment_method_id), None) \
            if request.payment_method_id else (cards[0] if cards else None)
        if card is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The customer has no saved card at MoneyHash.")
        response = await self._post("/payments/intent/", {
            "amount": to_major(request.amount_cents, request.currency), "amount_currency": request.currency.upper(),
            **self._flow, "customer": request.provider_customer_id, **self._webhook, "payment_type": "UNSCHEDULED",
            "merchant_initiated": True, "recurring_data": {"agreement_id": request.provider_customer_id},
            "card_token": card["id"], "merchant_reference": request.reference,
            "custom_fields": {**request.metadata, REFERENCE_KEY: request.reference}}, request.idempotency_key)
        data = response.get("data")
        if response.ok and isinstance(data, dict) and data.get("id"):
            return charge_result(data, amount_cents=request.amount_cents)
        error = _refusal(response)
        return refused_charge(request.amount_cents, card["id"], error.message)

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        if not provider_payment_id:
            return None  # no look-up by our reference: the charger repeats the call with the same idempotency key
        found = await self._http.find(f"/payments/intent/{quote(provider_payment_id, safe='')}/", refused=_refusal)
        return charge_result(found.get("data")) if found is not None else None

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        if not currency:
            raise ProviderError("MoneyHash needs the refund's currency.", code="missing_currency")
        response = await self._post(f"/payments/intent/{quote(provider_payment_id, safe='')}/refund/", {
            "amount": to_major(amount_cents, currency), "custom_fields": {REFERENCE_KEY: reference,
                                                                          "reason": reason[:255]}},
            idempotency_key)
        if not response.ok:
            return RefundResult(status="failed", provider_refund_id=None, failure_message=_refusal(response).message)
        data = response.get("data") or {}
        return RefundResult(status=_REFUND_STATUS.get(str(data.get("status") or "").lower(), "pending"),
                            provider_refund_id=data.get("id"))

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        if not provider_refund_id:
            return None  # no look-up by our reference: the refunder repeats the call with the same idempotency key
        # a refund is an operation of the intent's transaction: read the intent, find the operation by its id
        found = await self._http.find(f"/payments/intent/{quote(provider_payment_id, safe='')}/", refused=_refusal)
        if found is None:
            return None
        data = found.get("data") or {}
        transactions = [data.get("active_transaction") or {}, *(data.get("transactions_history") or [])]
        for transaction in transactions:
            for operation in (transaction or {}).get("operations") or []:
                if str(operation.get("id")) == provider_refund_id and operation.get("type") == "refund":
                    status = str(operation.get("status") or (operation.get("latest_status") or {}).get("value") or "")
                    return RefundResult(status=_REFUND_STATUS.get(status.lower(), "pending"),  # type: ignore[arg-type]
                                        provider_refund_id=provider_refund_id)
        return None

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        cards = await self._cards(provider_customer_id)
        return [PaymentMethodInfo(
            provider_method_id=str(c["id"]), type="card", brand=c.get("brand"), last4=c.get("last_4"),
            expiration_month=_int(c.get("expiry_month")), expiration_year=_year(c.get("expiry_year")),
            is_default=i == 0) for i, c in enumerate(cards)]

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("MoneyHash has no default card: the most recent card token is charged.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        """`DELETE /api/v1.1/tokens/cards/{id}/`: the token can no longer be charged; the newest token left is the one
        charged next. The token is checked to be the customer's first (the route found it in the customer's list)."""
        response = await self._http.request("DELETE", f"/tokens/cards/{quote(provider_method_id, safe='')}/")
        if not response.ok:
            raise _refusal(response)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        given = headers.get(SIGNATURE_HEADER)
        if not given or not self._signature_key:
            raise InvalidWebhook("missing MoneyHash-Signature" if not given else "no signature key for this connection")
        parts = dict(part.split("=", 1) for part in given.split(",") if "=" in part)
        timestamp, v3 = parts.get("t"), parts.get("v3")
        if not timestamp or not v3:
            raise InvalidWebhook("MoneyHash-Signature without t or v3")
        if not hmac.compare_digest(signature(self._signature_key, body, timestamp.strip()), v3.strip().lower()):
            raise InvalidWebhook("signature does not verify")
        try:
            event = json.loads(body, parse_float=Decimal)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise TypeError
            return _event(event)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise InvalidWebhook("unreadable body") from exc


def _event(event: dict[str, Any]) -> WebhookEvent:
    kind = event["type"]
    if kind.startswith("intent."):
        intent = dict(event["data"]["intent"])
        fields = intent.get("custom_fields") or {}
        result = charge_result(intent)
        return WebhookEvent(id=f"moneyhash:{kind}:{intent['id']}", type=kind, kind="charge",
                            provider_payment_id=intent["id"], reference=fields.get(REFERENCE_KEY), charge=result,
                            metadata={k: str(v) for k, v in fields.items()})
    intent, transaction = event.get("intent") or {}, event.get("transaction") or {}
    fields = intent.get("custom_fields") or {}
    event_id = f"moneyhash:{kind}:{intent.get('id')}:{event.get('operation_id') or transaction.get('id')}"
    if kind.startswith("transaction.purchase."):
        result = charge_result(intent, {**transaction, "status": kind.removeprefix("transaction.purchase.")})
        return WebhookEvent(id=event_id, type=kind, kind="charge", provider_payment_id=intent.get("id"),
                            reference=fields.get(REFERENCE_KEY), charge=result,
                            metadata={k: str(v) for k, v in fields.items()})
    if kind.startswith("transaction.refund.") and event.get("operation_id"):
        status = _REFUND_STATUS.get(kind.removeprefix("transaction.refund."), "pending")
        return WebhookEvent(id=event_id, type=kind, kind="refund", provider_refund_id=str(event["operation_id"]),
                            refund_status=status)
    return WebhookEvent(id=event_id, type=kind, kind="other")


def _refusal(response: Response) -> ProviderError:
    status = response.get("status")
    if isinstance(status, dict):
        errors = status.get("errors") or []
        details = "; ".join(f"{k}: {v}" for e in errors if isinstance(e, dict) for k, v in e.items())
        return ProviderError(details or str(status.get("message") or f"MoneyHash refused ({response.status})"),
                             code=str(status.get("code")) if status.get("code") is not None else None)
    return ProviderError(f"MoneyHash refused the request ({response.status})")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _year(value: Any) -> int | None:
    year = _int(value)
    return 2000 + year if year is not None and year < 100 else year  # MoneyHash writes "26"
