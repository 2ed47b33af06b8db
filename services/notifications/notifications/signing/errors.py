"""The signing key's named errors."""

from __future__ import annotations

from invora.errors import ServiceUnavailable


class SigningKeyNotLoaded(ServiceUnavailable):
    def __init__(self) -> None:
        super().__init__("the webhook signing key is not loaded yet")
