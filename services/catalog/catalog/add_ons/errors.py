"""The add-ons' named errors."""

from __future__ import annotations

from invora.errors import FieldError, NotFound


class AddOnNotFound(NotFound):
    resource = "add_on"


class AddOnAttachedToLivePlans(FieldError):
    field, reason = "add_on", "attached_to_live_plans"
