"""Publishing wallets events through the outbox, checked against the wallets contracts (`invora.outbox.publisher`)."""

from __future__ import annotations

from invora.events.contracts.wallets import EVENT_PAYLOADS
from invora.outbox import publisher

publish = publisher(EVENT_PAYLOADS)
