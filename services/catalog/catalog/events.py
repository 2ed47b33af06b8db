"""Publishing catalog events through the outbox, in the transaction of the change (`invora.outbox.publisher`)."""

from __future__ import annotations

from invora.outbox import publisher

publish = publisher()
