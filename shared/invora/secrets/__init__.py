"""Secrets at rest: values a service must read back (webhook signing secrets, signing keys, provider
credentials) are stored encrypted with AES-256-GCM under a key from `INVORA_SECRETS_KEY`.

A stored value reads `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id says which
key of the ring opens it, so keys can rotate: the ring's first key encrypts, every key in it
decrypts. The "associated data" of each value is where it lives (`table.column`): a value copied into
another column does not open there.

`INVORA_SECRETS_KEY` holds the ring as `<id>:<base64 of 32 bytes>` entries, comma-separated, current
first, or the path of a file with one entry a line (what `invora dev` keeps in `.invora/secrets.keys`).
`invora secrets generate-key` prints a new entry; `invora secrets rotate` re-encrypts every stored
value under the current key (see `invora.secrets.rotation`).

Columns that hold such values are `EncryptedText` columns, commented `invora:encrypted` in the
database so the rotation finds them without a registry.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets as _random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
ENCRYPTED_COMMENT = "invora:encrypted"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class SecretsError(Exception):
    """Base of the errors below; their messages never contain key material or plaintext."""


class SecretsKeyMissing(SecretsError):
    pass


class InvalidSecretsKey(SecretsError):
    pass


class UnknownKeyId(SecretsError):
    pass


class UndecryptableSecret(SecretsError):
    pass


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; the first one encrypts."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidSecretsKey("the secrets key ring is empty")
        ids = [kid for kid, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise InvalidSecretsKey("a key id appears twice in INVORA_SECRETS_KEY")

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    def only_current(self) -> KeyRing:
        return KeyRing(self.keys[:1])

    # -- parsing -----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: str) -> KeyRing:
        """`id:base64,id:base64` (current first), or the path of a file with one entry a line."""
        text = value.strip()
        if not text:
            raise SecretsKeyMissing("INVORA_SECRETS_KEY is empty")
        if ":" not in text or Path(text).expanduser().is_file():
            path = Path(text).expanduser()
            if not path.is_file():
                raise InvalidSecretsKey(f"INVORA_SECRETS_KEY: neither `<id>:<base64 key>` entries nor a file at {path}")
            entries = [line.strip() for line in path.read_text().splitlines()
                       if line.strip() and not line.lstrip().startswith("#")]
        else:
            entries = [part.strip() for part in text.split(",") if part.strip()]
        return cls(tuple(_parse_entry(entry) for entry in entries))

    # -- the two operations ---------------------------------------------------------------------
    def encrypt(self, plaintext: str, context: str) -> str:
        kid, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii').rstrip('=')}"

    def decrypt(self, token: str, context: str) -> str:
        kid, payload = split_token(token)
        key = dict(self.keys).get(kid)
        if key is None:
            raise UnknownKeyId(f"a stored secret in {context} is encrypted under key {kid!r}, which is not in "
                               f"INVORA_SECRETS_KEY (ids there: {', '.join(self.key_ids)})")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise UndecryptableSecret(f"a stored secret in {context} does not open under key {kid!r} "
                                      "(altered, or moved from another column)") from exc

    def is_current(self, token: str) -> bool:
        return token.startswith(f"{PREFIX}{self.current_id}:")


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def split_token(token: str) -> tuple[str, str]:
    if not is_encrypted(token):
        raise UndecryptableSecret("a stored secret is not in the encrypted form")
    kid, _, payload = token[len(PREFIX):].partition(":")
    if not kid or not payload:
        raise UndecryptableSecret("a stored secret is malformed")
    return kid, payload


def generate_key_entry(key_id: str | None = None) -> str:
    """A new `<id>:<base64 key>` entry; the id defaults to the UTC time, so ids sort by age."""
    kid = key_id or datetime.now(UTC).strftime("k%Y%m%dT%H%M%S") + _random.token_hex(2)
    if not _KEY_ID.match(kid):
        raise InvalidSecretsKey("a key id is 1-40 letters, digits, '-' or '_'")
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def _parse_entry(entry: str) -> tuple[str, bytes]:
    kid, sep, encoded = entry.partition(":")
    if not sep or not _KEY_ID.match(kid):
        raise InvalidSecretsKey("INVORA_SECRETS_KEY entries look like `<id>:<base64 of 32 bytes>`, the id made of "
                                "letters, digits, '-' or '_' (`invora secrets generate-key` prints one)")
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidSecretsKey(f"INVORA_SECRETS_KEY: key {kid!r} is not the base64 of {KEY_BYTES} bytes")
    return kid, key


# -- the process's key ring ------------------------------------------------------------------------
_ring: KeyRing | None = None


def configure(ring: KeyRing | None) -> None:
    """Set the ring this process encrypts and decrypts with (done at start-up from the settings)."""
    global _ring
    _ring = ring


def keyring() -> KeyRing:
    if _ring is None:
        raise SecretsKeyMissing("INVORA_SECRETS_KEY is not set: this service stores secrets encrypted and needs a "
                                "key (`invora secrets generate-key` prints one; `invora dev` keeps one in "
                                ".invora/secrets.keys)")
    return _ring


def encrypt(plaintext: str, context: str) -> str:
    return keyring().encrypt(plaintext, context)


def decrypt(token: str, context: str) -> str:
    return keyring().decrypt(token, context)
