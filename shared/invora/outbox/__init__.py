from invora.outbox.writer import PendingEvent, add_event, add_events

__all__ = ["PendingEvent", "add_event", "add_events"]
