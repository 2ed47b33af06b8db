"""API keys: who may call, and what they can see. Every refusal must also change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import example_service as example
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from invora.auth.keys import generate_private_key_pem, sign_token

WIDGETS = "/api/v1/widgets"


async def _create_widget(service, org, code: str = "w1") -> str:
    response = await service.client(org).post(WIDGETS, json={"widget": {"code": code, "name": "W"}})
    assert response.status_code == 200, response.text
    return response.json()["widget"]["lago_id"]


def _raw_claims(org, roles, **extra) -> dict:
    now = int(datetime.now(UTC).timestamp())
    return {"iss": "invora", "sub": "key:test", "org": str(org), "roles": roles, "iat": now, **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_token(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


@pytest.fixture
def service(shared_example):
    return shared_example


# -- 401: no key, malformed, forged, expired, bad claims ---------------------------------------------------


async def test_no_key_is_401_with_lago_body_and_writes_nothing(service):
    before = await example.snapshot(service.database)
    anonymous = service.client()
    listed = await anonymous.get(WIDGETS)
    assert listed.status_code == 401
    assert listed.json() == {"status": 401, "error": "Unauthorized", "code": "missing_api_key"}

    created = await anonymous.post(WIDGETS, json={"widget": {"code": "w", "name": "W"}},
                                   headers={"Idempotency-Key": "anon-1"})
    assert created.status_code == 401
    assert await example.snapshot(service.database) == before


@pytest.mark.parametrize("header", [
    "Token abc",
    "Bearer",
    "Bearer    ",
    "Basic dXNlcjpwYXNz",
    "Bearer not-a-jwt",
    "Bearer a.b.c",
    "bearerabc.def.ghi",
])
async def test_malformed_authorization_header_is_401(service, header):
    response = await service.client(headers={"Authorization": header}).get(WIDGETS)
    assert response.status_code == 401, response.text
    assert response.json() == {"status": 401, "error": "Unauthorized", "code": "invalid_api_key"}


async def test_key_signed_by_another_private_key_is_401(service, invora_keys):
    org = uuid.uuid4()
    await _create_widget(service, org)
    forged = sign_token(generate_private_key_pem(), organization_id=org, roles=["admin"])
    response = await service.client(api_key=forged).get(WIDGETS)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    # the same claims signed with the configured key are accepted: the signature is what failed
    genuine = await service.client(api_key=invora_keys.sign(org, ["admin"])).get(WIDGETS)
    assert genuine.status_code == 200 and genuine.json()["meta"]["total_count"] == 1


async def test_tampered_claims_are_401(service, invora_keys):
    victim = uuid.uuid4()
    await _create_widget(service, victim)
    token = invora_keys.sign(uuid.uuid4(), ["admin"])
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["org"] = str(victim)
    tampered = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    response = await service.client(api_key=tampered).get(WIDGETS)
    assert response.status_code == 401


async def test_unsigned_and_hmac_tokens_are_401(service, invora_keys):
    org = uuid.uuid4()
    claims = _raw_claims(org, ["admin"])
    alg_none = _unsigned_token({"alg": "none", "typ": "JWT"}, claims)
    # algorithm confusion: HS256 "signed" with the public key as the shared secret
    signing_input = ".".join([_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
                              _b64(json.dumps(claims).encode())])
    mac = hmac.new(invora_keys.public_pem, signing_input.encode(), hashlib.sha256).digest()
    hs256 = f"{signing_input}.{_b64(mac)}"
    for token in (alg_none, hs256):
        response = await service.client(api_key=token).get(WIDGETS)
        assert response.status_code == 401, token


async def test_expired_key_is_401(service, invora_keys):
    org = uuid.uuid4()
    expired = invora_keys.sign(org, ["admin"], now=datetime.now(UTC) - timedelta(hours=2),
                               expires_in=timedelta(hours=1))
    response = await service.client(api_key=expired).get(WIDGETS)
    assert response.status_code == 401
    assert response.json() == {"status": 401, "error": "Unauthorized", "code": "expired_api_key"}
    still_valid = invora_keys.sign(org, ["admin"], expires_in=timedelta(hours=1))
    assert (await service.client(api_key=still_valid).get(WIDGETS)).status_code == 200


async def test_wrong_issuer_is_401(service, invora_keys):
    token = invora_keys.sign(uuid.uuid4(), ["admin"], issuer="someone-else")
    assert (await service.client(api_key=token).get(WIDGETS)).status_code == 401


def _private_key_object(invora_keys):
    key = serialization.load_pem_private_key(invora_keys.private_pem, password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


@pytest.mark.parametrize("claims_change", [
    {"roles": ["root"]},
    {"roles": ["admin", "owner"]},
    {"roles": []},
    {"roles": "admin"},
    {"org": "not-a-uuid"},
    {"org": None},
])
async def test_keys_with_bad_claims_are_401(service, invora_keys, claims_change):
    claims = {**_raw_claims(uuid.uuid4(), ["admin"]), **claims_change}
    token = jwt.encode(claims, _private_key_object(invora_keys), algorithm="EdDSA")
    response = await service.client(api_key=token).get(WIDGETS)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


async def test_tenant_key_needs_a_customer(service, invora_keys):
    org = uuid.uuid4()
    without_customer = invora_keys.sign(org, ["tenant"])
    assert (await service.client(api_key=without_customer).get(WIDGETS)).status_code == 401
    with_customer = await service.client(org, roles=["tenant"], customer_id=uuid.uuid4()).get(WIDGETS)
    assert with_customer.status_code == 200


@pytest.mark.parametrize("customer_claims", [{"customer": "cus_1"}, {"customer_id": "cus_1"}, {"customer_id": None}])
async def test_tenant_keys_name_their_customer_by_internal_id(service, invora_keys, customer_claims):
    """Issue 11 item 3: an external id is reused by the next customer created with it; a tenant key names the
    customer's `lago_id`, and a key naming an external id (the old claim) is refused."""
    claims = {**_raw_claims(uuid.uuid4(), ["tenant"]), **customer_claims}
    token = jwt.encode(claims, _private_key_object(invora_keys), algorithm="EdDSA")
    response = await service.client(api_key=token).get(WIDGETS)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


