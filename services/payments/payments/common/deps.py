"""Dependencies the payments routes declare: the service clock's now, the runtime."""

from __future__ import annotations

from invora.runtime import Now
from payments.runtime import Runtime

__all__ = ["Now", "Runtime"]
