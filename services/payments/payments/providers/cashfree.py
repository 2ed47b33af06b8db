"""Cashfree Payments (PG API, version 2023-08-01) through a small typed client.

Cashfree's Python SDK (`cashfree_pg`) is generated code with fixed environments; we need an API base the
tests can point at a fake, so this is a small client over `http.py`, following Cashfree's documented API.

What Cashfree offers a billing system is a *hosted* payment, not an off-session charge of a saved method, so, as
Lago does, a charge is a page the customer pays. Why no off-session charge: under the RBI's card-on-file rules every
payment with a saved (tokenised) card needs the cardholder's additional factor of authentication, so Cashfree's
token vault speeds up a customer-present checkout but cannot be charged without the customer; the only recurring
debit India allows without the customer is an e-mandate (Cashfree Subscriptions: card, UPI Autopay, eNACH), whose
debits are scheduled (`payment_schedule_date`), pre-notified to the customer (at least 24 hours before, for cards
and UPI) and settled asynchronously, and whose authorisation page is opened with Cashfree's JS SDK from a
`subscription_session_id` (no URL the API hands back for `checkout_url`). That path is not built.

- A charge is a **payment link** (`POST /links`) whose `link_id` is our reference (Cashfree refuses a
  second link with the same id, its protection against a double charge; the call also carries
  `x-idempotency-key`). It answers `requires_action` with the link's URL; the customer pays there and the
  `PAYMENT_LINK_EVENT` webhook (`link_status: PAID`) settles the payment. `GET /links/{link_id}` finds it
  again (the reconciler). The payment's `provider_payment_id` is the link id.
- A declined attempt on the page does not end the link (the customer may try again), so no decline
  reaches us; a link that expires or is cancelled fails the payment `hard`.
- Cashfree has no customer object for links: the provider customer id is the customer's e-mail, and
  Cashfree's required `customer_phone` is a placeholder when we have none (payments keeps no phone).
- Refunds are per order: the link's paid order (`GET /links/{link_id}/orders`), then
  `POST /orders/{order_id}/refunds` with `refund_id` = our refund's reference (unique per order),
  settled by `REFUND_STATUS_WEBHOOK`; `GET /orders/{order_id}/refunds/{refund_id}` finds it again.
- Webhooks: `x-webhook-signature` is the base64 HMAC-SHA256 of `x-webhook-timestamp` + the raw body, keyed
  with the client secret. The event id is a hash of the body (Cashfree's own idempotency header is also
  a hash of the payload).
- Disputes: `DISPUTE_CREATED|UPDATED|CLOSED` webhooks name the order that paid the link
  (`order_details.order_id`), which the link's `PAYMENT_LINK_EVENT` gave us (`order.order_id`, kept on the
  payment); recorded on that payment (`dispute_info`).
- Payment methods are the customer's saved cards in Cashfree's token vault (`GET`, `DELETE
  /customers/{customer_id}/instruments…`, `customer_id` from `instrument_customer_id`): listed and deleted, never
  charged, no default; no setup URL (payment links save no card).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
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
from payments.providers.flutterwave import to_major, to_minor
from payments.providers.http import JsonClient, refusal

DEFAULT_API_BASE = "https://api.cashfree.com/pg"
API_VERSION = "2023-08-01"
PLACEHOLDER_PHONE = "9999999999"  # Cashfree requires a phone on a link; payments keeps none
MAX_PAGES = 50  # payment links made for one invoice's (or top-up's) page, one live at a time
DISPUTE_EVENTS = frozenset({"DISPUTE_CREATED", "DISPUTE_UPDATED", "DISPUTE_CLOSED"})
DISPUTE_STAGES = ("PRE_ARBITRATION", "ARBITRATION", "CHARGEBACK", "RETRIEVAL", "DISPUTE")  # longest first
_REFUND_STATUS = {"SUCCESS": "succeeded", "CANCELLED": "failed", "PENDING": "pending", "ONHOLD": "pending"}


def link_result(link: dict[str, Any], amount_cents: int = 0) -> ChargeResult:
    """Our view of a Cashfree payment link (an API answer or a webhook's `data`)."""
    status = link.get("link_status") or "ACTIVE"
    currency = link.get("link_currency") or "INR"
    amount = to_minor(link["link_amount"], currency) if link.get("link_amount") is not None else amount_cents
    common = {"provider_payment_id": link.get("link_id"), "provider_status": status.lower(), "amount_cents": amount}
    if status == "PAID":
        return ChargeResult(status="succeeded", **common)
    if status == "ACTIVE":
        return ChargeResult(status="requires_action", next_action={"type": "redirect_to_url",
                                                                   "url": link.get("link_url")}, **common)
    if status in {"EXPIRED", "CANCELLED"}:
        code = "payment_link_expired" if status == "EXPIRED" else "payment_link_cancelled"
        return ChargeResult(status="failed", decline_category="hard", failure_code=code,
                            failure_message=f"The Cashfree payment link is {status.lower()}.", **common)
    return ChargeResult(status="processing", **common)  # PARTIALLY_PAID (we never allow partial payments)


def refund_result(refund: dict[str, Any]) -> RefundResult:
    status = _REFUND_STATUS.get(refund.get("refund_status") or "", "pending")
    cf_id = refund.get("cf_refund_id")
    return RefundResult(status=status, provider_refund_id=str(cf_id) if cf_id is not None else None,
                        failure_message=refund.get("status_description") if status == "failed" else None)


def dispute_info(dispute: dict[str, Any]) -> DisputeInfo | None:
    """Our view of Cashfree's `dispute` (its dispute webhooks): `dispute_status` is the stage (`DISPUTE`,
    `CHARGEBACK`, `RETRIEVAL`, `PRE_ARBITRATION`, `ARBITRATION`) and its state: `…_MERCHANT_WON` won,
    `…_MERCHANT_LOST` and `…_MERCHANT_ACCEPTED` (the merchant accepted: the customer is refunded) lost, the others
    (`…_CREATED`, `…_DOCS_RECEIVED`, `…_UNDER_REVIEW`, `…_INSUFFICIENT_EVIDENCE`) open."""
    dispute_id, status = dispute.get("dispute_id"), str(dispute.get("dispute_status") or "").strip('"').upper()
    if dispute_id is None or not status:
        return None
    state = next((status.removeprefix(f"{stage}_") for stage in DISPUTE_STAGES if status.startswith(f"{stage}_")),
                 status)
    outcome = "won" if state == "MERCHANT_WON" else "lost" if state in {"MERCHANT_LOST", "MERCHANT_ACCEPTED"} \
        else "open"
    reason = dispute.get("reason_description") or dispute.get("reason_code")
    return DisputeInfo(provider_dispute_id=str(dispute_id), status=state.lower()[:30], outcome=outcome,
                       reason=str(reason)[:100] if reason else None)


def instrument_customer_id(provider_customer_id: str) -> str:
    """The Cashfree `customer_id` whose saved cards (token vault instruments) are the customer's: Cashfree keeps
    instruments per the `customer_id` of the orders they were saved on (alphanumeric, at most 50). Payment links
    carry no `customer_id`, so this is derived from our provider customer (the e-mail): `invora` and the first 32
    hex digits of the SHA-256 of the lower-cased e-mail (no two customers share one; a tenant's own Cashfree
    checkout saves cards under it to have them listed here)."""
    return "invora" + hashlib.sha256(provider_customer_id.strip().lower().encode()).hexdigest()[:32]


def instrument_info(instrument: dict[str, Any]) -> PaymentMethodInfo:
    meta = instrument.get("instrument_meta") if isinstance(instrument.get("instrument_meta"), dict) else {}
    display = str(instrument.get("instrument_display") or "")
    digits = "".join(c for c in display if c.isdigit())
    created = instrument.get("created_at")
    try:
        created_at = datetime.fromisoformat(str(created)) if created else None
    except ValueError:
        created_at = None
    return PaymentMethodInfo(
        provider_method_id=str(instrument["instrument_id"]), type=str(instrument.get("instrument_type") or "card"),
        brand=(str(meta["card_network"]).lower() if meta.get("card_network") else None),
        last4=digits[-4:] if len(digits) >= 4 else None, expiration_month=None, expiration_year=None,
        is_default=False,  # never charged off-session (see the module's note): none is the default
        created_at=created_at)


def signature(client_secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(client_secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class CashfreeAdapter:
    provider_type = "cashfree"

    def __init__(self, *, client_id: str, client_secret: str, api_base: str | None, timeout_seconds: float) -> None:
        self._secret = client_secret
        self._http = JsonClient(base_url=api_base or DEFAULT_API_BASE, timeout_seconds=timeout_seconds,
                                headers={"x-client-id": client_id, "x-client-secret": client_secret,
                                         "x-api-version": API_VERSION}, provider="cashfree")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        if not email:
            raise ProviderError("Cashfree's payment links need the customer's email.", code="missing_email")
        return email  # no customer object for payment links: the e-mail names the customer

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        raise ProviderError("Cashfree keeps no payment method to set up: each invoice is paid on a payment link.",
                            code="not_supported")

    async def _create_link(self, *, link_id: str, idempotency_key: str, amount_cents: int, currency: str,
                           email: str, purpose: str, success_url: str | None,
                           notes: dict[str, str]) -> Any:
        body: dict[str, Any] = {
            "link_id": link_id, "link_amount": to_major(amount_cents, currency), "link_currency": currency.upper(),
            "link_purpose": purpose[:500], "link_partial_payments": False,
            "customer_details": {"customer_email": email, "customer_phone": PLACEHOLDER_PHONE},
            "link_notify": {"send_email": True, "send_sms": False},
            "link_notes": {k: str(v)[:500] for k, v in list(notes.items())[:5]}}
        if success_url:
            body["link_meta"] = {"return_url": success_url}
        return await self._http.request("POST", "/links", json=body, headers={"x-idempotency-key": idempotency_key})

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """A payment link for one payment; its `PAYMENT_LINK_EVENT` carries `metadata` back in `link_notes`.

        One live link per invoice (or top-up) at a time: its links form a series `inv_<hash of metadata>_<n>`, and
        the first link of the series Cashfree does not refuse is made. An existing link is given again while it is
        `ACTIVE` for the same amount; one `ACTIVE` for another amount (the invoice was paid in part meanwhile) is
        cancelled first; an `EXPIRED` or `CANCELLED` one is passed over (a new page after the first expired). A
        link already `PAID` whose webhook has not been recorded yet refuses a new page (it could be paid twice).
        Two requests at once walk the same series and meet on the same link (Cashfree refuses a second `link_id`).
        """
        series = "inv_" + hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()[:24]
        for generation in range(MAX_PAGES):
            link_id = f"{series}_{generation}"
            response = await self._create_link(
                link_id=link_id, idempotency_key=f"{link_id}_{amount_cents}", amount_cents=amount_cents,
                currency=currency, email=provider_customer_id, purpose=description, success_url=success_url,
                notes=metadata)
            if response.ok:
                return response.body["link_url"]
            existing = await self._link(link_id)
            if existing is None:
                raise refusal("cashfree", response)
            status = existing.get("link_status")
            if status == "ACTIVE" and to_minor(existing["link_amount"], currency) == amount_cents:
                return existing["link_url"]  # the same page asked again: the same link
            if status == "ACTIVE":  # another amount: this page must not stay payable beside the new one
                status = await self._cancel_link(link_id)
            if status in {"EXPIRED", "CANCELLED"}:
                continue
            raise ProviderError("A Cashfree payment link of this payment was paid; its payment is being recorded.",
                                code="page_already_paid")
        raise ProviderError(f"{MAX_PAGES} Cashfree payment links were made for this payment.", code="too_many_pages")

    async def _cancel_link(self, link_id: str) -> str:
        """`POST /links/{link_id}/cancel` (only an `ACTIVE` link); the link's status afterwards."""
        response = await self._http.request("POST", f"/links/{quote(link_id, safe='')}/cancel")
        if response.ok and isinstance(response.body, dict) and response.body.get("link_status"):
            return str(response.body["link_status"])
        found = await self._link(link_id)  # refused: paid (or expired) meanwhile
        return str((found or {}).get("link_status") or "UNKNOWN")

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        response = await self._create_link(
            link_id=request.reference, idempotency_key=request.idempotency_key, amount_cents=request.amount_cents,
            currency=request.currency, email=request.provider_customer_id,
            purpose=request.description or f"Payment {request.reference}", success_url=None,
            notes={"invora_reference": request.reference, **request.metadata})  # Cashfree keeps few notes: ours first
        if response.ok and isinstance(response.body, dict):
            return link_result(response.body, request.amount_cents)
        found = await self.find_charge(reference=request.reference)  # a link with our id exists: the first call's
        if found is not None:
            return found
        error = refusal("cashfree", response)
        return ChargeResult(status="failed", provider_payment_id=None, provider_status="refused",
                            amount_cents=request.amount_cents, decline_category="hard",
                            failure_code=error.code or "provider_refused", failure_message=error.message)

    async def _link(self, link_id: str) -> dict[str, Any] | None:
        return await self._http.find(f"/links/{quote(link_id, safe='')}")

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        link = await self._link(provider_payment_id or reference)
        return link_result(link) if link is not None else None

    async def _paid_order(self, link_id: str) -> str:
        orders = await self._http.ok("GET", f"/links/{quote(link_id, safe='')}/orders")
        paid = [o for o in orders or [] if o.get("order_status") == "PAID"]
        if not paid:
            raise ProviderError("The Cashfree payment link has no paid order to refund.", code="not_refundable")
        return paid[0]["order_id"]

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        order_id = await self._paid_order(provider_payment_id)
        response = await self._http.request(
            "POST", f"/orders/{quote(order_id, safe='')}/refunds",
            json={"refund_amount": to_major(amount_cents, currency or "INR"), "refund_id": reference,
                  "refund_note": reason[:100]},
            headers={"x-idempotency-key": idempotency_key})
        if response.ok:
            return refund_result(response.body)
        found = await self._find_refund(order_id, reference)  # refund_id is unique per order: the first one
        if found is not None:
            return found
        return RefundResult(status="failed", provider_refund_id=None,
                            failure_message=refusal("cashfree", response).message)

    async def _find_refund(self, order_id: str, reference: str) -> RefundResult | None:
        refund = await self._http.find(f"/orders/{quote(order_id, safe='')}/refunds/{quote(reference, safe='')}")
        return refund_result(refund) if refund is not None else None

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        return await self._find_refund(await self._paid_order(provider_payment_id), reference)

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        """The customer's saved cards in Cashfree's token vault (`GET /customers/{customer_id}/instruments`),
        newest first; none is charged off-session, so none is the default."""
        customer_id = instrument_customer_id(provider_customer_id)
        found = await self._http.find(f"/customers/{quote(customer_id, safe='')}/instruments",
                                      params={"instrument_type": "card"})  # None: no order saved a card yet
        instruments = [i for i in found or [] if isinstance(i, dict) and i.get("instrument_id")
                       and str(i.get("instrument_status") or "ACTIVE").upper() == "ACTIVE"]
        methods = [instrument_info(i) for i in instruments]
        return sorted(methods, key=lambda m: m.created_at.isoformat() if m.created_at else "", reverse=True)

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("Cashfree's saved cards are not charged off-session: there is no default to set.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        """`DELETE /customers/{customer_id}/instruments/{instrument_id}`: the saved card leaves Cashfree's vault."""
        customer_id = instrument_customer_id(provider_customer_id)
        response = await self._http.request(
            "DELETE", f"/customers/{quote(customer_id, safe='')}/instruments/{quote(provider_method_id, safe='')}")
        if not response.ok:
            raise refusal("cashfree", response)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        given, timestamp = headers.get("x-webhook-signature"), headers.get("x-webhook-timestamp")
        if not given or not timestamp:
            raise InvalidWebhook("missing x-webhook-signature or x-webhook-timestamp")
        if not hmac.compare_digest(signature(self._secret, timestamp, body).encode(), given.strip().encode()):
            raise InvalidWebhook("signature does not verify")
        try:
            event = json.loads(body, parse_float=Decimal)
            name, data = event["type"], event["data"]
            if not isinstance(data, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        event_id = f"cashfree:{hashlib.sha256(body).hexdigest()}"
        if name == "PAYMENT_LINK_EVENT":
            notes = data.get("link_notes") if isinstance(data.get("link_notes"), dict) else {}
            order = data.get("order") if isinstance(data.get("order"), dict) else {}
            return WebhookEvent(id=event_id, type=name, kind="charge", provider_payment_id=data.get("link_id"),
                                provider_order_id=str(order["order_id"]) if order.get("order_id") else None,
                                reference=notes.get("invora_reference"), charge=link_result(data),
                                metadata={k: str(v) for k, v in notes.items()})
        if name in DISPUTE_EVENTS and isinstance(data.get("dispute"), dict):
            order = data.get("order_details") if isinstance(data.get("order_details"), dict) else {}
            dispute = dispute_info(data["dispute"])
            if dispute is None or not order.get("order_id"):
                raise InvalidWebhook("a dispute without its id, status or order")
            return WebhookEvent(id=event_id, type=name, kind="dispute", provider_order_id=str(order["order_id"]),
                                dispute=dispute)
        if name == "REFUND_STATUS_WEBHOOK" and isinstance(data.get("refund"), dict):
            result = refund_result(data["refund"])
            return WebhookEvent(id=event_id, type=name, kind="refund", provider_refund_id=result.provider_refund_id,
                                refund_status=result.status)
        return WebhookEvent(id=event_id, type=name, kind="other")
