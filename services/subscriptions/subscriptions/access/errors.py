"""The billing state's named errors."""

from __future__ import annotations

from invora.errors import FieldError


class NoChangesRequested(FieldError):
    field, reason = "base", "no_changes_requested"


class GraceExtensionOutOfRange(FieldError):
    field, reason = "grace_extension_days", "value_is_out_of_range"
