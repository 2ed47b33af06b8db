"""MoneyHash's adapter on its own: the webhook signature against Lago's recorded vector, Lago's recorded webhook
bodies read as charges, the idempotency key MoneyHash accepts, and amounts it cannot take refused before any call.
(The adapter's paths through the service run in `test_providers.py`, against `fakes/moneyhash.py`.)"""

from __future__ import annotations

import json
import uuid

import pytest

from payments.providers.base import ChargeRequest, InvalidWebhook, ProviderError
from payments.providers.moneyhash import MoneyhashAdapter, idempotency_uuid, signature, to_major


def _adapter(signature_key: str | None = "test_signature_key") -> MoneyhashAdapter:
    return MoneyhashAdapter(api_key="k", signature_key=signature_key, flow_id="f", webhook_url=None,
                            api_base="http://127.0.0.1:9", timeout_seconds=1.0)


def test_the_signature_matches_lagos_recorded_vector():
    # getlago/lago-api spec/services/payment_providers/moneyhash/validate_incoming_webhook_service_spec.rb:
    # the body `"webhook_payload"`, key `test_signature_key`, t=1743090080
    assert signature("test_signature_key", b'"webhook_payload"', "1743090080") == \
        "ca13480c8142f2f2b44822c764909027974e84b3e8c94457a314f129d8d60148"


def _signed(event: dict, key: str = "test_signature_key") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {"moneyhash-signature": f"t=1743090080,v1=x,v2=y,v3={signature(key, body, '1743090080')}"}


PROCESSED = {"type": "intent.processed", "intent_type": "PAYMENT", "data": {"intent_id": "g6Q6QJL", "intent": {
    "id": "g6Q6QJL", "status": "PROCESSED", "amount": 5, "amount_currency": "USD",
    "custom_fields": {"invora_reference": "0192-ref"},
    "active_transaction": {"status": "SUCCESSFUL", "paying_card_token": {"id": "60cd8d40"}}}}}
FAILED = {"type": "transaction.purchase.failed", "status_id": "Zv2kmzZ", "operation_id": "Z0kD6Dg",
          "intent": {"id": "LVR0VXL", "custom_fields": {}, "amount": {"value": 5, "currency": "USD"}},
          "transaction": {"id": "2414609b", "status": "purchase.failed", "operations": [{
              "id": "Z0kD6Dg", "type": "purchase", "status": "failed", "latest_status": {
                  "value": "failed", "code": "7000", "message": "A generic payment processing error occurred."}}]}}


def test_lagos_recorded_webhooks_read_as_charges():
    processed = _adapter().parse_webhook(*_signed(PROCESSED))
    assert processed.kind == "charge" and processed.provider_payment_id == "g6Q6QJL"
    assert processed.reference == "0192-ref" and processed.charge.status == "succeeded"
    assert processed.charge.amount_cents == 500 and processed.charge.payment_method_id == "60cd8d40"
    failed = _adapter().parse_webhook(*_signed(FAILED))
    assert failed.charge.status == "failed" and failed.charge.decline_category == "soft"
    assert failed.charge.failure_message == "A generic payment processing error occurred."
    assert failed.id != processed.id and failed.id == _adapter().parse_webhook(*_signed(FAILED)).id


@pytest.mark.parametrize("headers", [
    {}, {"moneyhash-signature": "t=1743090080"}, {"moneyhash-signature": "v3=abc"},
    {"moneyhash-signature": "garbage"}])
def test_a_webhook_without_a_usable_signature_is_refused(headers):
    body, _ = _signed(PROCESSED)
    with pytest.raises(InvalidWebhook):
        _adapter().parse_webhook(body, headers)


def test_a_connection_without_a_signature_key_accepts_no_webhook():
    with pytest.raises(InvalidWebhook):
        _adapter(signature_key=None).parse_webhook(*_signed(PROCESSED))


def test_a_signed_body_that_is_not_an_event_is_refused():
    body = b"[1, 2]"
    headers = {"moneyhash-signature": f"t=1,v3={signature('test_signature_key', body, '1')}"}
    with pytest.raises(InvalidWebhook):
        _adapter().parse_webhook(body, headers)


def test_the_idempotency_key_is_a_v4_uuid_derived_from_ours():
    key = idempotency_uuid("invoice-0192-attempt-1")
    assert uuid.UUID(key).version == 4 and key == idempotency_uuid("invoice-0192-attempt-1")
    assert key != idempotency_uuid("invoice-0192-attempt-2")


def test_amounts_are_exact_and_at_most_two_decimals():
    assert str(to_major(12_345, "USD")) == "123.45" and str(to_major(500, "JPY")) == "500"
    with pytest.raises(ProviderError) as refused:
        to_major(1_234, "KWD")  # 1.234 KWD: MoneyHash takes two decimals
    assert refused.value.code == "invalid_amount"
    assert str(to_major(1_230, "KWD")) == "1.230"


async def test_an_amount_moneyhash_cannot_take_is_refused_before_any_call():
    adapter = _adapter()
    adapter._cards = _one_card  # noqa: SLF001 - the card listing is not what this test is about
    try:
        with pytest.raises(ProviderError) as refused:  # the API base is a closed port: a call would be unreachable
            await adapter.charge(ChargeRequest(reference="r", idempotency_key="k", amount_cents=1_234,
                                               currency="KWD", provider_customer_id="c"))
        assert refused.value.code == "invalid_amount"
    finally:
        await adapter.aclose()


async def _one_card(provider_customer_id: str) -> list[dict]:
    return [{"id": "card"}]
