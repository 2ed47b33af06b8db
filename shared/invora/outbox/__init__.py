from invora.outbox.writer import add_event

__all__ = ["add_event"]
