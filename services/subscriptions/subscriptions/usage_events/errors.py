"""The usage events' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class EventNotFound(NotFound):
    resource = "event"
