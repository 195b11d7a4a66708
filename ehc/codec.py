"""Payload encryption for Temporal, as defence in depth (AES-256-GCM).

Temporal only ever holds pseudonymous case references, dates and codes; even so, every
payload the API, the worker and the CLI hand to Temporal (workflow inputs, updates,
activity arguments and results) is encrypted with the current key, and the key's id is
kept in the payload's metadata so keys can rotate: a new key encrypts, old keys still
decrypt. Payloads written before encryption was switched on (no ``binary/encrypted``
encoding) pass through unchanged, so old histories still replay and read.

Keys come from settings (``EHC_PAYLOAD_KEYS``: a JSON object of key id to a base64 32-byte
key; ``EHC_PAYLOAD_KEY_ID`` names the one that encrypts, by default the greatest id). In
``make dev`` a key is made once and kept in the data folder (0600). Search attributes,
workflow ids and failure messages are not payloads: they must hold no personal data.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
DEV_KEYS_FILE = "payload-keys.json"


class CodecError(ValueError):
    """A payload that cannot be decrypted (unknown key id, or tampered with)."""


def parse_keys(raw: Mapping[str, SecretStr | str]) -> dict[str, bytes]:
    """Key ids to 32-byte AES keys, from base64 text (standard or URL-safe)."""
    keys: dict[str, bytes] = {}
    for key_id, value in raw.items():
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        try:
            key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"payload key {key_id!r} is not base64") from exc
        if len(key) != 32:
            raise ValueError(f"payload key {key_id!r} must be 32 bytes (AES-256)")
        keys[key_id] = key
    return keys


def new_key() -> str:
    """A fresh key as base64 text (``ehc`` prints one for operators to add)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], current: str | None = None) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self.keys = dict(keys)
        self.current = current or max(self.keys)
        if self.current not in self.keys:
            raise ValueError(f"the current payload key {self.current!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in self.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.current.encode()
        sealed = self._ciphers[self.current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was on: readable as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"no payload key with id {key_id!r}; keep retired keys to read")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag as exc:
            raise CodecError("a payload failed its integrity check") from exc
        return Payload.FromString(plain)


def encrypting_converter(codec: EncryptionCodec) -> DataConverter:
    """The project's converter (pydantic) with payloads encrypted by ``codec``."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def dev_keys(data_dir: Path) -> dict[str, str]:
    """The development key ring kept in ``data_dir`` (made once, readable by its owner)."""
    path = data_dir / DEV_KEYS_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass  # another process made it first (`make dev` makes it before its children)
        else:
            with os.fdopen(fd, "w") as out:
                json.dump({"dev-1": new_key()}, out)
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded
