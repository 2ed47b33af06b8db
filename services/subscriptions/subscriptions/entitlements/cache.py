"""The entitlement check's inputs per customer, kept in memory and invalidated by PostgreSQL.

The check is the platform's hottest read, so each replica keeps what it needs per customer (billing
state, the active subscriptions' effective entitlements, admin overrides, grace periods) and
forgets a customer when that customer's rows change:

- on every replica, within milliseconds of the commit: triggers (migration 0004) NOTIFY the
  customer's id on `invora_entitlements` (`*` when a plan's entitlements change);
- on the replica that made the change, at the commit itself (ORM `after_commit`), so a client
  that writes and then checks on the same replica always reads its own write.

A load that overlaps an invalidation of its customer is not stored (it may have read the old
rows), and nothing is served from memory while the LISTEN connection is down, so a lost
notification can never leave a stale answer behind. Entries also expire after `ttl_seconds`.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from invora.observability.metrics import domain_counter

CHANNEL = "invora_entitlements"
LOOKUPS = domain_counter("entitlement_cache_lookups_total", "Entitlement checks answered from memory (hit) or "
                         "the database (miss)", ("result",))
_HIT, _MISS = LOOKUPS.labels("subscriptions", "hit"), LOOKUPS.labels("subscriptions", "miss")
EVERYONE = "*"

Key = tuple[uuid.UUID, str]  # (organization, customer external id)


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    customer_id: uuid.UUID
    billing_state: str
    subscription_entitlements: list[list[dict[str, Any]]]
    quotas: dict[str, Any]
    features: dict[str, Any]
    grace: list[tuple[str, int, datetime, datetime]]  # (metric, extra allowance, starts_at, expires_at)
    as_of: datetime  # the clock time it was read at: grace periods that had expired by then are left out
    loaded_at: float = field(default_factory=time.monotonic)


class EntitlementCache:
    def __init__(self, *, max_entries: int = 100_000, ttl_seconds: float = 300.0, history: int = 10_000) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self.live = False  # true only while the LISTEN connection that feeds `on_notify` is up
        self._entries: dict[Key, CustomerSnapshot] = {}
        self._keys_by_customer: dict[uuid.UUID, Key] = {}
        self._epoch = 0
        self._changes: deque[tuple[int, uuid.UUID | None]] = deque(maxlen=history)
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def token(self) -> int:
        """Taken before a load; `store` refuses the load if its customer changed since."""
        return self._epoch

    def get(self, key: Key, now: datetime) -> CustomerSnapshot | None:
        snapshot = self._entries.get(key) if self.live else None
        if snapshot is None or now < snapshot.as_of or time.monotonic() - snapshot.loaded_at > self.ttl_seconds:
            self.misses += 1
            _MISS.inc()
            return None
        self.hits += 1
        _HIT.inc()
        return snapshot

    def store(self, key: Key, snapshot: CustomerSnapshot, token: int) -> bool:
        if not self.live or self._changed_since(token, snapshot.customer_id):
            return False
        if key not in self._entries and len(self._entries) >= self.max_entries:
            oldest = next(iter(self._entries))
            self._forget(oldest)
        self._entries[key] = snapshot
        self._keys_by_customer[snapshot.customer_id] = key
        return True

    def invalidate(self, customer_id: uuid.UUID | None) -> None:
        """Forget one customer, or everyone (None)."""
        self._epoch += 1
        self._changes.append((self._epoch, customer_id))
        if customer_id is None:
            self._entries.clear()
            self._keys_by_customer.clear()
            return
        key = self._keys_by_customer.get(customer_id)
        if key is not None:
            self._forget(key)

    def set_live(self, live: bool) -> None:
        """The LISTEN connection came up or went down: either way, notifications may have been missed."""
        self.live = live
        self.invalidate(None)

    def on_notify(self, payload: str) -> None:
        if payload == EVERYONE:
            self.invalidate(None)
            return
        try:
            self.invalidate(uuid.UUID(payload))
        except ValueError:
            self.invalidate(None)

    def _changed_since(self, token: int, customer_id: uuid.UUID) -> bool:
        missed = self._epoch - token
        if missed == 0:
            return False
        if missed > len(self._changes):
            return True  # the history no longer reaches back that far
        for epoch, changed in reversed(self._changes):
            if epoch <= token:
                break
            if changed is None or changed == customer_id:
                return True
        return False

    def _forget(self, key: Key) -> None:
        snapshot = self._entries.pop(key, None)
        if snapshot is not None and self._keys_by_customer.get(snapshot.customer_id) == key:
            del self._keys_by_customer[snapshot.customer_id]