async def test_rs256_keys_accepted_when_their_public_key_is_configured(
    start_example, shared_example, invora_keys, tmp_path
):
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_private_pem = rsa_private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    rsa_public_path = tmp_path / "rsa.pem"
    rsa_public_path.write_bytes(rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    org = uuid.uuid4()
    rs256_key = sign_token(rsa_private_pem, organization_id=org, roles=["admin"])
    assert jwt.get_unverified_header(rs256_key)["alg"] == "RS256"

    ed_only = shared_example  # configured with the EdDSA public key alone
    assert (await ed_only.client(api_key=rs256_key).get(WIDGETS)).status_code == 401

    both = await start_example(
        consumers=(), relay_enabled=False,
        auth_public_keys=[str(invora_keys.public_path), str(rsa_public_path)],
    )
    created = await both.client(api_key=rs256_key).post(WIDGETS, json={"widget": {"code": "rsa", "name": "R"}})
    assert created.status_code == 200, created.text
    # the EdDSA key keeps working next to the RSA one, and both act for their own organization
    assert (await both.client(org).get(WIDGETS)).json()["meta"]["total_count"] == 1
    assert (await both.client(uuid.uuid4()).get(WIDGETS)).json()["meta"]["total_count"] == 0


# -- 403: roles --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("roles,customer", [(["tenant"], uuid.uuid4()), (["service"], None)])
async def test_wrong_role_on_delete_is_403_and_deletes_nothing(service, roles, customer):
    org = uuid.uuid4()
    widget_id = await _create_widget(service, org)
    before = await example.snapshot(service.database)
    response = await service.client(org, roles=roles, customer_id=customer).delete(f"{WIDGETS}/{widget_id}")
    assert response.status_code == 403
    assert response.json() == {"status": 403, "error": "Forbidden", "code": "forbidden_role"}
    assert await example.snapshot(service.database) == before
    assert (await service.client(org).get(f"{WIDGETS}/{widget_id}")).status_code == 200


@pytest.mark.parametrize("roles", [["admin"], ["billing_admin"], ["super_admin"], ["service", "billing_admin"]])
async def test_allowed_roles_delete(service, roles):
    org = uuid.uuid4()
    widget_id = await _create_widget(service, org)
    response = await service.client(org, roles=roles).delete(f"{WIDGETS}/{widget_id}")
    assert response.status_code == 200, response.text
    assert response.json()["widget"]["lago_id"] == widget_id
    assert await example.count_rows(service.database, "widgets", "organization_id = :org", org=org) == 0


# -- organizations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("intruder_roles", [["admin"], ["super_admin"]])
async def test_other_organization_cannot_see_list_or_delete(service, intruder_roles):
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    widget_id = await _create_widget(service, owner)
    other = service.client(intruder, roles=intruder_roles)

    seen = await other.get(f"{WIDGETS}/{widget_id}")
    assert seen.status_code == 404
    assert seen.json() == {"status": 404, "error": "Not Found", "code": "widget_not_found"}

    listed = await other.get(WIDGETS)
    assert listed.status_code == 200
    assert listed.json()["widgets"] == [] and listed.json()["meta"]["total_count"] == 0

    deleted = await other.delete(f"{WIDGETS}/{widget_id}")
    assert deleted.status_code == 404
    assert await example.count_rows(service.database, "widgets", "id = :id", id=uuid.UUID(widget_id)) == 1
    assert (await service.client(owner).get(f"{WIDGETS}/{widget_id}")).status_code == 200


async def test_refused_requests_change_nothing(service, invora_keys):
    org = uuid.uuid4()
    widget_id = await _create_widget(service, org)
    before = await example.snapshot(service.database)
    body = {"widget": {"code": "new", "name": "N"}}
    refused = [
        await service.client().post(WIDGETS, json=body, headers={"Idempotency-Key": "k1"}),
        await service.client(api_key=sign_token(generate_private_key_pem(), organization_id=org, roles=["admin"]))
        .post(WIDGETS, json=body, headers={"Idempotency-Key": "k2"}),
        await service.client(api_key=invora_keys.sign(org, ["admin"], now=datetime.now(UTC) - timedelta(days=1),
                                                       expires_in=timedelta(hours=1)))
        .post(WIDGETS, json=body, headers={"Idempotency-Key": "k3"}),
        await service.client(api_key=invora_keys.sign(org, ["tenant"])).delete(f"{WIDGETS}/{widget_id}"),
        await service.client(org, roles=["service"]).delete(f"{WIDGETS}/{widget_id}",
                                                             headers={"Idempotency-Key": "k4"}),
    ]
    assert [r.status_code for r in refused] == [401, 401, 401, 401, 403]
    assert await example.snapshot(service.database) == before
    assert await example.count_rows(service.database, "widgets", "id = :id", id=uuid.UUID(widget_id)) == 1


def test_verified_key_cache_never_outlives_expiry_and_is_per_verifier(invora_keys, monkeypatch):
    import time as real_time

    import invora.auth.verify as verify_module
    from invora.auth.verify import TokenVerifier, load_public_keys
    from invora.errors import Unauthorized

    clock = {"now": real_time.time()}
    monkeypatch.setattr(verify_module.time, "time", lambda: clock["now"])
    verifier = TokenVerifier(load_public_keys([str(invora_keys.public_path)]), cache_seconds=60)
    token = invora_keys.sign(uuid.uuid4(), ["admin"], expires_in=timedelta(seconds=5))
    assert verifier.verify(token).roles == {"admin"}
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert verifier._verified[token][1] == expires_at  # remembered, bounded by the key's own expiry

    def refuse(_token):
        raise Unauthorized("re-verified")

    monkeypatch.setattr(verifier, "_verify", refuse)
    assert verifier.verify(token).roles == {"admin"}  # served from the cache, no re-verification
    clock["now"] = expires_at + 1  # past expiry: the cache no longer answers, the key is checked again
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    monkeypatch.undo()
    # another verifier (another app, other keys) does not share what this one remembered
    from invora.auth.keys import public_key_pem

    stranger = TokenVerifier(load_public_keys([public_key_pem(generate_private_key_pem()).decode()]))
    fresh = invora_keys.sign(uuid.uuid4(), ["admin"])
    verifier.verify(fresh)
    with pytest.raises(Unauthorized):
        stranger.verify(fresh)


# -- RFC 7519 claims (issue 11 item 7) ----------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("make_value", [
    lambda t: str(t),  # a numeric string: PyJWT would read int("…")
    lambda t: True,  # a boolean is no number either
    lambda t: [t],
])
async def test_numeric_dates_must_be_json_numbers(service, invora_keys, claim, make_value):
    now = int(datetime.now(UTC).timestamp())
    value = {"exp": now + 3600, "iat": now, "nbf": now - 60}[claim]
    claims = {**_raw_claims(uuid.uuid4(), ["admin"]), claim: make_value(value)}
    token = jwt.encode(claims, _private_key_object(invora_keys), algorithm="EdDSA")
    response = await service.client(api_key=token).get(WIDGETS)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_api_key"


