"""Publishing payments events through the outbox, checked against the payments contracts (`invora.outbox.publisher`)."""

from __future__ import annotations

from invora.events.contracts.payments import EVENT_PAYLOADS
from invora.outbox import publisher

publish = publisher(EVENT_PAYLOADS)
