"""What a hosted page pays, carried in the provider's own reference where its webhook does not bring our metadata
back signed (Flutterwave's `tx_ref`, Adyen's `merchantReference`, which its HMAC covers while `additionalData` is
not signed): `invora-inv-<invoice id>-<nonce>` or `invora-top-<top-up charge id>-<nonce>` (a nonce: every page
is its own transaction at the provider)."""

from __future__ import annotations

import uuid

from payments.providers.base import ProviderError

_KINDS = {"inv": "invora_invoice_id", "top": "invora_topup_charge_id"}


def page_reference(metadata: dict[str, str]) -> str:
    for kind, key in _KINDS.items():
        value = metadata.get(key)
        if value:
            return f"invora-{kind}-{uuid.UUID(value)}-{uuid.uuid4().hex[:8]}"
    raise ProviderError("a hosted page pays an invoice or a top-up", code="not_supported")


def page_metadata(reference: str | None) -> dict[str, str]:
    """The metadata a page's reference stands for (empty for any other reference)."""
    parts = (reference or "").split("-", 2)
    if len(parts) != 3 or parts[0] != "invora" or parts[1] not in _KINDS:
        return {}
    try:
        value = str(uuid.UUID(parts[2][:36]))
    except ValueError:
        return {}
    return {_KINDS[parts[1]]: value}
