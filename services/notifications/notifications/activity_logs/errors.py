"""The activity logs' named errors."""

from __future__ import annotations

from invora.errors import NotFound


class ActivityLogNotFound(NotFound):
    resource = "activity_log"
