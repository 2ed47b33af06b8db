from invora.outbox.publish import Publish, publish, publisher
from invora.outbox.writer import PendingEvent, add_event, add_events

__all__ = ["PendingEvent", "Publish", "add_event", "add_events", "publish", "publisher"]
