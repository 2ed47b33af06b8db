"""The provider adapter interface: what the payments service asks of every payment provider.

An adapter is stateless apart from its credentials; it never touches our database, and the caller
never holds a database transaction open while it runs (docs/payments.md, "never twice"). Every
charge carries our `reference` (the payment's id) and an idempotency key, so a retried or
reconciled attempt finds the first one instead of charging again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

# the provider types: the one place that names them (settings, routes and the adapter registry use these)
ProviderType = Literal["stripe", "paystack", "flutterwave", "adyen", "gocardless", "cashfree", "tap", "moneyhash"]
PROVIDER_TYPES: tuple[str, ...] = get_args(ProviderType)

ChargeStatus = Literal["succeeded", "processing", "failed", "requires_action", "canceled"]
DeclineCategory = Literal["soft", "hard"]


@dataclass(frozen=True)
class ChargeRequest:
    reference: str  # our payment's lago_id: found again by `find_charge`
    idempotency_key: str
    amount_cents: int
    currency: str
    provider_customer_id: str
    payment_method_id: str | None = None  # None: the customer's default at the provider
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    provider_payment_id: str | None
    provider_status: str
    amount_cents: int
    payment_method_id: str | None = None
    decline_category: DeclineCategory | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    status: Literal["pending", "succeeded", "failed"]
    provider_refund_id: str | None
    failure_message: str | None = None


@dataclass(frozen=True)
class PaymentMethodInfo:
    provider_method_id: str
    type: str
    brand: str | None
    last4: str | None
    expiration_month: int | None
    expiration_year: int | None
    is_default: bool
    created_at: datetime | None = None


@dataclass(frozen=True)
class DisputeInfo:
    provider_dispute_id: str
    status: str  # the provider's word: needs_response, under_review, won, lost, warning_closed...
    outcome: Literal["open", "won", "lost"]
    reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A provider webhook, verified and parsed."""

    id: str  # the provider's event id: the inbox key
    type: str  # the provider's event type
    kind: Literal["charge", "refund", "dispute", "other"]
    provider_payment_id: str | None = None
    provider_order_id: str | None = None  # Cashfree: the order that paid a link, which its disputes name
    reference: str | None = None
    charge: ChargeResult | None = None
    provider_refund_id: str | None = None
    refund_status: Literal["pending", "succeeded", "failed"] | None = None
    dispute: DisputeInfo | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # what we set on the charge (hosted payments)


class ProviderError(Exception):
    """The provider refused the request or could not be reached. `retryable`: the same call may work later."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class ProviderUnreachable(ProviderError):
    """No answer (timeout, connection refused): the call may or may not have taken effect; look it up."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="provider_unreachable", retryable=True)


class InvalidWebhook(Exception):
    """A webhook whose signature does not verify or whose body cannot be read."""


class PaymentProviderAdapter(Protocol):
    provider_type: str

    async def create_customer(self, *, reference: str, email: str | None, name: str | None,
                              idempotency_key: str) -> str: ...

    async def setup_url(self, *, provider_customer_id: str, success_url: str | None) -> str: ...

    async def payment_url(self, *, provider_customer_id: str, amount_cents: int, currency: str, description: str,
                          success_url: str | None, metadata: dict[str, str]) -> str:
        """A page hosted by the provider where the customer pays `amount_cents` once; the charge it makes carries
        `metadata`, so its webhook names what was paid."""
        ...

    async def charge(self, request: ChargeRequest) -> ChargeResult: ...

    async def find_charge(self, *, reference: str, provider_payment_id: str | None = None) -> ChargeResult | None: ...

    async def refund(self, *, provider_payment_id: str, amount_cents: int, idempotency_key: str,
                     reason: str, reference: str, currency: str | None = None) -> RefundResult: ...

    async def find_refund(self, *, provider_payment_id: str, reference: str,
                          provider_refund_id: str | None = None) -> RefundResult | None:
        """The refund as the provider has it now: by its id when the provider answered one, else by our reference;
        None when the provider has no look-up (Adyen) or does not know it."""
        ...

    async def list_payment_methods(self, provider_customer_id: str) -> list[PaymentMethodInfo]: ...

    async def set_default_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None: ...

    async def detach_payment_method(self, provider_customer_id: str, provider_method_id: str) -> None: ...

    def parse_webhook(self, body: bytes, headers: dict[str, str]) -> WebhookEvent: ...


def parse_webhooks(adapter: PaymentProviderAdapter, body: bytes, headers: dict[str, str]) -> list[WebhookEvent]:
    """Every event of a webhook: providers that batch events (GoCardless, Adyen) implement `parse_webhooks`;
    the others send one event per webhook."""
    parse_many = getattr(adapter, "parse_webhooks", None)
    return list(parse_many(body, headers)) if parse_many is not None else [adapter.parse_webhook(body, headers)]
