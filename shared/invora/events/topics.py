"""Every topic of the suite, one per aggregate type, created explicitly at start-up.

A topic is listed here, not discovered, because the broker must not auto-create topics
(the embedded broker would give them 4 partitions; production clusters disable it).
Adding an aggregate type is one line here.
"""

from __future__ import annotations

from invora.events.envelope import topic_for

AGGREGATE_TYPES: tuple[str, ...] = (
    # catalog
    "billable_metric", "plan", "add_on", "feature", "coupon", "tax", "organization", "billing_entity",
    # subscriptions
    "customer", "subscription", "alert",
    # invoicing
    "invoice", "credit_note", "fee",
    # payments
    "payment", "payment_receipt", "refund", "payment_request", "dunning", "wallet_topup_payment",
    # wallets
    "wallet", "wallet_transaction", "credits",
    # notifications
    "webhook_endpoint", "webhook",
    # every service (shared middleware): mutating API requests, for notifications' `/api_logs`
    "api_log",
)

ALL_TOPICS: tuple[str, ...] = tuple(topic_for(a) for a in AGGREGATE_TYPES)
