"""GoCardless (direct debit) through the official `gocardless-pro` SDK, whose `base_url` is a setting.

The SDK is synchronous (requests): every call runs in a worker thread, never holding the event loop.

- A provider customer is a GoCardless customer (`customers.create`, with our idempotency key).
- A payment method is a mandate on that customer (usable while pending or active); the newest
  usable one is charged. GoCardless keeps no default; removing a method cancels its mandate.
- An off-session charge is `payments.create` against the mandate, with our reference in
  `metadata.invora_reference` and our `Idempotency-Key`. A direct debit is not settled at once: the
  answer is `pending_submission` (our `processing`), and the `payments` webhook events move it on
  (`confirmed`, `paid_out`: succeeded; `failed` with its cause: failed; `cancelled`). GoCardless
  cannot find a payment by metadata; `find_charge` reads a payment whose id we know and otherwise
  answers "not found", and the charger repeats the create with the *same* key: GoCardless answers
  409 `idempotent_creation_conflict` naming the first payment, which the SDK then returns.
- Refunds are `refunds.create` (with `total_amount_confirmation`, what the payment's refunds will add
  up to, as GoCardless requires), found again by `metadata.invora_reference`.
- Webhooks carry `Webhook-Signature`, the hex HMAC-SHA256 of the body with the endpoint's secret,
  checked by the SDK's `webhooks.parse`; one webhook batches several events, each deduplicated by its id.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import gocardless_pro
import requests
from gocardless_pro import errors as gc_errors
from gocardless_pro import webhooks as gc_webhooks

from payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    DisputeInfo,
    InvalidWebhook,
    PaymentMethodInfo,
    ProviderError,
    ProviderUnreachable,
    RefundResult,
    WebhookEvent,
)
from payments.providers.declines import categorize

DEFAULT_API_BASE = "https://api.gocardless.com"
REFERENCE_KEY = "invora_reference"
USABLE_MANDATES = ("pending_customer_approval", "pending_submission", "submitted", "active")
# GoCardless's failure causes in Stripe's vocabulary (which `categorize` reads)
CAUSES = {
    "insufficient_funds": "insufficient_funds", "refer_to_payer": "call_issuer",
    "bank_account_closed": "account_closed", "bank_account_transferred": "new_account_information_available",
    "invalid_bank_details": "invalid_account", "mandate_cancelled": "revocation_of_authorization",
    "mandate_expired": "revocation_of_authorization", "mandate_suspended_by_payer": "revocation_of_authorization",
    "mandate_is_inactive": "revocation_of_authorization", "authorisation_disputed": "revocation_of_authorization",
    "direct_debit_not_enabled": "transaction_not_allowed", "customer_approval_denied": "do_not_try_again",
}
_STATUS = {"confirmed": "succeeded", "paid_out": "succeeded", "failed": "failed", "cancelled": "canceled",
           "customer_approval_denied": "failed"}
CHARGEBACK_OUTCOMES: dict[str, Literal["open", "won", "lost"]] = {
    "charged_back": "lost", "chargeback_settled": "lost", "chargeback_cancelled": "won"}
_REFUND_STATUS = {"paid": "succeeded", "refund_settled": "succeeded", "cancelled": "failed", "bounced": "failed",
                  "failed": "failed", "funds_returned": "failed"}

T = TypeVar("T")


def charge_result(payment: dict[str, Any], cause: str | None = None, description: str | None = None,
                  payment_id: str | None = None) -> ChargeResult:
    """Our view of a GoCardless payment (an API answer) or of a `payments` event (its action as the status)."""
    status = payment.get("status") or "pending_submission"
    mandate = (payment.get("links") or {}).get("mandate")
    common = {"provider_payment_id": payment.get("id") or payment_id, "provider_status": status,
              "amount_cents": int(payment.get("amount") or 0), "payment_method_id": mandate}
    target = _STATUS.get(status, "processing")
    if target == "failed":
        code = CAUSES.get(cause or status, "generic_decline")
        return ChargeResult(status="failed", decline_category=categorize(code), failure_code=code,
                            failure_message=description or cause or status, **common)
    return ChargeResult(status=target, **common)


def _refund_result(refund: dict[str, Any]) -> RefundResult:
    return RefundResult(status=_REFUND_STATUS.get(refund.get("status") or "", "pending"),  # type: ignore[arg-type]
                        provider_refund_id=refund.get("id"))


class GoCardlessAdapter:
    provider_type = "gocardless"

    def __init__(self, *, access_token: str, webhook_secret: str | None, api_base: str | None,
                 timeout_seconds: float) -> None:
        self._client = gocardless_pro.Client(access_token=access_token, base_url=api_base or DEFAULT_API_BASE,
                                             timeout=timeout_seconds)
        self._webhook_secret = webhook_secret

    def _service(self, name: str) -> Any:
        """The SDK's service for a resource, without its own retries: it would retry a timed-out create up to
        three times, sleeping between, which could outlast the charger's lease (the charger retries instead)."""
        service = getattr(self._client, name)
        service.max_network_retries = 1
        return service

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (requests.RequestException, gc_errors.MalformedResponseError) as exc:
            raise ProviderUnreachable(f"gocardless: {exc!r}") from exc
        except (gc_errors.GoCardlessInternalError, gc_errors.RateLimitError) as exc:
            raise ProviderUnreachable(f"gocardless: {exc}") from exc
        except gc_errors.ApiError as exc:
            reason = next((e.get("reason") for e in exc.errors or [] if e.get("reason")), None)
            raise ProviderError(str(exc), code=reason or exc.type) from exc

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str:
        given, _, family = (name or "").partition(" ")
        params: dict[str, Any] = {"metadata": {"invora_customer_id": reference}}
        if email:
            params["email"] = email
        if name:
            params.update(given_name=given, family_name=family or given)
        customer = await self._call(self._service("customers").create, params=params,
                                    headers={"Idempotency-Key": idempotency_key})
        return customer.id

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str:
        """A billing request for a mandate and its hosted flow, where the customer authorises the debit."""
        billing_request = await self._call(self._service("billing_requests").create, params={
            "mandate_request": {}, "links": {"customer": provider_customer_id}})
        flow = await self._call(self._service("billing_request_flows").create, params={
            "redirect_uri": success_url, "links": {"billing_request": billing_request.id}})
        return flow.authorisation_url

    async def _mandates(self, provider_customer_id: str) -> list[dict[str, Any]]:
        page = await self._call(self._service("mandates").list, params={"customer": provider_customer_id, "limit": 100})
        usable = [m.attributes for m in page.records if m.status in USABLE_MANDATES]
        return sorted(usable, key=lambda m: m.get("created_at") or "", reverse=True)

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """A billing request for one payment (`payment_request`, Instant Bank Pay) and its hosted flow; the payment it
        makes carries what is paid and its amount (GoCardless keeps three metadata keys; its events name no amount),
        which its events bring back in `resource_metadata`."""
        billing_request = await self._call(self._service("billing_requests").create, params={
            "payment_request": {"amount": amount_cents, "currency": currency.upper(), "description": description[:255],
                                "metadata": _page_metadata(metadata, amount_cents)},
            "links": {"customer": provider_customer_id}})
        flow = await self._call(self._service("billing_request_flows").create, params={
            "redirect_uri": success_url, "links": {"billing_request": billing_request.id}})
        return flow.authorisation_url

    async def charge(self, request: ChargeRequest) -> ChargeResult:
        mandate = request.payment_method_id
        if mandate is None:
            mandates = await self._mandates(request.provider_customer_id)
            mandate = mandates[0]["id"] if mandates else None
        if mandate is None:
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="no_payment_method",
                                amount_cents=request.amount_cents, decline_category="hard",
                                failure_code="no_payment_method",
                                failure_message="The customer has no usable mandate at GoCardless.")
        params = {"amount": request.amount_cents, "currency": request.currency.upper(),
                  "links": {"mandate": mandate}, "description": request.description,
                  "metadata": {REFERENCE_KEY: request.reference,
                               **{k: v for k, v in request.metadata.items()}}}
        try:
            payment = await self._call(self._service("payments").create, params=params,
                                       headers={"Idempotency-Key": request.idempotency_key})
        except ProviderError as exc:
            if exc.retryable:
                raise
            code = CAUSES.get(exc.code or "", "generic_decline")
            return ChargeResult(status="failed", provider_payment_id=None, provider_status="refused",
                                amount_cents=request.amount_cents, payment_method_id=mandate,
                                decline_category=categorize(code), failure_code=code, failure_message=exc.message)
        return charge_result(payment.attributes)

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None:
        if not provider_payment_id:
            return None  # no look-up by metadata: the charger repeats the create with the same idempotency key
        payment = await self._call(self._service("payments").get, provider_payment_id)
        return charge_result(payment.attributes)

    async def _refunds(self, provider_payment_id: str) -> list[dict[str, Any]]:
        page = await self._call(self._service("refunds").list, params={"payment": provider_payment_id, "limit": 100})
        return [r.attributes for r in page.records]

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult:
        already = sum(int(r.get("amount") or 0) for r in await self._refunds(provider_payment_id)
                      if _REFUND_STATUS.get(r.get("status") or "") != "failed")
        try:
            refund = await self._call(self._service("refunds").create, params={
                "amount": amount_cents, "total_amount_confirmation": already + amount_cents,
                "links": {"payment": provider_payment_id},
                "metadata": {REFERENCE_KEY: reference, "reason": reason[:400]}},
                headers={"Idempotency-Key": idempotency_key})
        except ProviderError as exc:
            if exc.retryable:
                raise
            return RefundResult(status="failed", provider_refund_id=None, failure_message=exc.message)
        return _refund_result(refund.attributes)

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        if provider_refund_id:  # `GET /refunds/{id}`
            return _refund_result((await self._call(self._service("refunds").get, provider_refund_id)).attributes)
        found = [r for r in await self._refunds(provider_payment_id)
                 if (r.get("metadata") or {}).get(REFERENCE_KEY) == reference]
        return _refund_result(found[0]) if found else None

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]:
        mandates = await self._mandates(provider_customer_id)
        methods = []
        for index, mandate in enumerate(mandates):
            account_id = (mandate.get("links") or {}).get("customer_bank_account")
            account = (await self._call(self._service("customer_bank_accounts").get, account_id)).attributes \
                if account_id else {}
            methods.append(PaymentMethodInfo(
                provider_method_id=mandate["id"], type="direct_debit", brand=mandate.get("scheme"),
                last4=account.get("account_number_ending"), expiration_month=None, expiration_year=None,
                is_default=index == 0))
        return methods

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        raise ProviderError("GoCardless keeps no default mandate: the newest usable one is charged.",
                            code="not_supported")

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None:
        await self._call(self._service("mandates").cancel, provider_method_id)

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        return self.parse_webhooks(body, headers)[0]

    def parse_webhooks(self, body: bytes, headers: dict[str, str]) -> list[WebhookEvent]:
        signature = headers.get("webhook-signature")
        if not self._webhook_secret or not signature:
            raise InvalidWebhook("missing Webhook-Signature or webhook secret")
        try:
            events = gc_webhooks.parse(body, self._webhook_secret, signature)
        except gc_errors.InvalidSignatureError as exc:
            raise InvalidWebhook("Webhook-Signature does not verify") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidWebhook("unreadable body") from exc
        if not events:
            raise InvalidWebhook("no event")
        return [_event(e.attributes) for e in events]


