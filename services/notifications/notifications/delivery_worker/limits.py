"""Per-endpoint isolation inside one worker: an in-flight cap and the endpoint's optional rate limit.

An endpoint at its cap (say, one that hangs until the timeout) or out of rate tokens is
left out of the next claims, so its backlog never takes the slots other endpoints need.
Both limits are per worker process; with N replicas an endpoint sees at most N times them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    rate: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now


class EndpointLimiter:
    def __init__(self, per_endpoint_concurrency: int) -> None:
        self.cap = per_endpoint_concurrency
        self.in_flight: dict[uuid.UUID, int] = {}
        self._buckets: dict[uuid.UUID, _Bucket] = {}

    def _bucket(self, endpoint_id: uuid.UUID, rate: int | None) -> _Bucket | None:
        if rate is None:
            self._buckets.pop(endpoint_id, None)
            return None
        bucket = self._buckets.get(endpoint_id)
        if bucket is None:
            bucket = self._buckets[endpoint_id] = _Bucket(rate=float(rate), tokens=float(rate))
        elif bucket.rate != rate:
            bucket.rate = float(rate)
        bucket.refill(time.monotonic())
        return bucket

    def allowance(self, endpoint_id: uuid.UUID, rate: int | None) -> int:
        free = self.cap - self.in_flight.get(endpoint_id, 0)
        bucket = self._bucket(endpoint_id, rate)
        if bucket is not None:
            free = min(free, int(bucket.tokens))
        return max(free, 0)

    def blocked(self) -> list[uuid.UUID]:
        """Endpoints to leave out of the next claim."""
        now = time.monotonic()
        out = [endpoint_id for endpoint_id, count in self.in_flight.items() if count >= self.cap]
        for endpoint_id, bucket in self._buckets.items():
            bucket.refill(now)
            if bucket.tokens < 1 and endpoint_id not in out:
                out.append(endpoint_id)
        return out

    def acquire(self, endpoint_id: uuid.UUID) -> None:
        self.in_flight[endpoint_id] = self.in_flight.get(endpoint_id, 0) + 1
        bucket = self._buckets.get(endpoint_id)
        if bucket is not None:
            bucket.tokens -= 1

    def release(self, endpoint_id: uuid.UUID) -> None:
        count = self.in_flight.get(endpoint_id, 0) - 1
        if count > 0:
            self.in_flight[endpoint_id] = count
        else:
            self.in_flight.pop(endpoint_id, None)

    def next_token_in(self) -> float | None:
        """Seconds until a rate-limited endpoint has a token again (None: none is waiting)."""
        waits = [(1 - b.tokens) / b.rate for b in self._buckets.values() if b.tokens < 1 and b.rate > 0]
        return min(waits) if waits else None