def test_a_string_exp_is_never_remembered_past_its_expiry(invora_keys, monkeypatch):
    """The reported case: `exp` as a numeric string was cached as never expiring and accepted ~60 s after it."""
    import time as real_time

    import invora.auth.verify as verify_module
    from invora.auth.verify import TokenVerifier, load_public_keys
    from invora.errors import Unauthorized

    clock = {"now": real_time.time()}
    monkeypatch.setattr(verify_module.time, "time", lambda: clock["now"])
    verifier = TokenVerifier(load_public_keys([str(invora_keys.public_path)]), cache_seconds=60)
    claims = _raw_claims(uuid.uuid4(), ["admin"], exp=str(int(clock["now"]) + 5))
    token = jwt.encode(claims, _private_key_object(invora_keys), algorithm="EdDSA")
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    assert token not in verifier._verified


@pytest.mark.parametrize(("leeway", "accepted"), [(30.0, True), (0.0, False)])
def test_leeway_is_a_setting(invora_keys, leeway, accepted):
    from invora.auth.verify import TokenVerifier, load_public_keys
    from invora.errors import Unauthorized

    verifier = TokenVerifier(load_public_keys([str(invora_keys.public_path)]), leeway_seconds=leeway)
    expired_10s_ago = invora_keys.sign(uuid.uuid4(), ["admin"], now=datetime.now(UTC) - timedelta(seconds=70),
                                       expires_in=timedelta(seconds=60))
    if accepted:
        assert verifier.verify(expired_10s_ago).roles == {"admin"}
    else:
        with pytest.raises(Unauthorized):
            verifier.verify(expired_10s_ago)
