"""Internal events: service-to-service plumbing that tenants never receive as webhooks.

The notifications fan-out consumes every topic of the suite; it drops these types before matching
endpoints (whatever an endpoint's filter says, `*` included). One list for the suite: a service adding
a saga step or a request/answer pair between services adds its types here. Lago sends no webhook for
any of them; each carries data meant for the receiving service (a full usage snapshot, a saga's
request), not a tenant-facing object.
"""

from __future__ import annotations

from invora.events.contracts.api_logs import API_LOG_RECORDED
from invora.events.contracts.invoicing import (
    CREDIT_NOTE_REFUND_REQUESTED,
    PREPAID_CREDITS_RELEASE_REQUESTED,
    PREPAID_CREDITS_REQUESTED,
)

INTERNAL_EVENT_TYPES: frozenset[str] = frozenset({
    # invoicing ⇄ wallets: the prepaid-credits saga
    PREPAID_CREDITS_REQUESTED,
    PREPAID_CREDITS_RELEASE_REQUESTED,
    "credits.applied",
    # invoicing → payments: a credit note's refund part (answered by payments' public `refund.*` events)
    CREDIT_NOTE_REFUND_REQUESTED,
    "credits.released",
    # subscriptions → invoicing: closed periods and late usage, with their usage snapshots
    "subscription.billing_period_ended",
    "subscription.billing_period_usage_revised",
    # subscriptions → invoicing: an event reached a charge paid in advance (units to price)
    "subscription.pay_in_advance_usage",
    # catalog → subscriptions: move subscriptions to a plan's new version
    "plan.cascade_requested",
    # wallets ⇄ payments: charging a pending top-up, and the charge's outcome
    "wallet_transaction.payment_requested",
    "wallet_topup_payment.succeeded",
    "wallet_topup_payment.failed",
    # wallets → invoicing: paid credits granted at once, to be invoiced (a `credit` invoice payments charges)
    "wallet.paid_credits_invoice_requested",
    # wallets → invoicing: who holds unit-credit grants (invoicing asks for units before pricing)
    "wallet.unit_credit_created",
    "wallet.unit_credit_voided",
    "wallet.unit_credit_expired",
    # catalog → invoicing, notifications: the organization's settings and its billing entities
    "organization.updated",
    "billing_entity.created",
    "billing_entity.updated",
    # every service → notifications: one mutating API request, for `/api_logs`
    API_LOG_RECORDED,
})


def is_internal(event_type: str) -> bool:
    return event_type in INTERNAL_EVENT_TYPES
