"""The customers wallets knows: kept from the subscriptions service's `customer.*` events.

The projection's rules are the shared ones (`invora.customer_projection`); wallets keeps the base
columns only.
"""

from __future__ import annotations

from invora.customer_projection.service import apply_event, ensure_external_customer_access, find, get

__all__ = ["apply_event", "ensure_external_customer_access", "find", "get"]
