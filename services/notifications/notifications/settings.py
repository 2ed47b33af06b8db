"""Notifications settings: env vars prefixed `INVORA_NOTIFICATIONS_`, falling back to `INVORA_`.

`invora dev` sets `INVORA_DEV_MODE=true`, which lets local receivers (loopback addresses over
plain `http`) be registered and called; nothing else private is opened by it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from invora.settings import ServiceSettings

# immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
DEFAULT_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class NotificationsSettings(ServiceSettings):
    service_name: ClassVar[str] = "notifications"
    default_port: ClassVar[int] = 8106

    # -- targets and SSRF ------------------------------------------------------------------
    dev_mode: bool = Field(
        False, description="Development mode (`invora dev` sets INVORA_DEV_MODE): loopback targets over http allowed."
    )
    allow_http: bool = Field(False, description="Accept plain-http webhook URLs (otherwise https is required).")
    ssrf_allow_cidrs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDRs exempt from the SSRF block (comma-separated or JSON list), e.g. `10.20.0.0/16`.",
    )
    max_endpoints_per_organization: int = Field(10, ge=1, le=1000, description="Webhook endpoints per organization.")

    # -- delivery --------------------------------------------------------------------------
    retry_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        description="Delay before each attempt (the first is normally 0); its length is the number of attempts.",
    )
    retry_jitter: float = Field(0.2, ge=0, lt=1, description="Relative jitter applied to every non-zero delay (±).")
    retry_after_max_seconds: float = Field(
        86_400.0, gt=0, description="Upper clamp of a receiver's Retry-After (lower clamp: 1 s)."
    )
    delivery_timeout_seconds: float = Field(15.0, gt=0, le=120, description="Total time for one attempt.")
    response_body_limit_bytes: int = Field(20 * 1024, ge=0, description="Response bytes kept per attempt.")
    disable_after_failing_days: float = Field(
        5.0, gt=0, description="An endpoint whose deliveries have failed for this long is disabled."
    )
    secret_rotation_overlap_hours: float = Field(
        24.0, ge=0, description="How long a rotated-out secret keeps signing alongside the new one."
    )
    excluded_event_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Event types never fanned out to webhook endpoints, beyond the suite's internal events "
                    "(`invora.events.contracts.internal.INTERNAL_EVENT_TYPES`, always excluded).",
    )
    message_retention_days: float = Field(30.0, gt=0, description="Finished webhook messages are kept this long.")

    # -- activity and API logs ---------------------------------------------------------------
    activity_log_retention_days: float = Field(90.0, gt=0, description="Activity logs are kept this long.")
    api_log_retention_days: float = Field(30.0, gt=0, description="API logs are kept this long.")
    log_retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the activity/API log retention pass runs."
    )

    # -- worker ----------------------------------------------------------------------------
    worker_enabled: bool = Field(True, description="Run the delivery worker inside this process.")
    worker_concurrency: int = Field(256, ge=1, le=10_000, description="Requests in flight per worker process.")
    per_endpoint_concurrency: int = Field(
        32, ge=1, le=1000, description="Requests in flight to one endpoint per worker process."
    )
    worker_batch_size: int = Field(500, ge=1, le=10_000, description="Due deliveries claimed per database round trip.")
    worker_poll_interval_seconds: float = Field(
        1.0, gt=0, description="Poll for due retries when no NOTIFY arrives."
    )
    worker_lease_seconds: float = Field(
        60.0, gt=0, description="A claimed delivery is re-claimable after this long (crash recovery); > timeout."
    )
    consumer_name: str = Field(
        "webhook-fanout", min_length=1, max_length=100, description="Fan-out consumer name (Kafka group suffix)."
    )
    consumer_fetch_max_wait_ms: int = Field(  # the shared setting, with a shorter default: webhooks are latency-bound
        25, ge=1, le=5_000,
        description="Longest a fetch waits at the broker. Kafka answers as soon as data arrives; brokers that "
        "do not (the embedded Tansu) add up to this much latency.",
    )

    # -- Lago signatures -------------------------------------------------------------------
    webhook_jwt_private_key: str | None = Field(
        None,
        description="RSA private key (PEM text or path to a PEM file) for `jwt` signatures. Unset: a key is "
        "generated once and kept in this service's database, shared by every replica.",
    )
    webhook_jwt_issuer: str = Field(
        "http://127.0.0.1:8106", description="`iss` claim of `jwt` signatures: the public base URL of the API."
    )

    @field_validator("ssrf_allow_cidrs", "excluded_event_types", "retry_schedule_seconds", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("ssrf_allow_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _schedule(cls, value: list[float]) -> list[float]:
        if not value or any(delay < 0 for delay in value):
            raise ValueError("retry_schedule_must_be_non_empty_and_non_negative")
        return [float(delay) for delay in value]

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> NotificationsSettings:
        if self.worker_lease_seconds <= self.delivery_timeout_seconds:
            raise ValueError("worker_lease_seconds must exceed delivery_timeout_seconds")
        return self
