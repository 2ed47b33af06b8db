"""Signature formats, checked against the specifications rather than our own code."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import jwt
import standardwebhooks

from notifications.signing.headers import lago_hmac_signature, signature_headers
from notifications.signing.jwt import JwtSigner, generate_rsa_private_key_pem
from notifications.signing.secrets import generate_secret

BODY = '{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"note":"café <b>&</b>"}}'


def _b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_secrets_are_whsec_base64_of_32_random_bytes():
    secrets = {generate_secret() for _ in range(100)}
    assert len(secrets) == 100
    for secret in secrets:
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:], validate=True)) == 32


def test_lago_jwt_is_rs256_with_a_bare_header_and_the_body_as_data():
    signer = JwtSigner(generate_rsa_private_key_pem(), issuer="https://api.example.com")
    token = signer.sign(BODY, cache_key="m1")
    header, claims, _signature = token.split(".")
    assert base64.urlsafe_b64decode(header + "==") == b'{"alg":"RS256"}'  # exactly Lago's header, no typ
    assert list(_b64url_json(claims)) == ["data", "iss"]
    decoded = jwt.decode(token, base64.b64decode(signer.public_key_base64), algorithms=["RS256"],
                         issuer="https://api.example.com")
    assert decoded == {"data": BODY, "iss": "https://api.example.com"}
    assert signer.sign(BODY, cache_key="m1") == token  # cached and deterministic


def test_standard_webhooks_signatures_one_per_live_secret():
    old, new = generate_secret(), generate_secret()
    now = datetime.now(UTC)
    signer = JwtSigner(generate_rsa_private_key_pem(), issuer="x")
    headers = signature_headers(message_id="evt_1", delivery_id="del_1", body=BODY, body_bytes=BODY.encode(),
                                secrets=[new, old], signature_algo="hmac", timestamp=now, jwt_signer=signer)
    assert headers["webhook-id"] == "evt_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret in (new, old):  # by the spec: HMAC-SHA256(base64-decoded secret, "id.timestamp.body")
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, f"evt_1.{int(now.timestamp())}.{BODY}".encode(),
                                             hashlib.sha256).digest()).decode()
        assert f"v1,{expected}" in signatures
        standardwebhooks.Webhook(secret).verify(BODY, headers)
    assert headers["X-Lago-Signature"] == lago_hmac_signature(new, BODY.encode())
    assert headers["X-Lago-Unique-Key"] == "del_1" and headers["X-Lago-Signature-Algorithm"] == "hmac"
