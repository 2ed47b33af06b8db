"""Decline codes to categories: may the same payment method be charged again later?

`soft`: the issuer or the network refused this time (insufficient funds, a processing error, a limit);
a retry on the dunning schedule may succeed. `hard`: retrying the same method cannot succeed (lost,
stolen, expired or closed card, fraud suspicion, a failed authentication): the customer must give
another method. Codes from Stripe's documented decline codes; an unknown code is soft (one more
retry costs little).
"""

from __future__ import annotations

from payments.providers.base import ChargeResult, DeclineCategory

HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "pickup_card", "restricted_card", "expired_card", "incorrect_number",
    "invalid_number", "invalid_account", "account_closed", "new_account_information_available", "fraudulent",
    "merchant_blacklist", "security_violation", "revocation_of_authorization", "revocation_of_all_authorizations",
    "stop_payment_order", "transaction_not_allowed", "card_not_supported", "currency_not_supported",
    "do_not_honor", "do_not_try_again", "invalid_cvc", "incorrect_cvc", "payment_intent_authentication_failure",
    "authentication_required", "no_payment_method",
})
SOFT_DECLINES = frozenset({
    "insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded", "processing_error",
    "issuer_not_available", "try_again_later", "reenter_transaction", "approve_with_id", "call_issuer",
    "generic_decline", "card_declined", "rate_limit",
})


def categorize(code: str | None) -> DeclineCategory:
    if code in HARD_DECLINES:
        return "hard"
    return "soft"


# Providers that answer a decline in words (Paystack's `gateway_response`, Flutterwave's `processor_response`):
# the first phrase found names the code. The phrases are the issuers' ISO 8583 response texts as those
# providers pass them through.
_PHRASES: tuple[tuple[str, str], ...] = (
    ("insufficient", "insufficient_funds"), ("not sufficient", "insufficient_funds"),
    ("exceeds withdrawal", "withdrawal_count_limit_exceeded"), ("limit exceeded", "card_velocity_exceeded"),
    ("expired", "expired_card"), ("lost", "lost_card"), ("stolen", "stolen_card"), ("pick-up", "pickup_card"),
    ("pick up", "pickup_card"), ("restricted", "restricted_card"), ("fraud", "fraudulent"),
    ("invalid card", "invalid_number"), ("invalid account", "invalid_account"), ("closed", "account_closed"),
    ("not permitted", "transaction_not_allowed"), ("not allowed", "transaction_not_allowed"),
    ("do not honor", "do_not_honor"), ("do not honour", "do_not_honor"),
    ("authentication", "payment_intent_authentication_failure"), ("issuer or switch", "issuer_not_available"),
    ("issuer unavailable", "issuer_not_available"), ("timeout", "processing_error"), ("try again", "try_again_later"),
)


def code_from_text(text: str | None) -> str:
    """A decline code (Stripe's vocabulary, which `categorize` reads) for a provider's decline message."""
    lowered = (text or "").lower()
    for phrase, code in _PHRASES:
        if phrase in lowered:
            return code
    return "generic_decline"


def refused_charge(amount_cents: int, payment_method_id: str | None, message: str) -> ChargeResult:
    """A charge the provider refused with a message only: its decline code read from the text, then categorized."""
    code = code_from_text(message)
    return ChargeResult(status="failed", provider_payment_id=None, provider_status="refused", amount_cents=amount_cents,
                        payment_method_id=payment_method_id, decline_category=categorize(code), failure_code=code,
                        failure_message=message)