def _event(event: dict[str, Any]) -> WebhookEvent:
    resource, action = event.get("resource_type"), event.get("action")
    links, details = event.get("links") or {}, event.get("details") or {}
    name = f"{resource}.{action}"
    if resource == "payments" and action in CHARGEBACK_OUTCOMES:
        # a direct debit charge-back is the payer's bank taking the money back: lost unless cancelled
        dispute = DisputeInfo(provider_dispute_id=f"chargeback-{links.get('payment')}", status=action[:30],
                              outcome=CHARGEBACK_OUTCOMES[action], reason=details.get("cause"))
        return WebhookEvent(id=event["id"], type=name, kind="dispute", provider_payment_id=links.get("payment"),
                            dispute=dispute)
    if resource == "payments" and action in {*_STATUS, "submitted", "created"}:
        result = charge_result({"status": action}, cause=details.get("cause"), description=details.get("description"),
                               payment_id=links.get("payment"))
        metadata = event.get("resource_metadata") if isinstance(event.get("resource_metadata"), dict) else {}
        if str(metadata.get(AMOUNT_KEY) or "").isdigit():  # a hosted page's payment: its amount, as we set it
            result = dataclasses.replace(result, amount_cents=int(metadata[AMOUNT_KEY]))
        return WebhookEvent(id=event["id"], type=name, kind="charge", provider_payment_id=links.get("payment"),
                            charge=result, metadata={k: str(v) for k, v in metadata.items()})
    if resource == "refunds" and action in _REFUND_STATUS:
        return WebhookEvent(id=event["id"], type=name, kind="refund", provider_refund_id=links.get("refund"),
                            provider_payment_id=links.get("payment"), refund_status=_REFUND_STATUS[action])
    return WebhookEvent(id=event["id"], type=name, kind="other")


AMOUNT_KEY = "invora_amount_cents"
_PAGE_KEYS = ("invora_invoice_id", "invora_topup_charge_id")


def _page_metadata(metadata: dict[str, str], amount_cents: int) -> dict[str, str]:
    """What a hosted payment pays, its amount, then the rest, within GoCardless's three metadata keys."""
    first = {k: metadata[k] for k in _PAGE_KEYS if metadata.get(k)}
    rest = {k: v for k, v in metadata.items() if k not in first}
    return dict(list({**first, AMOUNT_KEY: str(amount_cents), **rest}.items())[:3])
