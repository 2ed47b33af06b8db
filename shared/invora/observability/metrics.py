"""Prometheus metrics shared by every service (labelled by `service`), plus a domain-counter helper."""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route and status", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PUBLISHED = Counter("outbox_events_published_total", "Outbox events published to Kafka", ["service"])
OUTBOX_PENDING = Gauge("outbox_pending_events", "Committed outbox events not yet published", ["service"])
OUTBOX_OLDEST_PENDING_SECONDS = Gauge(
    "outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox event (outbox lag)", ["service"]
)
OUTBOX_PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "From outbox insert to broker acknowledgement",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "consumer_lag_messages",
    "Messages behind the partition's high watermark",
    ["service", "consumer", "topic", "partition"],
)
CONSUMER_PROCESSED = Counter(
    "consumer_events_total", "Consumed events by outcome", ["service", "consumer", "outcome"]
)

PARKED_ITEMS = Gauge(
    "parked_items", "Items a background loop set aside after they failed (retried with back-off)", ["service", "loop"]
)
ITEMS_PARKED = Counter(
    "items_parked_total", "Failures that parked an item (or kept it parked)", ["service", "loop"]
)

_domain_counters: dict[str, Counter] = {}


def domain_counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
    """A counter for business facts (`invoices_finalized_total`, ...), safe to ask for twice."""
    if name not in _domain_counters:
        existing = REGISTRY._names_to_collectors.get(name)  # noqa: SLF001 - re-use across app instances
        _domain_counters[name] = existing if isinstance(existing, Counter) else Counter(
            name, documentation, ["service", *labels]
        )
    return _domain_counters[name]
