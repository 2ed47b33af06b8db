"""What the worker carries between claiming, sending and recording one attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

# error classes of a failed attempt
DNS = "dns"
CONNECT = "connect"
TLS = "tls"
TIMEOUT = "timeout"
HTTP = "http"
SSRF_BLOCKED = "ssrf_blocked"
ERROR_CLASSES = (DNS, CONNECT, TLS, TIMEOUT, HTTP, SSRF_BLOCKED)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery_id: uuid.UUID
    organization_id: uuid.UUID
    endpoint_id: uuid.UUID
    attempt_number: int  # this attempt, from 1
    claim_token: uuid.UUID
    event_id: uuid.UUID  # the Standard Webhooks `webhook-id`
    payload: str
    correlation_id: str | None
    url: str
    signature_algo: str
    secrets: tuple[str, ...]  # current first, then a rotated-out one still overlapping
    rate_limit_per_second: int | None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    job: ClaimedDelivery
    attempted_at: datetime  # by the service clock (schedules are computed from it)
    finished_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error_class: str | None  # None: success
    error_message: str | None
    retry_after_seconds: float | None

    @property
    def succeeded(self) -> bool:
        return self.error_class is None

    @property
    def gone(self) -> bool:
        return self.status_code == 410
