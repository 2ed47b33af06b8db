"""Publishing payments events through the outbox, checked against the payments contracts (`invora.outbox.publisher`)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from invora.events.contracts.payments import EVENT_PAYLOADS
from invora.outbox import publisher
from invora.outbox.writer import PendingEvent

publish = publisher(EVENT_PAYLOADS)


def pending(organization_id: uuid.UUID, event_type: str, aggregate_id: uuid.UUID, data: BaseModel) -> PendingEvent:
    """An event to write later with others (`invora.outbox.writer.add_events`), checked against its contract now,
    as `publish` checks it."""
    contract = EVENT_PAYLOADS[event_type]
    if not isinstance(data, contract):
        raise TypeError(f"{event_type} carries {contract.__name__}, not {type(data).__name__}")
    return PendingEvent(type=event_type, organization_id=organization_id, aggregate_type=event_type.split(".", 1)[0],
                        aggregate_id=aggregate_id, data=data)
